import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { csvReadProblem, isUtf8Already, writeUtf8Copy } from '../../activities/csv-encoding';
import { isInputsFault } from '../../activities/load';
import { tempDir } from '../helpers';

describe('UTF-8 copies of CSV files in another encoding', () => {
  it('writes the text as UTF-8, a byte-order mark dropped', async () => {
    const dir = await tempDir();
    // 广东 in GB18030
    await writeFile(join(dir, 'gb.csv'), Buffer.concat([Buffer.from('region\n'), Buffer.from('b9e3b6ab0a', 'hex')]));
    await writeUtf8Copy(join(dir, 'gb.csv'), join(dir, 'copy', 'gb.csv'), 'gb18030');
    expect(await readFile(join(dir, 'copy', 'gb.csv'), 'utf8')).toBe('region\n广东\n');
    await writeFile(join(dir, 'bom.csv'), Buffer.concat([Buffer.from('fffe', 'hex'), Buffer.from('a\n', 'utf16le')]));
    await writeUtf8Copy(join(dir, 'bom.csv'), join(dir, 'copy', 'bom.csv'), 'utf-16le');
    expect(await readFile(join(dir, 'copy', 'bom.csv'), 'utf8')).toBe('a\n');
  });

  it('stops at bytes the encoding cannot read, naming where, and leaves no file behind', async () => {
    const dir = await tempDir();
    // 0xFF is no GB18030 byte
    await writeFile(join(dir, 'bad.csv'), Buffer.concat([Buffer.from('region\nabc'), Buffer.from([0xff, 0x0a])]));
    await expect(writeUtf8Copy(join(dir, 'bad.csv'), join(dir, 'copy', 'bad.csv'), 'gb18030')).rejects.toMatchObject({
      name: 'InputFileError',
      message: expect.stringMatching(
        /bad\.csv is not gb18030 text \(a byte sequence it cannot read in bytes 0 to 12\)/,
      ),
    });
    expect(await readdir(join(dir, 'copy'))).toEqual([]);
  });

  it("adds what to do to DuckDB's reason when a file is not UTF-8, and keeps other reasons to their first line and what it met", () => {
    const notUtf8 = new Error(
      'Invalid Input Error: CSV Error on Line: 1\nInvalid unicode (byte sequence mismatch) detected. This file is not utf-8 encoded.',
    );
    expect(csvReadProblem(notUtf8)).toBe(
      'Invalid Input Error: CSV Error on Line: 1 The file is not UTF-8 text: name its encoding in the mapping, e.g. "encoding": "gb18030" (a CSV saved by Excel on Chinese Windows), "big5" or "shift_jis"',
    );
    expect(csvReadProblem(new Error('IO Error: No files found\nmore'))).toBe('IO Error: No files found');
    const columns = (found: number) =>
      new Error(
        `Invalid Input Error: CSV Error on Line: 25001\nOriginal Line: a,b\nExpected Number of Columns: 7 Found: ${found}\nPossible fixes:\n* Enable null padding`,
      );
    expect(csvReadProblem(columns(3))).toBe(
      "Invalid Input Error: CSV Error on Line: 25001; Expected Number of Columns: 7 Found: 3. A line shorter than the header: a line broken in two, or the last line of a file cut off (copied or written only in part: compare the file's end with its source)",
    );
    // a first line quoting a 10 KB value is cut: what DuckDB quotes may be a subscriber's data
    expect(csvReadProblem(new Error(`Invalid Input Error: value ${'x'.repeat(10_000)}`)).length).toBeLessThan(320);
    expect(csvReadProblem(columns(8))).toBe(
      'Invalid Input Error: CSV Error on Line: 25001; Expected Number of Columns: 7 Found: 8. A line with more fields than the header: most often a delimiter inside a value that is not quoted',
    );
  });
});

