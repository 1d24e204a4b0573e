import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainAndScoreChurn } from '../../activities/churn';
import { clusterSubscribers } from '../../activities/cluster';
import { combineFeatures, computeFeatures, computePartitionFeatures } from '../../activities/features';
import { loadUsage, planLoad } from '../../activities/load';
import { labelsFile, publishSnapshot, type PublishResult } from '../../activities/publish';
import { churnUserInput, featureInput } from '../../activities/stage-inputs';
import { reproduceSnapshot } from '../../pipelines/reproduce';
import { sha256 } from '../../store/hashing';
import type { StoreConfig } from '../../store/layout';
import { readManifest } from '../../store/snapshots';
import { writeTelcoCsv, type TelcoCustomer } from '../fixtures/telco-customers';
import { storeIn, tempDir } from '../helpers';

/**
 * The labels file (`--param labels=<file>`) kept in the snapshot as the run read it, as the
 * contact log is: an analyst or a schedule that writes the file anew at its path no longer makes
 * the month irreproducible; `snapshots reproduce` reads the copy and says so. A snapshot of
 * pseudonymised ids holds no copy (the file names raw ids).
 */
describe('a labels file kept in the snapshot', () => {
  let dir: string;
  let input: string;
  let customers: TelcoCustomer[];
  const mapping = (extra: Record<string, unknown> = {}) => ({
    format: 'snapshot',
    columns: { subscriber_id: 'customerID', spend: 'MonthlyCharges', tenure_months: 'tenure' },
    features: { Contract: 'categorical', Status: 'categorical', 'CustServ Calls': 'numeric' },
    ...extra,
  });
  /** The labels file's text: each customer's flag, and a note column the labels do not use. */
  const labelsText = (churned: (c: TelcoCustomer) => boolean) =>
    [
      'customerID,Churn,Remarque',
      ...customers.map((c, i) => `${c.id},${churned(c) ? 'Yes' : 'No'},${i % 7 === 0 ? 'déjà appelé' : ''}`),
    ].join('\n') + '\n';

  beforeAll(async () => {
    dir = await tempDir();
    input = join(dir, 'customers.csv');
    customers = await writeTelcoCsv(input, { customers: 2_000, seed: 15, withIds: true });
  });

  /**
   * load -> features -> cluster -> churn -> publish, as the workflow runs them; `afterLoad` runs
   * between the load and the stages after it.
   */
  async function publishRun(
    store: StoreConfig,
    params: Record<string, unknown>,
    { partitions = 1, afterLoad }: { partitions?: number; afterLoad?: () => Promise<void> } = {},
  ): Promise<PublishResult> {
    const run = { workflowId: 'labels-copy', runId: 'r1' };
    const load = await loadUsage(store, run, { month: '2026-05', input, ...params }, partitions);
    expect(load.partitionDbPaths).toHaveLength(partitions);
    await afterLoad?.();
    const given = featureInput(load);
    const features =
      partitions === 1
        ? await computeFeatures(load.dbPath, load.params, given)
        : await combineFeatures(
            load.dbPath,
            load.partitionDbPaths,
            load.params,
            given,
            await Promise.all(load.partitionDbPaths.map((path) => computePartitionFeatures(path, load.params, given))),
          );
    const skipped = features.skippedFeatures.map((s) => s.feature);
    const cluster = await clusterSubscribers(load.dbPath, load.params, null, skipped, load.userFeatures);
    const churn = await trainAndScoreChurn(load.dbPath, load.params, skipped, churnUserInput(load));
    return publishSnapshot(store, run, { requestedBy: 'test', load, features, cluster, churn });
  }

  /** A folder with the mapping and labels file of one case; the labels written as `encoding`. */
  async function caseFiles(name: string, encoding: BufferEncoding, mappingExtra: Record<string, unknown> = {}) {
    const labels = join(dir, name, 'labels-2026-05.csv');
    const bytes = Buffer.from(
      labelsText((c) => c.churn),
      encoding,
    );
    const mappingPath = join(dir, name, 'mapping.json');
    await mkdir(join(dir, name));
    await writeFile(labels, bytes);
    await writeFile(mappingPath, JSON.stringify(mapping(mappingExtra)));
    return { labels, bytes, mapping: mappingPath, store: storeIn(join(dir, name)) };
  }

  it('names the copy as the file is read: .csv or .tsv, else Parquet', () => {
    expect(labelsFile('/data/labels-2026-05.csv')).toBe('labels.csv');
    expect(labelsFile('/data/Labels.TSV')).toBe('labels.tsv');
    expect(labelsFile('/data/labels.pq')).toBe('labels.parquet');
    expect(labelsFile('/data/labels.parquet')).toBe('labels.parquet');
  });

  it('keeps the file as read; reproduce reads the copy once the path holds another file, or none', async () => {
    const { labels, bytes, mapping, store } = await caseFiles('plain', 'utf8');
    const published = await publishRun(store, { mapping, labels });
    const manifest = await readManifest(store, '2026-05', published.version);
    expect(manifest.labels).toMatchObject({ path: labels, sha256: sha256(bytes) });
    expect(await readFile(join(published.path, 'labels.csv'))).toEqual(bytes);
    expect(manifest.outputs.find((output) => output.file === 'labels.csv')?.sha256).toBe(sha256(bytes));

    const ref = { month: '2026-05', version: published.version };
    const reproduced = async (state: 'changed' | 'is gone') => {
      const report = await reproduceSnapshot(store, ref);
      expect(report.changes).toEqual([]);
      expect(report.notes).toEqual([
        `the labels file ${labels} ${state} since the run read it: its copy in the snapshot (labels.csv) was read`,
      ]);
      expect(report.files.filter((f) => !f.identical).map((f) => f.file)).toEqual([]);
      expect(report.manifestDifferences).toEqual([]);
      expect(report.identical).toBe(true);
    };
    // next month's labels written at the same path (everyone a stayer: the run would not even train)
    await writeFile(
      labels,
      labelsText(() => false),
    );
    await reproduced('changed');
    await rm(labels);
    await reproduced('is gone');
    // the file as the run read it again: read where it is, no note
    await writeFile(labels, bytes);
    const report = await reproduceSnapshot(store, ref);
    expect(report.notes).toEqual([]);
    expect(report.identical).toBe(true);
  }, 300_000);

  it("publishes the file as the load read it when the path holds next month's labels by then (and the mapping another's)", async () => {
    // two partitions: each reads the labels from the run's copy, as publishing does
    for (const [name, encoding, extra] of [
      ['rewritten', 'utf8', {}],
      ['rewritten-encoded', 'latin1', { encoding: 'windows-1252' }],
    ] as const) {
      const { labels, bytes, mapping, store } = await caseFiles(name, encoding, extra);
      const next = Buffer.from(
        labelsText(() => false),
        encoding,
      );
      // the mapping edited during the run too: published and reproduced as the run read it
      const mappingRead = await readFile(mapping);
      const edited = JSON.stringify({ ...JSON.parse(mappingRead.toString('utf8')), features: 'auto' });
      const published = await publishRun(
        store,
        { mapping, labels },
        { partitions: 2, afterLoad: () => Promise.all([writeFile(labels, next), writeFile(mapping, edited)]).then() },
      );
      const manifest = await readManifest(store, '2026-05', published.version);
      expect(manifest.labels).toMatchObject({ path: labels, sha256: sha256(bytes) });
      expect(await readFile(join(published.path, 'labels.csv'))).toEqual(bytes);
      expect(manifest.outputs.find((output) => output.file === 'labels.csv')?.sha256).toBe(manifest.labels?.sha256);
      expect(await readFile(labels)).toEqual(next);
      expect(manifest.mapping?.sha256).toBe(sha256(mappingRead));
      expect(await readFile(join(published.path, 'mapping.json'))).toEqual(mappingRead);
      // and the month reproduces from those copies
      const report = await reproduceSnapshot(store, { month: '2026-05', version: published.version });
      expect(report.notes).toEqual([
        `the mapping file ${mapping} changed since the run read it: its copy in the snapshot (mapping.json) was read`,
        `the labels file ${labels} changed since the run read it: its copy in the snapshot (labels.csv) was read`,
      ]);
      expect(report.files.filter((f) => !f.identical).map((f) => f.file)).toEqual([]);
      expect(report.identical).toBe(true);
    }
  }, 300_000);

  it('a retried plan copies the file again, and one rewritten between the attempts is another copy', async () => {
    const { labels, bytes, mapping, store } = await caseFiles('retried', 'utf8');
    const run = { workflowId: 'labels-copy', runId: 'retried' };
    const params = { month: '2026-05', input, mapping, labels };
    const first = await planLoad(store, run, params);
    const again = await planLoad(store, run, params);
    expect(again.labels?.sha256).toBe(sha256(bytes));
    const copy = again.readPaths?.[labels] as string;
    expect(copy).toBe(first.readPaths?.[labels]);
    expect(dirname(copy)).toBe(dirname(again.dbPath));
    expect(await readFile(copy)).toEqual(bytes);
    // next month's labels before a third attempt: its plan reads and records them, the first copy stays
    const next = Buffer.from(labelsText(() => true));
    await writeFile(labels, next);
    const third = await planLoad(store, run, params);
    expect(third.labels?.sha256).toBe(sha256(next));
    expect(await readFile(third.readPaths?.[labels] as string)).toEqual(next);
    expect(await readFile(copy)).toEqual(bytes);
  }, 300_000);

  it("reads the copy through a UTF-8 copy when the mapping names the file's encoding", async () => {
    // windows-1252 bytes (é): the load reads the labels file, and so the snapshot's copy, converted
    const { labels, bytes, mapping, store } = await caseFiles('encoded', 'latin1', { encoding: 'windows-1252' });
    expect(bytes.includes(Buffer.from('déjà', 'utf8'))).toBe(false);
    const published = await publishRun(store, { mapping, labels });
    expect(await readFile(join(published.path, 'labels.csv'))).toEqual(bytes);
    await writeFile(
      labels,
      labelsText(() => true),
    );
    const report = await reproduceSnapshot(store, { month: '2026-05', version: published.version });
    expect(report.changes).toEqual([]);
    expect(report.notes).toEqual([
      `the labels file ${labels} changed since the run read it: its copy in the snapshot (labels.csv) was read`,
    ]);
    expect(report.files.filter((f) => !f.identical).map((f) => f.file)).toEqual([]);
    expect(report.identical).toBe(true);
  }, 300_000);

  it('is not kept in a snapshot of pseudonymised ids: one rewritten since is a change, as before', async () => {
    const { labels, mapping, store } = await caseFiles('pseudonymised', 'utf8');
    const saved = process.env.SEGFLOW_PSEUDONYM_KEY;
    process.env.SEGFLOW_PSEUDONYM_KEY = 'a-test-key-of-enough-length';
    try {
      const published = await publishRun(store, { mapping, labels, pseudonymiseIds: true });
      const manifest = await readManifest(store, '2026-05', published.version);
      expect(manifest.outputs.map((output) => output.file)).not.toContain('labels.csv');
      await expect(readFile(join(published.path, 'labels.csv'))).rejects.toMatchObject({ code: 'ENOENT' });
      await writeFile(
        labels,
        labelsText(() => false),
      );
      const report = await reproduceSnapshot(store, { month: '2026-05', version: published.version });
      expect(report.changes).toEqual([{ path: labels, what: 'labels file', change: 'content changed' }]);
      expect(report.notes).toEqual([]);
      expect(report.identical).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.SEGFLOW_PSEUDONYM_KEY;
      else process.env.SEGFLOW_PSEUDONYM_KEY = saved;
    }
  }, 300_000);
});
