import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../worker/config';

const segflow = (...args: string[]) =>
  promisify(execFile)(join(REPO_ROOT, 'bin', 'segflow'), args).then(
    ({ stdout }) => ({ code: 0, output: stdout }),
    (error: { code: number; stderr: string }) => ({ code: error.code, output: error.stderr }),
  );

/** The README's exit codes: 2 for invalid usage, before anything is started. */
describe('segflow command line usage errors', () => {
  it('exits 2 with the reason for an invalid option value', async () => {
    const month = await segflow('run', '--month', '2026-13');
    expect(month).toMatchObject({ code: 2, output: expect.stringContaining('must be YYYY-MM') });
    const partitions = await segflow('run', '--month', '2026-06', '--partitions', '65');
    expect(partitions).toMatchObject({ code: 2, output: expect.stringContaining('must be at most 64') });
  });

  it('exits 0 for help', async () => {
    expect(await segflow('run', '--help')).toMatchObject({
      code: 0,
      output: expect.stringContaining('--partitions <n>'),
    });
  });

  it('fails a stage over from a dead worker after 30 s by default', async () => {
    expect(await segflow('run', '--help')).toMatchObject({
      code: 0,
      output: expect.stringMatching(/--heartbeat-timeout <duration>[^]*\(default: "30s"\)/),
    });
  });
});
