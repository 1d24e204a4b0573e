import { join } from 'node:path';
import { type Command } from '@commander-js/extra-typings';
import { loadConfig } from '../../worker/config';
import { UsageError } from '../../domain/errors';
import { auditLogPath, versionDir, type RunRef, type SnapshotRef, type StoreConfig } from '../../store/layout';
import type { AuditEntry } from '../../store/audit-log';
import type { SnapshotManifest } from '../../store/manifest';
import {
  hasAuditLog,
  latestVersion,
  listSnapshots,
  manifestAgainstLog,
  editedManifestText,
  promotedToLatest,
  publishedAndGone,
  readManifest,
  readNamedManifest,
  storeLogOf,
  resolveSnapshot,
  restoreTombstone,
  retiredWithoutTombstone,
  type StoreLog,
} from '../../store/snapshots';
import { failedAttempts, snapshotSummary, snapshotsTable } from '../snapshot-text';
import { elapsed } from '../format';
import { jsonOption as json } from '../json-option';
import { EXIT, monthArg, output, recordedName, table, required } from '../options';
import { userInfo } from 'node:os';
import { PAIRING_ALSO_SHARE, PAIRING_KEPT_SHARE, type SegmentPairing } from '../../domain/segment-pairing';
import type { SnapshotDiff } from '../../pipelines/diff';
import type { ReproduceReport } from '../../pipelines/reproduce';
import { loadSigner, type Signer } from '../../store/signing';

/** `segflow snapshots list | show | diff | reproduce | promote | retire`. */
/**
 * Promote's and retire's steps around the change itself: the reason given, the version named
 * explicitly, the signer, and Temporal asked (on need) whether a run left a snapshot unrecorded.
 */
async function changeNamedSnapshot<T>(
  reference: string,
  options: { reason?: string; actor: string },
  verb: 'promote' | 'retire',
  change: (
    store: StoreConfig,
    ref: SnapshotRef,
    request: { reason: string; actor: string; runEnded: (run: RunRef) => Promise<boolean> },
    signer?: Signer,
  ) => Promise<T>,
): Promise<{ ref: SnapshotRef; result: T }> {
  const reason = required(options.reason, '--reason <text>');
  const config = loadConfig();
  if (!/\/v\d+$|@v?\d+$/.test(reference))
    throw new UsageError(`name the version to ${verb} explicitly (YYYY-MM/vN), not "${reference}"`);
  const signer = config.signingKeyPath ? loadSigner(config.signingKeyPath) : undefined;
  const ref = await resolveSnapshot(config.store, reference);
  const { runEndedInTemporal } = await import('../../pipelines/runs');
  const temporal = runEndedInTemporal(config);
  const result = await change(
    config.store,
    ref,
    { reason, actor: options.actor, runEnded: temporal.runEnded },
    signer,
  ).finally(temporal.close);
  return { ref, result };
}

