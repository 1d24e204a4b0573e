import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasControlGroup } from '../../activities/campaigns';
import { viewRawContacts } from '../../activities/contact-log';
import { queryRows, withConnection } from '../../activities/duckdb';
import { contactLogFile } from '../../activities/publish';
import { validatedParams } from '../../cli/commands/run';
import { UsageError } from '../../domain/errors';
import { tempDir } from '../helpers';

describe('the contact log reader', () => {
  it("reads a log in a folder named like key=value (channel=sms/) by its own columns, not the folder's", async () => {
    const folder = join(await tempDir(), 'channel=sms', 'action=call');
    await mkdir(folder, { recursive: true });
    const log = join(folder, 'log.csv');
    await writeFile(
      log,
      'subscriber_id,contact_date,action,channel,outcome\nS1,2026-06-03,voice bundle,email,accepted\n',
    );
    const rows = await withConnection(':memory:', async (conn) => {
      await viewRawContacts(conn, log);
      return queryRows<{ action: string; channel: string }>(conn, 'SELECT action, channel FROM raw_contacts');
    });
    expect(rows).toEqual([{ action: 'voice bundle', channel: 'email' }]);
  });

  it('reads a log named with pattern characters as that one file, not as a pattern over its folder', async () => {
    const dir = await tempDir();
    const header = 'subscriber_id,contact_date,action,channel,outcome\n';
    await writeFile(join(dir, 'log[1].csv'), `${header}S1,2026-06-03,voice bundle,email,accepted\n`);
    await writeFile(join(dir, 'log1.csv'), `${header}S9,2026-06-03,voice bundle,email,accepted\n`);
    const rows = await withConnection(':memory:', async (conn) => {
      await viewRawContacts(conn, join(dir, 'log[1].csv'));
      return queryRows<{ subscriber_id: string }>(conn, 'SELECT subscriber_id FROM raw_contacts');
    });
    // as a pattern, log[1].csv names log1.csv
    expect(rows).toEqual([{ subscriber_id: 'S1' }]);
  });

  it('reads headers whatever their case and surrounding spaces, and names the columns a file has when a required one is missing', async () => {
    const dir = await tempDir();
    const log = join(dir, 'log.csv');
    await writeFile(
      log,
      ' Subscriber_ID ,Contact_Date,ACTION,Channel,Outcome \nS1,2026-06-03,voice bundle,email,Accepted\n',
    );
    const parquet = join(dir, 'log.parquet');
    const rows = await withConnection(':memory:', async (conn) => {
      await conn.run(
        `COPY (SELECT 'S2' AS "SUBSCRIBER_ID", DATE '2026-06-04' AS "Contact_Date") TO '${parquet}' (FORMAT parquet)`,
      );
      const read = async (file: string) => {
        await viewRawContacts(conn, file);
        return queryRows<Record<string, string | null>>(
          conn,
          'SELECT subscriber_id, contact_date, action, channel, outcome FROM raw_contacts',
        );
      };
      return [...(await read(log)), ...(await read(parquet))];
    });
    expect(rows).toEqual([
      {
        subscriber_id: 'S1',
        contact_date: '2026-06-03',
        action: 'voice bundle',
        channel: 'email',
        outcome: 'Accepted',
      },
      { subscriber_id: 'S2', contact_date: '2026-06-04', action: null, channel: null, outcome: null },
    ]);
    const wrong = join(dir, 'wrong.csv');
    await writeFile(wrong, 'msisdn,date,offer\nS1,2026-06-03,call\n');
    await withConnection(':memory:', async (conn) => {
      await expect(viewRawContacts(conn, wrong)).rejects.toThrow(
        `the contact log ${wrong} lacks required column(s): subscriber_id, contact_date; its columns are 'msisdn', 'date', 'offer' (a contact log's columns: docs/campaigns.md, "The contact log")`,
      );
    });
    // a line short of the header's fields: DuckDB's sniffer gives up on the delimiter, and the
    // stop says what to look for, not that the header's own columns are missing
    const short = join(dir, 'short.csv');
    const lines = Array.from({ length: 2_000 }, (_, i) => `S${i},2026-06-03,voice bundle,email,accepted`);
    lines.splice(100, 0, 'S99999,2026-06-03');
    await writeFile(short, ['subscriber_id,contact_date,action,channel,outcome', ...lines].join('\n'));
    await withConnection(':memory:', async (conn) => {
      await expect(viewRawContacts(conn, short)).rejects.toMatchObject({
        name: 'InputFileError',
        message: expect.stringContaining('Most often a line has another number of fields than the header'),
      });
    });
  });

  it('refuses a folder given as the contact log, saying so (DuckDB said "No files found")', async () => {
    const folder = join(await tempDir(), 'contacts');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'team-a.csv'), 'subscriber_id,contact_date\nS1,2026-06-03\n');
    await withConnection(':memory:', async (conn) => {
      await expect(viewRawContacts(conn, folder)).rejects.toThrow(
        `the contact log ${folder} is a folder: give one CSV or Parquet file holding every team's contacts (docs/campaigns.md, "The contact log")`,
      );
    });
    // and the command line's check, before a run starts
    const params = { month: '2026-06', input: folder, contacts: folder };
    await expect(validatedParams(params)).rejects.toThrow(
      `contacts: ${folder} is a folder: give one CSV or Parquet file holding every team's contacts`,
    );
    await expect(validatedParams(params)).rejects.toBeInstanceOf(UsageError);
    await expect(validatedParams({ ...params, contacts: join(folder, 'team-a.csv') })).resolves.toMatchObject({
      contacts: join(folder, 'team-a.csv'),
    });
  });

  it("reads whole-number ids written as floats (pandas' integer column with a gap) as the dispatch list's integers", async () => {
    const dir = await tempDir();
    const csv = join(dir, 'log.csv');
    await writeFile(csv, 'subscriber_id,contact_date,action\n13800000001.0,2026-06-03,call\nS-2.0,2026-06-03,call\n');
    const parquet = join(dir, 'log.parquet');
    const ids = await withConnection(':memory:', async (conn) => {
      await conn.run(
        `COPY (SELECT 13800000001.0::DOUBLE AS subscriber_id, DATE '2026-06-03' AS contact_date, 'call' AS action) TO '${parquet}'`,
      );
      const read = async (file: string) => {
        await viewRawContacts(conn, file);
        return queryRows<{ id: string }>(conn, 'SELECT subscriber_id AS id FROM raw_contacts ORDER BY file_row');
      };
      return [...(await read(csv)), ...(await read(parquet))].map((row) => row.id);
    });
    expect(ids).toEqual(['13800000001', 'S-2.0', '13800000001']);
  });

  it('reads a CSV log saved in GB18030 with contactsEncoding, through a UTF-8 copy; without it the stop says what to give', async () => {
    const dir = await tempDir();
    const log = join(dir, 'contacts-gb.csv');
    // 流量包 in GB18030, as Excel on Chinese Windows saves a CSV
    await writeFile(
      log,
      Buffer.concat([
        Buffer.from('subscriber_id,contact_date,action\nS1,2026-06-03,'),
        Buffer.from('c1f7c1bfb0fc', 'hex'),
        Buffer.from('\n'),
      ]),
    );
    const actions = await withConnection(':memory:', async (conn) => {
      await viewRawContacts(conn, log, { encoding: 'gb18030', workDir: dir });
      return queryRows<{ action: string }>(conn, 'SELECT action FROM raw_contacts');
    });
    expect(actions).toEqual([{ action: '流量包' }]);
    expect(await readFile(log)).toHaveLength(55); // the log itself is left as it is
    await expect(withConnection(':memory:', (conn) => viewRawContacts(conn, log))).rejects.toMatchObject({
      name: 'InputFileError',
      message: expect.stringMatching(
        /The file is not UTF-8 text: give its encoding, e\.g\. --param contactsEncoding=gb18030/,
      ),
    });
  });

  it('reads the whole CSV log when it is checked, so a bad byte past the first rows stops it with the hint', async () => {
    const log = join(await tempDir(), 'contacts-late.csv');
    const rows = Array.from({ length: 60_000 }, (_, i) => `S${i},2026-06-03,call`).join('\n');
    await writeFile(
      log,
      Buffer.concat([
        Buffer.from(`subscriber_id,contact_date,action\n${rows}\nS-last,2026-06-03,`),
        Buffer.from('c1f7c1bfb0fc', 'hex'),
        Buffer.from('\n'),
      ]),
    );
    await expect(withConnection(':memory:', (conn) => viewRawContacts(conn, log))).rejects.toMatchObject({
      name: 'InputFileError',
      message: expect.stringMatching(/The file is not UTF-8 text: give its encoding/),
    });
  });
});

