import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasControlGroup, measureCampaigns } from '../../activities/campaigns';
import { findDispatchedList, readContactsMapping } from '../../activities/contact-log';
import { QUARANTINE_COLUMNS } from '../../activities/load-sql';
import { queryRows, readSql, runScript, setVariable, withConnection } from '../../activities/duckdb';
import { CONTACT_QUARANTINE_REASONS } from '../../data/contacts-contract';
import { RECOMMENDED_PRODUCTS } from '../../domain/actions';
import { ContactDateFormatError, InvalidParamsError, SchemaContractError, UsageError } from '../../domain/errors';
import { validatedParams } from '../../cli/commands/run';
import { parseRunParams, type RunParams } from '../../domain/params';
import { hashFile } from '../../store/hashing';
import { versionDir } from '../../store/layout';
import { smallSample, storeIn, tempDir } from '../helpers';
import { findInputFiles, planLoad } from '../../activities/load';

function params(contacts?: string, more: Record<string, unknown> = {}): RunParams {
  const parsed = parseRunParams({ month: '2026-06', input: '/unused', ...(contacts ? { contacts } : {}), ...more });
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  return parsed.params;
}

/**
 * Writes `folder`'s manifest.json as publishing does for its dispatch.parquet as it is now: the
 * measurement checks the list against the sha256 its manifest records (with `more`, e.g. params).
 */
async function recordList(folder: string, more: Record<string, unknown> = {}): Promise<void> {
  const { sha256 } = await hashFile(join(folder, 'dispatch.parquet'));
  await writeFile(
    join(folder, 'manifest.json'),
    JSON.stringify({ ...more, outputs: [{ file: 'dispatch.parquet', sha256 }] }),
  );
}

/** May's dispatch list (`version`) measured with the contact log `file`: a measurement that was made. */
async function measuredMay(
  conn: Parameters<typeof measureCampaigns>[0],
  store: ReturnType<typeof storeIn>,
  file: string,
  { version = 1, more = {} }: { version?: number; more?: Record<string, unknown> } = {},
) {
  const result = await measureCampaigns(conn, {
    params: params(file, more),
    previous: { month: '2026-05', version },
    previousStore: store,
    workDir: store.workDir,
  });
  if (!result?.measured) throw new Error('not measured');
  return result;
}

/**
 * A store holding only May's dispatch list (with or without a control column) and June's active
 * subscribers; with `pseudonymKey`, their ids are published as keyed hashes (published_id), as
 * with pseudonymiseIds.
 */
async function withMayList<T>(
  withControl: boolean,
  work: (conn: Parameters<typeof measureCampaigns>[0], store: ReturnType<typeof storeIn>) => Promise<T>,
  pseudonymKey: string | null = null,
): Promise<T> {
  const store = storeIn(await tempDir());
  const may = versionDir(store, '2026-05', 1);
  await mkdir(may, { recursive: true });
  return withConnection(':memory:', async (conn) => {
    await setVariable(conn, 'pseudonym_key', pseudonymKey);
    await runScript(
      conn,
      await readSql(new URL('../../activities/publish/tables/', import.meta.url).href, '00_macros.sql'),
    );
    await setVariable(conn, 'dispatch_file', join(may, 'dispatch.parquet'));
    await conn.run(
      `COPY (SELECT published_id('S' || i) AS subscriber_id, 'offer' AS recommended_product, 'segment' AS segment_name, 'SMS' AS channel,
                    'now' AS contact_moment, 'G1' AS grid ${withControl ? ', i % 10 = 0 AS control' : ''}
             FROM range(100) t(i)) TO (getvariable('dispatch_file')) (FORMAT parquet)`,
    );
    await recordList(may);
    await conn.run(
      "CREATE TEMP TABLE snapshot_subscribers AS SELECT published_id('S' || i) AS subscriber_id FROM range(90) t(i)",
    );
    return work(conn, store);
  });
}