export function registerSnapshots(program: Command): void {
  const snapshots = program
    .command('snapshots')
    .description('Published snapshots: list, show, diff, promote, retire, reproduce.');
  snapshots
    .command('list')
    .description('List snapshots, by month and version.')
    .option('--month <YYYY-MM>', 'only this month', monthArg)
    .addOption(json())
    .action(async (options) => {
      const store = loadConfig().store;
      const rows = await listSnapshots(store, options.month);
      // a month none of whose folders is left: what the log recorded of it, as show says
      const gone = options.month && rows.length === 0 ? await publishedAndGone(store, options.month) : '';
      // no log: nothing was published here, or SEGFLOW_STORE names another folder than the store
      const noLog = (await hasAuditLog(store)) ? '' : noAuditLogText(store, rows.length);
      if (noLog && options.json) console.error(`segflow: note: ${noLog}`);
      output(options.json, rows, (list) =>
        noLog && list.length === 0
          ? noLog
          : [snapshotsTable(list), gone.replace(/^; t/, 'T'), noLog && `note: ${noLog}`].filter(Boolean).join('\n'),
      );
    });
  snapshots
    .command('show <snapshot>')
    .description(
      'A snapshot in brief: who and when, inputs, parameters that differ from the defaults, metrics, segments, files (--json: the whole manifest). YYYY-MM (latest), YYYY-MM/vN or YYYY-MM@N.',
    )
    .addOption(json())
    .action(async (reference: string, options) => {
      const store = loadConfig().store;
      const ref = await resolveSnapshot(store, reference);
      const manifest = await readNamedManifest(store, ref);
      const latest = (await latestVersion(store, ref.month)) === ref.version;
      const { changedParams } = await import('../../domain/params');
      const { readAuditLog } = await import('../../store/audit-log');
      const entries = await readAuditLog(store);
      const failed = failedAttempts(entries, manifest.run);
      const log = storeLogOf(entries);
      const warnings = await showWarnings(store, ref, manifest, log);
      // --json is the manifest as it is: what is wrong with it goes to stderr
      if (options.json) for (const warning of warnings) console.error(`segflow: warning: ${warning}`);
      const promotion = latest ? promotedToLatest(log, ref) : undefined;
      output(options.json, manifest, (m) =>
        snapshotSummary(
          m,
          changedParams(m.params),
          latest,
          join(versionDir(store, ref.month, ref.version), 'manifest.json'),
          failed,
          [
            ...warnings.map((warning) => `  warning: ${warning}`),
            ...(promotion ? [promotionLine(ref.version, promotion)] : []),
          ],
        ),
      );
    });
  snapshots
    .command('diff <a> <b>')
    .description(
      'What changed from snapshot A to B: parameters, input files (changed, added, gone), the mapping and labels, the code commit, churn features used by one only, metrics, segment migration, segments paired (kept, split or merged), risk bands.',
    )
    .addOption(json())
    .action(async (a: string, b: string, options) => {
      const store = loadConfig().store;
      const { diffSnapshots } = await import('../../pipelines/diff');
      const [refA, refB] = [await resolveSnapshot(store, a), await resolveSnapshot(store, b)];
      if (refA.month === refB.month && refA.version === refB.version)
        throw new UsageError(
          a === b
            ? `${a} is named twice: name two versions`
            : `${a} and ${b} are the same snapshot, ${refA.month}/v${refA.version} (a month alone names its latest): name two versions`,
        );
      const diff = await diffSnapshots(store, refA, refB);
      output(options.json, diff, (d) =>
        [
          `${d.a.month}/v${d.a.version} -> ${d.b.month}/v${d.b.version}`,
          '',
          'Parameters:',
          d.params.length
            ? table(
                d.params.map((p) => ({
                  name: p.name,
                  a: parameterText(p.name, p.a),
                  b: parameterText(p.name, p.b),
                })),
              )
            : '(same)',
          '',
          'Metrics:',
          table(d.metrics),
          ...d.notes.map((note) => `note: ${note}`),
          '',
          'Segment migration (subscribers):',
          table(d.migration),
          '',
          ...pairingLines(d),
          '',
          `Risk band changed for ${d.riskBandChangedTotal} of the ${d.subscribersInBoth} subscribers in both (${d.subscribersOnlyInA} only in ${d.a.month}/v${d.a.version}, ${d.subscribersOnlyInB} only in ${d.b.month}/v${d.b.version}):`,
          table(d.riskBandChanges),
          d.riskBandExamples.length ? `\nFor example:\n${table(d.riskBandExamples)}` : '',
        ].join('\n'),
      );
    });
  snapshots
    .command('promote <snapshot>')
    .description(
      "Make a version the month's latest (YYYY-MM/vN): an experiment (run --experiment) adopted, or a rollback to an earlier version. Records a snapshot.promoted audit entry with the reason; next month's run, campaigns and YYYY-MM then use it.",
    )
    .option('--reason <text>', 'why, for the audit log (required: k=5 adopted after review, rollback of v4: ...)')
    .option('--actor <name>', 'who promotes it, for the audit log', recordedName('--actor'), userInfo().username)
    .addOption(json())
    .action(async (reference: string, options) => {
      const { promoteSnapshot } = await import('../../pipelines/promote');
      const { changedParams } = await import('../../domain/params');
      const { ref, result } = await changeNamedSnapshot(reference, options, 'promote', promoteSnapshot);
      const params = changedParams((await readManifest(loadConfig().store, ref.month, ref.version)).params ?? {});
      // a month's own files and list (its contact log with its encoding, the list it measured, its
      // labels) are no settings to carry on: next month's run is given next month's, said apart
      const given = Object.entries(params)
        .filter(([name]) => !MONTH_OWN_PARAMS.has(name))
        .map(([name, value]) => `--param ${name}=${JSON.stringify(value)}`);
      const own = Object.entries(params)
        .filter(([name]) => MONTH_OWN_PARAMS.has(name))
        .map(([name, value]) => `${name}=${JSON.stringify(value)}`);
      output(
        options.json,
        {
          month: ref.month,
          version: ref.version,
          auditSeq: result.entry?.seq ?? null,
          previous: result.previous,
          builtOnOther: result.builtOnOther,
        },
        (r) =>
          r.auditSeq === null
            ? `${r.month}/v${r.version} already is the month's latest; nothing recorded`
            : `${r.month}/v${r.version} is now the month's latest (was ${r.previous === null ? 'none' : `v${r.previous}`}; audit seq ${r.auditSeq})` +
              (r.builtOnOther.length
                ? `\nnote: built on another version: ${r.builtOnOther.join(', ')}; published, they stay so: rerun the month to build on this one`
                : '') +
              // a promotion adopts the snapshot, not its settings
              (r.auditSeq !== null && given.length
                ? `\nnote: next month's run does not take this version's parameters from it: give them again (${given.join(' ')}), and for a schedule, create it with them`
                : '') +
              (r.auditSeq !== null && own.length
                ? `\nnote: this version also read its month's own ${own.join(', ')}: give next month's run next month's (a schedule, the path each month's file is written to)`
                : ''),
      );
    });
  snapshots
    .command('retire <snapshot>')
    .description(
      'Remove a published snapshot on purpose (YYYY-MM/vN): records a snapshot.retired audit entry with the reason, so `audit verify` accepts its absence.',
    )
    .option('--reason <text>', 'why, for the audit log (required: storage limit, deletion request #...)')
    .option('--actor <name>', 'who retires it, for the audit log', recordedName('--actor'), userInfo().username)
    .addOption(json())
    .action(async (reference: string, options) => {
      const { builtOnNote, retireSnapshot } = await import('../../pipelines/retire');
      // retired by the log, its folder and tombstone gone: the tombstone is written again (audit verify's advice)
      const restored = await restoreRetirement(reference, options);
      if (restored) {
        output(options.json, restored, (r) => restoredText(r));
        return;
      }
      const { ref, result } = await changeNamedSnapshot(reference, options, 'retire', retireSnapshot);
      output(
        options.json,
        {
          month: ref.month,
          version: ref.version,
          auditSeq: result.entry.seq,
          latest: result.latest,
          left: result.left,
          builtOn: result.builtOn,
          followedUpBy: result.followedUpBy,
        },
        (r) =>
          `retired ${r.month}/v${r.version} (audit seq ${r.auditSeq}); latest.json: ${
            r.latest !== null
              ? `v${r.latest}`
              : r.left.length
                ? `removed: only experiments are left (${r.left.map((v) => `v${v}`).join(', ')}); 'segflow snapshots promote' makes one the latest`
                : 'removed, no version left'
          }` +
          (r.builtOn.length ? `\n${builtOnNote(r.month, r)}` : '') +
          (r.followedUpBy.length
            ? `\nnote: its dispatch list followed up a month later by: ${r.followedUpBy.join(', ')} (campaign follow-up); published, they stay so, but cannot be reproduced as published: their follow-up read the list retired`
            : ''),
      );
    });
  snapshots
    .command('reproduce <snapshot>')
    .description(
      "Recompute a snapshot from its manifest (same inputs and parameters, outside Temporal) and compare each output file's hash with the manifest's and the published file's, and the manifest's metrics with the recomputed ones.",
    )
    .addOption(json())
    .action(async (reference: string, options) => {
      const store = loadConfig().store;
      const { reproduceSnapshot } = await import('../../pipelines/reproduce');
      const ref = await resolveSnapshot(store, reference);
      // on stderr, so --json stays one document: the recomputation takes minutes at 10M subscribers
      const report = await reproduceSnapshot(store, ref, (step) =>
        console.error(`${elapsed()}  reproducing ${ref.month}/v${ref.version}: ${step}`),
      );
      output(options.json, report, reproduceText);
      process.exit(report.identical ? EXIT.ok : EXIT.failed);
    });
}

