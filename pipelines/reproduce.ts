import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainAndScoreChurn } from '../activities/churn';
import { clusterSubscribers } from '../activities/cluster';
import { compareCode, type CodeComparison } from '../activities/code-version';
import { computeFeatures } from '../activities/features';
import { findInputFiles, loadUsage } from '../activities/load';
import { contactLogFile, labelsFile, manifestCode, publishSnapshot } from '../activities/publish';
import { findPreviousSegmentation } from '../activities/segment-history';
import { churnUserInput, featureInput } from '../activities/stage-inputs';
import { canonicalJson, hashFile } from '../store/hashing';
import { versionDir, type RunRef, type StoreConfig } from '../store/layout';
import { UnreadInputFilesError } from '../domain/errors';
import { addMonths } from '../domain/month';
import { CONTACTS_MAPPING_FILE, MAPPING_FILE, type SnapshotManifest } from '../store/manifest';
import {
  checkManifestAgainstLog,
  listVersions,
  readManifest,
  readNamedManifest,
  readPublishedLog,
} from '../store/snapshots';
import type { SnapshotRef } from '../store/layout';

export interface ReproduceReport {
  ref: SnapshotRef;
  /** Inputs whose content no longer matches the manifest: the run cannot be reproduced. */
  changedInputs: string[];
  /** Why each of changedInputs does not match: "missing" or "content changed". */
  changes: {
    path: string;
    change: 'missing' | 'content changed';
    what: string;
  }[];
  /**
   * Files the input folder holds now that the run did not read (added since, or that segflow
   * cannot read), and files the run read that the listing now passes over: the recomputation reads
   * the files the run read, so they leave it unchanged, but a run now would read otherwise.
   */
  inputFolderNow: {
    path: string;
    change: 'added to the input since' | 'a file segflow cannot read' | 'passed over by the input listing now';
  }[];
  /** What the outputs compare against besides the inputs, and how it stands now (a retired previous snapshot). */
  notes: string[];
  /**
   * The run.published entry whose manifest sha256 the manifest was checked against (one edited
   * since is refused before anything is recomputed); null when the log records none, records it
   * without the manifest's sha256 (a segflow before it was recorded), or cannot be read. Absent in
   * a report of a segflow before it was checked.
   */
  manifestInLog?: { seq: number } | null;
  /** The previous snapshot the segment ids were matched to is no longer in the store. */
  previousSnapshotGone: boolean;
  /**
   * A month before's snapshot the run built on is no longer in the store: the one its segment ids
   * were matched to (previousSnapshotGone), or the one its campaigns read (campaignsMonthBefore).
   * The recomputation cannot build on it, so it differs there, whatever the stage cache held.
   */
  monthBeforeGone: boolean;
  /** The commit (with -dirty) of the code reproducing it, and of the code that published it. */
  codeNow: string;
  codeThen: string;
  /** The stage-code hash now, and the published manifest's (null: published before it was recorded). */
  stageCodeNow: string;
  stageCodeThen: string | null;
  /** Whether the code that published it is the code reproducing it, and why not. */
  code: CodeComparison;
  /**
   * Each output file: `expected` the manifest's sha256, `actual` the recomputed file's, `published`
   * the file's in the snapshot folder now (null: missing). Identical when all three agree.
   */
  files: { file: string; expected: string; actual: string | null; published: string | null; identical: boolean }[];
  /** What the manifest records of the run (row counts, quarantine, skipped features, each metric) that the recomputation does not give again. */
  manifestDifferences: string[];
  identical: boolean;
  /**
   * The stored work the run took from the stage cache (the manifest's lineage.reused), which the
   * recomputation computes again: an artifact altered after it was stored shows as a difference.
   */
  reused: { stage: string; key: string; producedBy: RunRef }[];
}

/**
 * Recomputes a snapshot from its manifest (same inputs, same parameters) in a scratch store,
 * outside Temporal, and compares every output file's hash with the manifest's and with the file
 * published in the snapshot folder now, and what the manifest records of the run (row counts,
 * metrics) with what the recomputation records. Always cold:
 * it never reads the stage cache, so a snapshot that reused stored load and feature output is
 * checked against a full recomputation.
 */