describe('contact log', () => {
  it('is refused without a required column', async () => {
    const file = join(await tempDir(), 'contacts.csv');
    await writeFile(file, 'subscriber_id,outcome\nS1,accepted\n');
    await withMayList(true, async (conn, store) => {
      await expect(
        measureCampaigns(conn, {
          params: params(file),
          previous: { month: '2026-05', version: 1 },
          previousStore: store,
          workDir: store.workDir,
        }),
      ).rejects.toThrow(SchemaContractError);
    });
  });

  it("is refused by the load's plan, before any stage runs, when it lacks a required column", async () => {
    const dir = await tempDir();
    const sample = await smallSample(dir, 300, 7);
    const file = join(dir, 'contacts.csv');
    await writeFile(file, 'subscriber_id,contactdate,outcome\nS1,2026-06-03,accepted\n');
    const store = storeIn(dir);
    const run = { workflowId: 'contacts', runId: 'early' };
    await expect(
      planLoad(store, run, { month: '2026-06', input: join(sample.outDir, 'usage'), contacts: file }),
    ).rejects.toThrow(/the contact log .*contacts\.csv lacks required column\(s\): contact_date/);
    await expect(
      planLoad(store, run, { month: '2026-06', input: join(sample.outDir, 'usage'), contacts: file }),
    ).rejects.toBeInstanceOf(SchemaContractError);
  });

  it('is not measured without a list with a control group, and says why', async () => {
    const file = join(await tempDir(), 'contacts.csv');
    await writeFile(file, 'subscriber_id,contact_date\nS1,2026-06-02\n');
    await withMayList(false, async (conn, store) => {
      expect(
        await measureCampaigns(conn, {
          params: params(),
          previous: null,
          previousStore: store,
          workDir: store.workDir,
        }),
      ).toBeUndefined();
      expect(
        await measureCampaigns(conn, {
          params: params(file),
          previous: null,
          previousStore: store,
          workDir: store.workDir,
        }),
      ).toEqual({
        measured: false,
        reason: 'no snapshot of 2026-05 to measure its dispatch list',
      });
      const old = await measureCampaigns(conn, {
        params: params(file),
        previous: { month: '2026-05', version: 1 },
        previousStore: store,
        workDir: store.workDir,
      });
      expect(old).toMatchObject({ measured: false, reason: expect.stringContaining('has no control group') });
    });
  });

  it('is not measured when the list holds nobody out (controlShare=0), and says so plainly', async () => {
    const file = join(await tempDir(), 'contacts.csv');
    await writeFile(file, 'subscriber_id,contact_date\nS1,2026-06-02\n');
    await withMayList(true, async (conn, store) => {
      const may = versionDir(store, '2026-05', 1);
      await setVariable(conn, 'dispatch_file', join(may, 'dispatch.parquet'));
      await setVariable(conn, 'nobody_out', join(await tempDir(), 'dispatch.parquet'));
      await conn.run(
        "COPY (SELECT * REPLACE (false AS control) FROM read_parquet(getvariable('dispatch_file'))) TO (getvariable('nobody_out')) (FORMAT parquet)",
      );
      await conn.run(
        "COPY (SELECT * FROM read_parquet(getvariable('nobody_out'))) TO (getvariable('dispatch_file')) (FORMAT parquet)",
      );
      const request = {
        params: params(file),
        previous: { month: '2026-05', version: 1 },
        previousStore: store,
        workDir: store.workDir,
      };
      await recordList(may, { params: { controlShare: 0 } });
      expect(await measureCampaigns(conn, request)).toEqual({
        measured: false,
        reason:
          "2026-05/v1's list was published with controlShare=0 (no control group); a later month's run with a controlShare above 0 can be measured",
      });
      // the report's section for a run given no log does not ask for one either
      expect(await hasControlGroup(conn, may)).toBe(false);
      await recordList(may, { params: { controlShare: 0.01 } });
      expect(await measureCampaigns(conn, request)).toEqual({
        measured: false,
        reason:
          "2026-05/v1's list holds nobody out (no control group, though published with controlShare=0.01: too small a list for one); a later month's list with a control group can be measured",
      });
    });
  });

  it('reads Parquet as well as CSV, and counts contacted controls without moving them', async () => {
    const file = join(await tempDir(), 'contacts.parquet');
    await withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'target', file);
      // S0 and S10 are controls; a DATE column and mixed-case outcomes are fine
      await conn.run(
        `COPY (SELECT 'S' || i AS subscriber_id, DATE '2026-06-10' AS contact_date, 'Accepted' AS outcome
               FROM range(0, 20) t(i)) TO (getvariable('target')) (FORMAT parquet)`,
      );
    });
    await withMayList(true, async (conn, store) => {
      const result = await measuredMay(conn, store, file);
      expect(result.contacts).toMatchObject({ rows: 20, loaded: 20, quarantined: 0, contactedControls: 2 });
      // 18 of the 90 targeted logged: a partial log, maybe, and too few logged to give kept per 100 contacts
      expect(result.warnings).toEqual([
        expect.stringContaining('records a contact for 18 of the 90 targeted'),
        // S0 and S10: 2 of the 10 held out
        expect.stringMatching(
          /^the contact log records a contact for 2 of the 10 subscribers held out \(20%\): they stay in the control group/,
        ),
      ]);
      expect(result.overall).toMatchObject({ controlSubscribers: 10, targetedSubscribers: 90, acceptanceRate: 1 });
      expect(result.overall.keptPer100Contacts).toBeNull();
      // 10 of the list (S90..S99) are gone in June: S90 is a control, the other 9 were to be contacted
      expect(result.overall).toMatchObject({ controlChurned: 1, targetedChurned: 9, tooSmall: true });
    });
  });

  it('reads a CSV log saved in GB18030 with contactsEncoding, its outcomes and ids as a UTF-8 log', async () => {
    const file = join(await tempDir(), 'contacts-gb.csv');
    // the channel 短信 (SMS) in GB18030: Excel on Chinese Windows
    const rows = Array.from({ length: 20 }, (_, i) => `S${i},2026-06-10,${i % 2 ? 'declined' : 'accepted'},CHANNEL`);
    const text = ['subscriber_id,contact_date,outcome,channel', ...rows, ''].join('\n').split('CHANNEL');
    await writeFile(
      file,
      Buffer.concat(
        text.flatMap((part, i) => (i ? [Buffer.from('b6ccd0c5', 'hex'), Buffer.from(part)] : [Buffer.from(part)])),
      ),
    );
    await withMayList(true, async (conn, store) => {
      await expect(measuredMay(conn, store, file)).rejects.toThrow(
        /give its encoding, e\.g\. --param contactsEncoding=gb18030/,
      );
      const result = await measuredMay(conn, store, file, { more: { contactsEncoding: 'gb18030' } });
      expect(result.contacts).toMatchObject({ rows: 20, loaded: 20, quarantined: 0, contactedControls: 2 });
      expect(result.contacts.unknownChannels).toEqual([{ channel: '短信', rows: 20 }]);
    });
  });

  it('counts a subscriber whose every June row was quarantined in neither arm, as the churn label does', async () => {
    const file = join(await tempDir(), 'contacts.csv');
    await writeFile(file, 'subscriber_id,contact_date,outcome\nS1,2026-06-03,accepted\n');
    await withMayList(true, async (conn, store) => {
      // S95 (to be contacted) and S90 (a control) left no valid June row, but S95 left a broken one
      await conn.run(`CREATE TABLE quarantine ${QUARANTINE_COLUMNS}`);
      await conn.run(
        "INSERT INTO quarantine VALUES ('/in/usage_month=2026-06/part_0.parquet', 7, 'S95', '2026-06', 'spend: outside [0, 1000000]')",
      );
      const result = await measuredMay(conn, store, file);
      expect(result.overall).toMatchObject({
        controlSubscribers: 10,
        controlChurned: 1,
        targetedSubscribers: 89,
        targetedChurned: 8,
        // counted, per group: the manifest, campaigns show and the report say how many were left out
        controlUnreadable: 0,
        targetedUnreadable: 1,
      });
      expect(result.byAction).toMatchObject([{ group: 'offer', controlUnreadable: 0, targetedUnreadable: 1 }]);
      const grids = await queryRows<{ control_unreadable: number; targeted_unreadable: number }>(
        conn,
        "SELECT control_unreadable, targeted_unreadable FROM snapshot_campaigns WHERE dimension = 'grid'",
      );
      expect(grids).toEqual([{ control_unreadable: 0, targeted_unreadable: 1 }]);
    });
  });

  it('counts the same subscriber unreadable with pseudonymised ids (the quarantine holds raw ids, the list keyed hashes)', async () => {
    const file = join(await tempDir(), 'contacts.csv');
    await writeFile(file, 'subscriber_id,contact_date,outcome\nS1,2026-06-03,accepted\nS80,2026-06-04,declined\n');
    const measured = (pseudonymKey: string | null) =>
      withMayList(
        true,
        async (conn, store) => {
          // S95 (targeted) and S90 (a control) left no valid June row, and both left a broken one
          await conn.run(`CREATE TABLE quarantine ${QUARANTINE_COLUMNS}`);
          await conn.run(
            `INSERT INTO quarantine VALUES
               ('/in/usage_month=2026-06/part_0.parquet', 7, 'S95', '2026-06', 'spend: outside [0, 1000000]'),
               ('/in/usage_month=2026-06/part_0.parquet', 8, 'S90', NULL, 'month: not a valid month')`,
          );
          const result = await measuredMay(conn, store, file);
          const grids = await queryRows<{ control_unreadable: number; targeted_unreadable: number }>(
            conn,
            "SELECT control_unreadable, targeted_unreadable FROM snapshot_campaigns WHERE dimension = 'grid'",
          );
          return { overall: result.overall, byAction: result.byAction, grids, contacts: result.contacts };
        },
        pseudonymKey,
      );
    const plain = await measured(null);
    const keyed = await measured('a-contacts-test-key-of-enough-length');
    expect(plain.overall).toMatchObject({
      controlSubscribers: 9,
      controlChurned: 0,
      targetedSubscribers: 89,
      targetedChurned: 8,
      controlUnreadable: 1,
      targetedUnreadable: 1,
      contactedSubscribers: 1,
      contactedControls: 1,
    });
    expect(keyed.overall).toEqual(plain.overall);
    expect(keyed.byAction).toEqual(plain.byAction);
    expect(keyed.grids).toEqual([{ control_unreadable: 1, targeted_unreadable: 1 }]);
    expect(keyed.contacts).toMatchObject({ rows: 2, loaded: 2, quarantined: 0 });
  });

  it("takes a pseudonymised list's ids as the log gives them: keyed as on the list, or the operator's", async () => {
    const key = 'a-contacts-test-key-of-enough-length';
    const keyedId = (id: string) => createHash('sha256').update(`${key}:${id}`).digest('hex');
    const file = join(await tempDir(), 'contacts.csv');
    // S1 as the team read it on the pseudonymised list, S80 as the operator's systems know it
    await writeFile(
      file,
      `subscriber_id,contact_date,outcome\n${keyedId('S1')},2026-06-03,accepted\nS80,2026-06-04,declined\n`,
    );
    const result = await withMayList(true, (conn, store) => measuredMay(conn, store, file), key);
    expect(result.contacts).toMatchObject({ rows: 2, loaded: 2, quarantined: 0 });
    expect(result.overall).toMatchObject({ contactedSubscribers: 1, contactedControls: 1 });
  });

  it('counts the contacted who accepted an offer and yet have no usage in the run month', async () => {
    const file = join(await tempDir(), 'contacts.csv');
    // S85-S98 accepted; S90-S99 have no June usage, and S90 is a control (contacted anyway: not counted)
    const rows = Array.from({ length: 14 }, (_, i) => `S${85 + i},2026-06-20,accepted`);
    await writeFile(file, ['subscriber_id,contact_date,outcome', ...rows].join('\n') + '\n');
    await withMayList(true, async (conn, store) => {
      const result = await measuredMay(conn, store, file);
      expect(result.overall).toMatchObject({ acceptedSubscribers: 13, acceptedChurned: 8, contactedControls: 1 });
      const [published] = await queryRows<{ accepted_churned: number }>(
        conn,
        "SELECT accepted_churned FROM snapshot_campaigns WHERE dimension = 'all'",
      );
      expect(published.accepted_churned).toBe(8);
    });
  });

  it('warns, keeping the measurement, when fewer than half of the rows are usable (most likely the wrong log)', async () => {
    const file = join(await tempDir(), 'contacts.csv');
    // last month's log by mistake: 8 rows dated in May, 1 in June, 1 unreadable date
    const may = Array.from({ length: 8 }, (_, i) => `S${i + 1},2026-05-${String(i + 10)},offer,SMS,accepted`);
    await writeFile(
      file,
      [
        'subscriber_id,contact_date,action,channel,outcome',
        ...may,
        'S11,2026-06-02,offer,SMS,declined',
        'S12,15/06/2026,offer,SMS,',
      ].join('\n') + '\n',
    );
    await withMayList(true, async (conn, store) => {
      const result = await measuredMay(conn, store, file);
      expect(result.warnings).toEqual([
        '1 of 10 contact-log rows were used (8 x contact_date: outside the run month 2026-06; 1 x contact_date: not a valid date): is this the log of the contacts made in 2026-06?',
      ]);
      // the intent-to-treat arms come from the list: still measured
      expect(result.overall).toMatchObject({
        controlSubscribers: 10,
        targetedSubscribers: 90,
        contactedSubscribers: 1,
      });
      // but not per contact: 1 logged subscriber made -1.1 points of uplift "-100 kept per 100"
      expect(result.overall.keptPer100Contacts).toBeNull();
      expect(result.keptPer100Withheld).toMatch(/^the contact log is mostly unusable/);
    });
  });

  it('reads an outcome it does not know as a contact with an unknown outcome, and headers written with spaces', async () => {
    const file = join(await tempDir(), 'contacts.csv');
    // S1-S60 called (60 of the 90 targeted, S10..S50 controls left out); S41-S60's outcome is "no answer"
    const ids = Array.from({ length: 66 }, (_, i) => i + 1).filter((i) => i % 10 !== 0);
    await writeFile(
      file,
      [
        'Subscriber ID,Contact Date,outcome',
        // one word, typed three ways
        ...ids.map(
          (i) => `S${i},2026/6/${(i % 28) + 1},${i > 40 ? ['no answer', 'No Answer', 'no_answer'][i % 3] : 'accepted'}`,
        ),
      ].join('\n') + '\n',
    );
    await withMayList(true, async (conn, store) => {
      const result = await measuredMay(conn, store, file);
      expect(result.contacts).toMatchObject({ rows: 60, loaded: 60, quarantined: 0, outcomesUnread: 24 });
      expect(result.warnings).toEqual([
        "24 contact-log rows give outcomes that are none of accepted, declined, not reached ('no_answer' x 24): counted as contacts whose outcome is unknown (acceptance is of the outcomes known); write one of those three words, map the log's words onto them in a contact-log mapping's outcomes (contactsMapping), or leave the outcome empty",
      ]);
      // every row a contact; acceptance of the 36 with a known outcome
      expect(result.overall).toMatchObject({ contactedSubscribers: 60, acceptedSubscribers: 36, acceptanceRate: 1 });
    });
  });

  it('refuses two columns that both read as one contract column, neither written exactly', async () => {
    const file = join(await tempDir(), 'contacts.csv');
    await writeFile(file, 'Subscriber ID,subscriber-id,contact_date\nS1,S2,2026-06-03\n');
    await withMayList(true, async (conn, store) => {
      await expect(measuredMay(conn, store, file)).rejects.toMatchObject({
        name: 'SchemaContractError',
        message: expect.stringContaining(
          "the contact log's columns 'Subscriber ID' and 'subscriber-id' both read as subscriber_id: rename all but one",
        ),
      });
    });
  });

  it('asks for the year first when most rows were quarantined for their date', async () => {
    const file = join(await tempDir(), 'contacts.csv');
    await writeFile(
      file,
      [
        'subscriber_id,contact_date',
        ...Array.from({ length: 9 }, (_, i) => `S${i + 1},0${i + 1}/06/2026`),
        'S11,2026-06-02',
      ].join('\n') + '\n',
    );
    await withMayList(true, async (conn, store) => {
      const result = await measuredMay(conn, store, file);
      expect(result.warnings).toEqual([
        '1 of 10 contact-log rows were used (9 x contact_date: not a valid date): write contact_date as a day with the year first (2026-06-05, 2026/6/5, 2026年6月5日): a day written 05/06/2026 could be May or June, and is not read unless a contact-log mapping (contactsMapping) gives its dateFormat, e.g. "%d/%m/%Y" (contact_date_text in contacts_quarantine.parquet shows each as typed)',
      ]);
    });
  });

  it('gives kept per 100 contacts only for groups with enough logged subscribers, and warns when the log covers little of the list', async () => {
    const log = (ids: number[]) =>
      ['subscriber_id,contact_date,outcome', ...ids.map((i) => `S${i},2026-06-10,accepted`)].join('\n') + '\n';
    const targeted = (below: number) => Array.from({ length: below }, (_, i) => i).filter((i) => i % 10 !== 0);
    const dir = await tempDir();
    await withMayList(true, async (conn, store) => {
      // one team's file: 36 of the 90 targeted (S0-S39 but the controls)
      await writeFile(join(dir, 'partial.csv'), log(targeted(40)));
      const partial = await measuredMay(conn, store, join(dir, 'partial.csv'));
      expect(partial.warnings).toEqual([
        "the contact log records a contact for 36 of the 90 targeted subscribers (40%): if the teams contacted more than it records (one team's file, say), kept per 100 contacts is too large in size (too many kept, or too many lost), as it divides the list's uplift by the share logged: give every team's contacts in one file",
      ]);
      // 36 logged: enough to divide by, so it is given (the teams may have reached only these)
      expect(partial.overall.contactedSubscribers).toBe(36);
      expect(partial.overall.keptPer100Contacts).not.toBeNull();
      expect(partial.minLoggedSubscribers).toBe(30);
      expect(partial.keptPer100Withheld).toBeUndefined();
      // the whole log: no warning
      await writeFile(join(dir, 'whole.csv'), log(targeted(100)));
      const whole = await measuredMay(conn, store, join(dir, 'whole.csv'));
      expect(whole.warnings).toBeUndefined();
      expect(whole.overall.contactedSubscribers).toBe(90);
      // 20 logged of the 90: too few to divide by
      await writeFile(join(dir, 'few.csv'), log(targeted(23)));
      const few = await measuredMay(conn, store, join(dir, 'few.csv'));
      expect(few.overall).toMatchObject({ contactedSubscribers: 20, keptPer100Contacts: null });
    });
  });

  it('keeps the typed text of an unreadable date in the quarantine, each row with its 0-based data-row number', async () => {
    const file = join(await tempDir(), 'contacts.csv');
    await writeFile(
      file,
      [
        'subscriber_id,contact_date,action,channel,outcome',
        'S1,2026-06-02,offer,SMS,accepted',
        'S2,2026-13-01,offer,SMS,accepted',
        'S3,15/06/2026,offer,SMS,declined',
        'S4,2026-05-31,offer,SMS,declined',
      ].join('\n') + '\n',
    );
    await withMayList(true, async (conn, store) => {
      await measureCampaigns(conn, {
        params: params(file),
        previous: { month: '2026-05', version: 1 },
        previousStore: store,
        workDir: store.workDir,
      });
      const rows = await queryRows<Record<string, unknown>>(
        conn,
        'SELECT file_row, subscriber_id, contact_date, contact_date_text, reason FROM snapshot_contacts_quarantine',
      );
      expect(rows).toEqual([
        {
          file_row: 1,
          subscriber_id: 'S2',
          contact_date: null,
          contact_date_text: '2026-13-01',
          reason: CONTACT_QUARANTINE_REASONS.badDate,
        },
        {
          file_row: 2,
          subscriber_id: 'S3',
          contact_date: null,
          contact_date_text: '15/06/2026',
          reason: CONTACT_QUARANTINE_REASONS.badDate,
        },
        {
          file_row: 3,
          subscriber_id: 'S4',
          contact_date: '2026-05-31',
          contact_date_text: '2026-05-31',
          reason: CONTACT_QUARANTINE_REASONS.outsideMonth,
        },
      ]);
    });
  });
});

