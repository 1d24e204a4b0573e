import { readFile } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { queryRows, withConnection } from '../activities/duckdb';
import type { StoreConfig } from '../store/layout';
import { MAPPING_FILE, type SnapshotManifest } from '../store/manifest';
import { checkedFiles, checkManifestAgainstLog, readNamedManifest, readPublishedLog } from '../store/snapshots';
import type { SnapshotRef } from '../store/layout';
import { sha256 } from '../store/hashing';
import { OUTSIDE_WINDOW } from '../activities/load-sql';
import { PAIRING_ALSO_SHARE, pairingReading, type SegmentPairing } from '../domain/segment-pairing';

export interface SnapshotDiff {
  a: SnapshotRef;
  b: SnapshotRef;
  params: { name: string; a: unknown; b: unknown }[];
  metrics: { name: string; a: number; b: number; change: number }[];
  /** Subscribers by (segment in A, segment in B); "(absent)" for subscribers in only one. */
  migration: { from: string; to: string; subscribers: number }[];
  /** Each segment of A paired with the segment of B most of its subscribers went to (of those in both). */
  segmentsWent: SegmentPairing[];
  /** Each segment of B paired with the segment of A most of its subscribers came from (of those in both). */
  segmentsCameFrom: SegmentPairing[];
  /** Of the subscribers in both snapshots (one who joined or left has no band to change). */
  riskBandChanges: { from: string; to: string; subscribers: number }[];
  riskBandChangedTotal: number;
  subscribersInBoth: number;
  subscribersOnlyInA: number;
  subscribersOnlyInB: number;
  /** Up to 20 subscribers whose risk band changed, for a first look. */
  riskBandExamples: { subscriber_id: string; from: string; to: string; score_a: number; score_b: number }[];
  /** How to read the metrics' changes when the two snapshots measured them differently. */
  notes: string[];
}

/** The published files a diff reads of each snapshot, in this order. */
const DIFF_READS = ['subscribers.parquet', 'dispatch.parquet'];

/** The keys of either object whose values differ (as JSON), sorted. */
function changedKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .sort()
    .filter((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key]));
}

/** Input files named in the diff at most; the rest are counted. */
const INPUT_FILES_SHOWN = 10;

/** The input files behind a changed content hash: each one changed, only in A, or only in B. */
function inputFileChanges(ma: SnapshotManifest, mb: SnapshotManifest): SnapshotDiff['params'] {
  const [fa, fb] = [ma, mb].map((m) => Object.fromEntries(m.inputs.map((input) => [input.path, input.sha256])));
  const changed = changedKeys(fa, fb);
  const hash = (sha: string | undefined) => (sha === undefined ? '(none)' : `sha256 ${sha.slice(0, 12)}`);
  const shown = changed
    .slice(0, INPUT_FILES_SHOWN)
    .map((path) => ({ name: `input ${path}`, a: hash(fa[path]), b: hash(fb[path]) }));
  const more = changed.length - shown.length;
  return more > 0 ? [...shown, { name: `input files (${more} more changed)`, a: '', b: '' }] : shown;
}

