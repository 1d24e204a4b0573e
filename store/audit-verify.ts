import { readdir, readFile, readlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import {
  actorText,
  auditEntries,
  chainBreak,
  chainFaults,
  formatHead,
  parseAuditLine,
  type AuditEntry,
  type AuditHead,
  type ChainFault,
} from './audit-log';
import { hashFile } from './hashing';
import { unfinishedLastLine } from './audit-record';
import {
  emptyRunsLog,
  LatestEligibility,
  listMonths,
  listVersions,
  noteRunEntry,
  PUBLISHING_GRACE_MS,
  publishingNow,
  listRetiredVersions,
  manifestEditedSince,
  publishRecords,
  RUN_OWN_EVENTS,
  type PublishRecord,
  FINAL_EVENTS,
  type RunsLog,
} from './snapshots';
import type { SnapshotManifest } from './manifest';
import { auditLogPath, monthDir, snapshotsDir, versionDir, type StoreConfig, type RunRef } from './layout';
import { ARTIFACT_SIGNATURE_FILE, checkFileSignature, keyIdOf, MANIFEST_SIGNATURE_FILE, verifyText } from './signing';
import { storedArtifacts } from './stage-cache';
import { logManifestDisagreements } from './audit-manifest';

export interface AuditProblem {
  /** The file, and line or snapshot, where the problem is. */
  where: string;
  problem: string;
  /** The run a RUN WITHOUT AN END is about: `audit verify` asks Temporal whether it is still running. */
  run?: RunRef;
}

export interface AuditReport {
  ok: boolean;
  entries: number;
  /** The last entry of the log as it is now (what `audit head` prints). */
  head: AuditHead | null;
  /** Whether every entry's hash and link to the one before hold (no line edited, removed, inserted or cut). */
  chainIntact: boolean;
  /** Snapshot folders checked against their manifests. */
  snapshots: number;
  /** `run.published` entries, and how many of those were retired on purpose. */
  published: number;
  retired: number;
  filesChecked: number;
  /** "checked" with --public-key (every entry and manifest), else "not checked". */
  signatures: 'checked' | 'not checked';
  /** The public key's id (as signatures name theirs: store/signing.ts keyIdOf), to compare with the key the auditor holds. */
  keyId: string | null;
  /** Snapshots whose run is still going: in place, its files checked, run.published not yet written. */
  publishing: string[];
  /** Runs with no end in the log yet, said as notes: their last own entry within the grace (checkRunsEnded), or running in Temporal. */
  unended: string[];
  /** The runs behind `unended`'s notes from the log (unendedNote), for `audit verify` to say what Temporal holds of each. */
  unendedRuns?: UnendedRun[];
  /**
   * The entries carrying a signature, whatever the key, and the key ids they name: without
   * --public-key, what an OK did not check (a signed store's forged entry reads OK without it).
   */
  signed?: { entries: number; keyIds: string[] };
  problems: AuditProblem[];
}

/** A run the log saw requested whose end it does not record yet, its last own entry within the grace. */
export interface UnendedRun {
  run: RunRef;
  month: string;
  /** Its last own entry's event (and subject), and when. */
  lastEvent: string;
  lastAt: string;
}

export interface VerifyOptions {
  /** Ed25519 public key: every audit entry and every manifest must carry a signature it verifies. */
  publicKey?: KeyObject;
  /** A head kept outside the store (`audit head`): that entry must still be in the chain, unchanged. */
  expectHead?: AuditHead;
}

/**
 * Checks the audit log's hash chain (and signatures, given the public key) and the store against
 * it, and says exactly what was altered: an edited, removed or re-signed log entry, a truncated
 * tail (against an anchored head), a published snapshot that vanished without being retired, a
 * changed, missing or extra snapshot file, an edited manifest, a snapshot the log never recorded,
 * a latest.json that is missing or points at a missing or retired version.
 */
export async function verifyAudit(store: StoreConfig, options: VerifyOptions = {}): Promise<AuditReport> {
  const { publicKey, expectHead } = options;
  const problems: AuditProblem[] = [];
  const logPath = auditLogPath(store);
  const text = await readFile(logPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    // nothing to verify is not a store that verified: a wrong SEGFLOW_STORE, or a log removed
    problems.push({
      where: logPath,
      problem:
        error.code === 'ENOENT'
          ? 'AUDIT LOG MISSING: there is no audit log here (is SEGFLOW_STORE the store you mean? or was the log removed?)'
          : `the audit log cannot be read: ${error.message}`,
    });
    return undefined;
  });
  // an emptied log is no more verified than a removed one (and reads OK beside a store emptied too)
  if (text !== undefined && text.trim() === '')
    problems.push({
      where: logPath,
      problem:
        'AUDIT LOG EMPTY: the audit log has no entry (is SEGFLOW_STORE the store you mean? a store segflow wrote to has at least its runs)',
    });
  const tally: SignatureTally = { verified: 0, failed: [] };
  const { entries, chainIntact, edited, signed } = checkChain(text ?? '', logPath, publicKey, tally, problems);
  /** A finding derived from entries of which some were edited says so first: it may be the edit's doing. */
  const by = (seqs: (number | undefined)[], problem: string) => byEdited(edited, seqs, problem);
  /** The edited entries of a run (by run id or workflow id): one may have been the entry a finding misses. */
  const editedOf = (run: RunRef | undefined) =>
    run
      ? entries
          .filter((e) => edited.has(e.seq) && (e.run.runId === run.runId || e.run.workflowId === run.workflowId))
          .map((e) => e.seq)
      : [];
  const last = entries.at(-1);
  const head = last ? { seq: last.seq, hash: last.hash } : null;
  if (expectHead) checkAnchoredHead(entries, expectHead, logPath, problems);

  /** Each version's run.published entries, in log order (one, unless the version was rebuilt). */
  const publishedAs = publishRecords(entries);
  const retired = new Map<string, number>();
  /** Versions whose run's publish stage finished (stage.finished), which run.published follows. */
  const publishFinished = new Map<string, { seq: number; runId: string }>();
  for (const entry of entries) {
    const details = (entry.details ?? {}) as { version?: number };
    if (entry.event === 'stage.finished' && entry.subject === 'publish' && details.version !== undefined)
      publishFinished.set(`${entry.month}/v${details.version}`, { seq: entry.seq, runId: entry.run.runId });
    if (entry.event === 'snapshot.retired' && details.version !== undefined)
      retired.set(`${entry.month}/v${details.version}`, entry.seq);
  }
  for (const [ref, records] of publishedAs) {
    const [first] = records;
    const other = records.find((r) => r.runId !== first.runId || r.manifestSha256 !== first.manifestSha256);
    if (other)
      problems.push({
        where: `snapshots/${ref}`,
        problem: by(
          [first.seq, other.seq],
          `PUBLISHED SNAPSHOT REBUILT: published by run ${first.runId} (audit seq ${first.seq}) and again by run ${other.runId} (audit seq ${other.seq}): the first one's folder was removed and its number given again`,
        ),
      });
  }
  // the folder there now answers to the last entry of its version
  const published = new Map([...publishedAs].map(([ref, records]) => [ref, records.at(-1)!]));
  const latestByLog = replayLatest(entries);
  /** Each month's edited entries that name a version: the latest replayed from the log may be theirs. */
  const editedOfMonth = (month: string) =>
    entries
      .filter(
        (e) => edited.has(e.seq) && e.month === month && (e.details as { version?: unknown })?.version !== undefined,
      )
      .map((e) => e.seq);
  // a run moves its snapshot into place, then records run.published: in between, it is publishing
  const runs = emptyRunsLog();
  for (const entry of entries) noteRunEntry(runs, entry);
  // the grace runs from the run's own last entry: a run that stopped writing an hour ago is not publishing now
  const unfinished = (run: RunRef) => publishingNow(run, runs);
  const publishing: string[] = [];
  const unendedRuns = checkRunsEnded(entries, runs, (run, problem) => by(editedOf(run), problem), problems);
  /** What the log's entries of a published run say of it against the manifest its run.published entry pins. */
  const againstLog = (manifest: SnapshotManifest, published: AuditEntry) =>
    logManifestDisagreements(manifest, published, entries);

  let snapshots = 0;
  let filesChecked = 0;
  // the snapshots' folder and each month's are the store's own too (a version's: checkSnapshot)
  await linkProblem(snapshotsDir(store), 'snapshots', 'the published snapshots no longer sit', problems);
  const months = new Set([...(await listMonths(store)), ...entries.map((e) => e.month)]);
  for (const month of [...months].sort()) {
    let present: number[];
    try {
      present = await listVersions(store, month);
    } catch {
      continue; // an entry's month that is not a month cannot name a folder; its hash check covers it
    }
    await linkProblem(
      monthDir(store, month),
      `snapshots/${month}`,
      "the month's published snapshots no longer sit",
      problems,
    );
    const presentSet = new Set(present);
    // 'v01', 'v0': named like a version, read as none, so nothing would check what they hold
    for (const name of (await readdir(monthDir(store, month)).catch(() => [] as string[])).sort()) {
      const like = Number(name.slice(1));
      if (!/^v\d+$/.test(name) || (present.includes(like) && name === `v${like}`)) continue;
      problems.push({
        where: `snapshots/${month}/${name}`,
        problem: `a folder named like ${present.includes(like) ? `v${like} that is not it` : 'a version that is not one'} (versions are v1, v2, …): not published by segflow, and its files are not checked`,
      });
    }
    /** A version of this month the log names whose folder is gone and no retirement explains. */
    const goneHere = (ref: string) => {
      const [refMonth, v] = ref.split('/v');
      return refMonth === month && !presentSet.has(Number(v)) && !retired.has(ref);
    };
    for (const [ref, recorded] of published)
      if (goneHere(ref))
        problems.push({
          where: `snapshots/${ref}`,
          problem: by(
            [recorded.seq],
            `PUBLISHED SNAPSHOT MISSING: published (audit seq ${recorded.seq}, run ${recorded.runId}) but its folder is gone, and no snapshot.retired entry explains it`,
          ),
        });
    // its run.published entry cut off the log's tail with the folder: the publish stage's own entry
    // still says the version was published
    for (const [ref, finished] of publishFinished)
      if (goneHere(ref) && !published.has(ref))
        problems.push({
          where: `snapshots/${ref}`,
          problem: by(
            [finished.seq],
            `PUBLISHED SNAPSHOT MISSING: its run's publish stage finished (audit seq ${finished.seq}, run ${finished.runId}) but its folder is gone, and no run.published entry follows (the log's tail cut?) nor a snapshot.retired entry`,
          ),
        });
    // the tombstone a retirement leaves keeps its number from reuse beside the log
    const tombstones = new Set(await listRetiredVersions(store, month));
    for (const [ref, seq] of retired) {
      const [refMonth, v] = ref.split('/v');
      if (refMonth === month && !tombstones.has(Number(v)))
        problems.push({
          where: `snapshots/${month}/v${v}.retired.json`,
          problem: by(
            [seq],
            `retired (audit seq ${seq}) but its tombstone is gone: a retire cut off before writing it (run segflow snapshots retire again), removed by hand, or the month's folder restored from a copy`,
          ),
        });
    }
    const latestProblems: AuditProblem[] = [];
    await checkLatest(store, month, { present, retired, expected: latestByLog.get(month), published }, latestProblems);
    for (const problem of latestProblems)
      problems.push({ ...problem, problem: by(editedOfMonth(month), problem.problem) });
    for (const version of present) {
      snapshots += 1;
      const ref = `${month}/v${version}`;
      const where = `snapshots/${ref}`;
      const retiredAt = retired.get(ref);
      if (retiredAt !== undefined)
        problems.push({
          where,
          problem: by(
            [retiredAt],
            `retired (audit seq ${retiredAt}) but its folder is still here; run segflow snapshots retire again`,
          ),
        });
      const checked = await checkSnapshot(
        store,
        month,
        version,
        (other) => published.get(other),
        unfinished,
        againstLog,
        publicKey,
        { tally, by, editedOf },
        problems,
      );
      filesChecked += checked.files;
      if (checked.publishing) publishing.push(ref);
    }
  }
  if (entries.length > 0) await checkCache(store, entries, publicKey, tally, problems);
  checkPrunes(entries, problems);
  // a key that verifies nothing the store signed: one question, not a finding per signature
  const wrongKey = publicKey ? signaturesUnderWrongKey(tally, keyIdOf(publicKey)) : undefined;
  if (wrongKey) {
    const flooded = new Set(tally.failed.map((failed) => failed.problem));
    const first = problems.findIndex((problem) => flooded.has(problem));
    problems.splice(first, 0, wrongKey);
    for (let i = problems.length - 1; i >= 0; i--) if (flooded.has(problems[i])) problems.splice(i, 1);
  }
  return {
    ok: problems.length === 0,
    entries: entries.length,
    head,
    chainIntact,
    snapshots,
    published: published.size,
    retired: [...retired.keys()].filter((ref) => published.has(ref)).length,
    filesChecked,
    signatures: publicKey ? 'checked' : 'not checked',
    keyId: publicKey ? keyIdOf(publicKey) : null,
    publishing,
    unended: unendedRuns.map((run) => unendedNote(run)),
    unendedRuns,
    signed,
    problems,
  };
}

