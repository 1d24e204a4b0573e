import { hashMatches, type AuditEntry } from './audit-log';
import { canonicalJson } from './hashing';

/**
 * What the audit log says of a published run against the manifest its run.published entry pins
 * (by sha256): who requested it, its parameters and their hash, its month and version, its run,
 * whether it is an experiment. The pin makes the manifest the log's own witness: an entry edited
 * and the whole chain re-hashed keeps a consistent chain, but no longer says what the manifest
 * it pins says (`LOG AND MANIFEST DISAGREE` in `audit verify`).
 */

/** The manifest's fields compared (any may be absent: a manifest of an older segflow, or a test's). */
interface ManifestClaims {
  snapshot?: { month?: string; version?: number; experiment?: boolean };
  run?: { workflowId?: string; runId?: string };
  requestedBy?: string;
  params?: Record<string, unknown>;
  paramsHash?: string;
}

/** Events the workflow writes for its run with the requester as actor (a failed attempt's is the worker's). */
const WORKFLOW_EVENTS = new Set(['run.requested', 'run.started', 'stage.finished', 'stage.reused', 'run.published']);

/** hashMatches, once per entry: each published snapshot's check reads the run's entries again. */
const intact = new WeakMap<AuditEntry, boolean>();
function unedited(entry: AuditEntry): boolean {
  let matches = intact.get(entry);
  if (matches === undefined) intact.set(entry, (matches = hashMatches(entry)));
  return matches;
}

/** A log's entries by run id, and its run.requested entries by workflow id, in log order. */
interface RunEntries {
  byRun: Map<string, AuditEntry[]>;
  requestsByWorkflow: Map<string, AuditEntry[]>;
}

/**
 * The index of a log's entries, built once per log read: each published snapshot looks up its
 * run's entries in it (filtering the whole log per snapshot took 256 s on 100,000 entries).
 */
const indexes = new WeakMap<readonly AuditEntry[], RunEntries>();
function runEntries(entries: readonly AuditEntry[]): RunEntries {
  let index = indexes.get(entries);
  if (index) return index;
  index = { byRun: new Map(), requestsByWorkflow: new Map() };
  const add = (map: Map<string, AuditEntry[]>, key: string, entry: AuditEntry) => {
    const list = map.get(key);
    if (list) list.push(entry);
    else map.set(key, [entry]);
  };
  for (const entry of entries) {
    add(index.byRun, entry.run.runId, entry);
    if (entry.event === 'run.requested') add(index.requestsByWorkflow, entry.run.workflowId, entry);
  }
  indexes.set(entries, index);
  return index;
}

const shown = (value: unknown) => (value === undefined ? 'none' : JSON.stringify(value));
const named = (entry: AuditEntry) =>
  `${entry.event}${entry.subject ? ` ${entry.subject}` : ''} (audit seq ${entry.seq})`;
const same = (a: unknown, b: unknown) => canonicalJson(a ?? null) === canonicalJson(b ?? null);

/**
 * The parameters a run.requested entry records against the manifest's: every one it names must be
 * the manifest's. One it leaves out is not compared: the run's code filled in its default then,
 * and today's default may differ (kmeansSampleSize went from 50,000 to 20,000 to 10,000), so every snapshot
 * published before a default changed would read as disagreeing.
 */
function paramDisagreements(
  requested: Record<string, unknown>,
  manifest: Record<string, unknown>,
  /** The entry, as findings name it. */
  source: string,
): string[] {
  const found: string[] = [];
  for (const name of Object.keys(requested).sort())
    if (!same(requested[name], manifest[name]))
      found.push(`param ${name}: the manifest says ${shown(manifest[name])}, ${source} ${shown(requested[name])}`);
  return found;
}

/**
 * Where the log's entries of the run that published a snapshot disagree with the manifest the
 * snapshot's run.published entry pins, as phrases naming the entry (empty when they agree). Only
 * what both sides record is compared: a manifest or an entry without a field says nothing of it.
 */
export function logManifestDisagreements(
  manifest: ManifestClaims,
  published: AuditEntry,
  entries: readonly AuditEntry[],
): string[] {
  const found: string[] = [];
  // an entry whose content no longer matches its hash is named as edited already: this check is
  // for entries whose chain was made whole again after the edit
  if (!unedited(published)) return found;
  const { runId, workflowId } = published.run;
  const { byRun, requestsByWorkflow } = runEntries(entries);
  const upTo = (list: AuditEntry[] | undefined) =>
    (list ?? []).filter((entry) => entry.seq <= published.seq && unedited(entry));
  const ofRun = upTo(byRun.get(runId));
  // the run's own request, or (a run reset in Temporal writes none) its workflow's latest before it
  const requested =
    ofRun.findLast((e) => e.event === 'run.requested') ?? upTo(requestsByWorkflow.get(workflowId)).at(-1);
  const own = ofRun.filter((e) => WORKFLOW_EVENTS.has(e.event));
  const written = requested && !own.includes(requested) ? [requested, ...own] : own;

  if (manifest.run && (manifest.run.runId !== runId || manifest.run.workflowId !== workflowId))
    found.push(
      `run: the manifest says ${manifest.run.workflowId} (${manifest.run.runId}), ${named(published)} ${workflowId} (${runId})`,
    );
  const month = manifest.snapshot?.month;
  if (month !== undefined)
    for (const entry of written)
      if (entry.month !== month) found.push(`month: the manifest says ${month}, ${named(entry)} ${entry.month}`);
  const requestedBy = manifest.requestedBy;
  if (requestedBy !== undefined)
    for (const entry of written)
      if (entry.actor !== requestedBy)
        found.push(`requested by: the manifest says ${requestedBy}, ${named(entry)} ${entry.actor}`);
  const version = manifest.snapshot?.version;
  for (const entry of written) {
    const details = (entry.details ?? {}) as { version?: unknown; paramsHash?: unknown; experiment?: unknown };
    const publishing =
      entry.event === 'run.published' || (entry.event === 'stage.finished' && entry.subject === 'publish');
    if (version !== undefined && publishing && details.version !== undefined && details.version !== version)
      found.push(`version: the manifest says v${version}, ${named(entry)} v${shown(details.version)}`);
    if (
      manifest.paramsHash !== undefined &&
      typeof details.paramsHash === 'string' &&
      details.paramsHash !== manifest.paramsHash
    )
      found.push(
        `parameters hash: the manifest says ${manifest.paramsHash.slice(0, 12)}…, ${named(entry)} ${details.paramsHash.slice(0, 12)}…`,
      );
    // run.published has said so since experiments exist, run.requested only since later: an
    // older request's silence says nothing
    const saysExperiment =
      entry.event === 'run.published' || (entry.event === 'run.requested' && details.experiment === true);
    if (
      manifest.snapshot &&
      saysExperiment &&
      (details.experiment === true) !== (manifest.snapshot.experiment === true)
    )
      found.push(
        `experiment: the manifest says ${manifest.snapshot.experiment === true ? 'yes' : 'no'}, ${named(entry)} ${details.experiment === true ? 'yes' : 'no'}`,
      );
  }
  if (manifest.params && requested) {
    const params = (requested.details as { params?: unknown } | undefined)?.params;
    if (typeof params !== 'object' || params === null || Array.isArray(params))
      found.push(`parameters: the manifest records them, ${named(requested)} does not`);
    else found.push(...paramDisagreements(params as Record<string, unknown>, manifest.params, named(requested)));
  }
  return found;
}
