import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InputFileError } from '../domain/errors';
import { isCsvPath } from '../data/contract';

/**
 * CSV files in an encoding other than UTF-8 (the mapping's `encoding`: GB18030 as Excel saves a
 * CSV on Chinese Windows, Big5, Shift_JIS, ...) are read by DuckDB through a UTF-8 copy, which
 * Node's decoder writes: DuckDB's CSV reader knows UTF-8, UTF-16 and Latin-1 only, and its
 * encodings extension is a download. The input file stays what is hashed, named and recorded.
 */

/** Whether an encoding label names UTF-8 itself, which needs no copy. */
export function isUtf8(label: string): boolean {
  return new TextDecoder(label).encoding === 'utf-8';
}

/** Encodings of East Asian text, whose UTF-8 is ideographs, kana or hangul. */
const CJK_ENCODINGS = new Set(['gb18030', 'gbk', 'big5', 'shift_jis', 'euc-jp', 'iso-2022-jp', 'euc-kr']);
/** A character beyond ASCII. */
const BEYOND_ASCII = /[\u0080-\u{10ffff}]/u;
const BEYOND_ASCII_ALL = /[\u0080-\u{10ffff}]/gu;
/** Encodings of Western European text, whose UTF-8 is Latin letters (WHATWG reads ISO-8859-1 as Windows-1252). */
const WESTERN_ENCODINGS = new Set(['windows-1252', 'iso-8859-15']);
/** Latin letters beyond ASCII (Latin-1 Supplement, Extended-A and -B, Extended Additional) and general punctuation (€, quotes). */
const LATIN_TEXT = /[\u00a0-\u024f\u1e00-\u1eff\u2000-\u206f\u20ac]/gu;
/** Ideographs, kana, hangul, CJK and fullwidth punctuation. */
const CJK_TEXT = /[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef]/gu;

/**
 * Whether a CSV the mapping says is in `encoding` is UTF-8 already, so that a delivery mixing
 * UTF-8 files with files in that encoding reads with one mapping: its bytes are UTF-8 throughout
 * (read to its end, or to its first byte that is not) and it starts with UTF-8's byte-order mark,
 * or holds no byte beyond ASCII (read the same either way), or its text beyond ASCII is nearly all
 * of the encoding's own script: ideographs, kana or hangul for an East Asian encoding, Latin
 * letters and punctuation for a Western one (Windows-1252, ISO-8859-15). Text in those encodings
 * can be valid UTF-8 by chance: GB18030's 太原 reads as "̫ԭ", Windows-1252's rare `Ã©` as é, and
 * Cyrillic or Central European code pages' words often (Windows-1251's `Ні`), so those are read
 * as UTF-8 only with a byte-order mark or as ASCII.
 * Never for UTF-16 or UTF-32, whose ASCII is valid UTF-8 with NUL bytes between.
 */
export async function isUtf8Already(path: string, encoding: string): Promise<boolean> {
  const label = new TextDecoder(encoding).encoding;
  if (label.startsWith('utf-16') || label.startsWith('utf-32')) return false;
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let beyondAscii = 0;
  let eastAsian = 0;
  let latin = 0;
  let bom = false;
  let first = true;
  try {
    for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
      if (first) bom = chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf;
      first = false;
      const text = decoder.decode(chunk, { stream: true });
      if (!BEYOND_ASCII.test(text)) continue; // most chunks of most files: ASCII
      beyondAscii += text.match(BEYOND_ASCII_ALL)?.length ?? 0;
      eastAsian += text.match(CJK_TEXT)?.length ?? 0;
      latin += text.match(LATIN_TEXT)?.length ?? 0;
    }
    decoder.decode();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_ENCODING_INVALID_ENCODED_DATA') return false;
    throw error;
  }
  if (bom || beyondAscii === 0) return true;
  if (CJK_ENCODINGS.has(label)) return eastAsian >= 0.9 * beyondAscii;
  return WESTERN_ENCODINGS.has(label) && latin >= 0.9 * beyondAscii;
}

/**
 * The path to read `file` by as UTF-8: the file itself when it is UTF-8 already (or `encoding`
 * is UTF-8), else its UTF-8 copy, written to `copy`.
 */
export async function utf8ReadPath(file: string, encoding: string, copy: string): Promise<string> {
  if (isUtf8(encoding) || (await isUtf8Already(file, encoding))) return file;
  await writeUtf8Copy(file, copy, encoding);
  return copy;
}