/** What changed between two snapshots: parameters, metrics, segment migration, risk bands. */
export async function diffSnapshots(store: StoreConfig, a: SnapshotRef, b: SnapshotRef): Promise<SnapshotDiff> {
  const [ma, mb] = await Promise.all([readNamedManifest(store, a), readNamedManifest(store, b)]);
  // what is read is what was published: each manifest as its run.published entry recorded it (a
  // log that cannot be read checks nothing here: 'audit verify' says why), each file as its
  // manifest records it (a file changed in place or copied from another snapshot read as this
  // one's, and a damaged one failed inside DuckDB)
  let logUnread: string | undefined;
  const log = await readPublishedLog(store).catch((error: Error) => {
    logUnread = `the audit log cannot be read (${error.message.split('\n')[0]}), so neither manifest was checked against the sha256 its run.published entry recorded ('segflow audit verify')`;
    return undefined;
  });
  if (log) for (const ref of [a, b]) await checkManifestAgainstLog(store, ref, log);
  // one after the other: a refusal names a's file before b's, whichever hashes faster
  const [subscribersA, dispatchA] = await checkedFiles(store, a, ma, DIFF_READS);
  const [subscribersB, dispatchB] = await checkedFiles(store, b, mb, DIFF_READS);
  const names = [...new Set([...Object.keys(ma.params), ...Object.keys(mb.params)])].sort();
  const params = names
    .map((name) => ({
      name,
      a: (ma.params as Record<string, unknown>)[name],
      b: (mb.params as Record<string, unknown>)[name],
    }))
    .filter((p) => JSON.stringify(p.a) !== JSON.stringify(p.b));
  // the files behind the same parameters: a mapping or an input edited in place changes no parameter
  const contents = (m: SnapshotManifest) => ({
    'input files (content)': `${m.inputs.length} ${m.inputs.length === 1 ? 'file' : 'files'}, ${sha256(m.inputs.map((input) => input.sha256).join('\n')).slice(0, 12)}`,
    // a snapshot published before the mapping's hash was recorded: not known, not "none"
    'mapping file (content)': m.mapping
      ? `sha256 ${m.mapping.sha256.slice(0, 12)}`
      : m.params.mapping
        ? '(not recorded)'
        : '(none)',
    'labels file (content)': m.labels ? `sha256 ${m.labels.sha256.slice(0, 12)}` : '(none)',
    // the contact log and its mapping, as the measurement read them (a log rewritten in place, a
    // mapping's word added, change no parameter but the measurement)
    'contact log (content)': contactsContent(m, (contacts) => contacts),
    'contact-log mapping (content)': contactsContent(m, (contacts) => contacts.mapping),
  });
  const [ca, cb] = [contents(ma), contents(mb)];
  for (const name of Object.keys(ca) as (keyof typeof ca)[])
    if (ca[name] !== cb[name]) params.push({ name, a: ca[name], b: cb[name] });
  params.push(...inputFileChanges(ma, mb));
  params.push(...(await mappingChanges(store, { ref: a, manifest: ma }, { ref: b, manifest: mb })));
  // segment ids carry over from the snapshot each was matched to: other ones, other meanings
  const matchedTo = (m: SnapshotManifest) => {
    const previous = m.metrics.previousSnapshot;
    return previous ? `${previous.month}/v${previous.version}` : '(none: ids new)';
  };
  if (matchedTo(ma) !== matchedTo(mb))
    params.push({ name: 'segment ids matched to', a: matchedTo(ma), b: matchedTo(mb) });
  // other code may publish other results from the same parameters and inputs
  const commit = (m: SnapshotManifest) => (m.code as SnapshotManifest['code'] | undefined)?.commit;
  // shortened, keeping "-dirty" (uncommitted changes): the same commit with and without differs
  const short = (full: string) => full.slice(0, 12) + (full.endsWith('-dirty') ? '-dirty' : '');
  const [codeA, codeB] = [commit(ma), commit(mb)];
  // every code file's content (absent in older manifests): commits apart may hold the same code
  // (a commit of docs alone), and one commit, dirty, other code
  const source = (m: SnapshotManifest) => (m.code as SnapshotManifest['code'] | undefined)?.source;
  const [sourceA, sourceB] = [source(ma), source(mb)];
  const sameFiles = !!sourceA && sourceA === sourceB;
  if (codeA && codeB && codeA !== codeB)
    params.push({
      name: sameFiles ? 'code (commit; the same code files)' : 'code (commit)',
      a: short(codeA),
      b: short(codeB),
    });
  // one clean commit on both sides is the same code, as reproduce takes it (activities/code-version.ts compareCode)
  const sameCleanCommit = !!codeA && codeA === codeB && codeA !== 'unknown' && !codeA.endsWith('-dirty');
  if (sourceA && sourceB && !sameFiles && !sameCleanCommit)
    params.push({ name: 'code (files)', a: sourceA.slice(0, 12), b: sourceB.slice(0, 12) });
  // the columns the churn models read: a changed mapping or input may add or drop one unasked
  const used = (m: SnapshotManifest) =>
    (m.metrics.churnFeatures as SnapshotManifest['metrics']['churnFeatures'] | undefined)?.map((f) => f.name);
  const [fa, fb] = [used(ma), used(mb)];
  if (fa && fb) {
    const only = (these: string[], those: string[]) => these.filter((name) => !those.includes(name));
    const [onlyA, onlyB] = [only(fa, fb), only(fb, fa)];
    if (onlyA.length + onlyB.length > 0)
      params.push({
        name: 'churn features (only in one)',
        a: `${onlyA.join(', ') || '-'} (${fa.length} in all)`,
        b: `${onlyB.join(', ') || '-'} (${fb.length} in all)`,
      });
  }
  const metric = (m: SnapshotManifest) => ({
    subscribers: m.rowCounts.subscribers,
    // rows that broke the contract, as the run and its report count them (not months outside the window)
    rowsQuarantined: m.rowCounts.quarantined - (m.quarantineByReason[OUTSIDE_WINDOW] ?? 0),
    segments: m.metrics.segments.length,
    kmeansInertia: m.metrics.kmeans.inertia,
    churnRocAuc: m.metrics.churnHoldout.rocAuc,
    // what the AUC was measured on: a few churners move it widely (domain/holdout-auc.ts)
    churnHoldoutChurners: m.metrics.churnHoldout.positives,
    // older manifests have no churnModels
    treeRocAuc:
      (m.metrics.churnModels as SnapshotManifest['metrics']['churnModels'] | undefined)?.tree.holdout.rocAuc ?? NaN,
    churnPrAuc: m.metrics.churnHoldout.prAuc,
    churnTopDecileLift: m.metrics.churnHoldout.liftByDecile[0],
    highRiskSubscribers: m.metrics.riskBandCounts.high ?? 0,
  });
  return withConnection(':memory:', async (conn) => {
    // the labels a parameter sets without touching a model (high-value threshold, value shares)
    const labelled = (file: string) =>
      queryRows<{ highValue: number; vip: number }>(
        conn,
        `SELECT count(*) FILTER (WHERE high_value) AS "highValue", count(*) FILTER (WHERE list_contains(tags, 'VIP')) AS vip
         FROM read_parquet($file)`,
        { file },
      ).then(([row]) => ({ highValueSubscribers: row.highValue, vipSubscribers: row.vip }));
    // the dispatch list a parameter sizes (controlShare, dispatchMaxPriority): whom to contact, whom to hold out
    const dispatched = (file: string) =>
      queryRows<{ toContact: number; heldOut: number }>(
        conn,
        `SELECT count(*) FILTER (WHERE NOT control) AS "toContact", count(*) FILTER (WHERE control) AS "heldOut"
         FROM read_parquet($file)`,
        { file },
      ).then(
        ([row]) => ({ dispatchToContact: row.toContact, dispatchHeldOut: row.heldOut }),
        // a snapshot from before dispatch lists had a control group: not known; other errors stand
        (error: Error) => {
          if (!/"control"/.test(error.message)) throw error;
          return { dispatchToContact: NaN, dispatchHeldOut: NaN };
        },
      );
    const measured = async (m: SnapshotManifest, subscribers: string, dispatch: string) => ({
      ...metric(m),
      ...(await labelled(subscribers)),
      ...(await dispatched(dispatch)),
    });
    const [xa, xb] = [await measured(ma, subscribersA, dispatchA), await measured(mb, subscribersB, dispatchB)];
    const metrics = Object.keys(xa).map((name) => {
      const key = name as keyof typeof xa;
      return { name, a: xa[key], b: xb[key], change: xb[key] - xa[key] };
    });
    await conn.run(
      `CREATE TEMP TABLE pairs AS
       SELECT coalesce(a.subscriber_id, b.subscriber_id) AS subscriber_id,
              coalesce(a.segment_id || ' ' || a.segment_name, '(absent)') AS seg_a,
              coalesce(b.segment_id || ' ' || b.segment_name, '(absent)') AS seg_b,
              a.segment_id AS id_a, b.segment_id AS id_b,
              coalesce(a.risk_band, '(absent)') AS band_a, coalesce(b.risk_band, '(absent)') AS band_b,
              a.churn_score AS score_a, b.churn_score AS score_b
       FROM read_parquet($file_a) a FULL OUTER JOIN read_parquet($file_b) b USING (subscriber_id)`,
      { file_a: subscribersA, file_b: subscribersB },
    );
    const migration = await queryRows<{ from: string; to: string; subscribers: number }>(
      conn,
      // by segment id as a number (11 after 3), the subscribers in one snapshot only last
      `SELECT seg_a AS "from", seg_b AS "to", count(*) AS subscribers FROM pairs
       GROUP BY ALL ORDER BY any_value(id_a) NULLS LAST, any_value(id_b) NULLS LAST, 1, 2`,
    );
    // subscribers in both snapshots only: one who joined or left has no band to change
    const riskBandChanges = await queryRows<{ from: string; to: string; subscribers: number }>(
      conn,
      `SELECT band_a AS "from", band_b AS "to", count(*) AS subscribers FROM pairs
       WHERE band_a <> band_b AND band_a <> '(absent)' AND band_b <> '(absent)' GROUP BY ALL ORDER BY 3 DESC, 1, 2`,
    );
    const [segmentsWent, segmentsCameFrom] = [
      await segmentPairing(conn, 'a', 'b'),
      await segmentPairing(conn, 'b', 'a'),
    ];
    const [inBoth] = await queryRows<{ both: number; onlyA: number; onlyB: number }>(
      conn,
      `SELECT count(*) FILTER (WHERE band_a <> '(absent)' AND band_b <> '(absent)') AS both,
              count(*) FILTER (WHERE band_b = '(absent)') AS "onlyA", count(*) FILTER (WHERE band_a = '(absent)') AS "onlyB"
       FROM pairs`,
    );
    const riskBandExamples = await queryRows<SnapshotDiff['riskBandExamples'][number]>(
      conn,
      `SELECT subscriber_id, band_a AS "from", band_b AS "to", score_a, score_b FROM pairs
       WHERE band_a <> band_b AND band_a <> '(absent)' AND band_b <> '(absent)' ORDER BY subscriber_id LIMIT 20`,
    );
    return {
      a,
      b,
      params,
      metrics,
      migration,
      segmentsWent,
      segmentsCameFrom,
      riskBandChanges,
      riskBandChangedTotal: riskBandChanges.reduce((sum, row) => sum + row.subscribers, 0),
      subscribersInBoth: inBoth.both,
      subscribersOnlyInA: inBoth.onlyA,
      subscribersOnlyInB: inBoth.onlyB,
      riskBandExamples,
      notes: [
        ...(inBoth.both === 0 && inBoth.onlyA > 0 && inBoth.onlyB > 0
          ? [
              `the two snapshots share no subscriber (${inBoth.onlyA} only in ${a.month}/v${a.version}, ${inBoth.onlyB} only in ${b.month}/v${b.version}): they were computed from inputs of different subscribers, so the migration, the segments' pairing and the risk bands below compare nothing`,
            ]
          : []),
        ...metricNotes(ma, mb),
        ...(logUnread ? [logUnread] : []),
      ],
    };
  });
}

