import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { setVariable, withConnection } from '../../activities/duckdb';
import { OUTSIDE_WINDOW } from '../../activities/load-sql';
import { diffSnapshots } from '../../pipelines/diff';
import { versionDir, type StoreConfig } from '../../store/layout';
import { hashFile } from '../../store/hashing';
import { storeIn, tempDir } from '../helpers';
import { printedResult } from '../printed-result';
import { pairingLines } from '../../cli/commands/snapshots';

const MONTH = '2026-10';
const holdout = (rocAuc: number) => ({ rocAuc, prAuc: 0.4, liftByDecile: [3.5], positives: 12 });

/**
 * A manifest holding only what `snapshots diff` reads. `older` is as an older segflow wrote it: a
 * mapping parameter without the mapping's hash, and no churnModels.
 */
function manifest(older: boolean, churnFeatures?: string[], inputs?: { path: string; sha256: string }[]) {
  return {
    params: { month: MONTH, input: '/data/usage', mapping: '/data/mapping.json' },
    inputs: inputs ?? [{ path: '/data/usage/part_0.parquet', sha256: 'a'.repeat(64) }],
    ...(older ? {} : { mapping: { path: '/data/mapping.json', sha256: 'b'.repeat(64) } }),
    rowCounts: { subscribers: 3, quarantined: 13_927 },
    quarantineByReason: { [OUTSIDE_WINDOW]: 13_919, 'voice_minutes: negative': 8 },
    metrics: {
      segments: [{}, {}],
      kmeans: { inertia: 12.5 },
      churnHoldout: holdout(0.81),
      ...(older ? {} : { churnModels: { tree: { holdout: holdout(0.75) }, boosted: null } }),
      riskBandCounts: { high: 1 },
      ...(churnFeatures ? { churnFeatures: churnFeatures.map((name) => ({ name })) } : {}),
    },
  };
}

async function writeSnapshot(
  store: StoreConfig,
  version: number,
  older: boolean,
  churnFeatures?: string[],
  inputs?: { path: string; sha256: string }[],
) {
  const dir = versionDir(store, MONTH, version);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest(older, churnFeatures, inputs)));
  await withConnection(':memory:', async (conn) => {
    await setVariable(conn, 'file', join(dir, 'subscribers.parquet'));
    await conn.run(
      `COPY (SELECT 'S' || i AS subscriber_id, 1 AS segment_id, 'low value' AS segment_name, 'low' AS risk_band,
                    0.1 AS churn_score, false AS high_value, []::VARCHAR[] AS tags
             FROM range(3) t(i))
       TO (getvariable('file')) (FORMAT parquet)`,
    );
    // the dispatch list: the first subscriber held out, version + 1 on the list
    await setVariable(conn, 'file', join(dir, 'dispatch.parquet'));
    await conn.run(
      `COPY (SELECT 'S' || i AS subscriber_id, i = 0 AS control FROM range(${version + 1}) t(i))
       TO (getvariable('file')) (FORMAT parquet)`,
    );
  });
  await seal(store, version);
}

/**
 * Lists the snapshot's files in its manifest with their sha256, as publishing does: `snapshots
 * diff` reads only files that match what their manifest records. Run again after a file is rewritten.
 */
async function seal(store: StoreConfig, version: number) {
  const dir = versionDir(store, MONTH, version);
  const path = join(dir, 'manifest.json');
  const recorded = JSON.parse(await readFile(path, 'utf8'));
  const files = (await readdir(dir)).filter((file) => file !== 'manifest.json').sort();
  const outputs = [];
  for (const file of files) {
    const { sha256, bytes } = await hashFile(join(dir, file));
    outputs.push({ file, sha256, bytes });
  }
  await writeFile(path, JSON.stringify({ ...recorded, outputs }));
}