/**
 * `problem` said to be derived from edited entries, when any of `seqs` is one (its content no
 * longer matching its hash): what they say may not be what segflow recorded, so the finding may
 * be the edit's doing rather than a fact of the store. The edit itself is its own finding.
 */
function byEdited(edited: ReadonlySet<number>, seqs: (number | undefined)[], problem: string): string {
  const found = [...new Set(seqs.filter((seq): seq is number => seq !== undefined && edited.has(seq)))].sort(
    (a, b) => a - b,
  );
  if (found.length === 0) return problem;
  const which = found.length === 1 ? `entry seq ${found[0]}, which was` : `entries seq ${found.join(', ')}, which were`;
  return `by ${which} edited: ${problem}`;
}

/**
 * Every run the log saw requested ends in it: run.published, run.failed or run.cancelled. A run
 * whose own entries stop without one, longer ago than the publishing grace, had its last entries
 * cut from the log's tail, with whatever it published (a deleted snapshot whose number a later run
 * took again reads OK otherwise), or ended where segflow could not record it (terminated or timed
 * out in Temporal, or stuck there). A later run of the same workflow (a reset, a rerun under the
 * same id) takes its place and is judged itself.
 */
function checkRunsEnded(
  entries: AuditEntry[],
  runs: RunsLog,
  /** A finding about a run said to be derived from its edited entries, if any (its end may have been one). */
  byRun: (run: RunRef, problem: string) => string,
  problems: AuditProblem[],
): UnendedRun[] {
  /** Each workflow's latest run to appear in the log: an earlier run's late entry (a zombie activity's) changes nothing. */
  const current = new Map<string, string>();
  const superseded = new Set<string>();
  /** Each current run's request and last own entry, by run id. */
  const seen = new Map<string, { run: RunRef; month: string; requested?: AuditEntry; last: AuditEntry }>();
  for (const entry of entries) {
    const runId = entry.run?.runId;
    if (!runId || superseded.has(runId) || !(RUN_OWN_EVENTS.has(entry.event) || FINAL_EVENTS.has(entry.event)))
      continue;
    const before = current.get(entry.run.workflowId);
    // a reset run writes no run.requested of its own: the workflow's request stands for it
    let requested = seen.get(runId)?.requested;
    if (before !== undefined && before !== runId) {
      requested = seen.get(before)?.requested;
      superseded.add(before);
      seen.delete(before);
    }
    current.set(entry.run.workflowId, runId);
    // a final event ends the run (runs.finishedRuns), whose own entries are all it may have
    if (!RUN_OWN_EVENTS.has(entry.event)) continue;
    seen.set(runId, {
      run: entry.run,
      month: entry.month,
      requested: requested ?? (entry.event === 'run.requested' ? entry : undefined),
      last: entry,
    });
  }
  const unended: UnendedRun[] = [];
  for (const { run, month, requested, last } of seen.values()) {
    if (!requested || runs.finishedRuns.has(run.runId)) continue;
    const lastEvent = last.subject ? `${last.event} ${last.subject}` : last.event;
    if (publishingNow(run, runs)) {
      unended.push({ run, month, lastEvent, lastAt: last.at });
      continue;
    }
    problems.push({
      where: `audit seq ${last.seq}`,
      problem: byRun(
        run,
        `RUN WITHOUT AN END: run ${run.workflowId} (${run.runId}) of ${month}, requested at ${requested.at} (audit seq ${requested.seq}), last wrote ${lastEvent} at ${last.at} (audit seq ${last.seq}), and no run.published, run.failed or run.cancelled follows: entries after it were cut from the log (with whatever the run published), or it was terminated, timed out or is stuck in Temporal (segflow runs show ${run.workflowId})`,
      ),
      run,
    });
  }
  return unended;
}

