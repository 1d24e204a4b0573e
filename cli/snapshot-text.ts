import {
  followUpUplift,
  followUpVerdict,
  listedAgainNote,
  noControlGroup,
  ownMonthUplift,
  READING_IN_TABLES,
  upliftReading,
  weightingWords,
  wrapWords,
  type UpliftReading,
} from '../domain/campaign-reading';
import { dirname } from 'node:path';
import { OUTSIDE_WINDOW } from '../data/contract';
import type { AuditEntry } from '../store/audit-log';
import type { RunRef } from '../store/layout';
import type { SnapshotManifest } from '../store/manifest';
import type { SnapshotListing } from '../store/snapshots';
import { count, decimals } from '../domain/decimals';
import { fewHeldOutWarning, holdoutAucText } from '../domain/holdout-auc';
import { addMonths } from '../domain/month';
import { skippedFeatureItems } from '../domain/skipped-features';
import { outsideWindowNote } from './format';
import { table } from './options';

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 ** 2).toFixed(1)} MB`;
}

/** The folder every input sits in, for one line instead of one per file. */
function commonFolder(paths: string[]): string {
  if (paths.length === 0) return '-';
  let folder = dirname(paths[0]);
  while (!paths.every((path) => path.startsWith(`${folder}/`)) && folder !== dirname(folder)) folder = dirname(folder);
  return folder;
}

/** What each stored stage output a run takes is, in words (the stage cache's stages, docs/reuse.md). */
const REUSED_WORDS: Record<string, string> = {
  'load-features': 'the load and features',
  'usage-month': 'checked months',
  'feature-month': "the training month's features",
  segments: 'the segments',
  'churn-tree': 'the readable tree',
  'churn-ensemble': 'the trained ensemble',
  'churn-scores': 'its scores',
  'dispatch-reasons': "the dispatch list's exact reasons",
};

/**
 * The line a run's result and `snapshots show` print for a run that took stored work from earlier
 * runs (the manifest's lineage.reused): what it took, in words; undefined for a cold run.
 */
export function reuseLine(manifest: Pick<SnapshotManifest, 'lineage'>): string | undefined {
  const reused = manifest.lineage?.reused ?? [];
  if (reused.length === 0) return undefined;
  const counts = new Map<string, number>();
  for (const artifact of reused) counts.set(artifact.stage, (counts.get(artifact.stage) ?? 0) + 1);
  const taken = [...counts].map(([stage, n]) =>
    stage === 'usage-month' ? `${n} checked month${n === 1 ? '' : 's'}` : (REUSED_WORDS[stage] ?? stage),
  );
  return `  reused        ${taken.join(', ')}: stored by earlier runs (--no-reuse computes everything)`;
}

/** A measurement's reading (domain/campaign-reading.ts) beside the uplift and its interval: with its direction, as the tables say it. */
const READING_IN_A_LINE: Record<UpliftReading, string> = {
  ...READING_IN_TABLES,
  'too small': 'too few subscribers to read',
};

/**
 * The line a run's result and `snapshots show` print for a run that measured last month's
 * dispatch list: its arms, their churn (saying it is weighted, when it is) and the uplift with its
 * interval, and where the breakdowns are, or why nothing was measured; undefined for a run given
 * no contact log.
 */
export function campaignSummaryLine(manifest: Pick<SnapshotManifest, 'metrics' | 'snapshot'>): string | undefined {
  const campaigns = manifest.metrics.campaigns;
  if (!campaigns) return undefined;
  if (!campaigns.measured) return noteLines('campaigns', `not measured: ${campaigns.reason}`);
  const { overall, dispatchFrom } = campaigns;
  const noControl = noControlGroup(campaigns);
  if (noControl) return noteLines('campaigns', `not measured: ${noControl}`);
  const rate = (share: number | null) => (share === null ? '-' : `${(share * 100).toFixed(1)}%`);
  const points = (share: number | null) =>
    share === null ? '-' : `${share > 0 ? '+' : ''}${(share * 100).toFixed(1)}`;
  const uplift =
    overall.absoluteUplift === null
      ? 'no uplift to read'
      : `uplift ${points(overall.absoluteUplift)} pp (held-out churn minus targeted; 95% interval ${points(overall.upliftLow)} to ${points(overall.upliftHigh)} pp; ${READING_IN_A_LINE[upliftReading(overall)]})`;
  const weighted = weightingWords(campaigns.holdOutWeights);
  return noteLines(
    'campaigns',
    `${dispatchFrom.month}/v${dispatchFrom.version}'s dispatch list: ${count(overall.targetedSubscribers)} targeted churned ${rate(overall.targetedChurnRate)}, ${count(overall.controlSubscribers)} held out ${rate(overall.controlChurnRate)}${weighted ? ` (churn ${weighted})` : ''}: ${uplift}; segflow campaigns show ${manifest.snapshot.month}/v${manifest.snapshot.version}`,
  );
}