/** Run parameters that name one month's own inputs: never suggested to give next month's run again. */
const MONTH_OWN_PARAMS = new Set(['contacts', 'contactsEncoding', 'contactsMapping', 'dispatched', 'labels']);

/** What `snapshots list` says when the store has no audit log: nothing here was published by segflow, or it is another folder. */
function noAuditLogText(store: StoreConfig, listed: number): string {
  const where = `the store ${store.storeDir} has no audit log (${auditLogPath(store)})`;
  return listed === 0
    ? `no snapshot: ${where}, so nothing was ever published into it. If you expected snapshots, SEGFLOW_STORE (or SEGFLOW_HOME) names another folder than your store`
    : `${where}: the snapshots listed are recorded nowhere ('segflow audit verify'); or SEGFLOW_STORE names another folder than your store`;
}

/**
 * What `snapshots show` warns of before the summary: a manifest edited after publishing (its
 * sha256 is not the one its run.published entry recorded), or whose parameters hash is not the
 * hash of the parameters it shows (edited, with or without the log's record of it).
 */
export async function showWarnings(
  store: StoreConfig,
  ref: SnapshotRef,
  manifest: SnapshotManifest,
  log: StoreLog,
): Promise<string[]> {
  const warnings: string[] = [];
  const found = await manifestAgainstLog(store, ref, log);
  if (found?.edited)
    warnings.push(
      `${editedManifestText(ref, found)}: what is shown is not what was published; restore it from a copy of the store ('segflow audit verify')`,
    );
  const { paramsHash } = await import('../../store/hashing');
  if (manifest.params && manifest.paramsHash && paramsHash(manifest.params) !== manifest.paramsHash)
    warnings.push(
      `the parameters shown are not the ones its params hash ${manifest.paramsHash.slice(0, 12)} was made from (theirs hash to ${paramsHash(manifest.params).slice(0, 12)}): manifest.json was edited ('segflow audit verify')`,
    );
  return warnings;
}