/**
 * The note on a run with no end recorded whose last entry is within the grace: by the log alone
 * it may still be going. `status`, Temporal's (when asked), says which: a run Temporal holds as
 * ended is not going, and its end is missing from the log (cut, or written after verify read it).
 */
export function unendedNote({ run, month, lastEvent, lastAt }: UnendedRun, status?: string): string {
  const which = `run ${run.workflowId} (${run.runId}) of ${month}, last wrote ${lastEvent} at ${lastAt}: no end recorded yet (run.published, failed or cancelled)`;
  const after = 'an hour after its last entry, a run without an end is a finding';
  if (status === undefined || status === 'RUNNING')
    return `${which}: ${status === 'RUNNING' ? 'running in Temporal' : 'still going, or its end was cut from the log'}; verify again after it ends (${after})`;
  return status === 'COMPLETED'
    ? `${which}, though Temporal holds it as COMPLETED (a run records its end before it completes): its end was cut from the log, or written after verify read it; verify again (${after})`
    : `${which}, though Temporal holds it as ended (${status}): it ended where segflow could not record it (terminated, timed out), or its end was cut from the log (segflow runs show ${run.workflowId}; ${after})`;
}

/**
 * Every stage-cache artifact names the run that stored it, and every run's first entry
 * (run.requested) is written before its first stage: an artifact of a run the log does not record
 * was stored by a run whose entries are now cut from the log (from its tail, which takes whatever
 * that run published with it where the chain alone cannot tell; or from its head, the rest
 * re-chained and renumbered), or copied in from another store. With the public key, a signed
 * artifact whose signature does not verify is a finding too: a worker with the key computes it
 * again (activities/artifact-store.ts), but someone rewrote it, or another key signed it.
 */
