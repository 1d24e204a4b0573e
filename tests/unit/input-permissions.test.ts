import { execFileSync } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../worker/config';
import { tempDir } from '../helpers';

/** setpriv runs the listing as nobody: root, as the tests run, may read every folder. */
const canDropPrivileges =
  process.getuid?.() === 0 &&
  (() => {
    try {
      execFileSync('setpriv', ['--version']);
      return true;
    } catch {
      return false;
    }
  })();

describe.skipIf(!canDropPrivileges)('input folders segflow may not read', () => {
  it('are named with a typed error, not "not found" or a raw EACCES; a month folder outside the window is passed over', async () => {
    const dir = await tempDir();
    await chmod(dir, 0o755);
    const folder = (...parts: string[]) => join(dir, ...parts);
    for (const month of ['2026-05', '2026-06'])
      await mkdir(folder('open', 'usage', `usage_month=${month}`), { recursive: true });
    await writeFile(folder('open', 'usage', 'usage_month=2026-06', 'a.parquet'), '');
    await mkdir(folder('open', 'usage', 'usage_month=2020-01'));
    // readable but not to be entered (no x): its names list, its files do not open
    await mkdir(folder('open', 'usage', 'usage_month=2020-02'));
    await writeFile(folder('open', 'usage', 'usage_month=2020-02', 'b.parquet'), '');
    await chmod(folder('open', 'usage', 'usage_month=2020-02'), 0o644);
    await mkdir(folder('private', 'usage'), { recursive: true });
    await chmod(folder('private'), 0o700);
    const script = folder('list.mts');
    await writeFile(
      script,
      `import { findInputFiles } from ${JSON.stringify(join(REPO_ROOT, 'activities', 'load.ts'))};
       for (const input of process.argv.slice(2))
         console.log(await findInputFiles(input, '2026-01', '2026-06').then((r) => r.files.join(','), (e) => e.name + ': ' + e.message));`,
    );
    const list = () =>
      execFileSync(
        'setpriv',
        [
          '--reuid=nobody',
          '--regid=nogroup',
          '--clear-groups',
          process.execPath,
          '--import',
          'tsx',
          script,
          folder('private', 'usage'),
          folder('open', 'usage'),
        ],
        { cwd: REPO_ROOT, env: { ...process.env, HOME: dir }, encoding: 'utf8' },
      )
        .trim()
        .split('\n');
    await chmod(folder('open', 'usage', 'usage_month=2020-01'), 0);
    expect(list()).toEqual([
      expect.stringMatching(
        /^InputFileError: cannot reach the input .*private\/usage: permission denied on a folder of its path \(segflow runs as nobody here\)/,
      ),
      folder('open', 'usage', 'usage_month=2026-06', 'a.parquet'),
    ]);
    await writeFile(folder('open', 'usage', 'usage_month=2026-05', 'c.parquet'), '');
    await chmod(folder('open', 'usage', 'usage_month=2026-05'), 0o644);
    expect(list()[1]).toMatch(/^InputFileError: cannot list the input folder .*usage_month=2026-05: permission denied/);
    await chmod(folder('open', 'usage', 'usage_month=2026-05'), 0);
    expect(list()[1]).toMatch(/^InputFileError: cannot list the input folder .*usage_month=2026-05: permission denied/);
  });
  it("are noted by run's check before the start, not refused: the worker, another user, may read them (refused with --local)", async () => {
    const dir = await tempDir();
    await chmod(dir, 0o755);
    const usage = join(dir, 'usage');
    await mkdir(join(usage, 'month=2026-06'), { recursive: true });
    await writeFile(join(usage, 'month=2026-06', 'a.csv'), 'subscriber_id\n1\n');
    await mkdir(join(usage, 'month=2026-05'));
    await chmod(join(usage, 'month=2026-05'), 0o700);
    const script = join(dir, 'check.mts');
    await writeFile(
      script,
      `import { checkLoadPlan } from ${JSON.stringify(join(REPO_ROOT, 'cli', 'load-plan-check.ts'))};
       import { parseRunParams } from ${JSON.stringify(join(REPO_ROOT, 'domain', 'params.ts'))};
       const parsed = parseRunParams({ month: '2026-06', input: process.argv[2] });
       if (!parsed.ok) throw new Error(parsed.problems.join('; '));
       const { assertInputMeetsContract } = await import(${JSON.stringify(join(REPO_ROOT, 'cli', 'commands', 'schedule.ts'))});
       const schedule = await assertInputMeetsContract('s1', parsed.params).then(() => 'created', (e) => e.message);
       const local = await checkLoadPlan(parsed.params, { workerIsThisUser: true });
       console.log(JSON.stringify({ ...(await checkLoadPlan(parsed.params)), localStops: 'stop' in local, schedule }));`,
    );
    const checked = JSON.parse(
      execFileSync(
        'setpriv',
        ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '--import', 'tsx', script, usage],
        { cwd: REPO_ROOT, env: { ...process.env, HOME: dir }, encoding: 'utf8' },
      ).trim(),
    ) as { unchecked?: string; stop?: unknown; localStops: boolean; schedule: string };
    expect(checked.stop).toBeUndefined();
    expect(checked.unchecked).toMatch(/cannot list the input folder .*month=2026-05: permission denied/);
    // run --local: the worker is this process and user, whose plan would stop on it
    expect(checked.localStops).toBe(true);
    // schedule create: its runs' worker may read it too
    expect(checked.schedule).toBe('created');
  });
});