/** Who made a version its month's latest by `snapshots promote`, when, and from which version. */
export function promotionLine(version: number, promotion: { entry: AuditEntry; previous: number | null }): string {
  const { entry, previous } = promotion;
  const reason = (entry.details as { reason?: unknown } | undefined)?.reason;
  const how =
    previous === null
      ? 'promoted (no latest before)'
      : previous > version
        ? `rolled back from v${previous}`
        : `promoted over v${previous}`;
  return `  latest since  ${entry.at.slice(0, 16).replace('T', ' ')} UTC by ${entry.actor}: ${how} (snapshots promote, audit seq ${entry.seq}${typeof reason === 'string' ? `: ${JSON.stringify(reason)}` : ''})`;
}

/** What `snapshots retire` did for a version the log had retired already, its tombstone gone. */
interface RestoredRetirement {
  month: string;
  version: number;
  auditSeq: number;
  retiredAt: string;
  reason: string | null;
  tombstoneRestored: true;
}

/**
 * `snapshots retire` of a version the audit log records as retired whose folder and tombstone are
 * both gone (`audit verify`: "its tombstone is gone … run segflow snapshots retire again"): writes
 * the tombstone again from the retirement's entry. Undefined for any other version (retired as usual).
 */
async function restoreRetirement(
  reference: string,
  options: { reason?: string; actor: string },
): Promise<RestoredRetirement | undefined> {
  const match = /^(\d{4}-\d{2})(?:\/v|@v?)(\d+)$/.exec(reference.trim());
  if (!match) return undefined;
  const config = loadConfig();
  const ref = { month: match[1], version: Number(match[2]) };
  if (!(await retiredWithoutTombstone(config.store, ref).catch(() => undefined))) return undefined;
  required(options.reason, '--reason <text>');
  const signer = config.signingKeyPath ? loadSigner(config.signingKeyPath) : undefined;
  const entry = await restoreTombstone(config.store, ref, options.actor, signer);
  if (!entry) return undefined;
  const reason = (entry.details as { reason?: unknown } | undefined)?.reason;
  return {
    ...ref,
    auditSeq: entry.seq,
    retiredAt: entry.at,
    reason: typeof reason === 'string' ? reason : null,
    tombstoneRestored: true,
  };
}

