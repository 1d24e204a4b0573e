import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freeLocalAddress, isServerUp } from '../../cli/dev-server';
import { generateSample } from '../../data/generate';
import { readAuditLog } from '../../store/audit-log';
import { listVersions } from '../../store/snapshots';
import { REPO_ROOT } from '../../worker/config';
import { storeIn, tempDir } from '../helpers';

/**
 * `segflow run --local ... | head -1`: the reader goes away after the first line, and every line
 * printed after that fails with EPIPE. The command must still do what it was asked, to the end:
 * run the month, publish it, and stop the dev server and worker it started. Exiting at the first
 * EPIPE (as cli/index.ts once did, still with exit code 0) published nothing and left the dev
 * server running.
 */
describe('a command whose stdout is closed early', { timeout: 600_000 }, () => {
  it('run --local still runs, publishes and stops the dev server it started', async () => {
    const home = await tempDir();
    const address = await freeLocalAddress();
    const uiPort = Number((await freeLocalAddress()).split(':')[1]);
    const sample = await generateSample({
      outDir: join(home, 'own-data'),
      subscribers: 1_500,
      months: 7,
      lastMonth: '2026-06',
      seed: 3,
    });
    // its own process group: what it leaves running can be stopped below, whatever the outcome
    const child = spawn(
      join(REPO_ROOT, 'bin', 'segflow'),
      ['run', '--local', '--month', '2026-06', '--input', join(sample.outDir, 'usage'), '--ui-port', String(uiPort)],
      {
        env: { ...process.env, SEGFLOW_HOME: home, TEMPORAL_ADDRESS: address },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    let firstChunk = '';
    child.stdout.once('data', (chunk: Buffer) => {
      firstChunk = chunk.toString();
      child.stdout.destroy(); // as `| head -1` does once it has its line
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolveExit) => child.once('exit', resolveExit));
    try {
      expect(firstChunk).toContain('Temporal dev server at');
      expect(code, stderr).toBe(0);
      expect(stderr).not.toContain('EPIPE');
      // the run went on after its reader left: published, and recorded as published
      expect(await listVersions(storeIn(home), '2026-06')).toEqual([1]);
      const events = (await readAuditLog(storeIn(home))).map((entry) => entry.event);
      expect(events).toContain('run.published');
      // and the command stopped the dev server it started
      expect(await isServerUp(address)).toBe(false);
    } finally {
      // a dev server left behind (the failure this test is for) is stopped with its group
      if (await isServerUp(address)) {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // the group is gone already
        }
      }
    }
  });
});