/**
 * The lines a run's result and `snapshots show` print when its campaign measurement warns (a
 * mostly unusable contact log, a list chosen by default in a month with other versions), one
 * per warning; undefined without any. Reads `warning` of manifests published before `warnings`.
 */
export function campaignWarningLine(manifest: Pick<SnapshotManifest, 'metrics'>): string | undefined {
  const campaigns = manifest.metrics.campaigns;
  if (!campaigns?.measured) return undefined;
  const warnings = campaigns.warnings ?? (campaigns.warning ? [campaigns.warning] : []);
  return warnings.length ? warnings.map((w) => noteLines('campaigns', `warning: ${w}`)).join('\n') : undefined;
}

/** Where a note's text starts: after two spaces and a 14-column label (`  campaigns     `). */
const NOTE_INDENT = ' '.repeat(16);

/**
 * The line a run's result and `snapshots show` print for a run that followed up the list last
 * month's run measured (metrics.campaignFollowUp): the whole list's uplift with churn read in this
 * month (saying it is weighted, when it is), beside the uplift of the month of contact, how the two
 * read together (the words of `campaigns show` and the report), and where the breakdowns are; or
 * why it was not followed up.
 * Wrapped to 100 columns under its label; undefined when there was nothing to follow up (last
 * month measured no campaign) and for manifests published before the follow-up.
 */
export function campaignFollowUpLine(manifest: Pick<SnapshotManifest, 'metrics' | 'snapshot'>): string | undefined {
  const followUp = manifest.metrics.campaignFollowUp;
  if (!followUp) return undefined;
  const weighted = followUp.measured ? weightingWords(followUp.holdOutWeights) : '';
  const text = followUp.measured
    ? `${followUp.dispatchFrom.month}/v${followUp.dispatchFrom.version}'s list, churn read in ${followUp.churnMonth}${weighted ? ` (${weighted})` : ''}: ${followUpUplift(followUp.overall)}${ownMonthUplift(followUp.overall, followUp.firstMeasuredIn.month)}: ${followUpVerdict(followUp.overall)}; segflow campaigns show ${manifest.snapshot.month}/v${manifest.snapshot.version}${listedAgainNote(followUp) ? `. ${listedAgainNote(followUp)}` : ''}`
    : `not followed up: ${followUp.reason}`;
  return noteLines('a month later', text);
}

/**
 * A note of a run's result and `snapshots show`: its label in a 14-column field, then its text
 * wrapped to 100 columns under the text's start.
 */
function noteLines(label: string, text: string): string {
  // a number keeps its unit on its line: "+8.7 pp", not "+8.7" and "pp" a line below
  const kept = text.replaceAll(' pp', '\u00a0pp').replaceAll(' points', '\u00a0points');
  return wrapWords(kept, 100 - NOTE_INDENT.length, '')
    .map(
      (line, i) =>
        `${i === 0 ? `  ${label.padEnd(NOTE_INDENT.length - 2)}` : NOTE_INDENT}${line.replaceAll('\u00a0', ' ')}`,
    )
    .join('\n');
}

/** Quarantine reasons a line names before `and N more`. */
const QUARANTINE_REASONS_SHOWN = 3;

/**
 * The line a run's result and `snapshots show` print for a run that quarantined rows breaking the
 * contract: the most frequent reasons with their rows (months outside the window aside, which were
 * left out); undefined for none.
 */
export function quarantineLine(manifest: Pick<SnapshotManifest, 'quarantineByReason'>): string | undefined {
  const reasons = Object.entries(manifest.quarantineByReason)
    .filter(([reason]) => reason !== OUTSIDE_WINDOW)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  if (reasons.length === 0) return undefined;
  const shown = reasons.slice(0, QUARANTINE_REASONS_SHOWN).map(([reason, rows]) => `${count(rows)} x ${reason}`);
  const more = reasons.length - shown.length;
  return `  quarantine    ${shown.join('; ')}${more > 0 ? `; ${more} more reason${more === 1 ? '' : 's'}` : ''} (rows in quarantine.parquet)`;
}

/** What a run's result and `snapshots show` say beneath the headline numbers: its quarantine, reuse, campaign measurement, its warnings and the follow-up. */
export function manifestNotes(
  manifest: Pick<SnapshotManifest, 'lineage' | 'metrics' | 'snapshot' | 'quarantineByReason'>,
): string[] {
  return [
    quarantineLine(manifest),
    reuseLine(manifest),
    manifest.lineage?.inputChanged ? `  warning       ${manifest.lineage.inputChanged}` : undefined,
    campaignSummaryLine(manifest),
    campaignWarningLine(manifest),
    campaignFollowUpLine(manifest),
  ].filter((line): line is string => line !== undefined);
}

