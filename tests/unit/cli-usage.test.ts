import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../worker/config';
import { recordAudit } from '../../store/audit-record';
import { segflow, storeIn, tempDir, usageCsv } from '../helpers';

/** Nothing listens on port 1: a command that tried to reach Temporal would exit 3. */
const NO_SERVER = { TEMPORAL_ADDRESS: '127.0.0.1:1' };

/** The README's exit codes: 2 for invalid usage, before anything is started. */
describe('segflow command line usage errors', { timeout: 300_000 }, () => {
  it('exits 2 with the reason for an invalid option value', async () => {
    const month = await segflow(['run', '--month', '2026-13']);
    expect(month).toMatchObject({ code: 2, output: expect.stringContaining('must be YYYY-MM') });
    // commander's own errors start as every other error of a command does
    expect(month.output).toMatch(/^segflow: /);
    expect(month.output).not.toMatch(/^error: /m);
    const partitions = await segflow(['run', '--month', '2026-06', '--partitions', '65']);
    expect(partitions).toMatchObject({ code: 2, output: expect.stringContaining('must be at most 64') });
  });

  it('refuses a recorded name or schedule id with control characters, quoting it escaped', async () => {
    // a newline forged a line of `runs list`; an escape sequence rewrote the terminal
    const forged = await segflow(
      ['run', '--month', '2026-06', '--requested-by', 'bob\n2026-11  published v99'],
      NO_SERVER,
    );
    expect(forged).toMatchObject({
      code: 2,
      output: expect.stringContaining('--requested-by "bob\\n2026-11  published v99" holds control'),
    });
    const escape = await segflow(['schedule', 'describe', '--id', 'a\u001b[2K'], NO_SERVER);
    expect(escape).toMatchObject({
      code: 2,
      output: expect.stringContaining('--id "a\\u001b[2K" holds control'),
    });
    expect(escape.output).not.toContain('\u001b');
    // a right-to-left override reorders the line it is printed in
    expect(await segflow(['runs', 'cancel', 'x', '--requested-by', 'ana\u202egnp.exe'], NO_SERVER)).toMatchObject({
      code: 2,
      output: expect.stringContaining('text-direction characters'),
    });
    expect(
      await segflow(['snapshots', 'retire', '2026-06/v1', '--reason', 'x', '--actor', ''], NO_SERVER),
    ).toMatchObject({
      code: 2,
      output: expect.stringContaining('must not be empty'),
    });
  });

  it('names a mistyped option before a required one it leaves missing, and a missing one alone', async () => {
    const typo = await segflow(['run', '--mnth', '2026-05'], NO_SERVER);
    expect(typo).toMatchObject({ code: 2, output: expect.stringContaining("segflow: unknown option '--mnth'") });
    expect(typo.output).toContain('--month');
    expect(typo.output).not.toContain('not specified');
    const missing = await segflow(['run', '--input', '.'], NO_SERVER);
    expect(missing).toMatchObject({
      code: 2,
      output: expect.stringContaining("required option '--month <YYYY-MM>' not specified"),
    });
    expect(missing.output).toContain('(add --help for the options)');
    expect(await segflow(['schedule', 'backfill', '--from', '2026-01'], NO_SERVER)).toMatchObject({
      code: 2,
      output: expect.stringContaining("required option '--to <YYYY-MM>' not specified"),
    });
  });

  it('refuses an input folder that holds the store, before anything starts', async () => {
    const folder = await tempDir();
    await writeFile(join(folder, 'usage.csv'), usageCsv('2026-06'));
    const home = join(folder, 'home');
    const result = await segflow(['run', '--month', '2026-06', '--input', folder], {
      ...NO_SERVER,
      SEGFLOW_HOME: home,
    });
    expect(result).toMatchObject({
      code: 2,
      output: expect.stringContaining(
        `segflow: --input ${folder} holds segflow's store (SEGFLOW_STORE), ${join(home, 'store')}: its snapshots and audit log would be read as usage`,
      ),
    });
    // a store in a folder the load passes over (.segflow) is never read as usage: the run goes on (here to no server)
    const hidden = await segflow(['run', '--month', '2026-06', '--input', folder], {
      ...NO_SERVER,
      SEGFLOW_HOME: join(folder, '.segflow'),
    });
    expect(hidden.code, hidden.output).toBe(3);
  });

  it('points a run given the folder segflow generate wrote at its usage folder, and keeps --months to 2-120', async () => {
    const folder = await tempDir();
    expect(await segflow(['generate', '--out', folder, '--months', '1'], NO_SERVER)).toMatchObject({
      code: 2,
      output: expect.stringContaining("'1' is invalid. must be 2-120"),
    });
    expect(await segflow(['generate', '--out', folder, '--subscribers', '50', '--months', '3'])).toMatchObject({
      code: 0,
    });
    expect(await segflow(['run', '--month', '2026-06', '--input', folder], NO_SERVER)).toMatchObject({
      code: 2,
      output: expect.stringContaining(
        `segflow: --input ${folder} is a sample folder written by segflow generate: its usage is in ${join(folder, 'usage')}`,
      ),
    });
  });

  it("says a run without --input runs on the demo's generated sample, not on the user's data", async () => {
    const home = await tempDir();
    await mkdir(join(home, 'data', 'sample', 'usage'), { recursive: true });
    const result = await segflow(['run', '--month', '2026-06'], { ...NO_SERVER, SEGFLOW_HOME: home });
    expect(result.output).toContain(
      `note: no --input: running on the demo's generated sample (${join(home, 'data', 'sample', 'usage')}), not on your data`,
    );
  });

  it('shows the error and a one-line hint, not the whole help', async () => {
    const result = await segflow(['run', '--month', '2026-13']);
    expect(result.output).toContain('(add --help for the options)');
    expect(result.output).not.toContain('Options:');
  });

  it('exits 2 for an hour out of range, not 1', async () => {
    const hour = await segflow(['schedule', 'create', '--input', '.', '--hour', '25'], NO_SERVER);
    expect(hour).toMatchObject({ code: 2, output: expect.stringContaining('must be an hour, 0-23') });
  });

  it('validates run parameters before contacting Temporal (exit 2, not 3)', async () => {
    const result = await segflow(['run', '--month', '2026-06', '--input', '.', '--param', 'k=1'], NO_SERVER);
    expect(result).toMatchObject({ code: 2, output: expect.stringContaining('k: must be at least 2') });
    // a value not among the allowed, in plain words; a parameter given twice is refused, not the last one taken
    const model = await segflow(['run', '--month', '2026-06', '--param', 'churnModel=forest'], NO_SERVER);
    expect(model).toMatchObject({
      code: 2,
      output: expect.stringContaining('churnModel: must be one of "boosted", "tree"'),
    });
    const twice = await segflow(['run', '--month', '2026-06', '--param', 'k=5', '--param', 'k=6'], NO_SERVER);
    expect(twice).toMatchObject({
      code: 2,
      output: expect.stringContaining('k is given twice (5 and 6): give it once'),
    });
  });

  it('suggests the parameter an unknown one was probably meant to be', async () => {
    const result = await segflow(['run', '--month', '2026-06', '--input', '.', '--param', 'treedepth=3'], NO_SERVER);
    expect(result).toMatchObject({ code: 2, output: expect.stringContaining('did you mean treeDepth?') });
  });

  it('refuses a missing input before contacting Temporal', async () => {
    const missing = join(REPO_ROOT, 'no-such-folder');
    for (const args of [
      ['schedule', 'create', '--input', missing],
      ['run', '--month', '2026-06', '--input', missing],
    ]) {
      expect(await segflow(args, NO_SERVER)).toMatchObject({
        code: 2,
        output: expect.stringContaining(`no such file or folder: ${missing}`),
      });
    }
  });

  it("a schedule's contact log and labels may come later; a run's must exist", async () => {
    const later = join(await tempDir(), 'contacts-2026-11.csv');
    // past the check, the schedule is created on the server: here, none answers (exit 3)
    expect(
      await segflow(['schedule', 'create', '--input', '.', '--param', `contacts=${later}`], NO_SERVER),
    ).toMatchObject({
      code: 3,
      output: expect.stringContaining(`note: contacts file ${later} does not exist yet`),
    });
    expect(
      await segflow(['run', '--month', '2026-06', '--input', '.', '--param', `contacts=${later}`], NO_SERVER),
    ).toMatchObject({ code: 2, output: expect.stringContaining(`contacts: no such file or folder: ${later}`) });
    // a log the run's plan would stop on is said before a workflow starts; a schedule's, written
    // anew before each run, is only noted
    const noDate = join(await tempDir(), 'contacts.csv');
    await writeFile(noDate, 'msisdn,outcome\n13800000001,accepted\n');
    expect(
      await segflow(['schedule', 'create', '--input', '.', '--param', `contacts=${noDate}`], NO_SERVER),
    ).toMatchObject({
      code: 3,
      output: expect.stringContaining(
        `note: contacts: the contact log ${noDate} lacks required column(s): subscriber_id, contact_date`,
      ),
    });
    expect(
      await segflow(['run', '--month', '2026-06', '--input', await tempDir(), '--param', `contacts=${noDate}`], {
        ...NO_SERVER,
        SEGFLOW_HOME: await tempDir(),
      }),
    ).toMatchObject({
      code: 2,
      output: expect.stringContaining(
        `segflow: contacts: the contact log ${noDate} lacks required column(s): subscriber_id, contact_date; its columns are 'msisdn', 'outcome'`,
      ),
    });
  });

  it("refuses a contact-log mapping the run's plan would stop on before anything starts (exit 2)", async () => {
    const dir = await tempDir();
    const log = join(dir, 'contacts.csv');
    await writeFile(log, '用户号码,联系日期,办理结果\n13800000001,05/06/2026,成功办理\n');
    const mapping = join(dir, 'contacts-mapping.json');
    // the usage in a folder of its own: the log beside it would be read as usage, and refused
    const usage = join(dir, 'usage');
    await mkdir(usage);
    await writeFile(join(usage, 'usage.csv'), usageCsv('2026-06'));
    const run = (text: string) =>
      writeFile(mapping, text).then(() =>
        segflow(
          [
            'run',
            '--month',
            '2026-06',
            '--input',
            usage,
            '--param',
            `contacts=${log}`,
            '--param',
            `contactsMapping=${mapping}`,
          ],
          { ...NO_SERVER, SEGFLOW_HOME: join(dir, '.segflow') },
        ),
      );
    expect(await run('{"columns": ')).toMatchObject({
      code: 2,
      output: expect.stringContaining(
        `segflow: contactsMapping: invalid contact-log mapping ${mapping}:\nnot valid JSON`,
      ),
    });
    expect(
      await run(JSON.stringify({ columns: { subscriber_id: '手机号码', contact_date: '联系日期' } })),
    ).toMatchObject({
      code: 2,
      output: expect.stringContaining(
        `segflow: contacts: the contact log ${log} lacks the column(s) its mapping (contactsMapping) names: '手机号码' (subscriber_id; did you mean '用户号码'?)`,
      ),
    });
    expect(
      await run(
        JSON.stringify({ columns: { subscriber_id: '用户号码', contact_date: '联系日期' }, dateFormat: '%d/%m/%Q' }),
      ),
    ).toMatchObject({
      code: 2,
      output: expect.stringContaining(
        `segflow: contactsMapping: the contact-log mapping's dateFormat "%d/%m/%Q" is not a format DuckDB reads`,
      ),
    });
    // a mapping that fits: past the checks, to the server, which does not answer here (exit 3)
    const fits = await run(
      JSON.stringify({
        columns: { subscriber_id: '用户号码', contact_date: '联系日期', outcome: '办理结果' },
        dateFormat: '%d/%m/%Y',
      }),
    );
    expect(fits.code, fits.output).toBe(3);
  });

  it('refuses durations and time zones Temporal would not read, and a --params file that is not a JSON object', async () => {
    const dir = await tempDir();
    const notJson = join(dir, 'params.json');
    await writeFile(notJson, '{k: 6}');
    const mapping = join(dir, 'mapping.json');
    await writeFile(
      mapping,
      JSON.stringify({ columns: { voice_minute: 'mins' }, features: { plan_type: 'category' } }),
    );
    for (const [args, message] of [
      [['run', '--month', '2026-06', '--heartbeat-timeout', '5x'], '--heartbeat-timeout: "5x" is not a duration'],
      // Temporal reads a bare number as milliseconds
      [
        ['run', '--month', '2026-06', '--heartbeat-timeout', '5'],
        '--heartbeat-timeout: "5" has no unit: write 5s, 5m or 5h',
      ],
      [
        ['run', '--month', '2026-06', '--heartbeat-timeout', '500ms'],
        '--heartbeat-timeout: must be 1s or longer, got "500ms"',
      ],
      [
        ['schedule', 'create', '--input', '.', '--catchup-window', 'soon'],
        '--catchup-window: "soon" is not a duration',
      ],
      [['schedule', 'create', '--input', '.', '--timezone', 'Mars/Olympus'], 'must be an IANA time zone'],
      // a schedule's parameters are checked as its runs will take them, not at its first run
      [['schedule', 'create', '--input', '.', '--param', 'k=1'], 'k: must be at least 2'],
      [['schedule', 'create', '--input', '.', '--param', `mapping=${mapping}`], 'columns.voice_minute: not a column'],
      [['run', '--month', '2026-06', '--params', notJson], `--params: ${notJson} is not JSON`],
      [['run', '--month', '2026-06', '--params', join(dir, 'none.json')], '--params: cannot read'],
      // a mapping is checked before anything starts, with the reason inside a rejected key or union
      [
        ['run', '--month', '2026-06', '--input', '.', '--param', `mapping=${mapping}`],
        'columns.voice_minute: not a column of the usage contract',
      ],
      [
        ['run', '--month', '2026-06', '--input', '.', '--param', `mapping=${mapping}`],
        'features.plan_type: must be one of "numeric", "categorical", "date", "skip"',
      ],
    ] as const) {
      expect(await segflow([...args], NO_SERVER), args.join(' ')).toMatchObject({
        code: 2,
        output: expect.stringContaining(message),
      });
    }
  });

  it('names the versions that exist for a snapshot reference that does not', async () => {
    const store = join(await tempDir(), 'store');
    await mkdir(join(store, 'snapshots', '2026-11', 'v1'), { recursive: true });
    await writeFile(join(store, 'snapshots', '2026-11', 'latest.json'), '{"version":1}');
    const env = { SEGFLOW_STORE: store };
    expect(await segflow(['snapshots', 'show', '2026-11/v99'], env)).toMatchObject({
      code: 2,
      output: expect.stringContaining('2026-11 has no version 99 (versions: v1)'),
    });
    expect(await segflow(['snapshots', 'show', '2026-10'], env)).toMatchObject({
      code: 2,
      output: expect.stringContaining('no snapshot published for 2026-10 (months with snapshots: 2026-11)'),
    });
  });
});

