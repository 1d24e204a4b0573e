import { execFile } from 'node:child_process';
import { appendFile, chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { followUpCampaigns, FOLLOW_UP_FILE } from '../../activities/campaign-follow-up';
import type { CampaignFollowUp, CampaignFollowUpGroup, CampaignGroup } from '../../activities/campaign-metrics';
import { trainAndScoreChurn } from '../../activities/churn';
import { clusterSubscribers } from '../../activities/cluster';
import { queryRows, withConnection } from '../../activities/duckdb';
import { computeFeatures } from '../../activities/features';
import { loadUsage } from '../../activities/load';
import { publishSnapshot, type PublishResult } from '../../activities/publish';
import { findPreviousSegmentation } from '../../activities/segment-history';
import { simulateCampaign } from '../../data/campaign';
import { generateSample } from '../../data/generate';
import type { RunParamsInput } from '../../domain/params';
import { reproduceSnapshot } from '../../pipelines/reproduce';
import { versionDir, type StoreConfig } from '../../store/layout';
import { listVersions, readManifest } from '../../store/snapshots';
import { retireSnapshot } from '../../pipelines/retire';
import { REPO_ROOT } from '../../worker/config';
import { storeIn, tempDir } from '../helpers';

/**
 * A month later: May's dispatch list (25% held out) is contacted in June (simulated, with planted
 * effects that keep June's usage of some who would have left), June's run measures it with the
 * contact log, and July's run, given no contact log, measures the same list again with churn read
 * in July. Some list subscribers' July rows are made to break the contract, so the unreadable rule
 * is exercised too.
 */
describe('campaign follow-up a month later', () => {
  let store: StoreConfig;
  let input: string;
  let may: PublishResult;
  let june: PublishResult;
  let july: PublishResult;
  /** June's contact log (of May's list). */
  let juneContacts: string;
  /** The same months run with pseudonymised ids, in a store of their own. */
  let pseudonymised: StoreConfig;
  let pseudonymisedJune: PublishResult;
  let pseudonymisedJuly: PublishResult;
  const controlShare = 0.25;

  async function runMonth(
    month: string,
    runId: string,
    params: Partial<RunParamsInput> = {},
    inStore: StoreConfig = store,
  ) {
    const run = { workflowId: `follow-up-${month}`, runId };
    const load = await loadUsage(inStore, run, { month, input, controlShare, ...params });
    const features = await computeFeatures(load.dbPath, load.params);
    const previous = await findPreviousSegmentation(inStore, month);
    const cluster = await clusterSubscribers(load.dbPath, load.params, previous);
    const churn = await trainAndScoreChurn(load.dbPath, load.params);
    return publishSnapshot(inStore, run, { requestedBy: 'test', load, features, cluster, churn });
  }

  const julyFollowUp = async (version = july.version): Promise<CampaignFollowUp | undefined> =>
    (await readManifest(store, '2026-07', version)).metrics.campaignFollowUp;

  beforeAll(async () => {
    const dir = await tempDir();
    const sample = await generateSample({
      outDir: join(dir, 'sample'),
      subscribers: 30_000,
      months: 10,
      lastMonth: '2026-07',
      seed: 7,
    });
    input = join(sample.outDir, 'usage');
    store = storeIn(dir);
    may = await runMonth('2026-05', 'r1');
    const truth = await simulateCampaign({
      sampleDir: sample.outDir,
      dispatchFile: join(may.path, 'dispatch.parquet'),
      month: '2026-06',
      seed: 11,
    });
    // 15 held-out and 25 targeted subscribers of May's list get only contract-breaking July rows (unreadable in July)
    const julyFolder = join(input, 'usage_month=2026-07');
    const files = (await readdir(julyFolder)).filter((f) => f.endsWith('.parquet')).map((f) => join(julyFolder, f));
    expect(files.length).toBeGreaterThan(0);
    const rewritten = join(julyFolder, 'rewritten.parquet.tmp');
    await withConnection(':memory:', (conn) =>
      conn.run(
        `COPY (
           WITH listed AS (SELECT subscriber_id, control, row_number() OVER (PARTITION BY control ORDER BY subscriber_id) AS n
                           FROM read_parquet($list)),
                broken AS (SELECT subscriber_id FROM listed WHERE (control AND n <= 15) OR (NOT control AND n <= 25))
           SELECT * REPLACE (CASE WHEN subscriber_id IN (SELECT subscriber_id FROM broken) THEN -1 ELSE voice_minutes END AS voice_minutes)
           FROM read_parquet('${julyFolder}/*.parquet') ORDER BY subscriber_id
         ) TO '${rewritten}' (FORMAT parquet)`,
        { list: join(may.path, 'dispatch.parquet') },
      ),
    );
    for (const file of files) await rm(file);
    await rename(rewritten, join(julyFolder, 'part_0.parquet'));
    juneContacts = truth.contactsFile;
    june = await runMonth('2026-06', 'r1', { contacts: truth.contactsFile });
    july = await runMonth('2026-07', 'r1');
    // the same data with pseudonymised ids: the list, snapshot_subscribers and the log hold keyed
    // hashes, the run's quarantine raw ids
    pseudonymised = storeIn(join(dir, 'pseudonymised'));
    const savedKey = process.env.SEGFLOW_PSEUDONYM_KEY;
    process.env.SEGFLOW_PSEUDONYM_KEY = 'a-follow-up-test-key-of-enough-length';
    try {
      const keyed = { pseudonymiseIds: true };
      await runMonth('2026-05', 'p1', keyed, pseudonymised);
      pseudonymisedJune = await runMonth('2026-06', 'p1', { ...keyed, contacts: truth.contactsFile }, pseudonymised);
      pseudonymisedJuly = await runMonth('2026-07', 'p1', keyed, pseudonymised);
    } finally {
      if (savedKey === undefined) delete process.env.SEGFLOW_PSEUDONYM_KEY;
      else process.env.SEGFLOW_PSEUDONYM_KEY = savedKey;
    }
  }, 1_500_000);

  it('counts the same subscribers unreadable and churned with pseudonymised ids, in June and a month later', async () => {
    const plain = await readManifest(store, '2026-07', july.version);
    const keyed = await readManifest(pseudonymised, '2026-07', pseudonymisedJuly.version);
    const plainFollowUp = plain.metrics.campaignFollowUp;
    const keyedFollowUp = keyed.metrics.campaignFollowUp;
    if (!plainFollowUp?.measured || !keyedFollowUp?.measured)
      throw new Error(`July did not follow up: ${JSON.stringify(keyedFollowUp)}`);
    // the same people on the list and the same usage; only the arms differ (the draw is taken on
    // the published id): per group, the same subscribers, churned and unreadable in all
    const totals = (groups: CampaignFollowUpGroup[]) =>
      groups
        .map((g) => ({
          group: g.group,
          subscribers: g.controlSubscribers + g.targetedSubscribers,
          churned: g.controlChurned + g.targetedChurned,
          unreadable: g.controlUnreadable + g.targetedUnreadable,
        }))
        .sort((a, b) => String(a.group).localeCompare(String(b.group)));
    const plainTotals = totals([plainFollowUp.overall, ...plainFollowUp.byAction]);
    expect(totals([keyedFollowUp.overall, ...keyedFollowUp.byAction])).toEqual(plainTotals);
    expect(plainTotals.find((t) => t.group === 'all on the list')?.unreadable).toBeGreaterThan(20);
    // and as counted directly from the pseudonymised snapshot's files (its quarantine's ids published)
    const [direct] = await withConnection(':memory:', (conn) =>
      queryRows<{ control_unreadable: number; targeted_unreadable: number; control_churned: number }>(
        conn,
        `WITH list AS (
           SELECT d.control, s.subscriber_id IS NULL AS churned,
                  s.subscriber_id IS NULL AND d.subscriber_id IN (
                    SELECT subscriber_id FROM read_parquet($quarantine) WHERE "month" = '2026-07') AS unreadable
           FROM read_parquet($list) d LEFT JOIN read_parquet($subscribers) s USING (subscriber_id)
         )
         SELECT count(*) FILTER (WHERE control AND unreadable) AS control_unreadable,
                count(*) FILTER (WHERE NOT control AND unreadable) AS targeted_unreadable,
                count(*) FILTER (WHERE control AND churned AND NOT unreadable) AS control_churned
         FROM list`,
        {
          list: join(versionDir(pseudonymised, '2026-05', keyedFollowUp.dispatchFrom.version), 'dispatch.parquet'),
          subscribers: join(pseudonymisedJuly.path, 'subscribers.parquet'),
          quarantine: join(pseudonymisedJuly.path, 'quarantine.parquet'),
        },
      ),
    );
    expect(keyedFollowUp.overall).toMatchObject({
      controlUnreadable: direct.control_unreadable,
      targetedUnreadable: direct.targeted_unreadable,
      controlChurned: direct.control_churned,
    });
    // the month of contact: the same totals in June
    const plainJune = (await readManifest(store, '2026-06', june.version)).metrics.campaigns;
    const keyedJune = (await readManifest(pseudonymised, '2026-06', pseudonymisedJune.version)).metrics.campaigns;
    if (!plainJune?.measured || !keyedJune?.measured) throw new Error('June did not measure');
    const juneTotals = (g: CampaignGroup) => ({
      subscribers: g.controlSubscribers + g.targetedSubscribers,
      churned: g.controlChurned + g.targetedChurned,
      unreadable: (g.controlUnreadable ?? 0) + (g.targetedUnreadable ?? 0),
    });
    expect(juneTotals(keyedJune.overall)).toEqual(juneTotals(plainJune.overall));
  });

  it('measures the list June measured again with churn read in July, as counted directly from the published files', async () => {
    const followUp = await julyFollowUp();
    if (!followUp?.measured) throw new Error(`July did not follow up: ${JSON.stringify(followUp)}`);
    const juneCampaigns = (await readManifest(store, '2026-06', june.version)).metrics.campaigns;
    if (!juneCampaigns?.measured) throw new Error('June did not measure');
    expect(followUp.dispatchFrom).toEqual({
      month: '2026-05',
      version: may.version,
      sha256: juneCampaigns.dispatchFrom.sha256,
    });
    expect(followUp.firstMeasuredIn).toEqual({ month: '2026-06', version: june.version });
    expect(followUp.churnMonth).toBe('2026-07');

    // independently: May's list, July's subscribers, July's quarantine (every July row of a subscriber quarantined)
    const expected = await withConnection(':memory:', (conn) =>
      queryRows<{
        group: string;
        control_subscribers: number;
        control_churned: number;
        targeted_subscribers: number;
        targeted_churned: number;
        control_unreadable: number;
        targeted_unreadable: number;
      }>(
        conn,
        `WITH list AS (
           SELECT d.subscriber_id, d.control, d.recommended_product,
                  s.subscriber_id IS NULL AS churned,
                  s.subscriber_id IS NULL AND d.subscriber_id IN (
                    SELECT subscriber_id FROM read_parquet($quarantine) WHERE "month" = '2026-07') AS unreadable
           FROM read_parquet($list) d LEFT JOIN read_parquet($subscribers) s USING (subscriber_id)
         )
         SELECT g AS "group",
                count(*) FILTER (WHERE control AND NOT unreadable) AS control_subscribers,
                count(*) FILTER (WHERE control AND NOT unreadable AND churned) AS control_churned,
                count(*) FILTER (WHERE NOT control AND NOT unreadable) AS targeted_subscribers,
                count(*) FILTER (WHERE NOT control AND NOT unreadable AND churned) AS targeted_churned,
                count(*) FILTER (WHERE control AND unreadable) AS control_unreadable,
                count(*) FILTER (WHERE NOT control AND unreadable) AS targeted_unreadable
         FROM (SELECT *, 'all on the list' AS g FROM list UNION ALL SELECT *, recommended_product FROM list)
         GROUP BY g ORDER BY g`,
        {
          list: join(may.path, 'dispatch.parquet'),
          subscribers: join(july.path, 'subscribers.parquet'),
          quarantine: join(july.path, 'quarantine.parquet'),
        },
      ),
    );
    const counted = (g: CampaignFollowUpGroup) => ({
      group: g.group,
      control_subscribers: g.controlSubscribers,
      control_churned: g.controlChurned,
      targeted_subscribers: g.targetedSubscribers,
      targeted_churned: g.targetedChurned,
      control_unreadable: g.controlUnreadable,
      targeted_unreadable: g.targetedUnreadable,
    });
    const measured = [followUp.overall, ...followUp.byAction]
      .map(counted)
      .sort((a, b) => String(a.group).localeCompare(String(b.group)));
    expect(measured).toEqual(
      [...expected].sort((a, b) => String(a.group).localeCompare(String(b.group))).map((e) => ({ ...e })),
    );
    const all = expected.find((e) => e.group === 'all on the list');
    // the planted unreadable subscribers are out of both arms (those that had left already are simply churned)
    expect((all?.control_unreadable ?? 0) + (all?.targeted_unreadable ?? 0)).toBeGreaterThan(20);
    // churn by July includes June's: more left by July than in June, in each arm
    expect(followUp.overall.controlChurned).toBeGreaterThan(juneCampaigns.overall.controlChurned);
    expect(followUp.overall.targetedChurned).toBeGreaterThan(juneCampaigns.overall.targetedChurned);
    // the uplift from the arms' churn rates, weighted by each subscriber's chance of its arm (at
    // 0.25 the floor holds small strata out more often: the counts' rates differ), and the month
    // of contact's beside it
    const o = followUp.overall;
    expect(o.absoluteUplift).toBeCloseTo((o.controlChurnRate ?? NaN) - (o.targetedChurnRate ?? NaN), 5);
    expect(followUp.holdOutWeights).toEqual({ controlShare: 0.25, strata: 'region, grid, operation priority' });
    expect(o.controlChurnRate).not.toBeCloseTo(o.controlChurned / o.controlSubscribers, 4);
    expect(o.ownMonthAbsoluteUplift).toBe(juneCampaigns.overall.absoluteUplift);
    expect(o.ownMonthUpliftLow).toBe(juneCampaigns.overall.upliftLow);
    expect(o.ownMonthSignificant).toBe(juneCampaigns.overall.significant);
    for (const action of followUp.byAction)
      expect(action.ownMonthAbsoluteUplift, String(action.group)).toBe(
        juneCampaigns.byAction.find((g) => g.group === action.group)?.absoluteUplift,
      );
    // May's subscribers on June's list too, to be contacted in July (not held out there), by their May arm
    const [again] = await withConnection(':memory:', (conn) =>
      queryRows<{ control: number; targeted: number }>(
        conn,
        `SELECT count(*) FILTER (WHERE m.control) AS control, count(*) FILTER (WHERE NOT m.control) AS targeted
         FROM read_parquet($may) m JOIN read_parquet($june) j USING (subscriber_id) WHERE NOT j.control`,
        { may: join(may.path, 'dispatch.parquet'), june: join(june.path, 'dispatch.parquet') },
      ),
    );
    expect(again.targeted).toBeGreaterThan(0);
    const juneDispatch = (await readManifest(store, '2026-06', june.version)).outputs.find(
      (o) => o.file === 'dispatch.parquet',
    );
    expect(followUp.listedAgain).toEqual({
      list: { month: '2026-06', version: june.version },
      sha256: juneDispatch?.sha256,
      ...again,
    });
    console.log(
      'follow-up',
      JSON.stringify(
        [followUp.overall, ...followUp.byAction].map((g) => ({
          group: g.group,
          control: `${g.controlChurned}/${g.controlSubscribers}`,
          targeted: `${g.targetedChurned}/${g.targetedSubscribers}`,
          june: [g.ownMonthAbsoluteUplift, g.ownMonthUpliftLow, g.ownMonthUpliftHigh, g.ownMonthSignificant],
          july: [g.absoluteUplift, g.upliftLow, g.upliftHigh, g.significant, g.tooSmall],
          unreadable: [g.controlUnreadable, g.targetedUnreadable],
        })),
        null,
        1,
      ),
    );
  });

  it('publishes every breakdown in campaigns_followup.parquet and the comparison in the report', async () => {
    const manifest = await readManifest(store, '2026-07', july.version);
    expect(manifest.metrics.campaigns).toBeUndefined(); // July was given no contact log
    expect(manifest.outputs.map((o) => o.file)).toContain(FOLLOW_UP_FILE);
    const rows = await withConnection(':memory:', (conn) =>
      queryRows<{ dimension: string; groups: number; own: number }>(
        conn,
        `SELECT dimension, count(*) AS groups, count(own_month_too_small) AS own
         FROM read_parquet($file) GROUP BY dimension ORDER BY dimension`,
        { file: join(july.path, FOLLOW_UP_FILE) },
      ),
    );
    expect(rows.map((r) => r.dimension)).toEqual(['action', 'all', 'channel', 'contact moment', 'grid', 'segment']);
    // each group has June's reading beside it (the same list, the same groups; an uplift only where both arms have someone)
    for (const r of rows) expect(r.own, r.dimension).toBe(r.groups);
    const html = await readFile(join(july.path, 'report.html'), 'utf8');
    expect(html).toContain('A month later');
    expect(html).toContain(`read again in 2026-07`);
    expect(html).toContain(`'s list too, to be contacted in 2026-07: churn in 2026-07 answers to both lists' contacts`);
    // the list's controlShare is known: the rates are weighted, and the headline, headers, note and glossary say so
    expect(html).toContain(
      "had no usage in 2026-07 (churn weighted by each subscriber's chance of being held out, controlShare 0.25)",
    );
    expect(html).toContain('<th class="num">left by 2026-07, weighted</th>');
    expect(html).toContain(
      "Churn rates are weighted by each subscriber's chance of being held out (controlShare 0.25, more in small strata of region, grid, operation priority, where the floor may hold one out): a group's rate need not be its churned / subscribers, which are counts.",
    );
    expect(html).toContain('<dt>weighted churn rate</dt>');
    // June's own measurement of the list, weighted alike
    const juneHtml = await readFile(join(june.path, 'report.html'), 'utf8');
    expect(juneHtml).toContain(
      "of the contacted (churn weighted by each subscriber's chance of being held out, controlShare 0.25)",
    );
    expect(juneHtml).toContain('<th class="num">left, weighted</th>');
    expect(juneHtml).toContain('<dt>weighted churn rate</dt>');
    // June followed up nothing: May measured no campaign
    const juneManifest = await readManifest(store, '2026-06', june.version);
    expect(juneManifest.metrics.campaignFollowUp).toBeUndefined();
    expect(juneManifest.outputs.map((o) => o.file)).not.toContain(FOLLOW_UP_FILE);
  });

  it('shows the follow-up in campaigns show, as text and JSON', async () => {
    const run = (args: string[]) =>
      promisify(execFile)(join(REPO_ROOT, 'bin', 'segflow'), ['campaigns', 'show', '2026-07', ...args], {
        env: { ...process.env, SEGFLOW_STORE: store.storeDir },
      });
    const json = JSON.parse((await run(['--json', '--by', 'channel'])).stdout) as {
      followUp: { metrics: CampaignFollowUp; groups: CampaignFollowUpGroup[] };
    };
    expect(json.followUp.metrics).toEqual(await julyFollowUp());
    expect(new Set(json.followUp.groups.map((g) => g.dimension))).toEqual(new Set(['all', 'action', 'channel']));
    const text = (await run([])).stdout;
    expect(text).toContain('A month later: 2026-05/v1');
    expect(text).toContain('by 2026-07');
    expect(Math.max(...text.split('\n').map((line) => line.length))).toBeLessThanOrEqual(100);
    expect(text.replace(/\n +/g, ' ')).toContain(
      "Churn rates are weighted by each subscriber's chance of being held out (controlShare 0.25, more in small strata of region, grid, operation priority, where the floor may hold one out)",
    );
  });

  it('reproduces July byte for byte, and names a followed-up list changed since', async () => {
    const report = await reproduceSnapshot(store, { month: '2026-07', version: july.version });
    expect(report.files.map((f) => f.file)).toContain(FOLLOW_UP_FILE);
    expect(report.files.filter((f) => !f.identical).map((f) => f.file)).toEqual([]);
    expect(report.manifestDifferences).toEqual([]);
    expect(report.identical).toBe(true);

    const list = join(may.path, 'dispatch.parquet');
    const bytes = await readFile(list);
    await chmod(list, 0o644);
    try {
      await appendFile(list, 'x');
      expect(await reproduceSnapshot(store, { month: '2026-07', version: july.version })).toMatchObject({
        identical: false,
        files: [],
        changes: [{ what: 'dispatch list followed up', path: list, change: 'content changed' }],
      });
    } finally {
      await writeFile(list, bytes);
      await chmod(list, 0o444);
    }

    // June's campaigns.parquet, read for the month of contact's uplift: recorded and checked too
    const followUp = await julyFollowUp();
    if (!followUp?.measured) throw new Error('July did not follow up');
    const juneManifest = await readManifest(store, '2026-06', june.version);
    expect(followUp.ownMonthCampaignsSha256).toBe(
      juneManifest.outputs.find((o) => o.file === 'campaigns.parquet')?.sha256,
    );
    const measured = join(june.path, 'campaigns.parquet');
    const measuredBytes = await readFile(measured);
    await chmod(measured, 0o644);
    try {
      await appendFile(measured, 'x');
      expect(await reproduceSnapshot(store, { month: '2026-07', version: july.version })).toMatchObject({
        identical: false,
        files: [],
        changes: [{ what: 'campaign measurement followed up', path: measured, change: 'content changed' }],
      });
    } finally {
      await writeFile(measured, measuredBytes);
      await chmod(measured, 0o444);
    }
  }, 300_000);

  // after the tests that read July's latest: this publishes July again
  it('weights as the month of contact did: unweighted after a measurement made before the weights', async () => {
    // June's manifest as a segflow before session 48 wrote it: no holdOutWeights
    const path = join(june.path, 'manifest.json');
    const published = await readFile(path);
    const manifest = JSON.parse(published.toString()) as { metrics: { campaigns: { holdOutWeights?: unknown } } };
    delete manifest.metrics.campaigns.holdOutWeights;
    await chmod(path, 0o644);
    try {
      await writeFile(path, JSON.stringify(manifest));
      const unweighted = await runMonth('2026-07', 'r-unweighted');
      const followUp = (await readManifest(store, '2026-07', unweighted.version)).metrics.campaignFollowUp;
      if (!followUp?.measured) throw new Error(`July did not follow up: ${JSON.stringify(followUp)}`);
      expect(followUp.holdOutWeights).toEqual({ controlShare: null, strata: 'region, grid, operation priority' });
      const o = followUp.overall;
      expect(o.controlChurnRate).toBeCloseTo(o.controlChurned / o.controlSubscribers, 5);
      expect(o.targetedChurnRate).toBeCloseTo(o.targetedChurned / o.targetedSubscribers, 5);
    } finally {
      await writeFile(path, published);
      await chmod(path, 0o444);
    }
  }, 300_000);

  it('says why a list is not followed up: changed, gone, or not measured a month before', async () => {
    const list = join(may.path, 'dispatch.parquet');
    const bytes = await readFile(list);
    const request = { month: '2026-07', previous: { month: '2026-06', version: june.version }, previousStore: store };
    const followUp = () => withConnection(':memory:', (conn) => followUpCampaigns(conn, request));
    await chmod(list, 0o644);
    try {
      await appendFile(list, 'x');
      // published: July run again while May's list differs from what June measured
      const changed = await runMonth('2026-07', 'r2');
      const recorded = await julyFollowUp(changed.version);
      expect(recorded).toMatchObject({
        measured: false,
        firstMeasuredIn: { month: '2026-06', version: june.version },
        dispatchFrom: { month: '2026-05', version: may.version },
      });
      expect(recorded?.measured === false && recorded.reason).toMatch(
        new RegExp(`^2026-05/v${may.version}'s dispatch list has changed since 2026-06/v${june.version} measured it`),
      );
      expect((await readManifest(store, '2026-07', changed.version)).outputs.map((o) => o.file)).not.toContain(
        FOLLOW_UP_FILE,
      );
      expect(await readFile(join(changed.path, 'report.html'), 'utf8')).toContain(
        `A month later: not followed up: 2026-05/v${may.version}'s dispatch list has changed`,
      );
      await rm(list);
      expect(await followUp()).toEqual({
        measured: false,
        reason: `2026-05/v${may.version}'s dispatch list, measured by 2026-06/v${june.version}, is no longer in the store (retired or removed)`,
        firstMeasuredIn: { month: '2026-06', version: june.version },
        dispatchFrom: expect.objectContaining({ month: '2026-05', version: may.version }) as unknown,
      });
    } finally {
      await writeFile(list, bytes);
      await chmod(list, 0o444);
    }
    // a month whose measurement measured nothing (here, a hand-made manifest): said so
    const other = storeIn(await tempDir());
    const folder = versionDir(other, '2026-06', 1);
    await mkdir(folder, { recursive: true });
    await writeFile(
      join(folder, 'manifest.json'),
      JSON.stringify({
        metrics: { campaigns: { measured: false, reason: 'no snapshot of 2026-05 to measure its dispatch list' } },
        outputs: [],
      }),
    );
    expect(
      await withConnection(':memory:', (conn) =>
        followUpCampaigns(conn, { month: '2026-07', previous: { month: '2026-06', version: 1 }, previousStore: other }),
      ),
    ).toEqual({
      measured: false,
      reason: '2026-06/v1 measured no campaign (not measured: no snapshot of 2026-05 to measure its dispatch list)',
      firstMeasuredIn: { month: '2026-06', version: 1 },
    });
    // May measured no campaign (its run had no contact log): nothing to follow up in June
    expect(
      await withConnection(':memory:', (conn) =>
        followUpCampaigns(conn, {
          month: '2026-06',
          previous: { month: '2026-05', version: may.version },
          previousStore: store,
        }),
      ),
    ).toBeUndefined();
  }, 600_000);

  it("counts the subscribers listed again on the list July measured (--param dispatched), not on June's latest", async () => {
    // a rerun of June with another control share becomes its latest; the teams worked v1's list in July
    const juneAgain = await runMonth('2026-06', 'r2', { controlShare: 0.5, contacts: juneContacts });
    expect(juneAgain.version).not.toBe(june.version);
    const juneList = join(june.path, 'dispatch.parquet');
    const contacted = await withConnection(':memory:', (conn) =>
      queryRows<{ subscriber_id: string }>(
        conn,
        'SELECT subscriber_id FROM read_parquet($list) WHERE NOT control ORDER BY subscriber_id LIMIT 200',
        { list: juneList },
      ),
    );
    const log = join(dirname(input), 'contacts-2026-07.csv');
    await writeFile(
      log,
      ['subscriber_id,contact_date', ...contacted.map((r) => `${r.subscriber_id},2026-07-10`)].join('\n') + '\n',
    );
    const measured = await runMonth('2026-07', 'r3', { contacts: log, dispatched: `2026-06/v${june.version}` });
    const manifest = await readManifest(store, '2026-07', measured.version);
    const campaigns = manifest.metrics.campaigns;
    const followUp = manifest.metrics.campaignFollowUp;
    if (!campaigns?.measured || !followUp?.measured) throw new Error('July measured or followed up nothing');
    expect(campaigns.dispatchFrom).toMatchObject({ month: '2026-06', version: june.version });
    // May's list, measured by June's latest (the rerun), is counted against v1's list, which July measured
    expect(followUp.firstMeasuredIn).toEqual({ month: '2026-06', version: juneAgain.version });
    const v1 = (await readManifest(store, '2026-06', june.version)).outputs.find((o) => o.file === 'dispatch.parquet');
    expect(followUp.listedAgain).toMatchObject({
      list: { month: '2026-06', version: june.version },
      sha256: v1?.sha256,
    });
  }, 300_000);

  // last: it retires May's v1
  it("names, when May's snapshot is retired, July's snapshots whose follow-up read its list", async () => {
    const julys = await listVersions(store, '2026-07');
    expect(julys.length).toBeGreaterThanOrEqual(2); // July's first run and its rerun after May's list changed
    const result = await retireSnapshot(
      store,
      { month: '2026-05', version: may.version },
      { reason: 'test', actor: 'test' },
    );
    // June's first run and the rerun a test above made
    expect(result.builtOn).toEqual((await listVersions(store, '2026-06')).map((version) => `2026-06/v${version}`));
    // both followed up (or tried to follow up) May's list: neither can be reproduced as published
    expect(result.followedUpBy).toEqual(julys.map((version) => `2026-07/v${version}`));
  }, 60_000);
});