function restoredText(r: RestoredRetirement): string {
  return `${r.month}/v${r.version} was retired already (audit seq ${r.auditSeq}, ${r.retiredAt.slice(0, 10)}${r.reason === null ? '' : `: ${JSON.stringify(r.reason)}`}); its tombstone v${r.version}.retired.json was gone and is written again from that entry. No new audit entry: a retirement is recorded once, so the reason given now is not recorded`;
}

/**
 * Where else a difference by the same code can come from: the stored work the run took, which
 * the recomputation computed again. The stage cache checks its files against the hashes it
 * stored them with, which catches damage, not someone rewriting both (docs/reliability-audit.md).
 */
export function reusedNote(reused: { stage: string; key: string; producedBy: { workflowId: string } }[]): string {
  const taken = reused.map((a) => `${a.stage} ${a.key.slice(0, 12)} (stored by ${a.producedBy.workflowId})`);
  return `note: the run took stored work from the stage cache, which this recomputation computed again: ${taken.join(', ')}. A stored artifact altered after it was stored gives such differences: 'segflow cache list' shows each artifact's folder; reproduce the snapshot of the run that stored it, and rerun this month with --no-reuse to publish without it.`;
}

/** What `snapshots reproduce` prints of its report. */
export function reproduceText(r: ReproduceReport): string {
  if (r.changes.length)
    return `cannot reproduce: these inputs are not as the snapshot's manifest records them:\n  ${r.changes
      .map((c) => `${c.what} ${c.path}: ${c.change}`)
      .join('\n  ')}`;
  return [
    `${r.ref.month}/v${r.ref.version}: ${r.identical ? 'IDENTICAL' : 'DIFFERENT'} (code then ${r.codeThen}, now ${r.codeNow})`,
    // the code first: a difference by other code is no sign of anything else
    ...(!r.identical && !r.code.same ? [otherCodeLine(r)] : []),
    ...alteredFileLines(r.files),
    ...r.notes.map((note) => `note: ${note}`),
    ...(r.manifestInLog === null
      ? [
          "note: the audit log records no run.published of it with its manifest's sha256 (or cannot be read): its manifest was not checked against the sha256 its run recorded ('segflow audit verify' says why)",
        ]
      : []),
    ...r.inputFolderNow.map(
      (f) => `note: input folder now: ${f.path}: ${f.change} (recomputed from the files the run read)`,
    ),
    ...(r.manifestDifferences.length
      ? [
          `the manifest records otherwise than the recomputation: ${r.manifestDifferences.join(', ')} (${whyRecordsDiffer(r)} 'segflow audit verify' checks the manifest's hash)`,
        ]
      : []),
    // only where the recomputation itself differs (an edited published file or manifest is not the
    // cache's), by the same code, and built on what the run built on (a month before retired since
    // is the cause then, named above)
    ...(r.code.same && !r.monthBeforeGone && r.reused.length && r.files.some((f) => f.actual !== f.expected)
      ? [reusedNote(r.reused)]
      : []),
    table(
      r.files.map((f) => ({
        file: f.file,
        identical: f.identical,
        manifest: f.expected.slice(0, 16),
        recomputed: (f.actual ?? '-').slice(0, 16),
        published: (f.published ?? 'missing').slice(0, 16),
      })),
    ),
  ].join('\n');
}

/**
 * What a published file that no longer matches its manifest means: changed after publishing (the
 * manifest is checked against the audit log first). When the recomputation matches the manifest,
 * the file alone is at fault: restore it.
 */
function alteredFileLines(files: ReproduceReport['files']): string[] {
  const named = (list: ReproduceReport['files']) =>
    list.map((f) => `${f.file}${f.published === null ? ' (gone)' : ''}`).join(', ');
  const altered = files.filter((f) => f.published !== f.expected);
  const recomputedAsRecorded = altered.filter((f) => f.actual === f.expected);
  const both = altered.filter((f) => f.actual !== f.expected);
  const one = (list: unknown[], singular: string, plural: string) => (list.length === 1 ? singular : plural);
  return [
    ...(recomputedAsRecorded.length
      ? [
          `the published ${named(recomputedAsRecorded)} ${one(recomputedAsRecorded, 'was', 'were')} altered after publishing: the recomputation matches the manifest, the published ${one(recomputedAsRecorded, 'file does', 'files do')} not. Restore ${one(recomputedAsRecorded, 'it', 'them')} from a copy of the store ('segflow audit verify' names every file changed).`,
        ]
      : []),
    ...(both.length
      ? [
          `the published ${named(both)} no longer ${one(both, 'matches its', 'match their')} manifest either: altered after publishing ('segflow audit verify' names every file changed).`,
        ]
      : []),
  ];
}