/**
 * Writes `source`, encoded as `encoding`, to `target` as UTF-8 (a byte-order mark dropped), through
 * a temporary file renamed into place. A byte sequence the encoding cannot read stops it with an
 * InputFileError naming where: a wrong encoding must not turn into replacement characters.
 */
export async function writeUtf8Copy(source: string, target: string, encoding: string): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  // its own name: a retried attempt may still be writing beside this one
  const partial = `${target}.${randomUUID()}.partial`;
  const decoder = new TextDecoder(encoding, { fatal: true });
  const out = await open(partial, 'w');
  /** Where the chunk being decoded starts, and its length: the error names no position. */
  let offset = 0;
  let chunkBytes = 0;
  try {
    try {
      for await (const chunk of createReadStream(source) as AsyncIterable<Buffer>) {
        chunkBytes = chunk.length;
        await out.write(decoder.decode(chunk, { stream: true }));
        offset += chunk.length;
      }
      chunkBytes = 0;
      await out.write(decoder.decode());
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ERR_ENCODING_INVALID_ENCODED_DATA') throw error;
      const where = `bytes ${offset.toLocaleString('en-US')} to ${(offset + chunkBytes).toLocaleString('en-US')}`;
      throw new InputFileError(
        `${source} is not ${decoder.encoding} text (a byte sequence it cannot read in ${where}): is the mapping's "encoding" the one the file was saved in?`,
      );
    }
    await out.close();
    await rename(partial, target);
  } catch (error) {
    await out.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw error;
  }
}

/** What makes DuckDB's sniffer give up on a CSV, and where to look. */
const CSV_FIELDS_HINT =
  'Most often a line has another number of fields than the header: the last line of a file cut off (copied or written only in part: compare its end with its source), a line broken in two, or a delimiter inside a value that is not quoted';

/**
 * Why a CSV that DuckDB read as one column named like its whole header ("subscriber_id,month,...")
 * was not split: its sniffer gives up on a sample where a line has another number of fields than
 * the header. Null for any other file.
 */
export function unsplitCsv(path: string, columns: readonly string[]): string | null {
  const [only] = columns;
  if (!isCsvPath(path) || columns.length !== 1 || !/[,;\t|]/.test(only)) return null;
  return `read as one column named "${only.slice(0, 80)}": DuckDB could not tell its delimiter. ${CSV_FIELDS_HINT}`;
}

/**
 * DuckDB's lines after its first that say what it met (the rest are its reader's options). Not its
 * `Original Line:`: that is a subscriber's row, which would reach the audit log, Temporal's history
 * and the worker's log (docs/reliability.md: they carry paths and counts, never rows).
 */
const TELLING_LINES = /^(Expected Number of Columns:|It was not possible to automatically detect)/;

/** At most this much of DuckDB's first line: a line it quotes is cut, whatever it holds. */
const FIRST_LINE_MAX = 300;

/**
 * The reason DuckDB gave for a CSV it could not read, as one line: its first (which names the
 * line number) and the lines that say what it met (its columns), and what to do about text that is
 * not UTF-8 or a line of another number of fields than the header (DuckDB says so on later lines).
 */
export function csvReadProblem(error: Error): string {
  const lines = error.message.split('\n').map((line) => line.trim());
  const first = lines[0].length > FIRST_LINE_MAX ? `${lines[0].slice(0, FIRST_LINE_MAX)}…` : lines[0];
  const told = [first, ...lines.slice(1).filter((line) => TELLING_LINES.test(line))].join('; ');
  if (/not utf-8 encoded/i.test(error.message))
    return `${told} The file is not UTF-8 text: name its encoding in the mapping, e.g. "encoding": "gb18030" (a CSV saved by Excel on Chinese Windows), "big5" or "shift_jis"`;
  const columns = /Expected Number of Columns: (\d+) Found: (\d+)/.exec(error.message);
  if (columns && Number(columns[2]) < Number(columns[1]))
    return `${told}. A line shorter than the header: a line broken in two, or the last line of a file cut off (copied or written only in part: compare the file's end with its source)`;
  if (columns)
    return `${told}. A line with more fields than the header: most often a delimiter inside a value that is not quoted`;
  if (/detect the CSV parsing dialect/.test(error.message)) return `${told}. ${CSV_FIELDS_HINT}`;
  return told;
}
