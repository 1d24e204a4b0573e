import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const ML_DIR = new URL('./', import.meta.url);

/** The paths of the model code's files, in the order mlCodeHash reads them. */
export function mlCodeFiles(): string[] {
  return readdirSync(ML_DIR)
    .sort()
    .map((name) => fileURLToPath(new URL(name, ML_DIR)));
}

/**
 * sha256 over the model code (every file in activities/ml) and the JavaScript engine's version:
 * the code the ensemble's key names (ensemble-cache.ts) and the code its threads compile when
 * they start (ensemble-threads.ts compares the two).
 */
export function mlCodeHash(): string {
  const hash = createHash('sha256');
  for (const file of mlCodeFiles()) hash.update(`${basename(file)}\n`).update(readFileSync(file));
  hash.update(`v8 ${process.versions.v8}`);
  return hash.digest('hex');
}