/**
 * Pairs each segment of one side (`from`) with the other side's segment holding most of its
 * subscribers, among subscribers in both (table `pairs`), in segment id order; ties go to the
 * lower id, so the pairing is the same every time.
 */
async function segmentPairing(conn: DuckDBConnection, from: 'a' | 'b', to: 'a' | 'b'): Promise<SegmentPairing[]> {
  const rows = await queryRows<Omit<SegmentPairing, 'reads'> & { exactShare: number; back: number }>(
    conn,
    `WITH cells AS (
       SELECT seg_${from} AS segment, any_value(id_${from}) AS id, seg_${to} AS counterpart, any_value(id_${to}) AS counterpart_id,
              count(*) AS n
       FROM pairs WHERE id_a IS NOT NULL AND id_b IS NOT NULL GROUP BY ALL
     ), shares AS (
       SELECT *, n / sum(n) OVER (PARTITION BY segment) AS share, n / sum(n) OVER (PARTITION BY counterpart) AS back,
              row_number() OVER (PARTITION BY segment ORDER BY n DESC, counterpart_id) AS place
       FROM cells
     )
     SELECT segment, sum(n)::INTEGER AS subscribers,
            any_value(counterpart) FILTER (WHERE place = 1) AS counterpart,
            round(any_value(share) FILTER (WHERE place = 1), 3) AS share,
            any_value(share) FILTER (WHERE place = 1) AS "exactShare",
            any_value(back) FILTER (WHERE place = 1) AS back,
            coalesce(string_agg(counterpart || ' (' || round(100 * share)::INTEGER || '%)', ', ' ORDER BY n DESC, counterpart_id)
                       FILTER (WHERE place > 1 AND share >= $also), '') AS also
     FROM shares GROUP BY segment ORDER BY any_value(id)`,
    { also: PAIRING_ALSO_SHARE },
  );
  const side = from === 'a' ? 'went' : 'came';
  return rows.map(({ back, exactShare, ...row }) => ({ ...row, reads: pairingReading(exactShare, back, side) }));
}

