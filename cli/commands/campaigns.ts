import { join, resolve } from 'node:path';
import type { CampaignGroup, CampaignMetrics } from '../../activities/campaigns';
import { Option, type Command } from '@commander-js/extra-typings';
import { addMonths } from '../../domain/month';
import { CAMPAIGN_DIMENSIONS } from '../../domain/campaigns';
import { UsageError } from '../../domain/errors';
import { versionDir } from '../../store/layout';
import { readManifest, resolveSnapshot, type SnapshotRef } from '../../store/snapshots';
import { loadConfig } from '../../worker/config';
import { jsonOption as json } from '../json-option';
import { EXIT, output, positiveInt, table } from '../options';

/** A group's reading: a significant uplift says which way it went (harm: more churn among the contacted). */
function reading(g: CampaignGroup): string {
  if (g.tooSmall) return 'too small';
  if (!g.significant) return 'not significant';
  return (g.absoluteUplift ?? 0) > 0 ? 'significant (kept)' : 'significant (harm)';
}

/** `campaigns show` for people: the measurement's header, the contact log's counts and one row per group. */
export function campaignsText(ref: SnapshotRef, metrics: CampaignMetrics, shown: CampaignGroup[]): string {
  if (!metrics.measured) return `${ref.month}/v${ref.version}: not measured: ${metrics.reason}`;
  const pp = (n: number | null) => (n === null ? '' : `${(n * 100).toFixed(1)}`);
  return [
    `${ref.month}/v${ref.version}: the dispatch list of ${metrics.dispatchFrom.month}/v${metrics.dispatchFrom.version} against its control group`,
    `uplift = control churn rate - contacted churn rate, in percentage points (negative: more churn among the contacted); ${metrics.interval}`,
    `contact log: ${metrics.contacts.rows} rows, ${metrics.contacts.loaded} used, ${metrics.contacts.quarantined} quarantined`,
    ...Object.entries(metrics.contacts.quarantineByReason).map(([reason, rows]) => `  ${rows} x ${reason}`),
    ...(metrics.warning ? [`warning: ${metrics.warning}`] : []),
    '',
    table(
      shown.map((g) => ({
        dimension: g.dimension,
        group: g.group,
        control: g.controlSubscribers,
        'churn% control': pp(g.controlChurnRate),
        contacted: g.targetedSubscribers,
        'churn% contacted': pp(g.targetedChurnRate),
        uplift: pp(g.absoluteUplift),
        '95% interval': `${pp(g.upliftLow)} .. ${pp(g.upliftHigh)}`,
        'kept/100': g.keptPer100Contacts?.toFixed(1) ?? '',
        'accepted%': pp(g.acceptanceRate),
        reading: reading(g),
      })),
    ),
  ].join('\n');
}

/**
 * A reader that stops early (`campaigns show --json | head`) closes the pipe while the output,
 * often beyond the pipe's 64 KB with every grid's row, is still being written: Node then raises
 * EPIPE on stdout, unhandled ("Error: write EPIPE", exit 1). Nobody is left to read the rest, so
 * that is the end of the command, not a failure.
 */
function stopQuietlyWhenThePipeCloses(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.ok);
    throw error;
  });
}

/** `segflow campaigns show`: did last month's retention actions work? */
export function registerCampaigns(program: Command): void {
  const campaigns = program
    .command('campaigns')
    .description("Last month's dispatch list measured against its control group (runs given --param contacts=<file>).");
  campaigns
    .command('show <snapshot>')
    .description(
      'Churn of the contacted against the control group, uplift with its 95% interval and kept per 100 contacts: YYYY-MM (latest), YYYY-MM/vN or YYYY-MM@N.',
    )
    .option('--by <dimension>', `breakdowns to list besides all and action: ${CAMPAIGN_DIMENSIONS.slice(2).join(', ')}`)
    .addOption(json())
    .action(async (reference: string, options: { by?: string; json: boolean }) => {
      const store = loadConfig().store;
      const ref = await resolveSnapshot(store, reference);
      const metrics = (await readManifest(store, ref.month, ref.version)).metrics.campaigns;
      if (!metrics)
        throw new UsageError(`${ref.month}/v${ref.version} measured no campaign (its run had no --param contacts)`);
      if (options.by && !(CAMPAIGN_DIMENSIONS as readonly string[]).includes(options.by))
        throw new UsageError(`--by must be one of ${CAMPAIGN_DIMENSIONS.join(', ')}`);
      const { readPublishedCampaigns } = await import('../../activities/campaigns');
      const groups = metrics.measured ? await readPublishedCampaigns(versionDir(store, ref.month, ref.version)) : [];
      const shown = groups.filter((g) => ['all', 'action', options.by].includes(g.dimension));
      stopQuietlyWhenThePipeCloses();
      output(options.json, { snapshot: ref, metrics, groups: options.by ? shown : groups }, () =>
        campaignsText(ref, metrics, shown),
      );
    });
  campaigns
    .command('simulate <snapshot>')
    .description(
      "On a generated sample: contact the snapshot's dispatch list (all but its control group) in the month after, with a planted effect per action (data/campaign.ts); writes contacts-<month>.csv and campaign-truth-<month>.json into the sample and keeps the saved subscribers in that month's usage.",
    )
    .requiredOption('--sample <dir>', 'the generated sample folder (segflow generate --out)')
    .addOption(new Option('--seed <n>', 'random seed of the simulation').argParser(positiveInt).default(11))
    .action(async (reference: string, options: { sample: string; seed: number }) => {
      const store = loadConfig().store;
      const ref = await resolveSnapshot(store, reference);
      const { simulateCampaign } = await import('../../data/campaign');
      const truth = await simulateCampaign({
        sampleDir: resolve(options.sample),
        dispatchFile: join(versionDir(store, ref.month, ref.version), 'dispatch.parquet'),
        month: addMonths(ref.month, 1),
        seed: options.seed,
      });
      console.log(JSON.stringify(truth, null, 2));
    });
}
