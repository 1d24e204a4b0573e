/**
 * The load and feature stages' code hash: the source and SQL files whose content decides their
 * output, and the DuckDB version that runs it. Every key of what those stages store names it
 * (stage-cache.ts, window-cache.ts, usage-months.ts).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pinCodeHash, sqlFilesUnder } from './code-identity';
import { lockedVersions } from './code-version';
import { sha256 } from '../store/hashing';

const ROOT = new URL('../', import.meta.url);

/**
 * The source files whose content decides the load and feature output: these modules, the static
 * imports among them that shape rows (a test checks the list against the import graph), and
 * every SQL file they run. Audit, context and store code do not change the rows.
 */
export const STAGE_CODE_FILES = [
  'activities/load.ts',
  'activities/load-sql.ts',
  'activities/labels.ts',
  'activities/csv-encoding.ts',
  'activities/user-features.ts',
  'activities/features.ts',
  'activities/duckdb.ts',
  'activities/stage-cache.ts',
  'activities/stage-code.ts',
  'activities/artifact-store.ts',
  'activities/window-cache.ts',
  'activities/usage-months.ts',
  'data/contract.ts',
  'domain/encoding.ts',
  'domain/mapping.ts',
  'domain/month.ts',
  'domain/params.ts',
  'domain/partitions.ts',
  'domain/rules.ts',
];
/** The folders whose SQL files, in every subfolder, the stages run. */
const STAGE_SQL_DIRS = ['activities/load', 'activities/features'];

/** The stage code and SQL files (relative to the project root), and the lock file that pins DuckDB. */
function stageCodeFiles(): string[] {
  return [...STAGE_CODE_FILES, ...sqlFilesUnder(ROOT, STAGE_SQL_DIRS)];
}

/** sha256 over the stage code, its SQL and the DuckDB version that runs it. */
function hashStageCode(): string {
  const parts = stageCodeFiles().map((file) => `${file}\n${sha256(readFileSync(new URL(file, ROOT), 'utf8'))}`);
  parts.push(`duckdb ${lockedVersions(['@duckdb/node-api'])['@duckdb/node-api']}`);
  return sha256(parts.join('\n'));
}

/** The load and feature stages' code hash as the worker loaded it (code-identity.ts). */
export const stageCodeHash = pinCodeHash(
  "the load and feature stages' code and SQL",
  () => [...stageCodeFiles(), 'package-lock.json'].map((file) => fileURLToPath(new URL(file, ROOT))),
  hashStageCode,
);