/**
 * The rows read and quarantined, as the run's result counts them (cli/format.ts): the rows that
 * broke the contract apart from those of months outside the window, which were left out (in a file holding other months too, they were read and set aside) (a
 * manifest without that reason has none).
 */
function rowsLine({ rowCounts: rows, quarantineByReason }: Pick<SnapshotManifest, 'rowCounts' | 'quarantineByReason'>) {
  const outside = quarantineByReason[OUTSIDE_WINDOW] ?? 0;
  return `${count(rows.inputRows - outside)} read, ${count(rows.quarantined - outside)} quarantined${outsideWindowNote(outside)}`;
}

/** A stage attempt of the run that failed and was retried (the audit log's stage.attempt-failed). */
export interface FailedAttempt {
  stage: string;
  attempt: number;
  type: string;
  /** The Temporal activity it was an attempt of: a partitioned stage runs one activity per partition. */
  activity?: string;
}

/** The failed attempts of `run` in the audit log's entries, in order. */
export function failedAttempts(entries: readonly AuditEntry[], run: RunRef): FailedAttempt[] {
  return entries
    .filter(
      (e) => e.event === 'stage.attempt-failed' && e.run.workflowId === run.workflowId && e.run.runId === run.runId,
    )
    .map((e) => {
      // the worker names the activity in the entry's subject: `load#1 (activity 5)`
      const activity = /\(activity ([^)]+)\)$/.exec(e.subject ?? '')?.[1];
      return {
        stage: String(e.details?.stage ?? e.subject),
        attempt: Number(e.details?.attempt),
        type: String(e.details?.type ?? 'error'),
        ...(activity ? { activity } : {}),
      };
    });
}

/**
 * The run's failed attempts in one line: a snapshot published after retries is whole (a stage
 * retried runs again from its start), but an auditor asks what went wrong on the way.
 */
function retriesLine(failed: FailedAttempt[], workflowId: string): string | undefined {
  if (failed.length === 0) return undefined;
  // a stage whose failures came from several activities ran as partitions: each is named
  const activities = (stage: string) => new Set(failed.filter((f) => f.stage === stage).map((f) => f.activity)).size;
  const attempts = failed
    .map(
      (f) =>
        `${f.stage}${f.activity && activities(f.stage) > 1 ? ` (activity ${f.activity})` : ''} attempt ${f.attempt} (${f.type})`,
    )
    .join(', ');
  return `  retries       ${failed.length === 1 ? '1 attempt' : `${failed.length} attempts`} failed and ran again: ${attempts}; segflow runs show ${workflowId}`;
}

/**
 * A manifest as a person reads it: who and when, inputs, the parameters that differ from the
 * defaults (`changed`, domain/params.ts changedParams), headline metrics, segments and files. The
 * whole manifest is behind --json.
 */
