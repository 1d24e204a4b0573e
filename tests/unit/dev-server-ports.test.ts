import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureDevServer, freeLocalAddress, hostAndPort, isServerUp, serverOnDatabase } from '../../cli/dev-server';
import { temporalCliPath } from '../../cli/temporal-cli';
import { tempDir } from '../helpers';

/** A port some other program holds. */
async function occupiedPort(): Promise<{ port: number; server: Server }> {
  const port = Number((await freeLocalAddress()).split(':')[1]);
  const server = createServer();
  await new Promise<void>((resolveListen) => server.listen(port, '127.0.0.1', resolveListen));
  afterAll(() => new Promise<void>((resolveClose) => server.close(() => resolveClose())));
  return { port, server };
}

/** A port clash is reported first and plainly, not buried under the dev server's log lines; a Temporal server on the port is reused. */
describe('dev server ports', () => {
  it('reads host:port and [IPv6 address]:port, and names an address without a port', () => {
    expect(hostAndPort('127.0.0.1:7233')).toEqual({ host: '127.0.0.1', port: 7233 });
    expect(hostAndPort('temporal.internal:443')).toEqual({ host: 'temporal.internal', port: 443 });
    expect(hostAndPort('[::1]:7233')).toEqual({ host: '::1', port: 7233 });
    for (const address of ['localhost', '::1:7233', '127.0.0.1:70000', '127.0.0.1:'])
      expect(() => hostAndPort(address)).toThrow(/host:port or \[IPv6 address\]:port/);
  });

  it('refuses a second server on a database a server no claim names already uses (an older segflow, or by hand)', async () => {
    const stateDir = join(await tempDir(), 'temporal');
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(join(stateDir, 'temporal.db'), '');
    // a process with a dev server's command line, started from the state folder with a relative path
    const other = spawn(
      process.execPath,
      ['-e', 'setInterval(() => {}, 1000)', 'server', 'start-dev', '--db-filename', 'temporal.db', '--port=7999'],
      { cwd: stateDir, stdio: 'ignore' },
    );
    try {
      await new Promise((resolveSoon) => setTimeout(resolveSoon, 200));
      expect(serverOnDatabase(join(stateDir, 'temporal.db'))).toEqual({ pid: other.pid, address: 'localhost:7999' });
      await expect(ensureDevServer({ address: await freeLocalAddress(), stateDir })).rejects.toMatchObject({
        name: 'UsageError',
        message: expect.stringContaining(`a Temporal dev server (pid ${other.pid}) at localhost:7999 uses ${stateDir}`),
      });
      // and the refusal left no claim behind
      expect(existsSync(join(stateDir, 'server.json'))).toBe(false);
      // the same database through a symlinked home is the same file
      const link = join(await tempDir(), 'home-link');
      symlinkSync(stateDir, link);
      expect(serverOnDatabase(join(link, 'temporal.db'))?.pid).toBe(other.pid);
      // another database, not created yet, then created: no server uses it
      const elsewhere = join(await tempDir(), 'temporal.db');
      expect(serverOnDatabase(elsewhere)).toBeNull();
      writeFileSync(elsewhere, '');
      expect(serverOnDatabase(elsewhere)).toBeNull();
    } finally {
      other.kill();
    }
  });

  it('names a taken Web UI port and the option that moves it', async () => {
    const { port } = await occupiedPort();
    await expect(
      ensureDevServer({ address: await freeLocalAddress(), stateDir: join(await tempDir(), 'temporal'), uiPort: port }),
    ).rejects.toMatchObject({
      name: 'InfrastructureError',
      message: expect.stringContaining(`the Web UI port ${port} on 127.0.0.1 is in use`),
    });
  });

  it('names a gRPC port held by something that is not Temporal', async () => {
    const { port } = await occupiedPort();
    await expect(
      ensureDevServer({ address: `127.0.0.1:${port}`, stateDir: join(await tempDir(), 'temporal') }),
    ).rejects.toMatchObject({ name: 'InfrastructureError', message: expect.stringContaining(`port ${port}`) });
  });

  it('reuses a Temporal server already listening on the port, and leaves it running', async () => {
    const address = await freeLocalAddress();
    const stateDir = join(await tempDir(), 'temporal');
    const first = await ensureDevServer({ address, stateDir, headless: true });
    try {
      expect(first.started).toBe(true);
      const second = await ensureDevServer({ address, stateDir, headless: true });
      expect(second.started).toBe(false);
      await second.stop(); // a no-op: the server was not its to stop
      expect(await isServerUp(address)).toBe(true);
      // the same database at another address: two servers would mix their histories
      const other = await freeLocalAddress();
      await expect(ensureDevServer({ address: other, stateDir, headless: true })).rejects.toMatchObject({
        name: 'UsageError',
        message: expect.stringContaining(`at ${address} uses ${join(stateDir, 'temporal.db')}`),
      });
      expect(await isServerUp(other, 250)).toBe(false);
    } finally {
      await first.stop();
    }
    expect(await isServerUp(address, 250)).toBe(false);
    // stopped, it no longer holds the database
    const after = await ensureDevServer({ address: await freeLocalAddress(), stateDir, headless: true });
    await after.stop();
  });

  it('of two commands starting a server on one database at once, one starts it and the other uses it, or is refused at another address', async () => {
    const stateDir = join(await tempDir(), 'temporal');
    const address = await freeLocalAddress();
    const both = await Promise.all([
      ensureDevServer({ address, stateDir, headless: true }),
      ensureDevServer({ address, stateDir, headless: true }),
    ]);
    try {
      expect(both.map((server) => server.started).sort()).toEqual([false, true]);
    } finally {
      for (const server of both) await server.stop();
    }
    const other = await freeLocalAddress();
    const outcomes = await Promise.allSettled([
      ensureDevServer({ address, stateDir, headless: true }),
      ensureDevServer({ address: other, stateDir, headless: true }),
    ]);
    try {
      expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected']);
      const refused = outcomes.find((outcome) => outcome.status === 'rejected');
      expect((refused as PromiseRejectedResult).reason).toMatchObject({ name: 'UsageError' });
    } finally {
      for (const outcome of outcomes) if (outcome.status === 'fulfilled') await outcome.value.stop();
    }
  });

  it('starts the dev server again when it exits at start (an internal port taken between its pick and its bind)', async () => {
    const dir = await tempDir();
    const realCli = temporalCliPath();
    const marker = join(dir, 'failed-once');
    // the first start fails as the dev server does when a listener it picked is gone
    const flaky = join(dir, 'flaky-temporal');
    writeFileSync(
      flaky,
      `#!/bin/sh\nif [ ! -e '${marker}' ]; then touch '${marker}'; echo 'panic: grpc: Server.Serve failed to create ServerTransport'; exit 2; fi\nexec '${realCli}' "$@"\n`,
    );
    chmodSync(flaky, 0o755);
    const before = process.env.TEMPORAL_CLI;
    process.env.TEMPORAL_CLI = flaky;
    try {
      const server = await ensureDevServer({
        address: await freeLocalAddress(),
        stateDir: join(dir, 'temporal'),
        headless: true,
      });
      try {
        expect(existsSync(marker)).toBe(true);
        expect(server.started).toBe(true);
        expect(await isServerUp(server.address)).toBe(true);
      } finally {
        await server.stop();
      }
      // a server that never comes up is reported with its log, after the last start
      writeFileSync(flaky, `#!/bin/sh\necho 'panic: always'; exit 2\n`);
      await expect(
        ensureDevServer({ address: await freeLocalAddress(), stateDir: join(dir, 'temporal'), headless: true }),
      ).rejects.toMatchObject({
        name: 'InfrastructureError',
        message: expect.stringMatching(/after 3 starts[\s\S]*panic: always/),
      });
    } finally {
      if (before === undefined) delete process.env.TEMPORAL_CLI;
      else process.env.TEMPORAL_CLI = before;
    }
  });
});