async function checkCache(
  store: StoreConfig,
  entries: AuditEntry[],
  publicKey: KeyObject | undefined,
  tally: SignatureTally,
  problems: AuditProblem[],
): Promise<void> {
  // by workflow id too: a run reset in Temporal goes on under a new run id without a new run.requested
  const recorded = new Set(entries.flatMap((entry) => [entry.run.runId, entry.run.workflowId]));
  const last = entries[entries.length - 1];
  for (const stage of (await readdir(join(store.storeDir, 'cache')).catch(() => [] as string[])).sort()) {
    for (const { key, path, artifact } of await storedArtifacts(store, stage)) {
      if (publicKey) {
        const signed = await checkFileSignature(
          publicKey,
          join(path, 'artifact.json'),
          join(path, ARTIFACT_SIGNATURE_FILE),
        );
        if (signed.status === 'invalid') {
          const problem = {
            where: `cache/${stage}/${key}/${ARTIFACT_SIGNATURE_FILE}`,
            problem: `stored stage output's signature does not verify with the given public key (signed by key ${signed.keyId}, or artifact.json rewritten after signing): workers with the key compute it again; 'segflow cache prune' removes it`,
          };
          problems.push(problem);
          tally.failed.push({ problem, keyId: signed.keyId, kind: 'stored stage outputs' });
        } else if (signed.status === 'valid') tally.verified += 1;
      }
      const run = artifact.producedBy;
      if (!run?.runId || recorded.has(run.runId) || recorded.has(run.workflowId)) continue;
      // stored before the last entry, its run's entries may have been the log's first ones (the
      // rest re-chained and renumbered) as well as a cut tail's
      const after = artifact.createdAt > last.at;
      problems.push({
        where: `cache/${stage}/${key}`,
        problem:
          `STORED BY A RUN THE LOG DOES NOT RECORD: run ${run.workflowId} (${run.runId}) stored it for ${artifact.month} at ${artifact.createdAt}` +
          (after
            ? `, after the log's last entry (seq ${last.seq}, ${last.at}): entries after it were cut, with whatever that run published`
            : `: entries were cut from the log, or the artifact was copied in from another store`),
      });
    }
  }
}

/**
 * A `cache prune` records each artifact it removes with the run that stored it (`cache.pruned`),
 * and every run records run.requested before its first stage: a removed artifact of a run no entry
 * before the prune names had that run's entries cut from the log before the prune, which took the
 * evidence STORED BY A RUN THE LOG DOES NOT RECORD would name (or it was copied in from another
 * store). One finding per run. A prune entry whose details are not a list of artifacts names nothing.
 */
