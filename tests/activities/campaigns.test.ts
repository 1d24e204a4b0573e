import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CampaignGroup } from '../../activities/campaign-metrics';
import { trainAndScoreChurn } from '../../activities/churn';
import { clusterSubscribers } from '../../activities/cluster';
import { queryRows, withConnection } from '../../activities/duckdb';
import { computeFeatures } from '../../activities/features';
import { loadUsage } from '../../activities/load';
import { contactLogFile, publishSnapshot, type PublishResult } from '../../activities/publish';
import { findPreviousSegmentation } from '../../activities/segment-history';
import { simulateCampaign, type CampaignTruth } from '../../data/campaign';
import { CONTACT_QUARANTINE_REASONS } from '../../data/contacts-contract';
import { generateSample } from '../../data/generate';
import { ContactDateFormatError } from '../../domain/errors';
import type { RunParamsInput } from '../../domain/params';
import { reproduceSnapshot } from '../../pipelines/reproduce';
import { retireSnapshot } from '../../pipelines/retire';
import type { StoreConfig } from '../../store/layout';
import { latestVersion, listVersions, readManifest } from '../../store/snapshots';
import { REPO_ROOT } from '../../worker/config';
import { storeIn, tempDir } from '../helpers';

/**
 * Act and measure on two generated months: May's dispatch list holds out a control group, a
 * simulated campaign contacts the rest with a planted effect per action (one action without
 * any), and June's run measures it. 50,000 subscribers give a May list of ~2,800; a control
 * share of 25% (the default is 10%) gives each big action a control arm of 100-260.
 */