type MeasuredContacts = Extract<NonNullable<SnapshotManifest['metrics']['campaigns']>, { measured: true }>['contacts'];

/** A file the campaign measurement read, as a diff row names it: its sha256, or why there is none. */
function contactsContent(
  m: SnapshotManifest,
  fileOf: (contacts: MeasuredContacts) => { sha256: string } | undefined,
): string {
  const campaigns = m.metrics.campaigns as SnapshotManifest['metrics']['campaigns'] | undefined;
  if (campaigns?.measured) {
    const file = fileOf(campaigns.contacts);
    return file ? `sha256 ${file.sha256.slice(0, 12)}` : '(none)';
  }
  return m.params.contacts ? '(not measured)' : '(none)';
}

/**
 * What changed in the mapping between two snapshots that keep a copy of theirs (mapping.json,
 * published since session 34), field by field and, in columns, values and features, entry by
 * entry: `mapping columns.spend`. Nothing when either has no copy (the hash row says it changed).
 */
async function mappingChanges(
  store: StoreConfig,
  a: { ref: SnapshotRef; manifest: SnapshotManifest },
  b: { ref: SnapshotRef; manifest: SnapshotManifest },
): Promise<SnapshotDiff['params']> {
  // a copy its manifest lists, checked against it as the other files are
  const read = async ({ ref, manifest }: { ref: SnapshotRef; manifest: SnapshotManifest }) => {
    if (!manifest.outputs.some((output) => output.file === MAPPING_FILE)) return undefined;
    const [path] = await checkedFiles(store, ref, manifest, [MAPPING_FILE]);
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  };
  const [ma, mb] = [await read(a), await read(b)];
  if (!ma || !mb) return [];
  const text = (value: unknown) => (value === undefined ? '(none)' : JSON.stringify(value));
  const changes: SnapshotDiff['params'] = [];
  for (const field of changedKeys(ma, mb)) {
    const [va, vb] = [ma[field], mb[field]];
    const entries = (value: unknown) =>
      value !== null && typeof value === 'object' && !Array.isArray(value)
        ? (value as Record<string, unknown>)
        : undefined;
    const [ea, eb] = [entries(va), entries(vb)];
    if (!ea || !eb) {
      changes.push({ name: `mapping ${field}`, a: text(va), b: text(vb) });
      continue;
    }
    for (const key of changedKeys(ea, eb))
      changes.push({ name: `mapping ${field}.${key}`, a: text(ea[key]), b: text(eb[key]) });
  }
  return changes;
}

/** Where two snapshots' metrics are not measured alike, so a change in them says little. */
function metricNotes(ma: SnapshotManifest, mb: SnapshotManifest): string[] {
  const notes: string[] = [];
  const [pa, pb] = [ma.params as Record<string, unknown>, mb.params as Record<string, unknown>];
  const split = ['seed', 'holdoutShare'].filter((name) => JSON.stringify(pa[name]) !== JSON.stringify(pb[name]));
  if (split.length || ma.params.month !== mb.params.month)
    notes.push(
      `the churn metrics (rocAuc, prAuc, lift) were measured on different held-out subscribers (${split.length ? `${split.join(' and ')} ${split.length === 1 ? 'differs' : 'differ'}` : 'other months'}): a change of a few hundredths may be the holdout's, not the model's`,
    );
  const [ka, kb] = [ma.metrics.kmeans.k, mb.metrics.kmeans.k];
  if (ka !== undefined && kb !== undefined && ka !== kb)
    notes.push(`kmeansInertia falls as k grows (${ka} and ${kb} here): not a measure of better segments`);
  return notes;
}