function checkPrunes(entries: AuditEntry[], problems: AuditProblem[]): void {
  const recorded = new Set<string>();
  for (const entry of entries) {
    if (entry.event === 'cache.pruned') {
      const removed = (entry.details as { removed?: unknown } | undefined)?.removed;
      const unrecorded = new Map<
        string,
        { run: RunRef; artifacts: { stage: string; key: string; month: string; createdAt: string }[] }
      >();
      for (const artifact of Array.isArray(removed) ? removed : []) {
        const {
          producedBy: run,
          stage,
          key,
          month,
          createdAt,
        } = (artifact ?? {}) as {
          producedBy?: RunRef;
          stage?: string;
          key?: string;
          month?: string;
          createdAt?: string;
        };
        if (!run?.runId || recorded.has(run.runId) || recorded.has(run.workflowId)) continue;
        const known = unrecorded.get(run.runId) ?? { run, artifacts: [] };
        known.artifacts.push({
          stage: String(stage),
          key: String(key),
          month: String(month),
          createdAt: String(createdAt),
        });
        unrecorded.set(run.runId, known);
      }
      for (const { run, artifacts } of unrecorded.values()) {
        const [first] = artifacts;
        const names = artifacts.map((a) => `cache/${a.stage}/${a.key.slice(0, 12)}…`).join(', ');
        problems.push({
          where: `audit seq ${entry.seq}`,
          problem: `PRUNED ARTIFACTS OF A RUN THE LOG DOES NOT RECORD: cache prune by ${actorText(entry)} at ${entry.at} removed ${names}, stored by run ${run.workflowId} (${run.runId}) for ${first.month} at ${first.createdAt}, and no entry before the prune names that run: its entries were cut from the log before the prune (with whatever it published), or the artifacts were copied in from another store`,
        });
      }
      continue;
    }
    // by workflow id too: a run reset in Temporal goes on under a new run id without a new run.requested
    recorded.add(entry.run.runId);
    recorded.add(entry.run.workflowId);
  }
}

/**
 * What the signatures said under the given public key: how many verified (entries, manifests,
 * stored stage outputs), and the findings of those that did not, with the key each names. A key
 * under which nothing verifies, beside signatures all by one other key, is most likely not the
 * store's public key: one finding says so instead of one per signature (signaturesUnderWrongKey).
 */
interface SignatureTally {
  verified: number;
  failed: { problem: AuditProblem; keyId: string; kind: 'entries' | 'manifests' | 'stored stage outputs' }[];
}

/** The log's entries, and whether their chain holds: no line edited, cut, removed, inserted or reordered (signatures aside). */
function checkChain(
  text: string,
  logPath: string,
  publicKey: KeyObject | undefined,
  tally: SignatureTally,
  problems: AuditProblem[],
): { entries: AuditEntry[]; chainIntact: boolean; edited: Set<number>; signed: { entries: number; keyIds: string[] } } {
  const entries: AuditEntry[] = [];
  let previous: AuditEntry | undefined;
  /** Damaged lines since the last entry: each may have held an entry, or been added. */
  let damaged = 0;
  let chainIntact = true;
  /** Entries whose content no longer matches their hash: what is derived from them is said to be. */
  const edited = new Set<number>();
  /** The first signed entry, and every key id the entries name. */
  let firstSigned: AuditEntry | undefined;
  const keyIds = new Set<string>();
  let signedEntries = 0;
  const broken = (problem: AuditProblem) => {
    chainIntact = false;
    problems.push(problem);
  };
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const where = `${logPath}:${index + 1}`;
    const parsed = parseAuditLine(line);
    if ('problem' in parsed) {
      broken({ where, problem: parsed.problem });
      damaged += 1;
      return;
    }
    const { entry } = parsed;
    for (const fault of chainFaults(entry, previous, damaged)) {
      broken({ where, problem: lineProblem(fault, entry.seq) });
      if (fault.rule === 'content') edited.add(entry.seq);
    }
    const signature = entry.signature as { keyId?: unknown; value?: unknown } | undefined;
    if (signature) {
      signedEntries += 1;
      firstSigned ??= entry;
      if (typeof signature.keyId === 'string') keyIds.add(signature.keyId);
    }
    if (publicKey) {
      if (!signature) problems.push({ where, problem: `entry seq ${entry.seq} (${entryText(entry)}) is not signed` });
      else if (typeof signature.value === 'string' && verifyText(publicKey, entry.hash, signature.value))
        tally.verified += 1;
      else {
        const keyId = typeof signature.keyId === 'string' ? signature.keyId : '?';
        const problem = {
          where,
          problem: `entry seq ${entry.seq} (${entryText(entry)}): signature does not verify with the given public key (signed by key ${keyId}, or rewritten after signing)`,
        };
        problems.push(problem);
        tally.failed.push({ problem, keyId, kind: 'entries' });
      }
    } else if (!signature && firstSigned)
      // the store signs its entries: an unsigned one after them needs no key to be seen
      problems.push({
        where,
        problem: `entry seq ${entry.seq} (${entryText(entry)}) is not signed, though the log's entries are signed from seq ${firstSigned.seq} on (key ${firstSigned.signature?.keyId ?? '?'}): appended or rewritten by someone without the signing key, or written by a command run without SEGFLOW_SIGNING_KEY ('--public-key' checks every signature)`,
      });
    previous = entry;
    damaged = 0;
    entries.push(entry);
  });
  return { entries, chainIntact, edited, signed: { entries: signedEntries, keyIds: [...keyIds].sort() } };
}

/** An entry's event (and subject) and actor, as findings about the entry name them. */
function entryText(entry: AuditEntry): string {
  return `${entry.event}${entry.actor ? ` by ${actorText(entry)}` : ''}`;
}

/**
 * Under a public key that verifies nothing, every signature of the store by one other key (entries,
 * manifests, stored outputs): one finding asking whether it is the right key, instead of one per
 * signature, each stored output's with advice to remove it. Undefined when anything verified, when
 * nothing was signed, or when the signatures name several keys or the given one (rewritten after
 * signing): those findings stand as they are.
 */