/** The words of the Chinese contact logs below in GB18030, as Excel on Chinese Windows saves them. */
const GB18030_WORDS: Record<string, string> = {
  用户号码: 'd3c3bba7bac5c2eb',
  联系日期: 'c1aacfb5c8d5c6da',
  办理结果: 'b0ecc0edbde1b9fb',
  渠道: 'c7feb5c0',
  成功办理: 'b3c9b9a6b0ecc0ed',
  拒绝: 'bedcbef8',
  未接通: 'ceb4bdd3cda8',
  稍后再联系: 'c9d4baf3d4d9c1aacfb5',
};

/** `text` in GB18030: its Chinese words from GB18030_WORDS, the rest ASCII (the same bytes). */
function inGb18030(text: string): Buffer {
  const words = new RegExp(`(${Object.keys(GB18030_WORDS).join('|')})`);
  return Buffer.concat(
    text.split(words).map((part) => Buffer.from(GB18030_WORDS[part] ?? Buffer.from(part).toString('hex'), 'hex')),
  );
}

/**
 * One month's contacts written twice: as segflow's contract reads them, and as a Chinese
 * operator's CRM exports them (Chinese headers, days written day first, Chinese outcome words). S1-S70
 * (S10..S70 controls) with every outcome and one the log's writer made up; S71 on a day that is
 * none (31 June), S72 in May.
 */
