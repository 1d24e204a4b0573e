import { readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listValue } from '@duckdb/node-api';
import { RANDOM_MACROS, queryRows, readSql, runScript, setVariable, withConnection } from '../activities/duckdb';
import { addMonths, firstDay, isMonth } from '../domain/month';

/**
 * Relative churn reduction a contact brings, per action (recommended product): the truth a
 * simulated campaign plants. The recharge bonus does nothing, so a test can check that an action
 * without effect is not reported as working.
 */
const PLANTED_EFFECTS: Record<string, number> = {
  'family plan upgrade with broadband': 0.5,
  'premium unlimited plan with a device offer': 0.5,
  'larger data package or data add-on': 0.6,
  'voice minutes bundle with a family number': 0.4,
  'recharge bonus on a low-cost plan': 0,
  'converged mobile and broadband bundle': 0.5,
};

export interface CampaignOptions {
  /** A generated sample's folder (data/generate.ts): its usage for `month` is rewritten. */
  sampleDir: string;
  /** Last month's published dispatch.parquet, with its control flag. */
  dispatchFile: string;
  /** The month the contacts happen in and churn is measured, 'YYYY-MM' (the month after the list's). */
  month: string;
  seed: number;
  /** Relative churn reduction per action; actions left out have none. Default PLANTED_EFFECTS. */
  effects?: Record<string, number>;
}

interface PlantedCampaignEffect {
  action: string;
  subscribers: number;
  controlSubscribers: number;
  naturalChurnRate: number;
  /** Null for the whole list, whose actions differ. */
  plantedReduction: number | null;
  /** The uplift a perfect measurement finds: control churn rate minus contacted churn rate, expected. */
  plantedUplift: number;
  kept: number;
}

export interface CampaignTruth {
  month: string;
  contactsFile: string;
  contacts: number;
  /** The whole list first, then each action. */
  effects: PlantedCampaignEffect[];
}

/**
 * Simulates last month's campaign on a generated sample: writes the contact log that follows
 * the dispatch list (contacts-<month>.csv, everyone but the control group contacted), keeps the
 * natural churners the contacts saved (their row for `month` is added to the usage) and writes
 * the planted truth beside it (campaign-truth-<month>.json).
 */
export async function simulateCampaign(options: CampaignOptions): Promise<CampaignTruth> {
  if (!isMonth(options.month)) throw new RangeError(`month must be YYYY-MM: ${options.month}`);
  const usageFolder = (month: string) => join(options.sampleDir, 'usage', `usage_month=${month}`);
  const monthFolder = usageFolder(options.month);
  const monthFiles = (await readdir(monthFolder))
    .filter((f) => f.endsWith('.parquet'))
    .map((f) => join(monthFolder, f));
  const beforeFolder = usageFolder(addMonths(options.month, -1));
  const beforeFiles = (await readdir(beforeFolder))
    .filter((f) => f.endsWith('.parquet'))
    .map((f) => join(beforeFolder, f));
  const contactsFile = join(options.sampleDir, `contacts-${options.month}.csv`);
  const rewritten = join(monthFolder, 'part_0.parquet.tmp');

  const truth = await withConnection(':memory:', async (conn) => {
    await runScript(conn, RANDOM_MACROS);
    await setVariable(conn, 'dispatch_file', options.dispatchFile);
    await setVariable(conn, 'month_files', listValue(monthFiles));
    await setVariable(conn, 'before_files', listValue(beforeFiles));
    await conn.run("CREATE TEMP TABLE dispatch AS SELECT * FROM read_parquet(getvariable('dispatch_file'))");
    await conn.run("CREATE TEMP TABLE usage_month AS SELECT * FROM read_parquet(getvariable('month_files'))");
    await conn.run("CREATE TEMP TABLE usage_before AS SELECT * FROM read_parquet(getvariable('before_files'))");
    await conn.run('CREATE TEMP TABLE campaign_params AS SELECT $seed::BIGINT AS seed, $start::DATE AS month_start', {
      seed: options.seed,
      start: firstDay(options.month),
    });
    await conn.run('CREATE TEMP TABLE planted_effects (action VARCHAR, reduction DOUBLE)');
    for (const [action, reduction] of Object.entries(options.effects ?? PLANTED_EFFECTS))
      await conn.run('INSERT INTO planted_effects VALUES ($action, $reduction)', { action, reduction });
    await runScript(conn, await readSql(import.meta.url, './campaign.sql'));
    await setVariable(conn, 'rewritten', rewritten);
    await conn.run(
      "COPY (SELECT * FROM usage_month_after ORDER BY subscriber_id) TO (getvariable('rewritten')) (FORMAT parquet)",
    );
    await setVariable(conn, 'contacts_file', contactsFile);
    await conn.run(
      "COPY (SELECT * FROM contacts ORDER BY contact_date, subscriber_id) TO (getvariable('contacts_file')) (FORMAT csv, HEADER)",
    );
    return queryRows<{
      action: string;
      subscribers: number;
      control_subscribers: number;
      natural_churn_rate: number;
      planted_reduction: number | null;
      planted_uplift: number;
      kept: number;
    }>(conn, 'SELECT * FROM campaign_truth');
  });
  for (const file of monthFiles) await rm(file);
  await rename(rewritten, join(monthFolder, 'part_0.parquet'));

  const result: CampaignTruth = {
    month: options.month,
    contactsFile,
    contacts: truth[0].subscribers - truth[0].control_subscribers,
    effects: truth.map((t) => ({
      action: t.action,
      subscribers: t.subscribers,
      controlSubscribers: t.control_subscribers,
      naturalChurnRate: t.natural_churn_rate,
      plantedReduction: t.planted_reduction,
      plantedUplift: t.planted_uplift,
      kept: t.kept,
    })),
  };
  await writeFile(
    join(options.sampleDir, `campaign-truth-${options.month}.json`),
    JSON.stringify(result, null, 2) + '\n',
  );
  return result;
}