function signaturesUnderWrongKey(tally: SignatureTally, keyId: string): AuditProblem | undefined {
  const keys = new Set(tally.failed.map((failed) => failed.keyId));
  if (tally.verified > 0 || keys.size !== 1 || keys.has(keyId) || keys.has('?')) return undefined;
  const [other] = keys;
  const counts = (['entries', 'manifests', 'stored stage outputs'] as const)
    .map((kind) => [kind, tally.failed.filter((failed) => failed.kind === kind).length] as const)
    .filter(([, count]) => count > 0)
    .map(([kind, count]) => `${count} ${count === 1 ? kind.replace(/ies$/, 'y').replace(/s$/, '') : kind}`);
  return {
    where: '--public-key',
    problem: `SIGNED BY ANOTHER KEY: every signature in the store (${counts.join(', ')}) is by key ${other}, and none verifies with the key given, key ${keyId}: is it the right public key? Check again with the public key of ${other} if it is the store's; if the key given is the one the workers sign with, everything was re-signed with another key`,
  };
}

/**
 * What `audit verify` says of a fault of the chain at an entry it names by its line: the entry's
 * number where the link breaks, and how entries are numbered. A damaged line before the entry held
 * one (edited, cut) or none (added), so the entry after it is not named for its number too.
 */
function lineProblem(fault: ChainFault, seq: number): string {
  switch (fault.rule) {
    case 'numbering':
      return `entry seq ${seq} follows ${fault.follows}: entries are numbered 1, 2, 3… (entries removed, or the log renumbered)`;
    case 'link':
      return `chain broken before seq ${seq}: ${fault.problem}`;
    case 'content':
      return fault.problem;
  }
}

function checkAnchoredHead(entries: AuditEntry[], expected: AuditHead, logPath: string, problems: AuditProblem[]) {
  const found = entries.find((entry) => entry.seq === expected.seq);
  const last = entries.at(-1);
  if (!found)
    problems.push({
      where: logPath,
      problem: `ANCHORED HEAD MISSING: entry ${formatHead(expected)} is no longer in the log, which ends at seq ${last?.seq ?? 0} (its tail was truncated)`,
    });
  else if (found.hash !== expected.hash)
    problems.push({
      where: logPath,
      problem: `ANCHORED HEAD CHANGED: entry seq ${expected.seq} has hash ${found.hash.slice(0, 12)}… but ${expected.hash.slice(0, 12)}… was anchored (the log was rewritten at that entry or before it, and re-chained after)`,
    });
}

/**
 * The version each month's latest.json must name, replayed from the log as the store moves it: a
 * run's publish moves it forward unless the run was an experiment, `snapshots promote` sets it
 * (store/snapshots.ts LatestEligibility: what it moves away from is no longer eligible), and
 * retiring the latest moves it back to the newest eligible version left, as the store does.
 */
function replayLatest(entries: AuditEntry[]): Map<string, number | undefined> {
  interface MonthState {
    latest?: number;
    /** Published and not retired, with whether each is an experiment. */
    present: Map<number, boolean>;
    eligibility: LatestEligibility;
  }
  const months = new Map<string, MonthState>();
  for (const entry of entries) {
    const details = (entry.details ?? {}) as { version?: number; experiment?: boolean; previous?: number | null };
    const version = details.version;
    if (version === undefined) continue;
    const state: MonthState = months.get(entry.month) ?? { present: new Map(), eligibility: new LatestEligibility() };
    months.set(entry.month, state);
    if (entry.event === 'run.published') {
      state.present.set(version, details.experiment === true);
      if (details.experiment !== true && (state.latest === undefined || version > state.latest)) state.latest = version;
    } else if (entry.event === 'snapshot.promoted') {
      state.eligibility.promoted(version, details.previous ?? null, (v) => state.present.get(v) === true);
      state.latest = version;
    } else if (entry.event === 'snapshot.retired') {
      state.present.delete(version);
      if (state.latest === version) {
        const eligible = [...state.present].filter(([v, experiment]) => state.eligibility.eligible(v, experiment));
        state.latest = eligible.length ? Math.max(...eligible.map(([v]) => v)) : undefined;
      }
    }
  }
  return new Map([...months].map(([month, state]) => [month, state.latest]));
}

async function checkLatest(
  store: StoreConfig,
  month: string,
  log: {
    present: number[];
    retired: Map<string, number>;
    /** What the log makes the latest (undefined: no version, or only experiments). */
    expected: number | undefined;
    published: Map<string, PublishRecord>;
  },
  problems: AuditProblem[],
): Promise<void> {
  const { present, retired, expected, published } = log;
  const where = `snapshots/${month}/latest.json`;
  const text = await readFile(join(monthDir(store, month), 'latest.json'), 'utf8').catch(() => undefined);
  if (text === undefined) {
    if (expected !== undefined)
      problems.push({
        where,
        problem: `latest.json is missing although by the audit log v${expected} is the month's latest${present.length ? ` (folders present: v${present.join(', v')})` : ' (no version folder is left)'}`,
      });
    return;
  }
  const { version: latest, path } = ((): { version?: number; path?: unknown } => {
    try {
      return JSON.parse(text) as { version?: number; path?: unknown };
    } catch {
      return {};
    }
  })();
  if (latest !== undefined && path !== undefined && path !== `v${latest}`)
    problems.push({ where, problem: `latest.json names version ${latest} but path ${JSON.stringify(path)}` });
  if (latest === undefined) problems.push({ where, problem: 'latest.json is not valid JSON with a version' });
  else if (!present.includes(latest))
    problems.push({
      where,
      problem: retired.has(`${month}/v${latest}`)
        ? `latest.json points to v${latest}, which was retired`
        : `latest.json points to v${latest}, which is missing`,
    });
  else if (latest !== expected) {
    // a run moves latest.json to its snapshot before it records run.published
    const beingPublished = !published.has(`${month}/v${latest}`) && latest > (expected ?? 0);
    if (!beingPublished)
      problems.push({
        where,
        problem: `points to v${latest}, but by the audit log the month's latest is ${expected === undefined ? 'none (only experiments were published)' : `v${expected}`} (an experiment or an older version becomes the latest only through segflow snapshots promote)`,
      });
  }
}