describe('campaign measurement', () => {
  let store: StoreConfig;
  let input: string;
  let truth: CampaignTruth;
  let may: PublishResult;
  let mayOtherModel: PublishResult;
  let june: PublishResult;
  /** June measured against May's latest list (v2) while v1 was still in the store. */
  let byDefault: PublishResult;
  const controlShare = 0.25;

  async function runMonth(month: string, runId: string, params: Partial<RunParamsInput> = {}) {
    const run = { workflowId: `campaigns-${month}`, runId };
    const load = await loadUsage(store, run, { month, input, controlShare, ...params });
    const features = await computeFeatures(load.dbPath, load.params);
    const previous = await findPreviousSegmentation(store, month);
    const cluster = await clusterSubscribers(load.dbPath, load.params, previous);
    const churn = await trainAndScoreChurn(load.dbPath, load.params);
    return publishSnapshot(store, run, { requestedBy: 'test', load, features, cluster, churn });
  }

  const read = <T extends Record<string, unknown>>(sql: string, file: string) =>
    withConnection(':memory:', (conn) => queryRows<T>(conn, sql, { file }));

  beforeAll(async () => {
    const dir = await tempDir();
    const sample = await generateSample({
      outDir: join(dir, 'sample'),
      subscribers: 50_000,
      months: 9,
      lastMonth: '2026-06',
      seed: 7,
    });
    input = join(sample.outDir, 'usage');
    store = storeIn(dir);
    may = await runMonth('2026-05', 'r1');
    truth = await simulateCampaign({
      sampleDir: sample.outDir,
      dispatchFile: join(may.path, 'dispatch.parquet'),
      month: '2026-06',
      seed: 11,
    });
    // bad rows: each breaks one rule; the planted ids are all on the May list
    const [, first] = (await readFile(truth.contactsFile, 'utf8')).split('\n');
    const listed = first.split(',')[0];
    await appendFile(
      truth.contactsFile,
      [
        'S999999999,2026-06-03,recharge bonus on a low-cost plan,SMS,declined',
        'S999999998,2026-06-04,recharge bonus on a low-cost plan,SMS,accepted',
        `${listed},2026-05-31,larger data package or data add-on,outbound call,accepted`,
        `${listed},2026-06-05,larger data package or data add-on,outbound call,maybe later`,
        `${listed},next week,larger data package or data add-on,outbound call,declined`,
        ',2026-06-05,larger data package or data add-on,outbound call,declined',
        `${listed},2026-06-30 18:30:00,larger data package or data add-on,outbound call,Not_Reached`,
        `${listed},2026/6/7,larger data package or data add-on,outbound call,declined`,
      ].join('\n') + '\n',
    );
    june = await runMonth('2026-06', 'r1', { contacts: truth.contactsFile });
    // an analyst's rerun of May with other model parameters (after June, so June measured v1)
    mayOtherModel = await runMonth('2026-05', 'r2', { k: 4, treeDepth: 4, treeMinLeaf: 100, seed: 3 });
  }, 900_000);

  it('holds out a control group of about controlShare in every grid x priority stratum big enough for one', async () => {
    const strata = await read<{ grid: string; priority: number; listed: number; control: number }>(
      `SELECT grid, operation_priority AS priority, count(*) AS listed, count(*) FILTER (WHERE control) AS control
       FROM read_parquet($file) GROUP BY ALL`,
      join(may.path, 'dispatch.parquet'),
    );
    const listed = strata.reduce((sum, s) => sum + s.listed, 0);
    const control = strata.reduce((sum, s) => sum + s.control, 0);
    expect(control / listed).toBeGreaterThan(controlShare - 0.02);
    expect(control / listed).toBeLessThan(controlShare + 0.04); // the stratum floor adds a few
    expect(strata.filter((s) => s.listed * controlShare >= 1 && s.control === 0)).toEqual([]);
  });

  it('keeps the same subscribers in control when May is rerun with other model parameters', async () => {
    // the draw of publish/tables/04_dispatch.sql: a hash of month and subscriber id
    const rows = await withConnection(':memory:', (conn) =>
      queryRows<{ common: number; drawn: number; drawn_disagree: number; floor_disagree: number; only_first: number }>(
        conn,
        `WITH common AS (
           SELECT a.control AS first, b.control AS second,
                  hash('control:2026-05:' || subscriber_id)::DOUBLE / 18446744073709551616.0 < $share AS drawn
           FROM read_parquet($a) a JOIN read_parquet($b) b USING (subscriber_id)
         )
         SELECT count(*) AS common, count(*) FILTER (WHERE drawn) AS drawn,
                count(*) FILTER (WHERE drawn AND NOT (first AND second)) AS drawn_disagree,
                count(*) FILTER (WHERE NOT drawn AND first <> second) AS floor_disagree,
                (SELECT count(*) FROM read_parquet($a) WHERE subscriber_id NOT IN (SELECT subscriber_id FROM read_parquet($b))) AS only_first
         FROM common`,
        { a: join(may.path, 'dispatch.parquet'), b: join(mayOtherModel.path, 'dispatch.parquet'), share: controlShare },
      ),
    );
    const [{ common, drawn, drawn_disagree, floor_disagree, only_first }] = rows;
    expect(only_first).toBeGreaterThan(0); // the other model really listed other subscribers
    expect(common).toBeGreaterThan(1_000);
    expect(drawn / common).toBeGreaterThan(controlShare - 0.03);
    // everyone drawn into control stays there, whatever else is on the list
    expect(drawn_disagree).toBe(0);
    // only the stratum floor (the lowest draw of a stratum nobody drew into) moves with the list
    expect(floor_disagree / common).toBeLessThan(0.03);
  });

  it("draws June's control group apart from May's, as independent draws would", async () => {
    // hash('control', month, id) gave every subscriber on both lists the same arm both months, or
    // the other one every time; each month's own draw holds out about controlShare of either arm
    const [arms] = await withConnection(':memory:', (conn) =>
      queryRows<{ common: number; may_control: number; both: number; june_only: number }>(
        conn,
        `SELECT count(*) AS common, count(*) FILTER (WHERE m.control) AS may_control,
                count(*) FILTER (WHERE m.control AND j.control) AS both,
                count(*) FILTER (WHERE NOT m.control AND j.control) AS june_only
         FROM read_parquet($may) m JOIN read_parquet($june) j USING (subscriber_id)`,
        { may: join(may.path, 'dispatch.parquet'), june: join(june.path, 'dispatch.parquet') },
      ),
    );
    expect(arms.common).toBeGreaterThan(1_000);
    expect(arms.may_control).toBeGreaterThan(200);
    expect(arms.both / arms.may_control).toBeGreaterThan(controlShare - 0.1);
    expect(arms.both / arms.may_control).toBeLessThan(controlShare + 0.1);
    expect(arms.june_only / (arms.common - arms.may_control)).toBeGreaterThan(controlShare - 0.1);
    expect(arms.june_only / (arms.common - arms.may_control)).toBeLessThan(controlShare + 0.1);
  });

  it("measures each action's uplift with an interval that covers the planted one", async () => {
    const rows = await read<CampaignGroup & Record<string, unknown>>(
      "SELECT * FROM read_parquet($file) WHERE dimension IN ('all', 'action') ORDER BY dimension, \"group\"",
      join(june.path, 'campaigns.parquet'),
    );
    const measured = new Map(rows.map((r) => [r.group as string, r]));
    // docs/campaigns.md, "Measured against planted": the table's figures
    console.log(
      'measured against planted',
      JSON.stringify(
        truth.effects.map((e) => {
          const row = measured.get(e.action) as Record<string, number | boolean>;
          return {
            action: e.action,
            listed: e.subscribers,
            control: e.controlSubscribers,
            naturalChurn: e.naturalChurnRate,
            plantedUplift: e.plantedUplift,
            measured: [row.absolute_uplift, row.uplift_low, row.uplift_high, row.interval_level],
            reading: row.too_small ? 'too small' : row.significant ? 'significant' : 'not significant',
          };
        }),
        null,
        1,
      ),
    );
    const checked: string[] = [];
    for (const planted of truth.effects) {
      const row = measured.get(planted.action) as Record<string, number | boolean>;
      expect(row, planted.action).toBeDefined();
      expect(Number(row.control_subscribers) + Number(row.targeted_subscribers)).toBe(planted.subscribers);
      if (row.too_small) continue;
      checked.push(planted.action);
      expect(row.uplift_low, planted.action).toBeLessThanOrEqual(planted.plantedUplift);
      expect(row.uplift_high, planted.action).toBeGreaterThanOrEqual(planted.plantedUplift);
      if (planted.plantedReduction === 0) expect(row.significant, planted.action).toBe(false);
    }
    // the no-effect action, the strongest effect and the whole list are big enough to read
    expect(checked).toEqual(
      expect.arrayContaining([
        'all on the list',
        'recharge bonus on a low-cost plan',
        'larger data package or data add-on',
      ]),
    );
    // the strongest effect (9.7 pp planted) is measured as some reduction; significant on about half
    // of such samples only (21 of 39, docs/campaigns.md), so that is not asserted of this one
    expect(measured.get('larger data package or data add-on')?.absolute_uplift).toBeGreaterThan(0);
  });

  it('reports the measurement in the manifest and the report, breakdowns in campaigns.parquet', async () => {
    const manifest = await readManifest(store, '2026-06', june.version);
    const campaigns = manifest.metrics.campaigns;
    if (!campaigns?.measured) throw new Error('June was not measured');
    // the list measured, by default the version June's segment ids were matched to, with its sha256
    const mayDispatch = (await readManifest(store, '2026-05', may.version)).outputs.find(
      (o) => o.file === 'dispatch.parquet',
    );
    expect(campaigns.dispatchFrom).toEqual({
      month: '2026-05',
      version: may.version,
      sha256: mayDispatch?.sha256,
      chosenBy: 'latest',
    });
    // May had one version when June ran: the one warning is of the outcome the log gives that segflow does not read
    expect(campaigns.warnings).toEqual([
      "1 contact-log row gives an outcome that is none of accepted, declined, not reached ('maybe later' x 1): counted as contacts whose outcome is unknown (acceptance is of the outcomes known); write one of those three words, map the log's words onto them in a contact-log mapping's outcomes (contactsMapping), or leave the outcome empty",
    ]);
    expect(campaigns.byAction.map((g) => g.group).sort()).toEqual(
      truth.effects
        .filter((e) => e.plantedReduction !== null)
        .map((e) => e.action)
        .sort(),
    );
    expect(manifest.outputs.map((o) => o.file)).toEqual(
      expect.arrayContaining(['campaigns.parquet', 'contacts_quarantine.parquet']),
    );
    const dimensions = await read<{ dimension: string }>(
      'SELECT DISTINCT dimension FROM read_parquet($file)',
      join(june.path, 'campaigns.parquet'),
    );
    expect(dimensions.map((d) => d.dimension).sort()).toEqual(
      ['action', 'all', 'channel', 'contact moment', 'grid', 'segment'].sort(),
    );
    const html = await readFile(join(june.path, 'report.html'), 'utf8');
    expect(html).toContain("Did last month's actions work?");
    expect(html).toContain('Churn prevented per action');
    // May had no contact log: nothing measured, nothing extra published
    const mayManifest = await readManifest(store, '2026-05', may.version);
    expect(mayManifest.metrics.campaigns).toBeUndefined();
    expect(mayManifest.outputs.map((o) => o.file)).not.toContain('campaigns.parquet');
  });

  it('quarantines bad contact rows with their reasons and counts', async () => {
    const manifest = await readManifest(store, '2026-06', june.version);
    const campaigns = manifest.metrics.campaigns;
    if (!campaigns?.measured) throw new Error('June was not measured');
    expect(campaigns.contacts.quarantineByReason).toEqual({
      [CONTACT_QUARANTINE_REASONS.unknownSubscriber]: 2,
      [CONTACT_QUARANTINE_REASONS.outsideMonth]: 1,
      [CONTACT_QUARANTINE_REASONS.badDate]: 1,
      [CONTACT_QUARANTINE_REASONS.missingId]: 1,
    });
    expect(campaigns.contacts.rows).toBe(truth.contacts + 8);
    // a timestamp, "Not_Reached", 2026/6/7 are read; "maybe later" is a contact whose outcome is unknown
    expect(campaigns.contacts.loaded).toBe(truth.contacts + 3);
    expect(campaigns.contacts.outcomesUnread).toBe(1);
    const quarantined = await read<{ reason: string }>(
      'SELECT reason FROM read_parquet($file)',
      join(june.path, 'contacts_quarantine.parquet'),
    );
    expect(quarantined).toHaveLength(5);
  });

  it('shows the measurement on the command line', async () => {
    const { stdout } = await promisify(execFile)(
      join(REPO_ROOT, 'bin', 'segflow'),
      ['campaigns', 'show', '2026-06', '--by', 'channel', '--json'],
      { env: { ...process.env, SEGFLOW_STORE: store.storeDir } },
    );
    const shown = JSON.parse(stdout) as { snapshot: { version: number }; groups: CampaignGroup[] };
    expect(shown.snapshot.version).toBe(june.version);
    expect(new Set(shown.groups.map((g) => g.dimension))).toEqual(new Set(['all', 'action', 'channel']));
  });

  it('reproduces the measured snapshot byte for byte, telling each step as it starts', async () => {
    const steps: string[] = [];
    const report = await reproduceSnapshot(store, { month: '2026-06', version: june.version }, (step) =>
      steps.push(step),
    );
    expect(steps).toEqual(['checking the inputs', 'load', 'features', 'cluster', 'churn', 'publish', 'comparing']);
    expect(report.files.map((f) => f.file)).toContain('campaigns.parquet');
    expect(report.files.filter((f) => !f.identical).map((f) => f.file)).toEqual([]);
  }, 300_000);

  it("keeps the contact log in the snapshot, and reproduces from that copy once the log's path holds next month's", async () => {
    const log = truth.contactsFile;
    const bytes = await readFile(log);
    const copy = join(june.path, contactLogFile(log));
    expect(await readFile(copy)).toEqual(bytes);
    // a schedule writes next month's log at the same path
    await writeFile(log, 'subscriber_id,contact_date,channel,outcome\n');
    try {
      const report = await reproduceSnapshot(store, { month: '2026-06', version: june.version });
      expect(report.changes).toEqual([]);
      expect(report.notes).toContainEqual(
        `the contact log ${log} changed since the run read it: its copy in the snapshot (${contactLogFile(log)}) was read`,
      );
      expect(report.files.filter((f) => !f.identical).map((f) => f.file)).toEqual([]);
      expect(report.identical).toBe(true);
    } finally {
      await writeFile(log, bytes);
    }
  }, 300_000);

  it("measures the log as a Chinese CRM exports it, through a contact-log mapping, as the same log in segflow's words; records the mapping, keeps it and reproduces byte for byte", async () => {
    // the log June measured, with Chinese headers, days written day first and Chinese outcome words
    const dayFirst = (day: string) => {
      const [, year, month, date] = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})/.exec(day) ?? [];
      return year ? `${date.padStart(2, '0')}/${month.padStart(2, '0')}/${year}` : '下周';
    };
    const words: Record<string, string> = {
      accepted: '成功办理',
      declined: '拒绝',
      not_reached: '未接通',
      'not reached': '未接通',
      'maybe later': '稍后再联系',
    };
    const [, ...lines] = (await readFile(truth.contactsFile, 'utf8')).trimEnd().split('\n');
    const chinese = join(input, '..', 'contacts-2026-06-crm.csv');
    await writeFile(
      chinese,
      [
        '用户号码,联系日期,推荐业务,渠道,办理结果',
        ...lines.map((line) => {
          const [id, day, action, channel, outcome] = line.split(',');
          return [id, dayFirst(day), action, channel, words[outcome.toLowerCase()] ?? outcome].join(',');
        }),
      ].join('\n') + '\n',
    );
    const mappingFile = join(input, '..', 'contacts-mapping.json');
    const mapping = {
      columns: {
        subscriber_id: '用户号码',
        contact_date: '联系日期',
        action: '推荐业务',
        channel: '渠道',
        outcome: '办理结果',
      },
      dateFormat: '%d/%m/%Y',
      outcomes: { 成功办理: 'accepted', 拒绝: 'declined', 未接通: 'not reached' },
    };
    await writeFile(mappingFile, JSON.stringify(mapping));
    const run = { workflowId: 'campaigns-2026-06', runId: 'crm' };
    const load = await loadUsage(store, run, {
      month: '2026-06',
      input,
      controlShare,
      contacts: chinese,
      contactsMapping: mappingFile,
      dispatched: `2026-05/v${may.version}`,
    });
    const features = await computeFeatures(load.dbPath, load.params);
    const cluster = await clusterSubscribers(
      load.dbPath,
      load.params,
      await findPreviousSegmentation(store, '2026-06'),
    );
    const churn = await trainAndScoreChurn(load.dbPath, load.params);
    // the mapping rewritten since the plan, days read month first (only those up to the 12th), so
    // publishing refuses it and publishes nothing (June's versions as they were)
    const versions = await listVersions(store, '2026-06');
    await writeFile(mappingFile, JSON.stringify({ ...mapping, dateFormat: '%m/%d/%Y' }));
    const request = { requestedBy: 'test', load, features, cluster, churn, experiment: true };
    await expect(publishSnapshot(store, run, request)).rejects.toThrow(ContactDateFormatError);
    await expect(publishSnapshot(store, run, request)).rejects.toThrow(
      /dateFormat "%m\/%d\/%Y" is not how the contact log .* writes its days: it reads [\d,]+ of the log's [\d,]+ non-blank days \(not read: days written like 'dd\/dd\/dddd', '下周'\); "%d\/%m\/%Y" reads /,
    );
    expect(await listVersions(store, '2026-06')).toEqual(versions);
    expect(await latestVersion(store, '2026-06')).toBe(june.version);
    await writeFile(mappingFile, JSON.stringify(mapping));
    // an experiment: June's latest stays the run the tests below read
    const crm = await publishSnapshot(store, run, {
      requestedBy: 'test',
      load,
      features,
      cluster,
      churn,
      experiment: true,
    });
    const measured = (await readManifest(store, '2026-06', crm.version)).metrics.campaigns;
    const first = (await readManifest(store, '2026-06', june.version)).metrics.campaigns;
    if (!measured?.measured || !first?.measured) throw new Error('not measured');
    const { file, sha256, mapping: recorded, ...counts } = measured.contacts;
    const { file: firstFile, sha256: firstSha256, ...firstCounts } = first.contacts;
    expect([file, firstFile]).toEqual([chinese, truth.contactsFile]);
    expect(sha256).not.toBe(firstSha256);
    expect(counts).toEqual(firstCounts);
    expect(measured.overall).toEqual(first.overall);
    expect(measured.byAction).toEqual(first.byAction);
    expect(measured.warnings).toEqual(first.warnings?.map((w) => w.replace("'maybe later'", "'稍后再联系'")));
    // the mapping as read: recorded with its sha256, and kept in the snapshot
    const mappingBytes = await readFile(mappingFile);
    expect(recorded).toEqual({ file: mappingFile, sha256: createHash('sha256').update(mappingBytes).digest('hex') });
    expect(await readFile(join(crm.path, 'contacts_mapping.json'))).toEqual(mappingBytes);
    const reproduced = await reproduceSnapshot(store, { month: '2026-06', version: crm.version });
    expect(reproduced.files.filter((f) => !f.identical).map((f) => f.file)).toEqual([]);
    expect(reproduced.identical).toBe(true);
    // the analyst edits the mapping since: the snapshot's copy is read, and said
    await writeFile(mappingFile, JSON.stringify(mapping, null, 2));
    const fromCopy = await reproduceSnapshot(store, { month: '2026-06', version: crm.version });
    expect(fromCopy.notes).toContainEqual(
      `the contact-log mapping ${mappingFile} changed since the run read it: its copy in the snapshot (contacts_mapping.json) was read`,
    );
    expect(fromCopy.identical).toBe(true);
    // neither the file nor the copy holds the mapping as read: a change, named, and nothing recomputed
    const copy = join(crm.path, 'contacts_mapping.json');
    await writeFile(copy, '{}');
    try {
      expect(await reproduceSnapshot(store, { month: '2026-06', version: crm.version })).toMatchObject({
        changes: [{ path: mappingFile, what: 'contact-log mapping', change: 'content changed' }],
        files: [],
        identical: false,
      });
    } finally {
      await writeFile(copy, mappingBytes);
    }
  }, 900_000);

  // last: these publish June again, which the tests above read as the latest
  it('measures the list that was dispatched (v1) once an analyst rerun of May is the latest, and says so by default', async () => {
    const v1 = `2026-05/v${may.version}`;
    const v2 = `2026-05/v${mayOtherModel.version}`;
    const listed = await read<{ subscriber_id: string; v1: string; v2: string | null }>(
      `SELECT a.subscriber_id, a.recommended_product AS v1, b.recommended_product AS v2
       FROM read_parquet($file) a LEFT JOIN read_parquet('${join(mayOtherModel.path, 'dispatch.parquet')}') b USING (subscriber_id)`,
      join(may.path, 'dispatch.parquet'),
    );
    expect(listed.filter((r) => r.v2 !== null && r.v1 !== r.v2).length).toBeGreaterThan(0); // the rerun recommends otherwise

    // by default the latest (v2), with a warning naming v1 as the better fit and the parameter
    byDefault = await runMonth('2026-06', 'r2', { contacts: truth.contactsFile });
    const defaulted = (await readManifest(store, '2026-06', byDefault.version)).metrics.campaigns;
    if (!defaulted?.measured) throw new Error('not measured');
    expect(defaulted.dispatchFrom).toMatchObject({
      month: '2026-05',
      version: mayOtherModel.version,
      chosenBy: 'latest',
    });
    const warning = defaulted.warnings?.find((w) => w.startsWith('measured against the dispatch list'));
    expect(warning).toContain(`the contact log fits ${v1} better`);
    expect(warning).toContain(`--param dispatched=${v1}`);
    expect(await readFile(join(byDefault.path, 'report.html'), 'utf8')).toContain(`--param dispatched=${v1}`);
    // the log's own actions (v1's recommendations) differ from v2's where the rerun recommends
    // otherwise: segflow's products, so no mapping is the remedy, another version of the list may be
    expect(defaulted.contacts.actionDiffers).toBeGreaterThan(0);
    const otherOffer = defaulted.warnings?.find((w) => w.includes('than the list recommends to the subscriber'));
    expect(otherOffer).toContain("another of segflow's products than the list recommends to the subscriber");
    expect(otherOffer).toContain('--param dispatched names it');
    expect(otherOffer).not.toContain('contact-log mapping');

    // named: v1 again, as June measured it before the rerun, without that warning
    const named = await runMonth('2026-06', 'r3', { contacts: truth.contactsFile, dispatched: v1 });
    const measured = (await readManifest(store, '2026-06', named.version)).metrics.campaigns;
    if (!measured?.measured) throw new Error('not measured');
    const first = (await readManifest(store, '2026-06', june.version)).metrics.campaigns;
    if (!first?.measured) throw new Error('not measured');
    expect(measured.dispatchFrom).toEqual({ ...first.dispatchFrom, chosenBy: 'dispatched' });
    expect(measured.byAction).toEqual(first.byAction);
    expect(measured.contacts).toMatchObject({ actionDiffers: 0, unknownChannels: [] });
    expect(measured.warnings ?? []).not.toContainEqual(expect.stringContaining('measured against the dispatch list'));
    expect(v2).not.toBe(v1);

    // both reproduce byte for byte: the default through the pinned previous snapshot, the named through the parameter
    for (const version of [byDefault.version, named.version]) {
      const report = await reproduceSnapshot(store, { month: '2026-06', version });
      expect(report.files.filter((f) => !f.identical).map((f) => f.file)).toEqual([]);
    }
  }, 600_000);

  it('reproduce names a dispatch list changed since the measurement, without recomputing', async () => {
    const list = join(may.path, 'dispatch.parquet');
    const bytes = await readFile(list);
    await chmod(list, 0o644);
    try {
      await appendFile(list, 'x');
      expect(await reproduceSnapshot(store, { month: '2026-06', version: june.version })).toMatchObject({
        identical: false,
        files: [],
        changes: [{ what: 'dispatch list', path: list, change: 'content changed' }],
      });
    } finally {
      await writeFile(list, bytes);
      await chmod(list, 0o444);
    }
  });

  it("measures last month's list when its snapshot was clustered on other features (no segment ids matched to it)", async () => {
    // as when the mapping reads other columns since May: June's segments are new, May's list is still the people contacted
    const run = { workflowId: 'campaigns-2026-06', runId: 'unmatched' };
    const load = await loadUsage(store, run, { month: '2026-06', input, controlShare, contacts: truth.contactsFile });
    const features = await computeFeatures(load.dbPath, load.params);
    const cluster = await clusterSubscribers(load.dbPath, load.params, null);
    const churn = await trainAndScoreChurn(load.dbPath, load.params);
    const unmatched = await publishSnapshot(store, run, {
      requestedBy: 'test',
      load,
      features,
      cluster,
      churn,
      experiment: true,
    });
    const manifest = await readManifest(store, '2026-06', unmatched.version);
    expect(manifest.metrics.previousSnapshot).toBeNull();
    // recorded apart, so a reproduction reads the same snapshot whatever May's latest is by then
    expect(manifest.metrics.campaignsMonthBefore).toEqual({ month: '2026-05', version: mayOtherModel.version });
    // measured against May's latest (the analyst's rerun), as a run matched to it would be
    expect(manifest.metrics.campaigns).toMatchObject({
      measured: true,
      dispatchFrom: { month: '2026-05', version: mayOtherModel.version, chosenBy: 'latest' },
    });
    const report = await readFile(join(unmatched.path, 'report.html'), 'utf8');
    expect(report).not.toContain('no snapshot of the month before');
    expect(report).not.toContain('no snapshot of 2026-05');
    // where migration would be: none, and May's segment ids mean other groups
    expect(report).toContain(
      `<b>No migration this month.</b> 2026-05/v${mayOtherModel.version}, the month before, was segmented on other features`,
    );
    const reproduced = await reproduceSnapshot(store, { month: '2026-06', version: unmatched.version });
    expect(reproduced.files.filter((f) => !f.identical).map((f) => f.file)).toEqual([]);
    expect(reproduced.identical).toBe(true);
  }, 300_000);

  // last: it retires May's v1
  it('reproduces a measurement byte for byte after another version of the measured month is retired', async () => {
    const before = (await readManifest(store, '2026-06', byDefault.version)).metrics.campaigns;
    if (!before?.measured) throw new Error('not measured');
    expect(before.listFits?.map((fit) => fit.version)).toEqual([may.version, mayOtherModel.version]);
    await retireSnapshot(store, { month: '2026-05', version: may.version }, { reason: 'test', actor: 'test' });
    // the warning naming v1 was computed from v1's list, which is gone: the recorded fit stands in for it
    const report = await reproduceSnapshot(store, { month: '2026-06', version: byDefault.version });
    expect(report.files.filter((f) => !f.identical).map((f) => f.file)).toEqual([]);
    expect(report.manifestDifferences).toEqual([]);
    expect(report.identical).toBe(true);
  }, 300_000);
});