function contactLogs(): { plain: string; chinese: string } {
  const plainOutcomes = ['accepted', 'declined', 'not reached', 'call back later'];
  const chineseOutcomes = ['成功办理', '拒绝', '未接通', '稍后再联系'];
  const ids = Array.from({ length: 70 }, (_, i) => i + 1);
  const day = (i: number) => String((i % 28) + 1).padStart(2, '0');
  const plain = [
    'subscriber_id,contact_date,channel,outcome',
    ...ids.map((i) => `S${i},2026-06-${day(i)},SMS,${plainOutcomes[i % 4]}`),
    'S71,2026-06-31,SMS,accepted',
    'S72,2026-05-31,SMS,accepted',
  ];
  const chinese = [
    '用户号码,联系日期,渠道,办理结果',
    ...ids.map((i) => `S${i},${day(i)}/06/2026,SMS,${chineseOutcomes[i % 4]}`),
    'S71,31/06/2026,SMS,成功办理',
    'S72,31/05/2026,SMS,成功办理',
  ];
  return { plain: plain.join('\n') + '\n', chinese: chinese.join('\r\n') + '\r\n' };
}

/** The mapping of contactLogs()'s Chinese log. */
const CHINESE_LOG_MAPPING = {
  columns: { subscriber_id: '用户号码', contact_date: '联系日期', channel: '渠道', outcome: '办理结果' },
  dateFormat: '%d/%m/%Y',
  outcomes: { 成功办理: 'accepted', 拒绝: 'declined', 未接通: 'not reached' },
};

