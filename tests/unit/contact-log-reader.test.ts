import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { viewRawContacts } from '../../activities/contact-log';
import { queryRows, withConnection } from '../../activities/duckdb';
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
});
