import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freeLocalAddress, serverOnDatabase } from '../../cli/dev-server';
import { REPO_ROOT } from '../../worker/config';
import { tempDir } from '../helpers';

/** `segflow server` as a supervisor runs it: its output, and how it exits. */
function startServer(env: Record<string, string>, uiPort: number) {
  const child = spawn(join(REPO_ROOT, 'bin', 'segflow'), ['server', '--ui-port', String(uiPort)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  return { child, out, exited };
}

/**
 * A dev server that dies under `segflow server` (killed, crashed) is not a clean stop: the command
 * said nothing and exited 0, so a supervisor restarting on failure took the crash for a stop.
 */
describe('segflow server when its Temporal dev server dies', () => {
  it('says how it ended and where its log is, and exits 3', { timeout: 120_000 }, async () => {
    const home = await tempDir();
    const address = await freeLocalAddress();
    const uiPort = Number((await freeLocalAddress()).split(':')[1]);
    const server = startServer({ SEGFLOW_HOME: home, TEMPORAL_ADDRESS: address }, uiPort);
    try {
      for (const deadline = Date.now() + 90_000; !server.out.stdout.includes('Temporal dev server started');) {
        expect(server.child.exitCode, server.out.stderr).toBeNull();
        expect(Date.now(), server.out.stderr).toBeLessThan(deadline);
        await new Promise((resolveWait) => setTimeout(resolveWait, 100));
      }
      const stateDir = join(home, 'temporal');
      const temporal = serverOnDatabase(join(stateDir, 'temporal.db'));
      expect(temporal?.pid).toBeGreaterThan(0);
      expect(temporal?.pid).not.toBe(server.child.pid);
      process.kill(temporal!.pid, 'SIGKILL');
      expect(await server.exited, server.out.stderr).toBe(3);
      expect(server.out.stderr).toContain(
        `segflow: the Temporal dev server this command started at ${address} (pid ${temporal!.pid}) stopped without being asked to: killed by SIGKILL`,
      );
      expect(server.out.stderr).toContain(join(stateDir, 'server.log'));
      expect(server.out.stdout).not.toContain('stopping the Temporal dev server');
      // its record of the database is gone with it
      expect(existsSync(join(stateDir, 'server.json'))).toBe(false);
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGTERM');
    }
  });
});