export async function reproduceSnapshot(
  store: StoreConfig,
  ref: SnapshotRef,
  /** Told as each step starts (hashing the inputs, each stage, comparing): minutes at 10M subscribers. */
  onStep: (step: ReproduceStep) => void = () => {},
): Promise<ReproduceReport> {
  const manifest = await readNamedManifest(store, ref);
  onStep('checking the inputs');
  // a manifest edited after publishing (parameters, requester) would be recomputed as if published
  // so, and its differences put down to the stage cache: refused, naming the entry it contradicts
  const log = await readPublishedLog(store).catch(() => undefined);
  const recorded = log ? await checkManifestAgainstLog(store, ref, log, 'recomputed') : undefined;
  const changes: ReproduceReport['changes'] = [];
  const hashNow = (path: string) => hashFile(path).catch(() => undefined);
  const changed = (what: string, path: string, present: boolean) =>
    changes.push({ path, what, change: present ? 'content changed' : 'missing' });
  const check = async (what: string, path: string, sha256: string) => {
    if (changes.some((change) => change.path === path)) return; // one file read twice (the list measured, then counted again) is one change
    const now = await hashNow(path);
    if (now?.sha256 !== sha256) changed(what, path, now !== undefined);
  };
  for (const input of manifest.inputs) await check('input file', input.path, input.sha256);
  const inputFolderNow = await inputFolderAgainst(manifest, new Set(changes.map((change) => change.path)));
  const notes: string[] = [];
  /**
   * A file the run read that a schedule or an analyst may write anew at its path (the contact log,
   * the labels file): when it no longer holds what the run read but the snapshot's copy (`file`)
   * does, the copy, read in its place and said so in the notes; else undefined, and a change.
   * The copy is hashed only when the file no longer matches.
   */
  const readOrCopy = async (what: string, path: string, sha256: string, file: string) => {
    const now = await hashNow(path);
    if (now?.sha256 === sha256) return undefined;
    const copy = join(versionDir(store, ref.month, ref.version), file);
    const copied = manifest.outputs.some((output) => output.file === file) ? await hashNow(copy) : undefined;
    if (copied?.sha256 !== sha256) {
      changed(what, path, now !== undefined);
      return undefined;
    }
    notes.push(
      `the ${what} ${path} ${now ? 'changed' : 'is gone'} since the run read it: its copy in the snapshot (${file}) was read`,
    );
    return copy;
  };
  // an analyst edits the mapping as they go: the snapshot's copy is the mapping as the run read it
  const mappingCopy = manifest.mapping
    ? await readOrCopy('mapping file', manifest.mapping.path, manifest.mapping.sha256, MAPPING_FILE)
    : undefined;
  const labels = manifest.labels;
  const labelsCopy = labels
    ? await readOrCopy('labels file', labels.path, labels.sha256, labelsFile(labels.path))
    : undefined;
  const campaigns = manifest.metrics.campaigns;
  let contactLogCopy: string | undefined;
  let contactsMappingCopy: string | undefined;
  if (campaigns?.measured) {
    const log = campaigns.contacts;
    // a schedule writes its log anew each month: the snapshot's copy is the log as the run read it
    contactLogCopy = await readOrCopy('contact log', log.file, log.sha256, contactLogFile(log.file));
    if (log.mapping)
      contactsMappingCopy = await readOrCopy(
        'contact-log mapping',
        log.mapping.file,
        log.mapping.sha256,
        CONTACTS_MAPPING_FILE,
      );
    // the dispatch list it was measured against, from this store (older manifests have no hash)
    const { month, version, sha256 } = campaigns.dispatchFrom;
    if (sha256) await check('dispatch list', join(versionDir(store, month, version), 'dispatch.parquet'), sha256);
  }
  // the list followed up a month later, pinned by the sha256 recorded (absent in older manifests)
  const followUp = manifest.metrics.campaignFollowUp;
  if (followUp?.measured) {
    const { month, version, sha256 } = followUp.dispatchFrom;
    await check('dispatch list followed up', join(versionDir(store, month, version), 'dispatch.parquet'), sha256);
    // the list contacted in the follow-up's month, whose subscribers it counted (absent in older manifests)
    const again = followUp.listedAgain;
    // a manifest of the build that counted it without its sha256 pins nothing
    if (again?.sha256 && again.list)
      await check(
        'dispatch list contacted since',
        join(versionDir(store, again.list.month, again.list.version), 'dispatch.parquet'),
        again.sha256,
      );
    // the month of contact's measurement beside it (own_month_*), pinned since it was recorded
    const first = followUp.firstMeasuredIn;
    if (followUp.ownMonthCampaignsSha256)
      await check(
        'campaign measurement followed up',
        join(versionDir(store, first.month, first.version), 'campaigns.parquet'),
        followUp.ownMonthCampaignsSha256,
      );
  }
  const pinned = manifest.metrics.previousSnapshot;
  const previousSnapshotGone = !!pinned && !(await listVersions(store, pinned.month)).includes(pinned.version);
  if (pinned && previousSnapshotGone)
    notes.push(
      `its previous snapshot ${pinned.month}/v${pinned.version} is no longer in the store (retired or removed): the segment ids, migration and campaign results compared against it cannot be recomputed as published`,
    );
  const campaignsRead = manifest.metrics.campaignsMonthBefore;
  const campaignsReadGone =
    !!campaignsRead && !(await listVersions(store, campaignsRead.month)).includes(campaignsRead.version);
  if (campaignsRead && campaignsReadGone)
    notes.push(
      `the month before's snapshot its campaigns read, ${campaignsRead.month}/v${campaignsRead.version}, is no longer in the store (retired or removed): the campaign results read from it cannot be recomputed as published`,
    );
  const now = manifestCode();
  const report = {
    ref,
    // an entry of a segflow before it recorded the manifest's sha256 checked nothing
    manifestInLog: recorded?.manifestSha256 ? { seq: recorded.seq } : null,
    changedInputs: changes.map((c) => c.path),
    changes,
    inputFolderNow,
    notes,
    previousSnapshotGone,
    monthBeforeGone: previousSnapshotGone || campaignsReadGone,
    codeNow: now.commit,
    codeThen: manifest.code.commit,
    stageCodeNow: now.stageCode,
    stageCodeThen: manifest.code.stageCode ?? null,
    code: compareCode(manifest.code, now),
    reused: (manifest.lineage?.reused ?? []).map(({ stage, key, producedBy }) => ({ stage, key, producedBy })),
  };
  if (changes.length > 0) return { ...report, files: [], manifestDifferences: [], identical: false };

  const scratch = await mkdtemp(join(tmpdir(), 'segflow-reproduce-'));
  try {
    const scratchStore: StoreConfig = { storeDir: join(scratch, 'store'), workDir: join(scratch, 'work') };
    const run = { workflowId: 'reproduce', runId: randomUUID() };
    onStep('load');
    const load = await loadUsage(scratchStore, run, manifest.params, 1, {
      files: manifest.inputs.map((input) => input.path),
      contactLog: contactLogCopy,
      contactsMapping: contactsMappingCopy,
      labels: labelsCopy,
      mapping: mappingCopy,
    });
    // the run-month guard changes no output, and a snapshot from before it (no minRunMonthShare in
    // its parameters) was published without it: recomputed as it was, whatever its month held
    const guard = { ...load.params, minRunMonthShare: load.params.minRunMonthShare ?? 0 };
    onStep('features');
    const features = await computeFeatures(load.dbPath, guard, featureInput(load));
    const skipped = features.skippedFeatures.map((s) => s.feature);
    const pinned = manifest.metrics.previousSnapshot;
    const previous = pinned ? await findPreviousSegmentation(store, ref.month, pinned) : null;
    onStep('cluster');
    const cluster = await clusterSubscribers(load.dbPath, load.params, previous, skipped, load.userFeatures);
    onStep('churn');
    const churn = await trainAndScoreChurn(load.dbPath, load.params, skipped, churnUserInput(load));
    // the report's header names the original snapshot: version, publish time and requester
    const { version, publishedAt } = manifest.snapshot;
    const original = {
      version,
      publishedAt,
      requestedBy: manifest.requestedBy,
      ...(manifest.snapshot.experiment ? { experiment: true } : {}),
    };
    onStep('publish');
    const published = await publishSnapshot(
      scratchStore,
      run,
      { requestedBy: 'reproduce', load, features, cluster, churn },
      store,
      {
        reportAs: original,
        recordedFits: manifest.metrics.campaigns?.measured ? manifest.metrics.campaigns.listFits : undefined,
        contactLogCopy,
        contactsMappingCopy,
        labelsCopy,
        // a manifest without it was published before the follow-up, or had nothing to follow up
        followUp: manifest.metrics.campaignFollowUp !== undefined,
        monthBefore: recordedMonthBefore(manifest),
        reproducing: true,
      },
    );
    onStep('comparing');
    const again = await readManifest(scratchStore, published.month, published.version);
    const folder = versionDir(store, ref.month, ref.version);
    const files = await Promise.all(
      manifest.outputs.map(async (output) => {
        const actual = again.outputs.find((o) => o.file === output.file)?.sha256 ?? null;
        const published = (await hashFile(join(folder, output.file)).catch(() => undefined))?.sha256 ?? null;
        const identical = actual === output.sha256 && published === output.sha256;
        return { file: output.file, expected: output.sha256, actual, published, identical };
      }),
    );
    // code not known to be the same (another commit, unknown, -dirty) may record fields the
    // original's did not: only what the original recorded is compared
    const otherCode = report.codeThen !== report.codeNow || !report.code.same;
    const manifestDifferences = recordDifferences(manifest, again, otherCode);
    return {
      ...report,
      files,
      manifestDifferences,
      identical: files.every((f) => f.identical) && manifestDifferences.length === 0,
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The steps reproduceSnapshot tells as it goes. */
export type ReproduceStep = 'checking the inputs' | 'load' | 'features' | 'cluster' | 'churn' | 'publish' | 'comparing';

/**
 * The month before's snapshot the original's campaigns read, as its manifest records it: the one
 * recorded apart (its segment ids were not matched to it), else the one they were matched to, or
 * none (a manifest from before campaigns read an unmatched month's latest reads as it did then).
 */
function recordedMonthBefore(manifest: SnapshotManifest): SnapshotRef | null {
  return manifest.metrics.campaignsMonthBefore ?? manifest.metrics.previousSnapshot;
}

/**
 * The fields of what a manifest records of its run (and each metric) on which two manifests
 * differ: a published manifest edited since would otherwise pass with its files intact. Across a
 * change of code, only what the published manifest records is compared: a field the newer code
 * adds inside a metric (the campaign measurement's dispatch list hash, say) is no difference.
 */
function recordDifferences(published: SnapshotManifest, again: SnapshotManifest, otherCode: boolean): string[] {
  const differs = (a: unknown, b: unknown) =>
    canonicalJson(a ?? null) !== canonicalJson((otherCode ? recordedPart(a, b) : b) ?? null);
  const fields = (['rowCounts', 'quarantineByReason', 'skippedFeatures'] as const).filter((field) =>
    differs(published[field], again[field]),
  );
  // what the published manifest records: a metric added since is not in an older one. In a
  // manifest without listFits, the campaign measurement's warnings speak of the store as it is
  // (the month's other versions), so they may change after publishing without anything being edited.
  const fitsRecorded = published.metrics.campaigns?.measured && published.metrics.campaigns.listFits !== undefined;
  const withoutWarnings = (metrics: SnapshotManifest['metrics']) => {
    const campaigns =
      metrics.campaigns?.measured && !fitsRecorded
        ? (({ warnings: _warnings, warning: _warning, ...rest }) => rest)(metrics.campaigns)
        : metrics.campaigns;
    return { ...metrics, campaigns };
  };
  const [then, now] = [withoutWarnings(published.metrics), withoutWarnings(again.metrics)];
  const metrics = Object.keys(published.metrics) as (keyof SnapshotManifest['metrics'])[];
  return [...fields, ...metrics.filter((key) => differs(then[key], now[key])).map((key) => `metrics.${key}`)];
}

/** Of `recomputed`, the fields `recorded` has, at every depth (in arrays of the same length, element by element). */
export function recordedPart(recorded: unknown, recomputed: unknown): unknown {
  const isRecord = (value: unknown): value is Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  if (Array.isArray(recorded) && Array.isArray(recomputed) && recorded.length === recomputed.length)
    return recomputed.map((value, i) => recordedPart(recorded[i], value));
  if (!isRecord(recorded) || !isRecord(recomputed)) return recomputed;
  return Object.fromEntries(
    Object.keys(recorded)
      .filter((key) => key in recomputed)
      .map((key) => [key, recordedPart(recorded[key], recomputed[key])]),
  );
}

/** The first month of the snapshot's window, as the load computed it. */
function firstMonth(manifest: { params: { month: string; historyMonths: number } }): string {
  return addMonths(manifest.params.month, -manifest.params.historyMonths);
}

/**
 * The input folder now against the files the run read: a file added since (next month's, in a
 * folder of monthly files) or that segflow cannot read would be read, or stop, a run now, and a
 * file the run read that this code's listing leaves out (a hidden name, since session 35) would be
 * left out; the recomputation reads the run's files, so none of them changes it. `missing`: the
 * run's files that are gone (named as changes already).
 */
export async function inputFolderAgainst(
  manifest: Pick<SnapshotManifest, 'params' | 'inputs'>,
  missing: ReadonlySet<string>,
): Promise<ReproduceReport['inputFolderNow']> {
  const inputFolderNow: ReproduceReport['inputFolderNow'] = [];
  const listing = await findInputFiles(manifest.params.input, firstMonth(manifest), manifest.params.month).catch(
    (error: Error) => {
      if (error instanceof UnreadInputFilesError)
        for (const path of error.files) inputFolderNow.push({ path, change: 'a file segflow cannot read' });
      return null;
    },
  );
  const files = listing?.files ?? [];
  const recorded = new Set(manifest.inputs.map((input) => input.path));
  for (const path of files) if (!recorded.has(path)) inputFolderNow.push({ path, change: 'added to the input since' });
  if (listing)
    for (const path of recorded)
      if (!files.includes(path) && !missing.has(path))
        inputFolderNow.push({ path, change: 'passed over by the input listing now' });
  return inputFolderNow;
}
