import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { temporalAddress, unreachableTemporal } from '../../worker/config';
import { segflow, tempDir } from '../helpers';

/** Nothing listens on port 1. */
const NO_SERVER = { TEMPORAL_ADDRESS: '127.0.0.1:1' };

/** The README's exit code 3 and one wording for a Temporal that does not answer, whichever command meets it. */
describe('a Temporal server that cannot be reached', { timeout: 120_000 }, () => {
  it('ends a worker with exit 3 in the words of the other commands, before it bundles the workflows', async () => {
    const home = await tempDir();
    const worker = await segflow(['worker'], { ...NO_SERVER, SEGFLOW_HOME: home });
    expect(worker).toMatchObject({
      code: 3,
      output: expect.stringContaining(
        'segflow: cannot reach Temporal at 127.0.0.1:1 (tcp connect error: Connection refused); start one with: segflow server',
      ),
    });
    expect(worker.output).not.toContain('tonic');
    // failed before bundling: nothing logged by webpack, no bundle stored
    expect(worker.output).not.toContain('Workflow bundle');
    expect(existsSync(join(home, 'worker'))).toBe(false);
  });

  it("keeps the native connection's two messages of a refusal, and any other failure's message whole", () => {
    const native = new Error(
      'tonic::transport::Error(Transport, ConnectError(ConnectError("tcp connect error", 127.0.0.1:7388, Os { code: 111, kind: ConnectionRefused, message: "Connection refused" })))',
    );
    expect(unreachableTemporal('127.0.0.1:7388', native)).toMatchObject({
      name: 'InfrastructureError',
      message:
        'cannot reach Temporal at 127.0.0.1:7388 (tcp connect error: Connection refused); start one with: segflow server',
    });
    expect(unreachableTemporal('h:1', new Error('14 UNAVAILABLE: no connection')).message).toBe(
      'cannot reach Temporal at h:1 (14 UNAVAILABLE: no connection); start one with: segflow server',
    );
  });
});

describe('a malformed Temporal address', { timeout: 120_000 }, () => {
  it('is a usage error (exit 2) with the form to give, in run, run --local and worker alike', async () => {
    const env = { TEMPORAL_ADDRESS: 'http://127.0.0.1:7391', SEGFLOW_HOME: await tempDir() };
    const form =
      'segflow: a Temporal address is host:port or [IPv6 address]:port, without a scheme such as http://, got "http://127.0.0.1:7391"';
    for (const args of [
      ['run', '--month', '2026-06', '--input', '.'],
      ['run', '--local', '--month', '2026-06', '--input', '.'],
      ['worker'],
    ]) {
      const result = await segflow(args, env);
      expect(result, args.join(' ')).toMatchObject({ code: 2, output: expect.stringContaining(form) });
      expect(result.output).not.toContain('cannot reach Temporal');
    }
  });

  it('may leave out the port where Temporal does (7233), not for a dev server to start', () => {
    expect(temporalAddress('temporal.internal')).toEqual({ host: 'temporal.internal', port: 7233 });
    expect(temporalAddress('[::1]:7300')).toEqual({ host: '::1', port: 7300 });
    expect(() => temporalAddress('temporal.internal', true)).toThrow(/host:port or \[IPv6 address\]:port/);
    for (const address of ['http://127.0.0.1:7233', 'grpc://h:1', 'h:port', 'h:0', 'a b:1', ''])
      expect(() => temporalAddress(address), address).toThrow(/without a scheme such as http:\/\//);
  });
});

describe('a malformed setting of the worker', { timeout: 120_000 }, () => {
  it('is a usage error (exit 2) as the worker starts, not an activity failing five times in each run', async () => {
    const home = await tempDir();
    for (const [env, message] of [
      [{ SEGFLOW_DUCKDB_THREADS: 'abc' }, 'segflow: SEGFLOW_DUCKDB_THREADS must be a whole number from 1, got "abc"'],
      [
        { SEGFLOW_DUCKDB_MEMORY_LIMIT: 'lots' },
        'segflow: SEGFLOW_DUCKDB_MEMORY_LIMIT must look like 6GB or 800MB, got "lots"',
      ],
      [
        { SEGFLOW_LOG_LEVEL: 'verbose' },
        'segflow: SEGFLOW_LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, got "verbose"',
      ],
    ] as const) {
      const worker = await segflow(['worker'], { ...NO_SERVER, SEGFLOW_HOME: home, ...env });
      expect(worker, message).toMatchObject({ code: 2, output: expect.stringContaining(message) });
      expect(worker.output).not.toContain('cannot reach Temporal');
    }
  });
});
