import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { storeArtifact } from '../../activities/artifact-store';
import type { StoredStages } from '../../store/artifacts';
import { storeIn, tempDir } from '../helpers';

/** A stage cache the store cannot take (here cache/<stage> is a file, not a folder: ENOTDIR, as a full or read-only store fails). */
async function unwritableCache() {
  const store = storeIn(await tempDir());
  await mkdir(join(store.storeDir, 'cache'), { recursive: true });
  await writeFile(join(store.storeDir, 'cache', 'feature-month'), 'not a folder');
  return store;
}

const about = {
  stage: 'feature-month',
  key: 'a'.repeat(64),
  producedBy: { workflowId: 'wf-cache', runId: 'run-cache' },
  month: '2026-06',
  code: 'code',
};

describe('storing a stage output in a store that cannot take it', () => {
  it('goes on, returns why, and warns in the worker log with the stage and month', async () => {
    const store = await unwritableCache();
    const logged: LogEntry[] = [];
    const env = new MockActivityEnvironment(
      { workflowExecution: about.producedBy },
      { logger: new DefaultLogger('WARN', (entry) => logged.push(entry)) },
    );
    const result: StoredStages = await env.run(() => storeArtifact(store, about, {}, () => Promise.resolve([])));
    expect(result).toMatchObject({ stored: false, bytes: 0 });
    expect(result.error).toMatch(/not a directory|ENOTDIR|EEXIST|file already exists/i);
    const warnings = logged.filter((entry) => entry.level === 'WARN');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toBe(`stage cache: feature-month not stored for later runs: ${result.error}`);
    expect(warnings[0]?.meta).toMatchObject({ month: '2026-06', path: result.path });
  });

  it('outside Temporal (no activity) returns why without logging', async () => {
    const result = await storeArtifact(await unwritableCache(), about, {}, () => Promise.resolve([]));
    expect(result.stored).toBe(false);
  });
});