describe('a contact-log mapping', () => {
  it("measures a CRM's log (Chinese headers, days written day first, Chinese outcomes; UTF-8 or GB18030) as the same log in segflow's words", async () => {
    const dir = await tempDir();
    const { plain, chinese } = contactLogs();
    await writeFile(join(dir, 'plain.csv'), plain);
    await writeFile(join(dir, 'chinese.csv'), chinese);
    await writeFile(join(dir, 'chinese-gb18030.csv'), inGb18030(chinese));
    const mappingFile = join(dir, 'contacts-mapping.json');
    const mappingText = JSON.stringify(CHINESE_LOG_MAPPING, null, 2);
    await writeFile(mappingFile, mappingText);
    await writeFile(join(dir, 'gb18030-mapping.json'), JSON.stringify({ ...CHINESE_LOG_MAPPING, encoding: 'gb18030' }));
    await withMayList(true, async (conn, store) => {
      const quarantine = () =>
        queryRows(
          conn,
          'SELECT file_row, subscriber_id, contact_date, outcome, reason FROM snapshot_contacts_quarantine',
        );
      const expected = await measuredMay(conn, store, join(dir, 'plain.csv'));
      const expectedQuarantine = await quarantine();
      // every kind of row is there: each outcome, one unread, a day that is none, a day outside the month
      expect(expected.contacts).toMatchObject({
        rows: 72,
        loaded: 70,
        quarantined: 2,
        quarantineByReason: {
          [CONTACT_QUARANTINE_REASONS.badDate]: 1,
          [CONTACT_QUARANTINE_REASONS.outsideMonth]: 1,
        },
        outcomesUnread: 17,
        contactedControls: 7,
      });
      expect(expected.overall).toMatchObject({ contactedSubscribers: 63, acceptedSubscribers: 14 });
      const sameAsPlain = (measured: Awaited<ReturnType<typeof measuredMay>>, mapping: string) => {
        const { file, sha256, mapping: recorded, ...counts } = measured.contacts;
        const { file: plainFile, sha256: plainSha256, ...plainCounts } = expected.contacts;
        expect([file, sha256, plainFile, plainSha256]).toHaveLength(4);
        expect(counts).toEqual(plainCounts);
        expect(recorded).toEqual({
          file: mapping,
          sha256: createHash('sha256').update(readFileSync(mapping)).digest('hex'),
        });
        expect(measured.overall).toEqual(expected.overall);
        expect(measured.byAction).toEqual(expected.byAction);
        expect(measured.dispatchFrom).toEqual(expected.dispatchFrom);
        // the unread word is the log's own
        expect(measured.warnings).toEqual(expected.warnings?.map((w) => w.replace('call back later', '稍后再联系')));
      };
      const utf8 = await measuredMay(conn, store, join(dir, 'chinese.csv'), { more: { contactsMapping: mappingFile } });
      sameAsPlain(utf8, mappingFile);
      // the quarantine's rows and reasons too; the day as read, the outcome as segflow's word
      expect(await quarantine()).toEqual(expectedQuarantine);
      const gb18030 = await measuredMay(conn, store, join(dir, 'chinese-gb18030.csv'), {
        more: { contactsMapping: join(dir, 'gb18030-mapping.json') },
      });
      sameAsPlain(gb18030, join(dir, 'gb18030-mapping.json'));
      // the encoding as a parameter instead, the same
      const byParam = await measuredMay(conn, store, join(dir, 'chinese-gb18030.csv'), {
        more: { contactsMapping: mappingFile, contactsEncoding: 'gb18030' },
      });
      sameAsPlain(byParam, mappingFile);
    });
  });

  it("refuses a dateFormat that reads under half of the log's days, naming it, the count, days it does not read and a format that reads them", async () => {
    const dir = await tempDir();
    const log = (name: string, days: string[]) =>
      writeFile(
        join(dir, name),
        ['subscriber_id,contact_date', ...days.map((day, i) => `S${i + 1},${day}`), 'S90,'].join('\n') + '\n',
      ).then(() => join(dir, name));
    // June written day first, every day of it: "%m/%d/%Y" reads the 12 up to 12/06 (as 12 December)
    const dayFirst = await log(
      'day-first.csv',
      Array.from({ length: 30 }, (_, i) => `${String(i + 1).padStart(2, '0')}/06/2026`),
    );
    const yearFirst = await log('year-first.csv', [
      ...Array.from({ length: 9 }, (_, i) => `2026-06-0${i + 1}`),
      '02/06/2026',
    ]);
    const unreadable = await log('unreadable.csv', ['June 5', 'June 6', 'June 7', '2026-06-08']);
    const mapping = (format: string) =>
      writeFile(join(dir, 'mapping.json'), JSON.stringify({ dateFormat: format })).then(() =>
        join(dir, 'mapping.json'),
      );
    await withMayList(true, async (conn, store) => {
      const measure = async (file: string, format: string) =>
        measuredMay(conn, store, file, { more: { contactsMapping: await mapping(format) } });
      const docs = '(docs/campaigns.md, "A log written by another system")';
      await expect(measure(dayFirst, '%m/%d/%Y')).rejects.toThrow(
        new ContactDateFormatError(
          `the contact-log mapping's dateFormat "%m/%d/%Y" is not how the contact log ${dayFirst} writes its days: it reads 12 of the log's 30 non-blank days (not read: days written like 'dd/dd/dddd'); "%d/%m/%Y" reads all of them: give the format the log writes ${docs}`,
        ),
      );
      await expect(measure(yearFirst, '%d/%m/%Y')).rejects.toThrow(
        `it reads 1 of the log's 10 non-blank days (not read: days written like 'dddd-dd-dd'); "%Y-%m-%d" reads 9 of them: give the format the log writes`,
      );
      await expect(measure(unreadable, '%d/%m/%Y')).rejects.toThrow(
        `it reads 0 of the log's 4 non-blank days (not read: days written like 'aaaa d', 'dddd-dd-dd'); none of "%d/%m/%Y", "%m/%d/%Y", "%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d", "%Y%m%d" reads half of them either: is contact_date (the mapping's "columns") the log's column of days?`,
      );
      // typed as the mapping's other refusals: not retried, a usage error before a run starts
      await expect(measure(dayFirst, '%m/%d/%Y')).rejects.toBeInstanceOf(InvalidParamsError);
      // the format that reads them measures the same log, nothing quarantined but the blank day
      const measured = await measure(dayFirst, '%d/%m/%Y');
      expect(measured.contacts).toMatchObject({
        rows: 31,
        quarantineByReason: { [CONTACT_QUARANTINE_REASONS.badDate]: 1 },
      });
    });
    await expect(
      validatedParams({ month: '2026-06', input: dir, contacts: dayFirst, contactsMapping: await mapping('%m/%d/%Y') }),
    ).rejects.toThrow(
      new UsageError(
        `contacts: the contact-log mapping's dateFormat "%m/%d/%Y" is not how the contact log ${dayFirst} writes its days: it reads 12 of the log's 30 non-blank days (not read: days written like 'dd/dd/dddd'); "%d/%m/%Y" reads all of them: give the format the log writes (docs/campaigns.md, "A log written by another system")`,
      ),
    );
  });

  it("quarantines the odd day a dateFormat that reads most of the log's days does not read, counted, as before", async () => {
    const dir = await tempDir();
    // nine days written day first, one year first: the format is the log's, the one day is not
    await writeFile(
      join(dir, 'contacts.csv'),
      [
        'subscriber_id,contact_date',
        ...Array.from({ length: 9 }, (_, i) => `S${i + 1},0${i + 1}/06/2026`),
        'S11,2026-06-02',
      ].join('\n') + '\n',
    );
    await writeFile(join(dir, 'mapping.json'), JSON.stringify({ dateFormat: '%d/%m/%Y' }));
    await withMayList(true, async (conn, store) => {
      const result = await measuredMay(conn, store, join(dir, 'contacts.csv'), {
        more: { contactsMapping: join(dir, 'mapping.json') },
      });
      expect(result.contacts).toMatchObject({
        rows: 10,
        loaded: 9,
        quarantineByReason: { [CONTACT_QUARANTINE_REASONS.badDate]: 1 },
      });
      // (the warning about a log covering little of the list aside)
      expect(result.warnings ?? []).not.toContainEqual(expect.stringContaining('contact_date'));
      expect(await queryRows(conn, 'SELECT contact_date_text, reason FROM snapshot_contacts_quarantine')).toEqual([
        { contact_date_text: '2026-06-02', reason: CONTACT_QUARANTINE_REASONS.badDate },
      ]);
    });
  });

  it('is refused, typed and named, when it is no JSON, names what is not a contract column, a header the log lacks or a format DuckDB cannot read', async () => {
    const dir = await tempDir();
    const log = join(dir, 'contacts.csv');
    await writeFile(log, contactLogs().chinese);
    const mapping = async (name: string, text: string) => {
      await writeFile(join(dir, name), text);
      return join(dir, name);
    };
    const notJson = await mapping('not-json.json', '{"columns": {"subscriber_id": "用户号码"');
    await expect(readContactsMapping(notJson)).rejects.toThrow(InvalidParamsError);
    await expect(readContactsMapping(notJson)).rejects.toThrow(
      new RegExp(`^invalid contact-log mapping ${notJson}:\\nnot valid JSON: `),
    );
    const problems = async (value: unknown) =>
      (await readContactsMapping(await mapping('mapping.json', JSON.stringify(value))).catch(
        (error: Error) => error,
      )) as Error;
    expect((await problems({ columns: { subscriber: '用户号码' } })).message).toContain(
      'columns.subscriber: not a column of the contact log (subscriber_id, contact_date, action, channel, outcome; docs/campaigns.md, "The contact log"): did you mean subscriber_id?',
    );
    expect((await problems({ columns: { 用户号码: 'subscriber_id' } })).message).toContain(
      'columns.用户号码: not a column of the contact log, which "subscriber_id" is: columns map a contract column to the log\'s header, "subscriber_id": "用户号码"',
    );
    expect((await problems({ dateFormat: 'dd/mm/yyyy' })).message).toContain('dateFormat: "dd/mm/yyyy" has no % code');
    expect((await problems({ outcomes: { 成功办理: 'yes' } })).message).toContain(
      'outcomes.成功办理: takes accepted, declined, not reached',
    );
    expect((await problems({ dateFromat: '%d/%m/%Y' })).message).toContain(
      '(mapping): unknown field "dateFromat" (did you mean dateFormat?)',
    );
    expect(await problems({ encoding: 'gb2312-ish' })).toBeInstanceOf(InvalidParamsError);

    await withMayList(true, async (conn, store) => {
      const measure = (value: unknown, more: Record<string, unknown> = {}) =>
        mapping('mapping.json', JSON.stringify(value)).then((file) =>
          measuredMay(conn, store, log, { more: { contactsMapping: file, ...more } }),
        );
      await expect(
        measure({ ...CHINESE_LOG_MAPPING, columns: { subscriber_id: '手机号码', contact_date: '联系日期' } }),
      ).rejects.toThrow(
        new SchemaContractError(
          `the contact log ${log} lacks the column(s) its mapping (contactsMapping) names: '手机号码' (subscriber_id; did you mean '用户号码'?); its columns are '用户号码', '联系日期', '渠道', '办理结果'`,
        ),
      );
      await expect(measure({ ...CHINESE_LOG_MAPPING, dateFormat: '%d/%m/%Q' })).rejects.toThrow(
        new InvalidParamsError(
          `the contact-log mapping's dateFormat "%d/%m/%Q" is not a format DuckDB reads (Invalid Input Error: Failed to parse format specifier %d/%m/%Q: Unrecognized format for strftime/strptime: %Q): write DuckDB's strptime codes, e.g. "%d/%m/%Y" for 05/06/2026 as 5 June`,
        ),
      );
      await expect(
        measure({ ...CHINESE_LOG_MAPPING, encoding: 'gb18030' }, { contactsEncoding: 'big5' }),
      ).rejects.toThrow(
        new InvalidParamsError(
          `contactsEncoding=big5 and the contact-log mapping's encoding "gb18030" differ: give the log's encoding once`,
        ),
      );
    });
  });

  it("is refused by the load's plan, before any stage runs, as by publishing", async () => {
    const dir = await tempDir();
    const sample = await smallSample(dir, 300, 7);
    const log = join(dir, 'contacts.csv');
    await writeFile(log, contactLogs().chinese);
    const store = storeIn(dir);
    const run = { workflowId: 'contacts', runId: 'mapped' };
    const plan = (mapping: unknown) =>
      writeFile(join(dir, 'mapping.json'), JSON.stringify(mapping)).then(() =>
        planLoad(store, run, {
          month: '2026-06',
          input: join(sample.outDir, 'usage'),
          contacts: log,
          contactsMapping: join(dir, 'mapping.json'),
        }),
      );
    // without its mapping, the log lacks the contract's columns
    await expect(
      planLoad(store, run, { month: '2026-06', input: join(sample.outDir, 'usage'), contacts: log }),
    ).rejects.toThrow(/lacks required column\(s\): subscriber_id, contact_date; its columns are '用户号码'/);
    await expect(plan({ ...CHINESE_LOG_MAPPING, columns: { subscriber_id: '手机号码' } })).rejects.toBeInstanceOf(
      SchemaContractError,
    );
    await expect(plan({ ...CHINESE_LOG_MAPPING, columns: { msisdn: '用户号码' } })).rejects.toBeInstanceOf(
      InvalidParamsError,
    );
    await expect(plan({ ...CHINESE_LOG_MAPPING, dateFormat: '%d/%m/%Q' })).rejects.toBeInstanceOf(InvalidParamsError);
    // days written day first, read month first: 35 of the 72 (those up to the 12th)
    await expect(plan({ ...CHINESE_LOG_MAPPING, dateFormat: '%m/%d/%Y' })).rejects.toThrow(
      new ContactDateFormatError(
        `the contact-log mapping's dateFormat "%m/%d/%Y" is not how the contact log ${log} writes its days: it reads 35 of the log's 72 non-blank days (not read: days written like 'dd/dd/dddd'); "%d/%m/%Y" reads 71 of them: give the format the log writes (docs/campaigns.md, "A log written by another system")`,
      ),
    );
    await expect(plan(CHINESE_LOG_MAPPING)).resolves.toBeDefined();
    // a reproduction reads a snapshot's log as its run read it: one published before the refusal
    // (with its warning) is recomputed, not refused by a check younger than it
    const { files } = await findInputFiles(join(sample.outDir, 'usage'), '2025-06', '2026-06');
    await writeFile(join(dir, 'mapping.json'), JSON.stringify({ ...CHINESE_LOG_MAPPING, dateFormat: '%m/%d/%Y' }));
    await expect(
      planLoad(
        store,
        { workflowId: 'reproduce', runId: 'r' },
        {
          month: '2026-06',
          input: join(sample.outDir, 'usage'),
          contacts: log,
          contactsMapping: join(dir, 'mapping.json'),
        },
        1,
        { files },
        false,
      ),
    ).resolves.toBeDefined();
  });
});

