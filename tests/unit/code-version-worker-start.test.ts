import type * as childProcess from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SegflowConfig } from '../../worker/config';

// git as a checkout pulled under a running worker answers it: one commit, then another
let head = 'a'.repeat(40);
vi.mock('node:child_process', async (importOriginal) => {
  const actual = await importOriginal<typeof childProcess>();
  const fake = ((file: string, args: readonly string[], options: object) => {
    if (file !== 'git') return actual.execFileSync(file, args, options);
    if (args[0] === 'rev-parse') return `${head}\n`;
    return ''; // a clean status, no untracked code
  }) as typeof childProcess.execFileSync;
  return { ...actual, execFileSync: fake };
});

afterEach(() => vi.resetModules());

describe("the commit a worker's manifests name", () => {
  it('is read as the worker starts, not at its first publish after the checkout moved on', async () => {
    const { createSegflowWorker } = await import('../../worker/index');
    const { codeVersion } = await import('../../activities/code-version');
    const config = { temporal: { address: 'http://not-an-address:7233' } } as unknown as SegflowConfig;
    // a malformed address stops the start before any connection: the commit is read before that
    await expect(createSegflowWorker({ config })).rejects.toMatchObject({ name: 'UsageError' });
    head = 'b'.repeat(40);
    expect(codeVersion().commit).toBe('a'.repeat(40));
    // a publish after the checkout moved: the run read the new SQL beside the old TypeScript
    const { manifestCode } = await import('../../activities/publish');
    expect(manifestCode().commit).toBe(`${'a'.repeat(40)}-dirty`);
    head = 'a'.repeat(40);
    expect(manifestCode().commit).toBe('a'.repeat(40));
  });
});