describe('a file the mapping says is in another encoding, UTF-8 already', () => {
  it('is UTF-8 when its text is: East Asian text, a byte-order mark, or ASCII only; never by chance', async () => {
    const dir = await tempDir();
    const file = async (name: string, bytes: Buffer) => {
      await writeFile(join(dir, name), bytes);
      return join(dir, name);
    };
    // 太原 in GB18030 is valid UTF-8 by chance ("̫ԭ"): read as GB18030
    const taiyuan = await file(
      'taiyuan-gb.csv',
      Buffer.concat([Buffer.from('region\n'), Buffer.from('ccabd4ad0a', 'hex')]),
    );
    expect(new TextDecoder('utf-8', { fatal: true }).decode(await readFile(taiyuan))).toBe('region\n̫ԭ\n');
    expect(await isUtf8Already(taiyuan, 'gb18030')).toBe(false);
    // the same city saved as UTF-8 (another system's month)
    expect(await isUtf8Already(await file('taiyuan-utf8.csv', Buffer.from('region\n太原\n')), 'gb18030')).toBe(true);
    // 广东 in GB18030: no UTF-8 at all
    expect(
      await isUtf8Already(
        await file('guangdong-gb.csv', Buffer.from('region\n\xb9\xe3\xb6\xab\n', 'latin1')),
        'gb18030',
      ),
    ).toBe(false);
    // ASCII reads the same either way; a UTF-8 byte-order mark says so
    expect(await isUtf8Already(await file('ascii.csv', Buffer.from('id,spend\n1,2.5\n')), 'windows-1252')).toBe(true);
    const bom = await file('bom.csv', Buffer.concat([Buffer.from('efbbbf', 'hex'), Buffer.from('name\nCafé\n')]));
    expect(await isUtf8Already(bom, 'windows-1252')).toBe(true);
    // without one too, under an encoding of one byte a character: Windows-1252 text is UTF-8 only
    // where each letter beyond ASCII is followed by a symbol (Ã©), which words are not
    expect(await isUtf8Already(await file('cafe.csv', Buffer.from('name\nCafé\nZürich\n')), 'windows-1252')).toBe(true);
    expect(
      await isUtf8Already(await file('cafe-1252.csv', Buffer.from('name\nCafé\n', 'latin1')), 'windows-1252'),
    ).toBe(false);
    // Windows-1251's Ukrainian Ні is valid UTF-8 (CD B3: "ͳ"): a Cyrillic code page's file is read in it
    const ni = await file('ni-1251.csv', Buffer.concat([Buffer.from('answer\n'), Buffer.from('cdb30a', 'hex')]));
    expect(new TextDecoder('utf-8', { fatal: true }).decode(await readFile(ni))).toBe('answer\nͳ\n');
    expect(await isUtf8Already(ni, 'windows-1251')).toBe(false);
    // and a Western one's file whose UTF-8 reading is no Latin text
    expect(await isUtf8Already(ni, 'windows-1252')).toBe(false);
    // UTF-16's ASCII is valid UTF-8 with NUL bytes between: never UTF-8
    expect(await isUtf8Already(await file('u16.csv', Buffer.from('id,spend\n1,2\n', 'utf16le')), 'utf-16le')).toBe(
      false,
    );
  });

  it("types a read failure as the input's fault only when no retry can mend it: not a disk's I/O error or a full disk", () => {
    const fault = (message: string) => isInputsFault(new Error(message));
    expect(fault('Invalid Input Error: CSV Error on Line: 3')).toBe(true);
    expect(fault('IO Error: No files found that match the pattern "x"')).toBe(true);
    expect(fault('Conversion Error: Could not convert string "a" to INT32')).toBe(true);
    expect(fault('IO Error: Could not read from file "/mnt/usage.csv": Input/output error')).toBe(false);
    expect(fault('IO Error: Could not write file "/tmp/x": No space left on device')).toBe(false);
    expect(fault('Binder Error: column not found')).toBe(false);
  });
});