describe('a dispatch list to measure', () => {
  it('has a control group, or not (published before control groups, or with nobody held out), or no list at all', async () => {
    const dir = await tempDir();
    const [withControl, nobodyOut, without, none] = ['v1', 'v2', 'v3', 'v4'].map((v) => join(dir, v));
    const answers = await withConnection(':memory:', async (conn) => {
      for (const [folder, rows] of [
        [withControl, "('S1', false), ('S2', true)"],
        [nobodyOut, "('S1', false), ('S2', false)"], // controlShare=0
        [without, "('S1', NULL)"],
      ] as const) {
        await mkdir(folder, { recursive: true });
        const columns = folder === without ? 'subscriber_id' : 'subscriber_id, control';
        await conn.run(
          `COPY (SELECT ${columns} FROM (VALUES ${rows}) t(subscriber_id, control)) TO '${join(folder, 'dispatch.parquet')}'`,
        );
      }
      return [
        await hasControlGroup(conn, withControl),
        await hasControlGroup(conn, nobodyOut),
        await hasControlGroup(conn, without),
        await hasControlGroup(conn, none),
      ];
    });
    expect(answers).toEqual([true, false, false, false]);
  });
});

describe("the contact log's copy in a snapshot", () => {
  it('is named so it is read as the log was: CSV and TSV as they are, anything else as Parquet', () => {
    expect(contactLogFile('/logs/2026-06.csv')).toBe('contact_log.csv');
    expect(contactLogFile('/logs/2026-06.TSV')).toBe('contact_log.tsv');
    expect(contactLogFile('/logs/2026-06.parquet')).toBe('contact_log.parquet');
    expect(contactLogFile('/logs/2026-06.pq')).toBe('contact_log.parquet');
    expect(contactLogFile('/logs/contacts')).toBe('contact_log.parquet');
  });
});
