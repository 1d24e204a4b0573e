import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { csvReadProblem, writeUtf8Copy } from '../../activities/csv-encoding';
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

  it("adds what to do to DuckDB's reason when a file is not UTF-8, and keeps other reasons to their first line", () => {
    const notUtf8 = new Error(
      'Invalid Input Error: CSV Error on Line: 1\nInvalid unicode (byte sequence mismatch) detected. This file is not utf-8 encoded.',
    );
    expect(csvReadProblem(notUtf8)).toBe(
      'Invalid Input Error: CSV Error on Line: 1 The file is not UTF-8 text: name its encoding in the mapping, e.g. "encoding": "gb18030" (a CSV saved by Excel on Chinese Windows), "big5" or "shift_jis"',
    );
    expect(csvReadProblem(new Error('IO Error: No files found\nmore'))).toBe('IO Error: No files found');
  });
});