/**
 * Published data lives in the store: a symbolic link at `path` (the snapshots' folder, a month's, a
 * version's, a file) points elsewhere, which can change without the store changing. `what` says
 * what no longer sits in the store.
 */
async function linkProblem(path: string, where: string, what: string, problems: AuditProblem[]): Promise<void> {
  const linked = await readlink(path).catch(() => undefined);
  if (linked !== undefined)
    problems.push({
      where,
      problem: `is a symbolic link to ${linked}: ${what} in the store, and what it points at can change outside it`,
    });
}

/**
 * One snapshot folder against its manifest, the audit log and (given a key) its signature: the
 * files checked, and whether its run is still publishing it (in the log, not finished yet).
 */
async function checkSnapshot(
  store: StoreConfig,
  month: string,
  version: number,
  /** What the log records of a version ("<month>/v<N>"): this one's, or the one its manifest names. */
  recordedOf: (ref: string) => PublishRecord | undefined,
  /** Whether the run a manifest names may be publishing it now, by the log (its end not recorded, its last entry recent). */
  unfinished: (run: RunRef) => boolean,
  /** Where the log's entries of the run that published it disagree with the manifest its run.published entry pins. */
  againstLog: (manifest: SnapshotManifest, published: AuditEntry) => string[],
  publicKey: KeyObject | undefined,
  log: {
    tally: SignatureTally;
    /** A finding derived from the entries `seqs`, said to be when one was edited. */
    by: (seqs: (number | undefined)[], problem: string) => string;
    /** A run's edited entries. */
    editedOf: (run: RunRef | undefined) => number[];
  },
  problems: AuditProblem[],
): Promise<{ files: number; publishing: boolean }> {
  const { tally, by, editedOf } = log;
  const dir = versionDir(store, month, version);
  const where = `snapshots/${month}/v${version}`;
  const read = await readManifestText(dir);
  if ('problem' in read) {
    problems.push({ where, problem: read.problem });
    return { files: 0, publishing: false };
  }
  const { manifest } = read;
  const manifestHash = (await hashFile(join(dir, 'manifest.json'))).sha256;
  await linkProblem(dir, where, 'the published snapshot no longer sits', problems);
  // another snapshot moved into this one's place names itself in its manifest
  const recorded = recordedOf(`${month}/v${version}`);
  const named = manifest.snapshot;
  const another = !!named && (named.month !== month || named.version !== version);
  if (another)
    problems.push({
      where,
      problem: `holds snapshot ${named.month}/v${named.version} (run ${manifest.run?.workflowId ?? '?'}), not v${version}: another snapshot was moved into its place`,
    });
  const publishedAt = Date.parse(manifest.snapshot?.publishedAt ?? '');
  const age = Date.now() - publishedAt;
  // the manifest can only cut the grace short (`unfinished` bounds it by the log's own times): a
  // publish time in the future is no publish in progress, nor one past the grace
  const publishing = !recorded && unfinished(manifest.run) && age >= 0 && age < PUBLISHING_GRACE_MS;
  if (!recorded && !publishing)
    problems.push({ where, problem: by(editedOf(manifest.run), 'not recorded as published in the audit log') });
  // a moved-in snapshot's manifest is checked against what the log records of the snapshot it names
  const recordedManifest = another ? recordedOf(`${named.month}/v${named.version}`) : recorded;
  if (recordedManifest && manifestEditedSince(recordedManifest, manifestHash))
    problems.push({
      where: `${where}/manifest.json`,
      problem: by(
        [recordedManifest.seq],
        another
          ? `manifest.json (of ${named.month}/v${named.version}) was modified after publishing (its hash differs from the audit log's for that snapshot)`
          : 'manifest.json was modified after publishing (its hash differs from the audit log)',
      ),
    });
  // the manifest the log pins is the log's own witness: entries edited and the chain re-hashed
  // after them still contradict it (a modified manifest is the finding above instead)
  if (!another && recorded?.manifestSha256 === manifestHash) {
    const disagreements = againstLog(manifest, recorded.entry);
    if (disagreements.length > 0)
      problems.push({
        where,
        problem: `LOG AND MANIFEST DISAGREE: the audit log's entries of run ${recorded.entry.run.workflowId} (${recorded.runId}) say otherwise than the manifest its run.published entry (audit seq ${recorded.seq}) pins by sha256: ${disagreements.join('; ')}. Entries were edited and the chain re-hashed after them ('--public-key' shows whether segflow signed them), or the manifest was rebuilt with its hash in the log`,
      });
  }
  const signature = await readFile(join(dir, MANIFEST_SIGNATURE_FILE), 'utf8').catch(() => undefined);
  if (publicKey) {
    const [keyId, value] = (signature ?? '').trim().split(' ');
    if (signature === undefined) problems.push({ where, problem: `${MANIFEST_SIGNATURE_FILE} is missing: not signed` });
    else if (!value || !verifyText(publicKey, await readFile(join(dir, 'manifest.json')), value)) {
      const problem = {
        where: `${where}/${MANIFEST_SIGNATURE_FILE}`,
        problem: `manifest signature does not verify with the given public key (signed by key ${keyId || '?'}, or manifest.json rewritten after signing)`,
      };
      problems.push(problem);
      tally.failed.push({ problem, keyId: keyId || '?', kind: 'manifests' });
    } else tally.verified += 1;
  }
  const expected = new Set(['manifest.json', ...manifest.outputs.map((o) => o.file)]);
  if (signature !== undefined) expected.add(MANIFEST_SIGNATURE_FILE);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!expected.has(entry.name))
      problems.push({ where: `${where}/${entry.name}`, problem: 'file not listed in the manifest was added' });
    else if (entry.isSymbolicLink())
      await linkProblem(join(dir, entry.name), `${where}/${entry.name}`, 'the published file no longer sits', problems);
  }
  for (const output of manifest.outputs) {
    const actual = await hashFile(join(dir, output.file)).catch(() => undefined);
    if (!actual) problems.push({ where: `${where}/${output.file}`, problem: 'file listed in the manifest is missing' });
    else if (actual.sha256 !== output.sha256) {
      problems.push({
        where: `${where}/${output.file}`,
        problem: `content changed: sha256 ${actual.sha256.slice(0, 12)}… but the manifest says ${output.sha256.slice(0, 12)}…`,
      });
    }
  }
  return { files: manifest.outputs.length, publishing };
}