describe('segflow help', { timeout: 300_000 }, () => {
  it('exits 0 for help', async () => {
    expect(await segflow(['run', '--help'])).toMatchObject({
      code: 0,
      output: expect.stringContaining('--partitions <n>'),
    });
  });

  it('lists every run parameter with its range and meaning, also those without a default', async () => {
    for (const command of [['run'], ['schedule', 'create']]) {
      const { output } = await segflow([...command, '--help']);
      expect(output).toMatch(/ {2}k {2,}integer 2\.\.30, optional\n {3,}Number of segments/);
      expect(output).toMatch(/ {2}mapping {2,}text, optional\n {3,}JSON file mapping/);
      expect(output).toMatch(/ {2}holdoutShare {2,}number > 0 and < 0\.9, default 0\.25/);
      expect(output).toMatch(/ {2}churnModel {2,}boosted or tree, default "boosted"/);
    }
  });

  it('names SEGFLOW_HOME, TEMPORAL_ADDRESS and the exit codes, and prints the version', async () => {
    const { output } = await segflow(['--help']);
    expect(output).toContain('SEGFLOW_HOME');
    expect(output).toContain('TEMPORAL_ADDRESS');
    expect(output).toMatch(/Exit codes:[\s\S]*2 bad usage/);
    expect(await segflow(['--version'])).toEqual({ code: 0, output: '0.1.0\n' });
    expect((await segflow(['server', '--help'])).output).toContain('$SEGFLOW_HOME/temporal');
  });

  it('offers --note only where it is recorded, and one default per option', async () => {
    expect((await segflow(['schedule', 'pause', '--help'])).output).toContain('--note');
    expect((await segflow(['schedule', 'trigger', '--help'])).output).not.toContain('--note');
    expect((await segflow(['schedule', 'delete', '--help'])).output).not.toContain('--note');
    const generate = (await segflow(['generate', '--help'])).output;
    expect(generate).toMatch(
      /--out <dir>\s+output folder: new, empty or an earlier sample's,[\s\S]*replaced \(required\)/,
    );
    expect(generate.match(/--last-month[^\n]*\n?[^\n-]*/)?.[0]).not.toMatch(/default[\s\S]*default/);
  });

  it('fails a stage over from a dead worker after 30 s by default', async () => {
    expect(await segflow(['run', '--help'])).toMatchObject({
      code: 0,
      output: expect.stringMatching(/--heartbeat-timeout <duration>[^]*\(default: "30s"\)/),
    });
  });
});

