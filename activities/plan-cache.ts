/**
 * What the load's plan learns by reading the input (its columns, row counts, the labels file, the
 * user's columns typed and checked for leaks), stored for the next plan of the same files. On one
 * large CSV those reads are several passes over the file (minutes for a few GB): an analyst's
 * rerun, whose load and features come from the stage cache, waited for all of them again.
 *
 * Looked up by the files' stamps (path, size, modification and change time, inode), so the lookup
 * needs no read of the input; taken only when every file's sha256, hashed as always, is the one
 * stored. Content-addressed like the other stages' artifacts (docs/reuse.md).
 */
import { join } from 'node:path';
import type { StageCacheAccess } from '../store/artifacts';
import { canonicalJson, sha256 } from '../store/hashing';
import { readExactJson } from '../store/exact-json';
import { lookUpArtifact, stagedJson, storeArtifact } from './artifact-store';
import { stageCodeHash } from './stage-code';

export const PLAN_STAGE = 'load-plan';
const PLAN_FILE = 'plan.json';

/** An input file's stat as the plan found it, before reading a row (load.ts FileStamp adds its sha256). */
export interface PlanFileStamp {
  path: string;
  size: number;
  mtimeMs: number;
  /** Changes with every write, also one that sets the modification time back (cp -p, rsync -t). */
  ctimeMs: number;
  ino: number;
}

/** The key of a plan's reading: the files' stamps and everything else the reading depends on. */
export function planKey(
  files: readonly PlanFileStamp[],
  reading: {
    /** The mapping's sha256 (null: no mapping), the labels copy's sha256 (null: none). */
    mapping: string | null;
    labels: string | null;
    /** The parameters the plan reads the input with. */
    params: Record<string, unknown>;
  },
): string {
  return sha256(
    canonicalJson({
      files: files.map(({ path, size, mtimeMs, ctimeMs, ino }) => ({ path, size, mtimeMs, ctimeMs, ino })),
      ...reading,
      code: stageCodeHash(),
    }),
  );
}

/** A stored reading: what it found, and the sha256 of each file it read. */
export interface StoredPlanReading<Reading> {
  sha256: string[];
  reading: Reading;
}

/** The stored reading for `key`, when stored, intact and taken (`access.allowed`); null otherwise. */
export async function findPlanReading<Reading>(
  access: StageCacheAccess,
  key: string,
): Promise<StoredPlanReading<Reading> | null> {
  const found = await lookUpArtifact(access.store, PLAN_STAGE, key, access.allowed, ['load']);
  if ('missing' in found) return null;
  return readExactJson<StoredPlanReading<Reading>>(join(found.dir, PLAN_FILE));
}

/** Stores what the plan found under `key` (storing only saves later plans time: a failure is no error). */
export async function storePlanReading<Reading>(
  access: StageCacheAccess,
  key: string,
  month: string,
  stored: StoredPlanReading<Reading>,
): Promise<void> {
  await storeArtifact(
    access.store,
    { stage: PLAN_STAGE, key, producedBy: access.run, month, code: stageCodeHash() },
    {},
    async (staging) => [await stagedJson(staging, PLAN_FILE, stored, stored.sha256.length)],
  );
}

/**
 * Readings a check before the start read in this process, by key, for `run --local`, whose worker
 * is this process: the run's plan takes one (once) instead of reading the input again, and stores
 * it as its own reading. The check stores none: a stored reading names the run that stored it,
 * which `audit verify` looks for in the log, and a checked run may never start. Kept in memory
 * only: a worker elsewhere (another user, perhaps with a signing key this one lacks) reads the
 * input itself.
 */
const checkReadings = new Map<string, unknown>();

/** Keeps a check's reading for a plan of this process (one: a new check replaces it). */
export function keepCheckReading(key: string, reading: unknown): void {
  checkReadings.clear();
  checkReadings.set(key, reading);
}

/** The reading a check of this process kept under `key`, taken once; undefined when none. */
export function takeCheckReading<Reading>(key: string): Reading | undefined {
  const reading = checkReadings.get(key) as Reading | undefined;
  checkReadings.delete(key);
  return reading;
}