/**
 * A snapshot folder's manifest.json, or what is wrong with it in the words `audit verify` gives:
 * missing, unreadable, not JSON, or JSON that is no manifest (no list of outputs to check).
 */
async function readManifestText(dir: string): Promise<{ manifest: SnapshotManifest } | { problem: string }> {
  let text: string;
  try {
    text = await readFile(join(dir, 'manifest.json'), 'utf8');
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    return {
      problem:
        code === 'ENOENT'
          ? 'manifest.json is missing: the folder cannot be checked against what was published'
          : `manifest.json cannot be read (${message})`,
    };
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    return {
      problem: `manifest.json is not valid JSON (${(error as Error).message}): edited or cut after publishing`,
    };
  }
  const outputs = (manifest as { outputs?: unknown } | null)?.outputs;
  if (typeof manifest !== 'object' || manifest === null || !Array.isArray(outputs))
    return { problem: 'manifest.json is valid JSON but no manifest (it lists no outputs): edited after publishing' };
  return { manifest: manifest as SnapshotManifest };
}

/** What `audit head` prints, or why it prints none (exit 1), and a note for stderr. */
export type HeadToAnchor = { head: AuditHead; note?: string } | { refused: string };

/**
 * The head to anchor outside the store (`segflow audit head`), from a log whose chain holds: an
 * anchor taken from a log already edited, cut or renumbered would vouch for entries segflow may
 * not have written, so a broken chain (an entry's content not matching its hash, the last one's
 * too) is refused, naming where, as a missing or empty log is. A last line without its newline
 * is an append in progress for a moment: the log is read again for up to `settleMs`; still torn,
 * it was cut (or edited) and is refused, unless it holds a whole entry chained to the one before,
 * which the writer and `audit verify` take as the last entry (it lost only its newline).
 */
export async function headToAnchor(store: StoreConfig, settleMs = 1_000): Promise<HeadToAnchor> {
  const path = auditLogPath(store);
  const read = () =>
    readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
  const torn = (text: string) =>
    text !== '' && !text.endsWith('\n') && text.slice(text.lastIndexOf('\n') + 1).trim() !== '';
  let text = await read();
  for (let waited = 0; text !== undefined && torn(text) && waited < settleMs; waited += 100) {
    await sleep(100);
    text = await read();
  }
  if (text === undefined)
    return {
      refused: `there is no audit log at ${path}: no head to anchor (is SEGFLOW_STORE the store you mean? or was the log removed?)`,
    };
  const entries = auditEntries(text, path);
  let note: string | undefined;
  const line = text.split('\n').length;
  // the writer's rule (audit-record.ts): a last line without its newline counts only as a whole entry chained on
  const cut = unfinishedLastLine(text, entries.at(-1));
  if (cut !== undefined)
    return {
      refused: `the audit log ${path} ends in an unfinished line ${line} after entry seq ${entries.at(-1)?.seq ?? 0} (${JSON.stringify(cut.slice(0, 60))}${cut.length > 60 ? '…' : ''}), still without its newline after ${settleMs / 1000} s: not an append in progress but a write cut off (a crash mid-append) or an edit. No head is printed from it ('segflow audit verify' names it): restore the log from a copy, or remove that partial line if it holds no entry`,
    };
  if (torn(text)) {
    const parsed = parseAuditLine(text.slice(text.lastIndexOf('\n') + 1));
    if ('entry' in parsed) {
      entries.push(parsed.entry);
      note = `note: the audit log's last entry (seq ${parsed.entry.seq}, line ${line}) has no newline after it: its write was cut just before its end; it chains to the entry before it, so it is the head (the next append adds the newline)`;
    }
  }
  const last = entries.at(-1);
  if (!last)
    return {
      refused: `the audit log ${path} is empty: no entry to anchor (is SEGFLOW_STORE the store you mean? a store segflow wrote to has at least its runs)`,
    };
  const broken = chainBreak(entries);
  if (broken) {
    const lastEdited = broken.seq !== last.seq && chainFaults(last, undefined).some((f) => f.rule === 'content');
    return {
      refused: `the audit log's chain is broken at seq ${broken.seq} (${broken.problem})${lastEdited ? `, and its last entry, seq ${last.seq}, was edited too` : ''}: no head is printed from it, since an anchor would vouch for entries segflow may not have written ('segflow audit verify' names every finding)`,
    };
  }
  return { head: { seq: last.seq, hash: last.hash }, ...(note ? { note } : {}) };
}