/** `snapshots diff` and the run's result against what older versions of segflow recorded. */
describe('older snapshots and results', () => {
  let store: StoreConfig;

  beforeAll(async () => {
    store = storeIn(await tempDir());
    await writeSnapshot(store, 1, true);
    await writeSnapshot(store, 2, false);
  });

  it('diff: names the churn features one snapshot used and the other did not', async () => {
    await writeSnapshot(store, 3, false, ['arpu', 'mou', '终端品牌', '欠费金额']);
    await writeSnapshot(store, 4, false, ['arpu', 'mou', '是否5G终端']);
    const diff = await diffSnapshots(store, { month: MONTH, version: 3 }, { month: MONTH, version: 4 });
    expect(diff.params).toEqual([
      { name: 'churn features (only in one)', a: '终端品牌, 欠费金额 (4 in all)', b: '是否5G终端 (3 in all)' },
    ]);
    // an older manifest without the list: nothing to compare, no row
    const older = await diffSnapshots(store, { month: MONTH, version: 2 }, { month: MONTH, version: 4 });
    expect(older.params.map((p) => p.name)).not.toContain('churn features (only in one)');
  });

  it('diff: says when two snapshots share no subscriber, which makes their migration compare nothing', async () => {
    await writeSnapshot(store, 14, false);
    await withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'file', join(versionDir(store, MONTH, 14), 'subscribers.parquet'));
      await conn.run(
        `COPY (SELECT 'T' || i AS subscriber_id, 1 AS segment_id, 'low value' AS segment_name, 'low' AS risk_band,
                      0.1 AS churn_score, false AS high_value, []::VARCHAR[] AS tags FROM range(4) t(i))
         TO (getvariable('file')) (FORMAT parquet)`,
      );
    });
    await seal(store, 14);
    const diff = await diffSnapshots(store, { month: MONTH, version: 2 }, { month: MONTH, version: 14 });
    expect(diff.notes).toContain(
      `the two snapshots share no subscriber (3 only in ${MONTH}/v2, 4 only in ${MONTH}/v14): they were computed from inputs of different subscribers, so the migration, the segments' pairing and the risk bands below compare nothing`,
    );
    const other = await diffSnapshots(store, { month: MONTH, version: 1 }, { month: MONTH, version: 2 });
    expect(other.notes.some((note) => note.includes('share no subscriber'))).toBe(false);
  });

  it('diff: names the code when two snapshots were published by different commits', async () => {
    const withCode = async (version: number, commit: string) => {
      await writeSnapshot(store, version, false);
      const path = join(versionDir(store, MONTH, version), 'manifest.json');
      const recorded = JSON.parse(await readFile(path, 'utf8'));
      await writeFile(path, JSON.stringify({ ...recorded, code: { segflow: '0.1.0', commit } }));
    };
    await withCode(9, '06a9268'.padEnd(40, '0'));
    await withCode(10, '9a19f20'.padEnd(40, '0'));
    await withCode(11, '9a19f20'.padEnd(40, '0'));
    const diff = await diffSnapshots(store, { month: MONTH, version: 9 }, { month: MONTH, version: 10 });
    expect(diff.params).toEqual([{ name: 'code (commit)', a: '06a926800000', b: '9a19f2000000' }]);
    expect((await diffSnapshots(store, { month: MONTH, version: 10 }, { month: MONTH, version: 11 })).params).toEqual(
      [],
    );
  });

  it('diff: names the code files when they differ, and says when two commits hold the same files', async () => {
    const withCode = async (version: number, commit: string, source: string) => {
      await writeSnapshot(store, version, false);
      const path = join(versionDir(store, MONTH, version), 'manifest.json');
      const recorded = JSON.parse(await readFile(path, 'utf8'));
      await writeFile(path, JSON.stringify({ ...recorded, code: { segflow: '0.1.0', commit, source } }));
    };
    const dirty = `${'9a19f20'.padEnd(40, '0')}-dirty`;
    await withCode(21, dirty, '1'.repeat(64));
    await withCode(22, dirty, '2'.repeat(64));
    await withCode(23, '06a9268'.padEnd(40, '0'), '2'.repeat(64));
    const diff = (a: number, b: number) =>
      diffSnapshots(store, { month: MONTH, version: a }, { month: MONTH, version: b });
    expect((await diff(21, 22)).params).toEqual([{ name: 'code (files)', a: '111111111111', b: '222222222222' }]);
    expect((await diff(22, 23)).params).toEqual([
      { name: 'code (commit; the same code files)', a: '9a19f2000000-dirty', b: '06a926800000' },
    ]);
    // one clean commit on both sides is the same code, as reproduce takes it, whatever the hashes
    await withCode(24, '06a9268'.padEnd(40, '0'), '3'.repeat(64));
    expect((await diff(23, 24)).params).toEqual([]);
  });

  it('diff: names a contact log or its mapping rewritten in place, which change no parameter', async () => {
    const withContacts = async (version: number, log: string, mapping?: string) => {
      await writeSnapshot(store, version, false);
      const path = join(versionDir(store, MONTH, version), 'manifest.json');
      const recorded = JSON.parse(await readFile(path, 'utf8'));
      const contacts = {
        file: '/data/contacts.csv',
        sha256: log,
        ...(mapping ? { mapping: { file: '/data/contacts-mapping.json', sha256: mapping } } : {}),
      };
      await writeFile(
        path,
        JSON.stringify({
          ...recorded,
          params: { ...recorded.params, contacts: '/data/contacts.csv' },
          metrics: { ...recorded.metrics, campaigns: { measured: true, contacts } },
        }),
      );
    };
    await withContacts(31, '1'.repeat(64), '3'.repeat(64));
    await withContacts(32, '1'.repeat(64), '4'.repeat(64));
    await withContacts(33, '2'.repeat(64));
    const diff = (a: number, b: number) =>
      diffSnapshots(store, { month: MONTH, version: a }, { month: MONTH, version: b });
    expect((await diff(31, 32)).params).toEqual([
      { name: 'contact-log mapping (content)', a: 'sha256 333333333333', b: 'sha256 444444444444' },
    ]);
    expect((await diff(32, 33)).params).toEqual([
      { name: 'contact log (content)', a: 'sha256 111111111111', b: 'sha256 222222222222' },
      { name: 'contact-log mapping (content)', a: 'sha256 444444444444', b: '(none)' },
    ]);
  });

  it('diff: names the snapshots the ids were matched to, counts band changes among subscribers in both, orders segments by id', async () => {
    const edit = async (version: number, previousSnapshot: object, subscribers?: string) => {
      await writeSnapshot(store, version, false);
      const folder = versionDir(store, MONTH, version);
      const path = join(folder, 'manifest.json');
      const recorded = JSON.parse(await readFile(path, 'utf8'));
      recorded.metrics.previousSnapshot = previousSnapshot;
      await writeFile(path, JSON.stringify(recorded));
      if (subscribers)
        await withConnection(':memory:', async (conn) => {
          await setVariable(conn, 'file', join(folder, 'subscribers.parquet'));
          await conn.run(`COPY (${subscribers}) TO (getvariable('file')) (FORMAT parquet)`);
        });
      await seal(store, version);
    };
    await edit(12, { month: '2026-09', version: 1 });
    // S0 left, S3 joined, S1's band rose; S1 and S2 in segments 11 and 3
    await edit(
      13,
      { month: '2026-09', version: 2 },
      `SELECT * FROM (VALUES ('S1', 11, 'eleven', 'high'), ('S2', 3, 'three', 'low'), ('S3', 3, 'three', 'low'))
         t(subscriber_id, segment_id, segment_name, risk_band),
       LATERAL (SELECT 0.1 AS churn_score, false AS high_value, []::VARCHAR[] AS tags)`,
    );
    const diff = await diffSnapshots(store, { month: MONTH, version: 12 }, { month: MONTH, version: 13 });
    expect(diff.params).toEqual([{ name: 'segment ids matched to', a: '2026-09/v1', b: '2026-09/v2' }]);
    expect(diff.riskBandChanges).toEqual([{ from: 'low', to: 'high', subscribers: 1 }]);
    expect([
      diff.riskBandChangedTotal,
      diff.subscribersInBoth,
      diff.subscribersOnlyInA,
      diff.subscribersOnlyInB,
    ]).toEqual([1, 2, 1, 1]);
    expect(diff.migration.map((m) => m.to)).toEqual(['3 three', '11 eleven', '(absent)', '3 three']);
    expect(diff.notes).toEqual([]);
    // another seed and k: the metrics are not measured alike, and the diff says so
    const path = join(versionDir(store, MONTH, 13), 'manifest.json');
    const recorded = JSON.parse(await readFile(path, 'utf8'));
    const pathA = join(versionDir(store, MONTH, 12), 'manifest.json');
    const recordedA = JSON.parse(await readFile(pathA, 'utf8'));
    await writeFile(
      pathA,
      JSON.stringify({ ...recordedA, metrics: { ...recordedA.metrics, kmeans: { inertia: 12, k: 4 } } }),
    );
    await writeFile(
      path,
      JSON.stringify({
        ...recorded,
        params: { ...recorded.params, seed: 7 },
        metrics: { ...recorded.metrics, kmeans: { inertia: 9, k: 5 } },
      }),
    );
    const notes = (await diffSnapshots(store, { month: MONTH, version: 12 }, { month: MONTH, version: 13 })).notes;
    expect(notes).toEqual([
      expect.stringMatching(
        /^the churn metrics \(rocAuc, prAuc, lift\) were measured on different held-out subscribers \(seed differs\)/,
      ),
      expect.stringMatching(/^kmeansInertia falls as k grows \(4 and 5 here\)/),
    ]);
  });

  it('diff: names the input files that changed, were added or went', async () => {
    const file = (month: string, sha: string) => ({
      path: `/data/usage/month=${month}/data_0.parquet`,
      sha256: sha.repeat(64),
    });
    await writeSnapshot(store, 7, false, undefined, [file('2026-05', 'a'), file('2026-06', 'b'), file('2026-07', 'c')]);
    await writeSnapshot(store, 8, false, undefined, [file('2026-06', 'd'), file('2026-07', 'c'), file('2026-08', 'e')]);
    const diff = await diffSnapshots(store, { month: MONTH, version: 7 }, { month: MONTH, version: 8 });
    expect(diff.params.filter((p) => p.name.startsWith('input '))).toEqual([
      { name: 'input files (content)', a: expect.stringMatching(/^3 files, /), b: expect.stringMatching(/^3 files, /) },
      { name: 'input /data/usage/month=2026-05/data_0.parquet', a: `sha256 ${'a'.repeat(12)}`, b: '(none)' },
      {
        name: 'input /data/usage/month=2026-06/data_0.parquet',
        a: `sha256 ${'b'.repeat(12)}`,
        b: `sha256 ${'d'.repeat(12)}`,
      },
      { name: 'input /data/usage/month=2026-08/data_0.parquet', a: '(none)', b: `sha256 ${'e'.repeat(12)}` },
    ]);
  });

  it('diff: names what changed in the mapping, entry by entry, when both snapshots keep a copy', async () => {
    const copy = (version: number, mapping: object) =>
      writeFile(join(versionDir(store, MONTH, version), 'mapping.json'), JSON.stringify(mapping));
    await writeSnapshot(store, 5, false);
    await writeSnapshot(store, 6, false);
    await copy(5, { columns: { spend: 'ARPU', month: '账期' }, monthFormat: '%Y%m', features: 'auto' });
    await copy(6, { columns: { spend: '出账收入', month: '账期' }, features: { '*': 'auto', 营业厅编码: 'skip' } });
    for (const version of [5, 6]) await seal(store, version);
    const diff = await diffSnapshots(store, { month: MONTH, version: 5 }, { month: MONTH, version: 6 });
    expect(diff.params).toEqual([
      { name: 'mapping columns.spend', a: '"ARPU"', b: '"出账收入"' },
      { name: 'mapping features', a: '"auto"', b: '{"*":"auto","营业厅编码":"skip"}' },
      { name: 'mapping monthFormat', a: '"%Y%m"', b: '(none)' },
    ]);
  });

  it("diff: a mapping the older manifest did not record is '(not recorded)', its tree AUC NaN, not a crash", async () => {
    const diff = await diffSnapshots(store, { month: MONTH, version: 1 }, { month: MONTH, version: 2 });
    expect(diff.params).toEqual([
      { name: 'mapping file (content)', a: '(not recorded)', b: `sha256 ${'b'.repeat(12)}` },
    ]);
    const metric = (name: string) => diff.metrics.find((m) => m.name === name);
    expect(metric('treeRocAuc')).toMatchObject({ a: NaN, b: 0.75 });
    expect(metric('churnRocAuc')).toMatchObject({ a: 0.81, b: 0.81, change: 0 });
    // beside it, the churners it was measured on
    expect(metric('churnHoldoutChurners')).toMatchObject({ a: 12, b: 12, change: 0 });
    // the rows that broke the contract, not those of months outside the window
    expect(metric('rowsQuarantined')).toMatchObject({ a: 8, b: 8, change: 0 });
    // the dispatch list's size, which controlShare and dispatchMaxPriority change without a model
    expect(metric('dispatchToContact')).toMatchObject({ a: 1, b: 2, change: 1 });
    expect(metric('dispatchHeldOut')).toMatchObject({ a: 1, b: 1, change: 0 });
  });

  it('diff: two older manifests read alike: nothing to report but the same values', async () => {
    const diff = await diffSnapshots(store, { month: MONTH, version: 1 }, { month: MONTH, version: 1 });
    expect(diff.params).toEqual([]);
    expect(diff.metrics.find((m) => m.name === 'treeRocAuc')).toMatchObject({ a: NaN, b: NaN });
  });

  it('diff: pairs the segments of two snapshots of different k by where their subscribers went', async () => {
    const withSegments = async (version: number, k: number, segments: string) => {
      await writeSnapshot(store, version, false);
      const folder = versionDir(store, MONTH, version);
      const path = join(folder, 'manifest.json');
      const recorded = JSON.parse(await readFile(path, 'utf8'));
      await writeFile(
        path,
        JSON.stringify({ ...recorded, metrics: { ...recorded.metrics, kmeans: { inertia: 1, k } } }),
      );
      await withConnection(':memory:', async (conn) => {
        await setVariable(conn, 'file', join(folder, 'subscribers.parquet'));
        await conn.run(
          `COPY (SELECT 'S' || i AS subscriber_id, s.segment_id, s.segment_name, 'low' AS risk_band, 0.1 AS churn_score,
                        false AS high_value, []::VARCHAR[] AS tags
                 FROM range(23) t(i) JOIN (${segments}) s(segment_id, segment_name, low, high) ON i BETWEEN s.low AND s.high)
           TO (getvariable('file')) (FORMAT parquet)`,
        );
      });
      await seal(store, version);
    };
    // A: 1 = S0-S9, 2 = S10-S19, 3 = S20-S21, S22 in A only. B: S0-S9 and S20-S21 together in
    // 1, S10-S14 in 2, S15-S19 in 3 (ids 2 and 3 tie for A's 2: the lower id is its counterpart)
    await withSegments(14, 3, `VALUES (1, 'one', 0, 9), (2, 'two', 10, 19), (3, 'three', 20, 22)`);
    await withSegments(15, 3, `VALUES (3, 'tres', 15, 19), (1, 'uno', 0, 9), (2, 'dos', 10, 14), (1, 'uno', 20, 21)`);
    const diff = await diffSnapshots(store, { month: MONTH, version: 14 }, { month: MONTH, version: 15 });
    expect(diff.segmentsWent).toEqual([
      { segment: '1 one', subscribers: 10, counterpart: '1 uno', share: 1, also: '', reads: 'kept' },
      { segment: '2 two', subscribers: 10, counterpart: '2 dos', share: 0.5, also: '3 tres (50%)', reads: 'split' },
      { segment: '3 three', subscribers: 2, counterpart: '1 uno', share: 1, also: '', reads: 'merged' },
    ]);
    expect(diff.segmentsCameFrom).toEqual([
      { segment: '1 uno', subscribers: 12, counterpart: '1 one', share: 0.833, also: '3 three (17%)', reads: 'kept' },
      // from B's side: 2 and 3 came together from a segment that split
      { segment: '2 dos', subscribers: 5, counterpart: '2 two', share: 1, also: '', reads: 'split' },
      { segment: '3 tres', subscribers: 5, counterpart: '2 two', share: 1, also: '', reads: 'split' },
    ]);
    const text = pairingLines(diff).join('\n');
    expect(text).toContain(`Where ${MONTH}/v14's segments went`);
    // the also column leaves out counterparts under 10%, and says so
    expect(text).toContain(`Where ${MONTH}/v15's segments came from (also: other segments at 10% or more of it):`);
    expect(text).toMatch(/2 two\s+10\s+2 dos \(50%\)\s+3 tres \(50%\)\s+split/);
    expect(text).toMatch(/1 uno\s+12\s+1 one \(83%\)\s+3 three \(17%\)$/m);
  });

  it("a run's result from an older worker, without rowsOutsideWindow, counts them as 0", () => {
    const text = printedResult({ month: MONTH, rowsQuarantined: 8 });
    expect(text).toMatch(/rows quarantined {8}8$/m);
    expect(text).not.toContain('NaN');
  });
});
