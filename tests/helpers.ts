import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, inject } from 'vitest';
import type { DuckDBConnection } from '@duckdb/node-api';
import { setVariable, withConnection } from '../activities/duckdb';
import { viewStageOutputs } from '../activities/stage-outputs';
import { generateSample, type SampleSummary } from '../data/generate';
import type { AuditEntry } from '../store/audit-log';
import type { StoreConfig } from '../store/layout';
import type { SegmentProfile } from '../store/manifest';
import { REPO_ROOT } from '../worker/config';

const tempDirs: string[] = [];
// Registered as the test file imports this module: a hook registered inside beforeAll (where most
// tests call tempDir) never runs, and every run left its folders in /tmp.
afterAll(() => Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true }))));

/** A fresh temporary folder, removed after the test file (and with the test run's folder). */
export async function tempDir(prefix = 'segflow-test-'): Promise<string> {
  const dir = await mkdtemp(join(inject('testTempRoot') ?? tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Runs the CLI as a process; `output` is stderr on failure, stdout on success. */
export const segflow = (args: string[], env: Record<string, string> = {}) =>
  promisify(execFile)(join(REPO_ROOT, 'bin', 'segflow'), args, { env: { ...process.env, ...env } }).then(
    ({ stdout }) => ({ code: 0, output: stdout }),
    (error: { code: number; stderr: string }) => ({ code: error.code, output: error.stderr }),
  );

/**
 * A usage CSV of two subscribers in `month`, with the contract's required columns but those left
 * out (`without`): what a run's load plan takes, or stops on.
 */
export function usageCsv(month: string, without: string[] = []): string {
  const values: Record<string, string> = {
    subscriber_id: '',
    month: `${month}-01`,
    voice_minutes: '120',
    data_mb: '2048',
    spend: '58',
    tenure_months: '14',
  };
  const columns = Object.keys(values).filter((column) => !without.includes(column));
  const row = (id: string) => columns.map((column) => (column === 'subscriber_id' ? id : values[column])).join(',');
  return [columns.join(','), row('S1'), row('S2')].join('\n') + '\n';
}

/**
 * `text` in a legacy encoding without an encoder: each word of `codes` as its bytes there (hex, e.g.
 * GB18030's), the rest (ASCII) as it is.
 */
export function encodedText(codes: Readonly<Record<string, string>>, text: string): Buffer {
  return Buffer.concat(
    text
      .split(new RegExp(`(${Object.keys(codes).join('|')})`))
      .map((part) => (codes[part] ? Buffer.from(codes[part], 'hex') : Buffer.from(part, 'latin1'))),
  );
}

export function storeIn(dir: string): StoreConfig {
  return { storeDir: join(dir, 'store'), workDir: join(dir, 'work') };
}

/** A small deterministic sample: big enough for a churn tree, small enough for seconds. */
export async function smallSample(dir: string, subscribers = 4_000, months = 8): Promise<SampleSummary> {
  return generateSample({ outDir: join(dir, 'sample'), subscribers, months, lastMonth: '2026-06', seed: 7 });
}

/**
 * Writes the result of `select` to a Parquet file. `select` may read `{june}`: the sample's
 * June 2026 usage file (the month `smallSample` ends on).
 */
export async function writeParquet(sample: SampleSummary, path: string, select: string): Promise<void> {
  const june = join(sample.outDir, 'usage', 'usage_month=2026-06', 'part_0.parquet');
  await withConnection(':memory:', async (conn) => {
    await setVariable(conn, 'june', june);
    await setVariable(conn, 'target', path);
    await conn.run(
      `COPY (${select.replaceAll('{june}', "read_parquet(getvariable('june'))")}) TO (getvariable('target')) (FORMAT parquet)`,
    );
  });
}

/**
 * Runs `work` on the run database at `dbPath` with the clustering and churn stages' outputs in
 * view (segments, scores, churn_reasons, and segment_catalog from `segments`), as publishing reads them.
 */
export async function withStageOutputs<T>(
  dbPath: string,
  work: (conn: DuckDBConnection) => Promise<T>,
  segments: readonly SegmentProfile[] = [],
): Promise<T> {
  return withConnection(dbPath, async (conn) => {
    await viewStageOutputs(conn, dbPath, segments);
    return work(conn);
  });
}

/** An audit entry as the end-to-end tests compare them: its event, then its subject after a colon. */
export function eventName(entry: Pick<AuditEntry, 'event' | 'subject'>): string {
  return `${entry.event}${entry.subject ? `:${entry.subject}` : ''}`;
}

/** A run's audit events from its request to its snapshot when it computes every stage. */
export const PUBLISHED_RUN_EVENTS = [
  'run.requested',
  'run.started',
  'stage.finished:load',
  'stage.finished:features',
  'stage.finished:cluster',
  'stage.finished:churn',
  'stage.finished:publish',
  'run.published',
];