/**
 * May published twice (an analyst's rerun became v2, the latest); marketing worked from v1. v1
 * recommends 'data package' to S0-S49 and 'recharge bonus' to S50-S99; v2 'data package' to
 * S0-S49 and 'voice bundle' to S50-S99 (no recharge bonus). Every tenth subscriber is a control
 * in both. The log: S1-S59 but the controls (54 rows), each with v1's action.
 */
async function withTwoMayLists<T>(
  work: (conn: Parameters<typeof measureCampaigns>[0], store: ReturnType<typeof storeIn>, log: string) => Promise<T>,
): Promise<T> {
  const dir = await tempDir();
  const store = storeIn(dir);
  const log = join(dir, 'contacts.csv');
  const v1 = (i: number) => (i < 50 ? 'data package' : 'recharge bonus');
  const rows = Array.from({ length: 59 }, (_, k) => k + 1)
    .filter((i) => i % 10 !== 0)
    .map((i) => `S${i},2026-06-10,${v1(i)},SMS,accepted`);
  await writeFile(log, ['subscriber_id,contact_date,action,channel,outcome', ...rows].join('\n') + '\n');
  return withConnection(':memory:', async (conn) => {
    await setVariable(conn, 'pseudonym_key', null);
    await runScript(
      conn,
      await readSql(new URL('../../activities/publish/tables/', import.meta.url).href, '00_macros.sql'),
    );
    for (const [version, other] of [
      [1, 'recharge bonus'],
      [2, 'voice bundle'],
    ] as const) {
      const folder = versionDir(store, '2026-05', version);
      await mkdir(folder, { recursive: true });
      await setVariable(conn, 'dispatch_file', join(folder, 'dispatch.parquet'));
      await setVariable(conn, 'other', other);
      await conn.run(
        `COPY (SELECT 'S' || i AS subscriber_id, CASE WHEN i < 50 THEN 'data package' ELSE getvariable('other') END AS recommended_product,
                      'segment' AS segment_name, 'SMS' AS channel, 'now' AS contact_moment, 'G1' AS grid, i % 10 = 0 AS control
               FROM range(100) t(i)) TO (getvariable('dispatch_file')) (FORMAT parquet)`,
      );
      await recordList(folder);
    }
    await conn.run(
      "CREATE TEMP TABLE snapshot_subscribers AS SELECT published_id('S' || i) AS subscriber_id FROM range(90) t(i)",
    );
    return work(conn, store, log);
  });
}

describe('the dispatch list measured', () => {
  it('is the latest by default, recorded with its sha256, and the measurement says the log fits another version better', async () => {
    await withTwoMayLists(async (conn, store, log) => {
      const result = await measuredMay(conn, store, log, { version: 2 });
      const { sha256 } = await hashFile(join(versionDir(store, '2026-05', 2), 'dispatch.parquet'));
      expect(result.dispatchFrom).toEqual({ month: '2026-05', version: 2, sha256, chosenBy: 'latest' });
      expect(result.warnings).toEqual([
        'measured against the dispatch list of 2026-05/v2, the latest version when this run started; 2026-05 also has v1, and the contact log fits 2026-05/v1 better (log rows naming the action the list recommends, of the 54 with an action: v1 54, v2 45): if v1 was the list dispatched, run again with --param dispatched=2026-05/v1',
        // the log's own actions say the same: v1's recharge bonus where v2 recommends the voice bundle
        `9 contact-log rows name another action than the list recommends to the subscriber (9 x 'recharge bonus' where the list recommends 'voice bundle'): they are measured under the list's action (intent to treat); a log that writes the list's actions in words of its own maps them in the contact-log mapping's "actions" (docs/campaigns.md, "A log written by another system")`,
      ]);
      expect(result.contacts.actionDiffers).toBe(9);
      expect(result.byAction.map((g) => g.group)).toEqual(['data package', 'voice bundle']);
    });
  });

  it('is the version the dispatched parameter names, without a warning', async () => {
    await withTwoMayLists(async (conn, store, log) => {
      const result = await measuredMay(conn, store, log, { version: 2, more: { dispatched: '2026-05/v1' } });
      const { sha256 } = await hashFile(join(versionDir(store, '2026-05', 1), 'dispatch.parquet'));
      expect(result.dispatchFrom).toEqual({ month: '2026-05', version: 1, sha256, chosenBy: 'dispatched' });
      expect(result.warnings).toBeUndefined();
      expect(result.byAction.map((g) => g.group)).toEqual(['data package', 'recharge bonus']);
      expect(result.byAction.find((g) => g.group === 'recharge bonus')).toMatchObject({
        controlSubscribers: 5,
        targetedSubscribers: 45,
        contactedSubscribers: 9,
      });
    });
  });

  it('leaves out versions published after the run started, and warns without blaming a list the log fits as well', async () => {
    await withTwoMayLists(async (conn, store, log) => {
      // measured against v1: v2 came after this run started
      const before = await measuredMay(conn, store, log);
      expect(before.warnings).toBeUndefined();
      // only S1-S49: both lists recommend them the data package
      const common = join(await tempDir(), 'contacts.csv');
      await writeFile(
        common,
        (await readFile(log, 'utf8'))
          .split('\n')
          .filter((line) => !/^S[5-9]\d,/.test(line))
          .join('\n'),
      );
      const latest = await measuredMay(conn, store, common, { version: 2 });
      expect(latest.warnings).toEqual([
        'measured against the dispatch list of 2026-05/v2, the latest version when this run started; 2026-05 also has v1; the contact log fits 2026-05/v2, the one measured, as well as v1 (log rows naming the action the list recommends, of the 45 with an action: v1 45, v2 45); --param dispatched=2026-05/vN names the list that was dispatched',
      ]);
    });
  });

  it('does not warn about a version whose dispatch list is the same file (a rerun that changed nothing on the list), and says what the fit counts', async () => {
    await withTwoMayLists(async (conn, store, log) => {
      // v2 republished v1's list byte for byte
      await copyFile(
        join(versionDir(store, '2026-05', 1), 'dispatch.parquet'),
        join(versionDir(store, '2026-05', 2), 'dispatch.parquet'),
      );
      await recordList(versionDir(store, '2026-05', 2));
      const result = await measuredMay(conn, store, log, { version: 2 });
      expect(result.warnings).toBeUndefined();
      expect(result.listFits?.map((f) => f.sha256)).toEqual([result.dispatchFrom.sha256, result.dispatchFrom.sha256]);
      // with a third, different version the identical one is named as such, and rows not on the list are counted apart
      const v3 = versionDir(store, '2026-05', 3);
      await mkdir(v3, { recursive: true });
      await setVariable(conn, 'dispatch_file', join(v3, 'dispatch.parquet'));
      await conn.run(
        `COPY (SELECT 'S' || i AS subscriber_id, 'voice bundle' AS recommended_product, 'segment' AS segment_name, 'SMS' AS channel,
                      'now' AS contact_moment, 'G1' AS grid, i % 10 = 0 AS control
               FROM range(40) t(i)) TO (getvariable('dispatch_file')) (FORMAT parquet)`,
      );
      await recordList(v3);
      const third = await measuredMay(conn, store, log, { version: 3 });
      expect(third.warnings?.[0]).toBe(
        "measured against the dispatch list of 2026-05/v3, the latest version when this run started; 2026-05 also has v1, v2, and the contact log fits 2026-05/v1 better (log rows naming the action the list recommends, of the 54 with an action: v1 54, v2 54, v3 0; the rows checked are the 54 with an id and a date in the month: the 36 used here and 18 whose subscriber is not on 2026-05/v3's list): if v1 was the list dispatched, run again with --param dispatched=2026-05/v1",
      );
      await writeFile(
        join(v3, 'dispatch.parquet'),
        await readFile(join(versionDir(store, '2026-05', 1), 'dispatch.parquet')),
      );
      await recordList(v3);
      expect((await measuredMay(conn, store, log, { version: 3 })).warnings).toBeUndefined();
    });
  });

  it('is not measured when the named version is not in the store, and the parameter is checked', async () => {
    await withTwoMayLists(async (conn, store, log) => {
      expect(
        await measureCampaigns(conn, {
          params: params(log, { dispatched: '2026-05/v3' }),
          previous: { month: '2026-05', version: 2 },
          previousStore: store,
          workDir: store.workDir,
        }),
      ).toEqual({
        measured: false,
        reason: 'dispatched=2026-05/v3: no such snapshot of 2026-05 in the store (it has v1, v2)',
      });
    });
    // what a plan can check before any stage runs (the run's store holds last month's snapshots)
    const store = storeIn(await tempDir());
    await mkdir(versionDir(store, '2026-05', 1), { recursive: true });
    expect(await findDispatchedList(store, { month: '2026-06', dispatched: '2026-05/v1' })).toEqual({
      month: '2026-05',
      version: 1,
    });
    expect(await findDispatchedList(store, { month: '2026-06', dispatched: '2026-05/v2' })).toEqual({
      reason: 'dispatched=2026-05/v2: no such snapshot of 2026-05 in the store (it has v1)',
    });
    expect(await findDispatchedList(store, { month: '2026-06' })).toBeUndefined();
    const problems = (input: Record<string, unknown>) => {
      const parsed = parseRunParams({ month: '2026-06', input: '/unused', ...input });
      return parsed.ok ? [] : parsed.problems;
    };
    expect(problems({ contacts: 'c.csv', dispatched: '2026-05/v1' })).toEqual([]);
    expect(problems({ contacts: 'c.csv', dispatched: '2026-05' })).toEqual([
      "dispatched: must be the snapshot 'YYYY-MM/vN' whose dispatch list the contacts worked from, e.g. 2026-09/v1",
    ]);
    expect(problems({ contacts: 'c.csv', dispatched: '2026-04/v1' })).toEqual([
      'dispatched: must be a snapshot of 2026-05, the month before the run month (the list the contacts of 2026-06 worked from)',
    ]);
    expect(problems({ dispatched: '2026-05/v1' })).toEqual([
      'dispatched: names the list a contact log reports on: give contacts=<file> with it',
    ]);
    expect(problems({ contacts: 'c.csv', contactsEncoding: 'gb18030' })).toEqual([]);
    expect(problems({ contactsEncoding: 'gb18030' })).toEqual([
      'contactsEncoding: is the encoding of a contact log: give contacts=<file> with it',
    ]);
    expect(problems({ contacts: 'c.csv', contactsEncoding: 'gb-18030' })).toEqual([
      'contactsEncoding: not an encoding segflow knows; e.g. "gb18030", "big5", "shift_jis", "utf-16le"',
    ]);
  });
});