/** Where the manifest's records may differ from the recomputation's, besides an edit. */
function whyRecordsDiffer(r: ReproduceReport): string {
  if (r.previousSnapshotGone) return 'its previous snapshot is gone, see the note above;';
  if (r.monthBeforeGone) return "the month before's snapshot its campaigns read is gone, see the note above;";
  if (!r.code.same)
    return r.code.differs
      ? 'other code published it, see above, or edited since it was published?'
      : 'uncommitted code published or reproduced it, see above, or edited since it was published?';
  const olderCode =
    'published by code its commit does not show (its manifest has no code.stageCode: it predates untracked code files marking a commit -dirty)';
  // checked against the log before anything was recomputed: not an edit
  if (r.manifestInLog) {
    const asPublished = `its manifest is the one audit entry seq ${r.manifestInLog.seq} recorded, not edited since;`;
    return r.code.stageCodeRecorded ? asPublished : `${olderCode}? ${asPublished}`;
  }
  return r.code.stageCodeRecorded
    ? 'edited since it was published?'
    : `edited since it was published, or ${olderCode}?`;
}

/**
 * Why a snapshot published by other code (or by code with uncommitted changes) may recompute
 * otherwise, and how to check it as it was made: a difference is then no sign of tampering by itself.
 */
function otherCodeLine(r: Pick<ReproduceReport, 'codeThen' | 'code' | 'files'>): string {
  const intact = r.files.every((f) => f.published === f.expected);
  const clean = r.codeThen !== 'unknown' && !r.codeThen.endsWith('-dirty');
  return [
    r.code.differs
      ? `the code that published it is not the code reproducing it: ${r.code.why.join('; ')}. A recomputation by other code differs wherever the code changed what it writes.`
      : `the code that published it may not be the code reproducing it: ${r.code.why.join('; ')}. Uncommitted changes are not recorded: a recomputation differs wherever they changed what it writes.`,
    intact
      ? ' Its published files still match their manifest.'
      : ' Some published files no longer match their manifest (the published column).',
    clean
      ? ` To reproduce it as it was made, run this command from a clean checkout of that commit (git checkout ${r.codeThen.slice(0, 12)}) on the same store.`
      : ' It cannot be reproduced as it was made from a commit.',
  ].join('');
}

/** A parameter's value in a diff: left out, its default (k's, the silhouette's choice: the metrics' segments). */
function parameterText(name: string, value: unknown): string {
  if (value === undefined) return name === 'k' ? '(default: chosen by silhouette, see segments)' : '(default)';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * The segments paired across the two snapshots, for a diff of another k (or of ids matched to
 * other months), where the same id names another group: where each of A's went, where each of
 * B's came from.
 */
export function pairingLines(d: SnapshotDiff): string[] {
  const [a, b] = [`${d.a.month}/v${d.a.version}`, `${d.b.month}/v${d.b.version}`];
  const percent = (share: number) => `${Math.round(100 * share)}%`;
  const rows = (pairs: SegmentPairing[], mostly: string, also: string, withReading: boolean) =>
    pairs.map((p) => ({
      segment: p.segment,
      subscribers: p.subscribers,
      [mostly]: `${p.counterpart} (${percent(p.share)})`,
      [also]: p.also || '-',
      ...(withReading ? { reads: p.reads } : {}),
    }));
  return [
    `Where ${a}'s segments went (subscribers in both; kept: each the other's main counterpart, at ${percent(PAIRING_KEPT_SHARE)} or more both ways; also: other segments at ${percent(PAIRING_ALSO_SHARE)} or more of it):`,
    table(rows(d.segmentsWent, `mostly to ${b}`, 'also to', true)),
    '',
    `Where ${b}'s segments came from (also: other segments at ${percent(PAIRING_ALSO_SHARE)} or more of it):`,
    table(rows(d.segmentsCameFrom, `mostly from ${a}`, 'also from', false)),
  ];
}
