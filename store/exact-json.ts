import { readFile, writeFile } from 'node:fs/promises';

/**
 * JSON that gives back the numbers it was given. Plain JSON writes NaN and ±Infinity as null and
 * -0 as 0, but a run's summaries hold them: a holdout without a churner has no ROC AUC (NaN), and
 * its report says so. A stored artifact read back must equal what its run computed, or a rerun
 * that takes it publishes other bytes than a run that computes (or fails on the null). Such a
 * number is written as `{"$number": "NaN"}` (also "Infinity", "-Infinity", "-0").
 */
const TAG = '$number';

function replacer(_key: string, value: unknown): unknown {
  if (typeof value !== 'number' || (Number.isFinite(value) && !Object.is(value, -0))) return value;
  return { [TAG]: Object.is(value, -0) ? '-0' : String(value) };
}

/** What the replacer writes: nothing else is read back as a number. */
const TAGGED = new Set(['NaN', 'Infinity', '-Infinity', '-0']);

function reviver(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const tagged = (value as Record<string, unknown>)[TAG];
  return Object.keys(value).length === 1 && typeof tagged === 'string' && TAGGED.has(tagged) ? Number(tagged) : value;
}

export function exactJson(value: unknown): string {
  return JSON.stringify(value, replacer);
}

export function parseExactJson<T>(text: string): T {
  return JSON.parse(text, reviver) as T;
}

/** Writes `value` to `path` as exact JSON, one line. */
export async function writeExactJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, exactJson(value) + '\n');
}

/** Reads what writeExactJson wrote (plain JSON reads the same, its nulls staying null). */
export async function readExactJson<T>(path: string): Promise<T> {
  return parseExactJson<T>(await readFile(path, 'utf8'));
}
