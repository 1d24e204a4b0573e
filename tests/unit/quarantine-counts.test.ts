import { describe, expect, it } from 'vitest';
import { OUTSIDE_WINDOW } from '../../activities/load-sql';
import { qualitySection } from '../../activities/report/sections/quality';
import { failedAttempts, snapshotSummary } from '../../cli/snapshot-text';
import type { AuditEntry } from '../../store/audit-log';
import type { SnapshotManifest } from '../../store/manifest';

/** A manifest holding what `snapshots show` reads: 31,131 input rows, 13,441 quarantined, of which `outside` of months outside the window. */
function manifest(quarantineByReason: Record<string, number>): SnapshotManifest {
  return {
    snapshot: { month: '2026-10', version: 1, publishedAt: '2026-11-02T03:00:04.123Z' },
    run: { workflowId: 'w', runId: 'r' },
    requestedBy: 'cli:analyst',
    paramsHash: 'p'.repeat(64),
    inputs: [{ path: '/data/usage/all.parquet', sha256: 'a'.repeat(64), bytes: 1, rows: 31_131 }],
    code: { segflow: '0.1.0', commit: 'c0ffee' },
    rowCounts: {
      inputRows: 31_131,
      loaded: 17_690,
      quarantined: 13_441,
      subscribers: 15_939,
      trainingRows: 12_000,
      holdoutRows: 3_000,
    },
    quarantineByReason,
    skippedFeatures: [],
    metrics: {
      churnHoldout: { rocAuc: 0.8, liftByDecile: [3] },
      riskBandCounts: { high: 10 },
      kmeans: { k: 2 },
      segments: [],
    },
    outputs: [],
  } as unknown as SnapshotManifest;
}

/** `snapshots show` with its notes' wrapped lines joined again (each continues under its text, 16 columns in). */
const unwrapped = (text: string) => text.replaceAll(/\n {16}(?=\S)/g, ' ');
const rowsLine = (text: string) =>
  unwrapped(text)
    .split('\n')
    .find((line) => line.startsWith('  rows '));

describe('quarantined rows: those that broke the contract apart from those of months outside the window', () => {
  it('snapshots show counts them as the run does: rows of months outside the window were left out', () => {
    const shown = snapshotSummary(
      manifest({ [OUTSIDE_WINDOW]: 13_433, 'voice_minutes: negative': 8 }),
      {},
      true,
      'manifest.json',
    );
    expect(rowsLine(shown)).toBe(
      '  rows          17,698 read, 8 quarantined (broke the contract; 13,433 more rows of months outside the window were left out); ' +
        '15,939 subscribers scored; the models learnt from 15,000 labelled subscribers (3,000 held out to test them)',
    );
    expect(Math.max(...shown.split('\n').map((line) => line.length))).toBeLessThanOrEqual(100);
    // no snapshot of the month before to match segment ids to: says why there may be none
    expect(unwrapped(shown)).toContain(
      'ids new (not matched: 2026-09 had no latest snapshot when this one ran, or it was clustered on other features)',
    );
    // none outside the window (or a manifest from before that reason): every quarantined row broke the contract
    const without = snapshotSummary(manifest({ 'voice_minutes: negative': 13_441 }), {}, true, 'manifest.json');
    expect(rowsLine(without)).toMatch(/^ {2}rows {10}31,131 read, 13,441 quarantined; 15,939 subscribers scored/);
  });

  it('snapshots show names the columns read under another spelling than the mapping or the contract gives', () => {
    const shown = snapshotSummary(
      {
        ...manifest({}),
        columnMatches: [
          { name: 'subscriber_id', column: 'SUBSCRIBER_ID', how: 'case' },
          { name: 'spend', column: 'spend_1', how: 'renamed' },
        ],
      },
      {},
      true,
      'manifest.json',
    );
    expect(shown).toContain(
      '  columns       read SUBSCRIBER_ID for subscriber_id, spend_1 for spend (DuckDB renamed it beside a\n' +
        '                column named so but for case)\n',
    );
    expect(snapshotSummary(manifest({}), {}, true, 'manifest.json')).not.toContain('  columns ');
  });

  it("the report's data quality note says the same, never 'read' and 'not read' of the same rows", async () => {
    const data = {
      rowsRead: 31_131,
      rowsLoaded: 17_690,
      rowsQuarantined: 13_441,
      inputFiles: 7,
      quarantineByReason: { [OUTSIDE_WINDOW]: 13_433, 'voice_minutes: negative': 8 },
      skippedFeatures: [],
    };
    const note = (html: string) => html.match(/<p class="note">([^<]*)<\/p>/)?.[1];
    expect(note((await qualitySection({ ...data, rowsOutsideWindow: 13_433 })).html)).toBe(
      '17,698 rows read from 7 files = 17,690 loaded + 8 quarantined for breaking the input contract; ' +
        '13,433 more rows of months outside the run window were left out (quarantine.parquet lists each row with its reason, those too).',
    );
    expect(
      note((await qualitySection({ ...data, rowsLoaded: 31_123, rowsQuarantined: 8, rowsOutsideWindow: 0 })).html),
    ).toBe(
      '31,131 rows read from 7 files = 31,123 loaded + 8 quarantined (quarantine.parquet lists each with its reason).',
    );
  });
});

describe('snapshots show: the attempts that failed on the way', () => {
  it('names each failed attempt and where the whole run is told, and says nothing of a run without one', () => {
    const shown = snapshotSummary(manifest({}), {}, true, 'manifest.json', [
      { stage: 'load', attempt: 1, type: 'Error' },
      { stage: 'publish', attempt: 1, type: 'AttemptLost' },
    ]);
    expect(shown).toContain(
      '  retries       2 attempts failed and ran again: load attempt 1 (Error), publish attempt 1 (AttemptLost); segflow runs show w',
    );
    expect(snapshotSummary(manifest({}), {}, true, 'manifest.json')).not.toContain('retries');
    // a partitioned stage: its failed attempts come from several activities, each named
    expect(
      snapshotSummary(manifest({}), {}, true, 'manifest.json', [
        { stage: 'load', attempt: 1, type: 'Error', activity: '4' },
        { stage: 'load', attempt: 1, type: 'AttemptLost', activity: '5' },
        { stage: 'publish', attempt: 1, type: 'AttemptLost', activity: '9' },
      ]),
    ).toContain(
      'retries       3 attempts failed and ran again: load (activity 4) attempt 1 (Error), load (activity 5) attempt 1 (AttemptLost), publish attempt 1 (AttemptLost)',
    );
  });

  it("finds the run's failed attempts in the audit log, not another run's nor other events", () => {
    const entry = (event: AuditEntry['event'], runId: string, details: Record<string, unknown>, subject?: string) =>
      ({ event, run: { workflowId: 'w', runId }, month: '2026-10', actor: 'worker', details, subject }) as AuditEntry;
    const failure = { stage: 'load', attempt: 1, type: 'Error', message: 'EIO', retryable: true };
    expect(
      failedAttempts(
        [
          entry('stage.attempt-failed', 'r', failure),
          entry('stage.attempt-failed', 'an-earlier-run', failure),
          entry('stage.finished', 'r', { stage: 'load' }),
          entry(
            'stage.attempt-failed',
            'r',
            { ...failure, stage: 'publish', type: 'AttemptLost' },
            'publish#1 (activity 9)',
          ),
        ],
        { workflowId: 'w', runId: 'r' },
      ),
    ).toEqual([
      { stage: 'load', attempt: 1, type: 'Error' },
      { stage: 'publish', attempt: 1, type: 'AttemptLost', activity: '9' },
    ]);
  });
});
