import { execFileSync } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainAndScoreChurn } from '../../activities/churn';
import { clusterSubscribers, type ClusterSummary } from '../../activities/cluster';
import { queryRows, withConnection } from '../../activities/duckdb';
import { computeFeatures } from '../../activities/features';
import { loadUsage } from '../../activities/load';
import { publishSnapshot, type PublishResult } from '../../activities/publish';
import { recordAudit } from '../../store/audit-record';
import { latestVersion, listSnapshots, readManifest, resolveSnapshot } from '../../store/snapshots';
import { findPreviousSegmentation } from '../../activities/segment-history';
import { auditLogPath, versionDir, type StoreConfig } from '../../store/layout';
import { sha256 } from '../../store/hashing';
import { reproduceSnapshot } from '../../pipelines/reproduce';
import { retireSnapshot } from '../../pipelines/retire';
import { REPO_ROOT } from '../../worker/config';
import { smallSample, storeIn, tempDir } from '../helpers';

/** Two consecutive months: segment ids carry over, and migration between them is counted. */
describe('segment ids stable across months', () => {
  let store: StoreConfig;
  let input: string;
  const published: Record<string, { cluster: ClusterSummary; snapshot: PublishResult }> = {};

  async function runMonth(month: string) {
    const run = { workflowId: `history-${month}`, runId: 'r1' };
    const load = await loadUsage(store, run, { month, input });
    const features = await computeFeatures(load.dbPath, load.params);
    const previous = await findPreviousSegmentation(store, month);
    const cluster = await clusterSubscribers(load.dbPath, load.params, previous);
    const churn = await trainAndScoreChurn(load.dbPath, load.params);
    const snapshot = await publishSnapshot(store, run, { requestedBy: 'test', load, features, cluster, churn });
    await recordPublished(run, snapshot);
    published[month] = { cluster, snapshot };
  }

  /** The workflow's entry after a publish: without it the version counts as being published. */
  const recordPublished = (run: { workflowId: string; runId: string }, snapshot: PublishResult) =>
    recordAudit(store, { event: 'run.published', run, month: snapshot.month, actor: 'test', details: { ...snapshot } });

  beforeAll(async () => {
    const dir = await tempDir();
    const sample = await smallSample(dir, 3_000, 9);
    input = join(sample.outDir, 'usage');
    store = storeIn(dir);
    await runMonth('2026-05');
    await runMonth('2026-06');
  });

  it("carries last month's ids over to the nearest segments", async () => {
    expect(published['2026-05'].cluster.previous).toBeNull();
    // the first month's report says what next month's run will measure
    expect(await readFile(join(published['2026-05'].snapshot.path, 'report.html'), 'utf8')).toContain(
      "Not measured: there is no snapshot of the month before to measure. Next month's run, given this month's contact log",
    );
    expect(published['2026-06'].cluster.previous).toEqual({ month: '2026-05', version: 1 });
    // the same structure both months (k chosen by silhouette): every id carries over
    const ids = (month: string) => published[month].cluster.centroids.map((c) => c.segmentId);
    expect(ids('2026-06')).toEqual(ids('2026-05'));
    const manifest = await readManifest(store, '2026-06', 1);
    expect(manifest.metrics.previousSnapshot).toEqual({ month: '2026-05', version: 1 });
  });

  it('counts migration between the months, and most subscribers keep their segment', async () => {
    const cells = await withConnection(':memory:', (conn) =>
      queryRows<{ from_segment_id: number | null; to_segment_id: number | null; subscribers: number }>(
        conn,
        'SELECT * FROM read_parquet($file)',
        {
          file: join(published['2026-06'].snapshot.path, 'migration.parquet'),
        },
      ),
    );
    const total = (filter: (c: (typeof cells)[number]) => boolean) =>
      cells.filter(filter).reduce((sum, c) => sum + c.subscribers, 0);
    const both = total((c) => c.from_segment_id !== null && c.to_segment_id !== null);
    const stayed = total((c) => c.from_segment_id !== null && c.from_segment_id === c.to_segment_id);
    expect(stayed / both).toBeGreaterThan(0.85);
    expect(total((c) => c.to_segment_id !== null)).toBe(
      published['2026-06'].cluster.segments.reduce((sum, s) => sum + s.subscribers, 0),
    );
    expect(total((c) => c.from_segment_id === null)).toBeGreaterThan(0); // joiners: "(new)"
    expect(total((c) => c.to_segment_id === null)).toBeGreaterThan(0); // churners: "(gone)"
  });

  it('reproduces a snapshot whose ids came from a previous one', async () => {
    const report = await reproduceSnapshot(store, { month: '2026-06', version: 1 });
    expect(report.files.map((f) => f.file)).toContain('migration.parquet');
    expect(report.files.filter((f) => !f.identical).map((f) => f.file)).toEqual([]);
    expect(report.identical).toBe(true);
    expect(report.previousSnapshotGone).toBe(false);
  });

  it('reproduce compares the published files and the manifest as they are now, not only as the manifest records them', async () => {
    const folder = versionDir(store, '2026-06', 1);
    const kept: [string, Buffer, number][] = [];
    // published files are read-only: each is made writable, changed, and put back as it was
    const tamper = async (file: string, change: (bytes: Buffer) => Buffer) => {
      const path = join(folder, file);
      const bytes = await readFile(path);
      kept.push([path, bytes, (await stat(path)).mode]);
      await chmod(path, 0o644);
      await writeFile(path, change(bytes));
    };
    try {
      await tamper('segments.parquet', (bytes) => Buffer.concat([bytes, Buffer.from([0])]));
      const report = await reproduceSnapshot(store, { month: '2026-06', version: 1 });
      expect(report.identical).toBe(false);
      expect(report.files.filter((f) => !f.identical).map((f) => f.file)).toEqual(['segments.parquet']);
      const segments = report.files.find((f) => f.file === 'segments.parquet');
      expect(segments?.actual).toBe(segments?.expected);
      expect(segments?.published).not.toBe(segments?.expected);
      expect(report.manifestInLog).toEqual({ seq: expect.any(Number) });
      // a manifest edited after publishing is refused before anything is recomputed from it: its
      // sha256 is not the one its run.published entry recorded
      await tamper('manifest.json', (bytes) => {
        const manifest = JSON.parse(bytes.toString('utf8'));
        manifest.metrics.churnHoldout.rocAuc = 0.99;
        return Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
      });
      await expect(reproduceSnapshot(store, { month: '2026-06', version: 1 })).rejects.toMatchObject({
        name: 'SnapshotIntegrityError',
        message: expect.stringMatching(
          /^snapshots\/2026-06\/v1\/manifest\.json was edited after publishing: .* audit entry seq \d+ \(run\.published\) recorded\. Nothing is recomputed from it/,
        ),
      });
    } finally {
      for (const [path, bytes, mode] of kept.reverse()) {
        await chmod(path, 0o644);
        await writeFile(path, bytes);
        await chmod(path, mode);
      }
    }
  });

  it('reproduce across a change of code compares only what the manifest recorded', async () => {
    const path = join(versionDir(store, '2026-06', 1), 'manifest.json');
    const [bytes, mode] = [await readFile(path), (await stat(path)).mode];
    const log = auditLogPath(store);
    const logText = await readFile(log, 'utf8');
    /**
     * The manifest as an older segflow wrote it: without a field inside a metric; `commit` its code.
     * Its run.published entry names its sha256, as that segflow's run recorded it (reproduce checks it).
     */
    const asOlder = async (commit?: string) => {
      const manifest = JSON.parse(bytes.toString('utf8'));
      delete manifest.metrics.churnHoldout.rocAuc;
      if (commit) manifest.code.commit = commit;
      const text = JSON.stringify(manifest, null, 2) + '\n';
      await chmod(path, 0o644);
      await writeFile(path, text);
      await writeFile(log, logText.replaceAll(sha256(bytes), sha256(text)));
    };
    try {
      await asOlder('0'.repeat(40));
      const older = await reproduceSnapshot(store, { month: '2026-06', version: 1 });
      expect(older.manifestDifferences).toEqual([]);
      // the same code: a field gone from a metric is a difference
      await asOlder();
      expect((await reproduceSnapshot(store, { month: '2026-06', version: 1 })).manifestDifferences).toEqual([
        'metrics.churnHoldout',
      ]);
    } finally {
      await writeFile(path, bytes);
      await chmod(path, mode);
      await writeFile(log, logText);
    }
  });

  it('publishes a run report a browser renders: every chart drawn, no console errors', async () => {
    const { chromium } = await import('playwright-core');
    const executablePath = execFileSync('bash', [join(REPO_ROOT, 'scripts', 'ensure-chromium.sh')], {
      encoding: 'utf8',
    }).trim();
    const browser = await chromium.launch({
      executablePath,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
      const problems: string[] = [];
      page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
      page.on('pageerror', (error) => problems.push(error.message));
      page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
      await page.goto(pathToFileURL(join(published['2026-06'].snapshot.path, 'report.html')).href);
      // taken first, so a failing check below still leaves the picture to look at
      await mkdir(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
      await page.screenshot({ path: join(REPO_ROOT, 'test-artifacts', 'report.png'), fullPage: true });
      await copyFile(
        join(published['2026-06'].snapshot.path, 'report.html'),
        join(REPO_ROOT, 'test-artifacts', 'report.html'),
      );
      const charts = await page.$$eval('svg.marks', (svgs) =>
        svgs.map((svg) => ({
          marks: svg.querySelectorAll('path, rect, line, text').length,
          width: svg.getBoundingClientRect().width,
        })),
      );
      // segments, pareto, grid, ROC, lift, importance, both models ROC, lift, reliability, migration, data quality
      expect(charts.length).toBe(11);
      for (const chart of charts) {
        expect(chart.marks).toBeGreaterThan(10);
        expect(chart.width).toBeGreaterThan(100);
      }
      expect(await page.textContent('h1')).toBe('segflow run report — 2026-06');
      expect(await page.textContent('header .identity')).toMatch(
        /^version 1 · published \d{4}-\d\d-\d\d \d\d:\d\d UTC · requested by test$/,
      );
      expect(await page.textContent('header .params')).toContain('all parameters at their defaults');
      expect(await page.$$eval('nav a', (links) => links.map((a) => a.getAttribute('href')))).toEqual(
        ['segments', 'value', 'churn', 'churn-models', 'campaigns', 'migration', 'grids', 'quality', 'glossary'].map(
          (id) => `#${id}`,
        ),
      );
      // last month has a dispatch list, and this run no contact log: the report says how to measure it
      expect(await page.textContent('#campaigns')).toContain(
        'Not measured: this run was given no contact log. Run the month again with --param contacts=',
      );
      const k = published['2026-06'].cluster.k;
      expect(await page.$$eval('#segments table.profiles tr', (rows) => rows.length)).toBe(k + 1);
      // every segment's action is complete: product, channel, moment, retention style, tags
      const actions = await page.$$eval('#segments table.actions tr:not(:first-child)', (rows) =>
        rows.map((row) => [...row.querySelectorAll('td')].map((td) => td.textContent?.trim() ?? '')),
      );
      expect(actions.length).toBe(k);
      for (const cells of actions) {
        expect(cells.length).toBe(7);
        for (const cell of cells) expect(cell).not.toBe('');
      }
      // rules in words; the column names only in the small print
      const rules = await page.$$eval('#churn table.rules td:first-child', (cells) =>
        cells.map((td) => ({
          words: td.firstChild?.textContent ?? '',
          columns: td.querySelector('.columns')?.textContent ?? '',
        })),
      );
      expect(rules.length).toBeGreaterThan(0);
      for (const rule of rules) {
        expect(rule.words).not.toMatch(/[<>]|_/);
        expect(rule.columns).toMatch(/[<>]=? |all subscribers/);
      }
      // migration by segment id, each with its names in both months
      expect(await page.$$eval('#migration table.names tr', (rows) => rows.length)).toBe(k + 1);
      // per grid: the rollup, and the open grid's first contacts in dispatch.parquet's order
      const dispatch = await withConnection(':memory:', (conn) =>
        queryRows<{ grid: string; subscriber_id: string }>(
          conn,
          'SELECT grid, subscriber_id FROM read_parquet($file) WHERE contact_rank <= 5',
          { file: join(published['2026-06'].snapshot.path, 'dispatch.parquet') },
        ),
      );
      const grids = new Set(dispatch.map((row) => row.grid));
      expect(await page.$$eval('#grids details.grid', (details) => details.length)).toBeGreaterThanOrEqual(grids.size);
      const firstGrid = await page.$$eval('#grids details.grid[open]', (details) =>
        details.map((d) => ({
          grid: d.querySelector('summary span')?.textContent,
          who: [...d.querySelectorAll('table.contacts td:nth-child(2) code')].map((code) => code.textContent),
          visible: d.querySelector('table.contacts')?.getBoundingClientRect().height ?? 0,
        })),
      );
      expect(firstGrid.length).toBe(1);
      expect(firstGrid[0].who).toEqual(
        dispatch.filter((row) => row.grid === firstGrid[0].grid).map((row) => row.subscriber_id),
      );
      expect(firstGrid[0].visible).toBeGreaterThan(50);
      const glossary = await page.$$eval('#glossary dt', (terms) => terms.map((dt) => dt.textContent));
      expect(glossary).toEqual(expect.arrayContaining(['ROC AUC', 'lift', 'MOU', 'DOU', 'high value']));
      // the three senses of "high value", the flag's with the run's threshold
      expect(await page.$eval('#glossary', (section) => section.textContent)).toMatch(
        /spends at least ¥3,000 a month \(highValueThreshold\).*key and high tiers.*in a segment's name/,
      );
      expect(problems).toEqual([]);

      // on a phone: laid out at its width, every chart's text at least 8 px high (shrunk to fit, 4-5 px)
      const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
      await phone.goto(pathToFileURL(join(published['2026-06'].snapshot.path, 'report.html')).href);
      expect(await phone.$eval('body', (body) => body.getBoundingClientRect().width)).toBe(390);
      const heights = await phone.$$eval('svg.marks text', (texts) =>
        texts.map((text) => text.getBoundingClientRect().height).filter((height) => height > 0),
      );
      expect(heights.length).toBeGreaterThan(100);
      expect(Math.min(...heights)).toBeGreaterThanOrEqual(8);
    } finally {
      await browser.close();
    }
  });

  it("an analyst's experiment is published beside the month's latest, which next month keeps to", async () => {
    const run = { workflowId: 'history-experiment', runId: 'r1' };
    const load = await loadUsage(store, run, { month: '2026-05', input, k: 3 });
    const features = await computeFeatures(load.dbPath, load.params);
    const cluster = await clusterSubscribers(load.dbPath, load.params, null);
    const churn = await trainAndScoreChurn(load.dbPath, load.params);
    const request = { requestedBy: 'ana', load, features, cluster, churn, experiment: true };
    const snapshot = await publishSnapshot(store, run, request);
    expect(snapshot).toMatchObject({ version: 2, experiment: true, alreadyPublished: false });
    await recordPublished(run, snapshot);
    expect(await latestVersion(store, '2026-05')).toBe(1);
    expect(await resolveSnapshot(store, '2026-05')).toEqual({ month: '2026-05', version: 1 });
    expect((await findPreviousSegmentation(store, '2026-06'))?.version).toBe(1);
    expect((await listSnapshots(store, '2026-05')).map((s) => [s.version, s.latest, s.experiment])).toEqual([
      [1, true, false],
      [2, false, true],
    ]);
    expect((await readManifest(store, '2026-05', 2)).snapshot.experiment).toBe(true);
    expect(await readFile(join(snapshot.path, 'report.html'), 'utf8')).toContain('<strong>experiment</strong>');
    // a retried publish finds it, still an experiment
    expect(await publishSnapshot(store, run, request)).toMatchObject({
      version: 2,
      experiment: true,
      alreadyPublished: true,
    });
    expect(await reproduceSnapshot(store, { month: '2026-05', version: 2 })).toMatchObject({ identical: true });
  });

  it('reproduce recomputes from the files the run read, naming a file added to the input since, and a previous snapshot that was retired', async () => {
    // a late file in the month's folder, and a spreadsheet dropped beside the months: a run now
    // would read the one and stop at the other; the recomputation reads what the run read
    const added = join(input, 'usage_month=2026-06', 'late.parquet');
    await copyFile(join(input, 'usage_month=2026-06', 'part_0.parquet'), added);
    const spreadsheet = join(input, 'usage_month=2026-06', 'usage.xlsx');
    await writeFile(spreadsheet, 'PK');
    try {
      const report = await reproduceSnapshot(store, { month: '2026-06', version: 1 });
      expect(report).toMatchObject({ identical: true, changes: [] });
      expect(report.inputFolderNow).toEqual([{ path: spreadsheet, change: 'a file segflow cannot read' }]);
      await rm(spreadsheet);
      expect((await reproduceSnapshot(store, { month: '2026-06', version: 1 })).inputFolderNow).toEqual([
        { path: added, change: 'added to the input since' },
      ]);
    } finally {
      await rm(added);
      await rm(spreadsheet, { force: true });
    }
    // retiring names what was built on it
    expect(
      (await retireSnapshot(store, { month: '2026-05', version: 1 }, { reason: 'test', actor: 'auditor' })).builtOn,
    ).toEqual(['2026-06/v1']);
    const report = await reproduceSnapshot(store, { month: '2026-06', version: 1 });
    expect(report.notes).toEqual([
      expect.stringMatching(/^its previous snapshot 2026-05\/v1 is no longer in the store \(retired or removed\)/),
    ]);
    expect(report.previousSnapshotGone).toBe(true);
  });
});