describe('segflow runs show', { timeout: 120_000 }, () => {
  it("shows a schedule's events with their notes and settings, and says it is a schedule", async () => {
    const dir = await tempDir();
    const store = storeIn(dir);
    const schedule = { workflowId: 'monthly', runId: '' };
    await recordAudit(store, {
      event: 'schedule.created',
      run: schedule,
      month: '',
      actor: 'ops',
      subject: '2026-12-01T00:00:00.000Z',
      details: { input: '/data/usage', overlap: 'skip' },
    });
    await recordAudit(store, {
      event: 'schedule.paused',
      run: schedule,
      month: '',
      actor: 'ops',
      subject: '2026-12-02T00:00:00.000Z',
      details: { note: 'input moving to the new share' },
    });
    const result = await segflow(['runs', 'show', 'monthly'], { SEGFLOW_STORE: store.storeDir, ...NO_SERVER });
    expect(result.code).toBe(0);
    expect(result.output).toContain('input "/data/usage"; overlap "skip"');
    expect(result.output).toContain('note: input moving to the new share');
    expect(result.output).toContain(
      "monthly is a schedule: 'segflow schedule describe --id monthly' shows it and its runs",
    );
    // once deleted, it is no longer pointed at
    await recordAudit(store, {
      event: 'schedule.deleted',
      run: schedule,
      month: '',
      actor: 'ops',
      subject: '2026-12-03T00:00:00.000Z',
      details: {},
    });
    const deleted = await segflow(['runs', 'show', 'monthly'], { SEGFLOW_STORE: store.storeDir, ...NO_SERVER });
    expect(deleted.output).toContain(
      "monthly was a schedule, deleted (audit seq 3); 'segflow runs list' shows the runs",
    );
    expect(deleted.output).not.toContain('schedule describe');
    // a run's cancellation names the stage it ended in
    await recordAudit(store, {
      event: 'run.cancelled',
      run: { workflowId: 'run-1', runId: 'r1' },
      month: '2026-11',
      actor: 'ops',
      details: { stage: 'features' },
    });
    await recordAudit(store, {
      event: 'snapshot.promoted',
      run: { workflowId: 'run-1', runId: 'r1' },
      month: '2026-11',
      actor: 'ana',
      subject: '2026-11/v2 at 2026-12-04T10:00:00.000Z',
      details: { version: 2, previous: 1, reason: 'k=5 adopted after review' },
    });
    const cancelled = await segflow(['runs', 'show', 'run-1'], { SEGFLOW_STORE: store.storeDir, ...NO_SERVER });
    expect(cancelled.output).toMatch(/run\.cancelled +at features +ops/);
    // Temporal not reached is said, not taken for "no history there"
    expect(cancelled.output).toContain('Temporal: not reached (the audit log is the long-term record)');
    const unknown = await segflow(['runs', 'show', 'nope'], { SEGFLOW_STORE: store.storeDir, ...NO_SERVER });
    expect(unknown).toMatchObject({
      code: 2,
      output: expect.stringContaining(
        "segflow: no run nope in the audit log; Temporal, not reached, was not asked ('segflow runs list' shows the runs)",
      ),
    });
    expect(unknown.output).toContain(
      'note: cannot reach Temporal at 127.0.0.1:1 (tcp connect error: Connection refused): showing what the audit log holds',
    );
    // a promotion says why
    expect(cancelled.output).toMatch(
      /snapshot\.promoted +2026-11\/v2 at 2026-12-04T10:00:00\.000Z: k=5 adopted after review +ana/,
    );
  });
});