describe("the log's own action and channel", () => {
  it("counts rows naming another action than the list and channels segflow does not use, and warns; the groups stay the list's", async () => {
    const file = join(await tempDir(), 'contacts.csv');
    await writeFile(
      file,
      [
        'subscriber_id,contact_date,action,channel,outcome',
        ...Array.from({ length: 7 }, (_, i) => `S${i + 1},2026-06-03,offer,outbund call,accepted`),
        'S11,2026-06-03, Offer ,sms,accepted', // case and spaces aside, the list's action and channel
        'S12,2026-06-03,offer,App push and SMS,declined',
        'S13,2026-06-03,offer_,outbound_call,declined',
        'S14,2026-06-03,voice bundle,SMS,accepted',
        'S15,2026-06-03,voice bundle,SMS,accepted',
        'S16,2026-06-03,data package,carrier pigeon,',
        'S17,2026-06-03,,,',
        'S18,2026-05-03,voice bundle,outbund call,', // quarantined: not counted
      ].join('\n') + '\n',
    );
    await withMayList(true, async (conn, store) => {
      const result = await measuredMay(conn, store, file);
      expect(result.contacts).toMatchObject({
        loaded: 14,
        actionDiffers: 3, // 'offer_' is the list's 'offer'
        unknownChannels: [
          { channel: 'outbund call', rows: 7, suggestion: 'outbound call' },
          { channel: 'carrier pigeon', rows: 1 },
        ],
      });
      expect(result.warnings).toEqual([
        expect.stringContaining('records a contact for 14 of the 90 targeted'),
        `3 contact-log rows name another action than the list recommends to the subscriber (2 x 'voice bundle' where the list recommends 'offer'; 1 x 'data package' where the list recommends 'offer'): they are measured under the list's action (intent to treat); a log that writes the list's actions in words of its own maps them in the contact-log mapping's "actions" (docs/campaigns.md, "A log written by another system")`,
        // one line for every channel segflow does not use
        `8 contact-log rows name 2 channels segflow does not use: 'outbund call' (7 rows; did you mean 'outbound call'?), 'carrier pigeon' (1 row); the channel breakdown is by the list's channel; map the log's own words to segflow's channels in the contact-log mapping's "channels" (docs/campaigns.md, "A log written by another system")`,
      ]);
      // still one action and one channel, the list's
      const groups = await queryRows<{ dimension: string; group: string }>(
        conn,
        "SELECT dimension, \"group\" FROM snapshot_campaigns WHERE dimension IN ('action', 'channel')",
      );
      expect(groups).toEqual([
        { dimension: 'action', group: 'offer' },
        { dimension: 'channel', group: 'SMS' },
      ]);
    });
  });
  it("says a row naming another of segflow's products was another offer, measured under the list's, with no mapping remedy", async () => {
    const file = join(await tempDir(), 'contacts.csv');
    const { voice, recharge } = RECOMMENDED_PRODUCTS;
    await writeFile(
      file,
      [
        'subscriber_id,contact_date,action',
        'S1,2026-06-03,offer',
        'S2,2026-06-03,Voice minutes_bundle with a family number', // case and spacing aside
        `S3,2026-06-03,${voice}`,
        `S4,2026-06-03,${recharge}`,
        'S5,2026-06-03,语音包', // a word segflow does not know
      ].join('\n') + '\n',
    );
    await withMayList(true, async (conn, store) => {
      const result = await measuredMay(conn, store, file);
      expect(result.contacts.actionDiffers).toBe(4);
      expect(result.warnings?.filter((w) => w.includes('than the list recommends'))).toEqual([
        `3 contact-log rows name another of segflow's products than the list recommends to the subscriber (2 x 'Voice minutes_bundle with a family number' where the list recommends 'offer'; 1 x '${recharge}' where the list recommends 'offer'): another offer than the list's was made (or the teams worked from another version of the list: --param dispatched names it); they are measured under the list's action (intent to treat), so the list's action's uplift includes what the other offer did, and the other product's does not`,
        `1 contact-log row names another action than the list recommends to the subscriber (1 x '语音包' where the list recommends 'offer'): it is measured under the list's action (intent to treat); a log that writes the list's actions in words of its own maps them in the contact-log mapping's "actions" (docs/campaigns.md, "A log written by another system")`,
      ]);
    });
  });

  it("measures a log with a CRM's own channel and action words, mapped, as the same log in segflow's words", async () => {
    const dir = await tempDir();
    const { plain, chinese } = channelAndActionLogs();
    await writeFile(join(dir, 'plain.csv'), plain);
    await writeFile(join(dir, 'chinese.csv'), chinese);
    const mapped = join(dir, 'mapped.json');
    await writeFile(mapped, JSON.stringify(WORDS_MAPPING));
    const unmapped = join(dir, 'unmapped.json');
    await writeFile(unmapped, JSON.stringify({ ...WORDS_MAPPING, channels: {}, actions: {} }));
    await withMayList(true, async (conn, store) => {
      // a list with segflow's own products, even ids the data package, odd ones the voice bundle
      const may = versionDir(store, '2026-05', 1);
      await conn.run(
        `COPY (SELECT 'S' || i AS subscriber_id,
                      CASE WHEN i % 2 = 0 THEN '${RECOMMENDED_PRODUCTS.data}' ELSE '${RECOMMENDED_PRODUCTS.voice}' END AS recommended_product,
                      'segment' AS segment_name, 'outbound call' AS channel, 'now' AS contact_moment, 'G1' AS grid,
                      i % 10 = 0 AS control
               FROM range(100) t(i)) TO (getvariable('dispatch_file')) (FORMAT parquet)`,
      );
      await recordList(may);
      const expected = await measuredMay(conn, store, join(dir, 'plain.csv'));
      expect(expected.contacts).toMatchObject({
        rows: 41,
        loaded: 41,
        actionDiffers: 8, // every fifth row names the converged bundle
        unknownChannels: [{ channel: 'carrier pigeon', rows: 1 }],
      });
      const measured = await measuredMay(conn, store, join(dir, 'chinese.csv'), { more: { contactsMapping: mapped } });
      const { file, sha256, mapping, ...counts } = measured.contacts;
      const { file: plainFile, sha256: plainSha256, ...plainCounts } = expected.contacts;
      expect([file, sha256, mapping, plainFile, plainSha256].every(Boolean)).toBe(true);
      expect(counts).toEqual(plainCounts);
      expect(measured.overall).toEqual(expected.overall);
      expect(measured.byAction).toEqual(expected.byAction);
      // the action pairs in segflow's words, as in the plain log's warning
      expect(measured.warnings).toEqual(expected.warnings);

      // unmapped, every channel word is unknown: one warning line naming three and the remedy, the manifest's field every word
      const words = await measuredMay(conn, store, join(dir, 'chinese.csv'), { more: { contactsMapping: unmapped } });
      expect(words.contacts.unknownChannels).toEqual([
        { channel: 'APP推送', rows: 7 },
        { channel: '外呼+APP推送', rows: 7 },
        { channel: '客户经理', rows: 7 },
        { channel: '短信', rows: 7 },
        { channel: 'APP推送+短信', rows: 6 },
        { channel: '外呼', rows: 6 },
        { channel: 'carrier pigeon', rows: 1 },
      ]);
      expect(words.contacts.actionDiffers).toBe(41);
      // after the log's coverage and contacted controls, as the plain log's
      expect(words.warnings?.slice(-2)).toEqual([
        expect.stringMatching(
          /^41 contact-log rows name another action than the list recommends to the subscriber \(.*maps them in the contact-log mapping's "actions" \(docs\/campaigns\.md, "A log written by another system"\)$/,
        ),
        `41 contact-log rows name 7 channels segflow does not use: 'APP推送' (7 rows), '外呼+APP推送' (7 rows), '客户经理' (7 rows) … and 4 more; the channel breakdown is by the list's channel; map the log's own words to segflow's channels in the contact-log mapping's "channels" (docs/campaigns.md, "A log written by another system")`,
      ]);
    });
  });

  it('refuses channel and action words mapped to names segflow does not use, or given twice, and suggests a mistyped header', async () => {
    const dir = await tempDir();
    const problems = async (value: unknown) => {
      await writeFile(join(dir, 'mapping.json'), JSON.stringify(value));
      return (await readContactsMapping(join(dir, 'mapping.json')).catch((error: Error) => error)) as Error;
    };
    const phone = await problems({ channels: { 外呼: 'phone call' } });
    expect(phone).toBeInstanceOf(InvalidParamsError);
    expect(phone.message).toContain(
      'channels.外呼: takes one of "account manager call", "outbound call", "outbound call and app push", "app push and SMS", "SMS", "app push", "SMS and app push"',
    );
    expect((await problems({ actions: { 流量包: 'data package' } })).message).toContain(
      `actions.流量包: takes one of ${Object.values(RECOMMENDED_PRODUCTS)
        .map((product) => `"${product}"`)
        .join(', ')}`,
    );
    expect((await problems({ channels: { APP推送: 'app push', ' app推送': 'app push' } })).message).toContain(
      'channels. app推送: reads as "APP推送" (case and spacing aside): give the word once',
    );
    expect(
      (await problems({ actions: { 流量包: RECOMMENDED_PRODUCTS.data, '流量包 ': RECOMMENDED_PRODUCTS.voice } }))
        .message,
    ).toContain('actions.流量包 : reads as "流量包" (case and spacing aside): give the word once');
    // folded as the log's words are, by DuckDB's lower: JavaScript's keeps 'İVR' ('i̇vr') and the
    // final sigma ('σας') apart, and a log's row 'IVR' would read as either word's channel
    const alike = await problems({
      channels: { İVR: 'outbound call', ivr: 'SMS', ΣΑΣ: 'app push', σασ: 'SMS' },
    });
    expect(alike).toBeInstanceOf(InvalidParamsError);
    expect(alike.message.split('\n').slice(1)).toEqual([
      'channels.ivr: reads as "İVR" (case and spacing aside): give the word once',
      'channels.σασ: reads as "ΣΑΣ" (case and spacing aside): give the word once',
    ]);

    const log = join(dir, 'chinese.csv');
    await writeFile(log, channelAndActionLogs().chinese);
    await withMayList(true, async (conn, store) => {
      await writeFile(
        join(dir, 'typo.json'),
        JSON.stringify({ ...WORDS_MAPPING, columns: { ...WORDS_MAPPING.columns, action: '办理产口' } }),
      );
      await expect(
        measuredMay(conn, store, log, { more: { contactsMapping: join(dir, 'typo.json') } }),
      ).rejects.toThrow(
        new SchemaContractError(
          `the contact log ${log} lacks the column(s) its mapping (contactsMapping) names: '办理产口' (action; did you mean '办理产品'?); its columns are '用户号码', '联系日期', '办理产品', '渠道', '办理结果'`,
        ),
      );
      // a log exported without its action column: the outcome's header, mapped already, is no suggestion
      const noAction = join(dir, 'no-action.csv');
      await writeFile(noAction, '用户号码,联系日期,渠道,办理结果\n');
      await writeFile(join(dir, 'words.json'), JSON.stringify(WORDS_MAPPING));
      await expect(
        measuredMay(conn, store, noAction, { more: { contactsMapping: join(dir, 'words.json') } }),
      ).rejects.toThrow(
        new SchemaContractError(
          `the contact log ${noAction} lacks the column(s) its mapping (contactsMapping) names: '办理产品' (action); its columns are '用户号码', '联系日期', '渠道', '办理结果'`,
        ),
      );
    });
  });
});

/** segflow's channels and a Chinese CRM's words for them, a combination mapped to one. */
const CHANNEL_WORDS: [string, string][] = [
  ['outbound call', '外呼'],
  ['SMS', '短信'],
  ['account manager call', '客户经理'],
  ['app push', 'APP推送'],
  ['outbound call and app push', '外呼+APP推送'],
  ['app push and SMS', 'APP推送+短信'],
];

/** The mapping of channelAndActionLogs()'s Chinese log; one channel word in another case than the log's. */
const WORDS_MAPPING = {
  columns: {
    subscriber_id: '用户号码',
    contact_date: '联系日期',
    action: '办理产品',
    channel: '渠道',
    outcome: '办理结果',
  },
  outcomes: { 成功办理: 'accepted', 拒绝: 'declined' },
  // the log's 'APP推送+短信' in lower case: compared case aside
  channels: Object.fromEntries(CHANNEL_WORDS.map(([channel, word]) => [word.replace('APP推送+', 'app推送+'), channel])),
  actions: {
    流量包: RECOMMENDED_PRODUCTS.data,
    语音套餐: RECOMMENDED_PRODUCTS.voice,
    宽带融合: RECOMMENDED_PRODUCTS.converged,
  },
};

/**
 * One month's contacts of S1-S41, written in segflow's words and in a Chinese CRM's: every channel
 * (S41's a made-up one, in both), each row the list's product but every fifth the converged bundle.
 */
function channelAndActionLogs(): { plain: string; chinese: string } {
  const chineseProducts: Record<string, string> = {
    [RECOMMENDED_PRODUCTS.data]: '流量包',
    [RECOMMENDED_PRODUCTS.voice]: '语音套餐',
    [RECOMMENDED_PRODUCTS.converged]: '宽带融合',
  };
  const rows = Array.from({ length: 41 }, (_, n) => {
    const i = n + 1;
    const [channel, word] = i === 41 ? ['carrier pigeon', 'carrier pigeon'] : CHANNEL_WORDS[i % 6];
    const product =
      i % 5 === 0
        ? RECOMMENDED_PRODUCTS.converged
        : i % 2 === 0
          ? RECOMMENDED_PRODUCTS.data
          : RECOMMENDED_PRODUCTS.voice;
    const day = `2026-06-${String((i % 28) + 1).padStart(2, '0')}`;
    return {
      plain: `S${i},${day},${product},${channel},${i % 3 === 0 ? 'accepted' : 'declined'}`,
      chinese: `S${i},${day},${chineseProducts[product]},${word},${i % 3 === 0 ? '成功办理' : '拒绝'}`,
    };
  });
  return {
    plain: ['subscriber_id,contact_date,action,channel,outcome', ...rows.map((r) => r.plain)].join('\n') + '\n',
    chinese: ['用户号码,联系日期,办理产品,渠道,办理结果', ...rows.map((r) => r.chinese)].join('\n') + '\n',
  };
}