export function snapshotSummary(
  manifest: SnapshotManifest,
  changed: Record<string, unknown>,
  latest: boolean,
  manifestPath: string,
  /** The run's failed attempts, from the audit log. */
  failed: FailedAttempt[] = [],
  /** Lines said under the heading: what the audit log says of it (a promotion, a manifest edited since). */
  logLines: string[] = [],
): string {
  const { snapshot, rowCounts: rows, metrics } = manifest;
  const holdout = metrics.churnHoldout;
  const params = Object.entries(changed)
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    .join(' ');
  const bands = Object.entries(metrics.riskBandCounts)
    .map(([band, n]) => `${band} ${count(n)}`)
    .join(', ');
  const lines = [
    `Snapshot ${snapshot.month}/v${snapshot.version}${latest ? ' (latest)' : snapshot.experiment ? ' (an experiment: not the latest)' : ''}`,
    ...logLines,
    `  published     ${snapshot.publishedAt} by ${manifest.requestedBy}`,
    `  run           ${manifest.run.workflowId} (run ${manifest.run.runId})`,
    noteLines(
      'inputs',
      `${manifest.inputs.length} file(s), ${count(manifest.inputs.reduce((sum, f) => sum + f.rows, 0))} rows, in ${commonFolder(manifest.inputs.map((f) => f.path))}`,
    ),
    ...(manifest.mapping
      ? [`  mapping       ${manifest.mapping.path} (sha256 ${manifest.mapping.sha256.slice(0, 12)})`]
      : []),
    ...(manifest.labels
      ? [`  labels        ${manifest.labels.path} (sha256 ${manifest.labels.sha256.slice(0, 12)})`]
      : []),
    ...(manifest.columnMatches
      ? [
          noteLines(
            'columns',
            `read ${manifest.columnMatches.map((m) => `${m.column} for ${m.name}${m.how === 'renamed' ? ' (DuckDB renamed it beside a column named so but for case)' : ''}`).join(', ')}`,
          ),
        ]
      : []),
    noteLines('parameters', `${params || 'defaults'} (params hash ${manifest.paramsHash.slice(0, 12)})`),
    `  code          segflow ${manifest.code.segflow}, commit ${manifest.code.commit}${manifest.code.source ? `, code files ${manifest.code.source.slice(0, 12)}` : ''}`,
    noteLines(
      'rows',
      `${rowsLine(manifest)}; ${count(rows.subscribers)} subscribers scored; the models learnt from ${count(rows.trainingRows + rows.holdoutRows)} labelled subscribers (${count(rows.holdoutRows)} held out to test them)`,
    ),
    noteLines(
      'churn model',
      `holdout ROC AUC ${holdoutAucText(holdout.rocAuc, { churners: holdout.positives, rows: holdout.rows, stdError: holdout.rocAucStdError })}, top-decile lift ${decimals(holdout.liftByDecile[0], 2, 'x')}; risk bands: ${bands}`,
    ),
    ...[fewHeldOutWarning(holdout.positives)].flatMap((warning) => (warning ? [`    warning: ${warning}`] : [])),
    noteLines(
      'segments',
      `k=${metrics.kmeans.k}${metrics.previousSnapshot ? `, ids matched to ${metrics.previousSnapshot.month}/v${metrics.previousSnapshot.version}` : `, ids new (not matched: ${addMonths(snapshot.month, -1)} had no latest snapshot when this one ran, or it was clustered on other features)`}`,
    ),
    ...metrics.segments.map(
      (s) =>
        `    ${String(s.segmentId).padStart(2)}  ${count(s.subscribers).padStart(9)}  ${s.name}  -> ${s.recommendedProduct}`,
    ),
  ];
  lines.push(...manifestNotes(manifest));
  const retries = retriesLine(failed, manifest.run.workflowId);
  if (retries) lines.push(retries);
  if (manifest.skippedFeatures.length)
    lines.push(noteLines('skipped', skippedFeatureItems(manifest.skippedFeatures).join('; ')));
  lines.push(
    noteLines('files', manifest.outputs.map((f) => `${f.file} ${bytes(f.bytes)}`).join(', ')),
    `  manifest      ${manifestPath}`,
    '',
    `The full manifest: segflow snapshots show ${snapshot.month}/v${snapshot.version} --json`,
  );
  return lines.join('\n');
}

/** One line per snapshot within 100 columns; full hashes, ids and times are behind --json. */
export function snapshotsTable(rows: SnapshotListing[]): string {
  const shorten = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text);
  return [
    table(
      rows.map((r) =>
        r.damaged || r.missing || r.holds
          ? {
              snapshot: `${r.month}/v${r.version}${r.latest ? '*' : ''} (!)`,
              published: r.missing ? 'folder missing' : r.holds ? `holds ${r.holds}` : '-',
              requestedBy: '-',
              subscribers: '-',
              segments: '-',
              rocAuc: '-',
              params: '-',
            }
          : {
              snapshot: `${r.month}/v${r.version}${r.latest ? '*' : r.official ? '' : r.experiment ? ' (x)' : ' (r)'}`,
              published: r.publishedAt.slice(0, 16).replace('T', ' '),
              requestedBy: shorten(r.requestedBy, 22),
              subscribers: count(r.subscribers),
              segments: r.segments,
              rocAuc: decimals(r.churnRocAuc, 3),
              params: r.paramsHash.slice(0, 8),
            },
      ),
    ),
    rows.length ? '* latest version of the month; published in UTC; params = start of the parameters hash' : '',
    rows.some((r) => !r.official && !r.latest && r.experiment)
      ? "(x) an experiment (run --experiment), not the month's latest: segflow snapshots promote makes it so"
      : '',
    rows.some((r) => r.damaged)
      ? "(!) its folder holds no readable manifest.json (removed or damaged after publishing): 'segflow audit verify' checks the store"
      : '',
    rows.some((r) => r.missing)
      ? "(!) folder missing: the audit log records it published and not retired, but its folder is gone (removed outside segflow): 'segflow audit verify'"
      : '',
    rows.some((r) => r.holds)
      ? "(!) holds <snapshot>: its folder holds another snapshot's manifest (moved or copied into its place): 'segflow audit verify'"
      : '',
    rows.some((r) => !r.damaged && !r.missing && !r.holds && !r.official && !r.latest && !r.experiment)
      ? "(r) replaced: a promotion moved the month's latest away from it; segflow snapshots promote makes it the latest again"
      : '',
  ]
    .filter(Boolean)
    .join('\n');
}
