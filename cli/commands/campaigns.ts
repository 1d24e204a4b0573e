import { join, resolve } from 'node:path';
import type {
  CampaignArms,
  CampaignFollowUp,
  CampaignFollowUpGroup,
  CampaignGroup,
  CampaignMetrics,
  HoldOutWeights,
} from '../../activities/campaign-metrics';
import { Option, type Command } from '@commander-js/extra-typings';
import { addMonths } from '../../domain/month';
import { CAMPAIGN_DIMENSIONS } from '../../domain/campaigns';
import { UsageError } from '../../domain/errors';
import { versionDir, type StoreConfig } from '../../store/layout';
import { readManifest, resolveSnapshot } from '../../store/snapshots';
import type { SnapshotRef } from '../../store/layout';
import { loadConfig } from '../../worker/config';
import { jsonOption as json } from '../json-option';
import { output, padColumns, positiveInt, required, TEXT_WIDTH } from '../options';
import stringWidth from 'string-width';
import {
  followUpDefinition,
  followUpHeadline,
  keptPer100Gap,
  noControlGroup,
  ownMonthReading,
  READING_IN_TABLES,
  upliftReading,
  weightedChurnNote,
  wrapWords,
} from '../../domain/campaign-reading';

/** Words wrapped to TEXT_WIDTH, continuation lines indented by `indent`. */
function wrap(text: string, indent = '  '): string[] {
  return wrapWords(text, TEXT_WIDTH, indent);
}

/** The note that a measurement's churn% is weighted, wrapped, above its tables; none when it is not. */
function weightedNote(weights: HoldOutWeights | undefined): string[] {
  const note = weightedChurnNote(weights);
  return note ? wrap(note) : [];
}

/**
 * One table per dimension, headed by its name, its numbers right-aligned and the last column
 * left-aligned when it is text. The name column takes what the numbers leave of TEXT_WIDTH; a longer group name
 * (a contact moment) gets a line of its own above its numbers.
 */
function dimensionTable(
  dimension: string,
  headers: string[],
  rows: { name: string; cells: string[] }[],
  textLast: boolean,
): string[] {
  const widths = headers.map((header, i) => Math.max(stringWidth(header), ...rows.map((r) => stringWidth(r.cells[i]))));
  const numbers = widths.reduce((sum, w) => sum + w + 2, 0);
  const nameWidth = Math.max(12, stringWidth(dimension), TEXT_WIDTH - numbers);
  const longest = Math.max(stringWidth(dimension), ...rows.map((r) => stringWidth(r.name)));
  const name = Math.min(longest, nameWidth);
  const line = (first: string, cells: string[]) =>
    [
      padColumns(first, name),
      ...cells.map((cell, i) => padColumns(cell, widths[i], textLast && i === cells.length - 1 ? 'left' : 'right')),
    ]
      .join('  ')
      .trimEnd();
  return [
    line(dimension, headers),
    line(
      '-'.repeat(name),
      widths.map((w) => '-'.repeat(w)),
    ),
    ...rows.flatMap((r) => (stringWidth(r.name) > name ? [r.name, line('', r.cells)] : [line(r.name, r.cells)])),
  ];
}

/** A dimensionTable for each dimension of the groups `shown`, in their order, each after an empty line. */
function tablesByDimension<G extends { dimension: string; group: string | null }>(
  shown: readonly G[],
  cells: (g: G) => string[],
  headers: string[],
  textLast: boolean,
): string[] {
  return [...new Set(shown.map((g) => g.dimension))].flatMap((dimension) => [
    '',
    ...dimensionTable(
      dimension,
      headers,
      shown.filter((g) => g.dimension === dimension).map((g) => ({ name: g.group ?? '(none)', cells: cells(g) })),
      textLast,
    ),
  ]);
}

/** Percentage points, one decimal ('' for none), and counts with thousands separators, as the tables show them. */
const pp = (n: number | null) => (n === null ? '' : `${(n * 100).toFixed(1)}`);
const count = (n: number) => n.toLocaleString('en-US');

/** A group's arms, churn and uplift as the tables show them, in both the measurement and its follow-up. */
const ARM_HEADERS = ['control', 'churn%', 'targeted', 'churn%', 'uplift', '95% interval', 'reading'];
const armCells = (g: CampaignArms) => [
  count(g.controlSubscribers),
  pp(g.controlChurnRate),
  count(g.targetedSubscribers),
  pp(g.targetedChurnRate),
  pp(g.absoluteUplift),
  `${pp(g.upliftLow)} .. ${pp(g.upliftHigh)}`,
  READING_IN_TABLES[upliftReading(g)],
];

/**
 * `campaigns show` for people, within TEXT_WIDTH columns: the measurement's header, the contact
 * log's counts, then per dimension the churn of each arm (with a note when it is weighted) with
 * the uplift, and how many were logged.
 */
export function campaignsText(ref: SnapshotRef, metrics: CampaignMetrics, shown: CampaignGroup[]): string {
  if (!metrics.measured) return `${ref.month}/v${ref.version}: not measured: ${metrics.reason}`;
  const noControl = noControlGroup(metrics);
  if (noControl) return `${ref.month}/v${ref.version}: not measured: ${noControl}`;
  const { overall, contacts } = metrics;
  const byDimension = (cells: (g: CampaignGroup) => string[], headers: string[], textLast: boolean) =>
    tablesByDimension(shown, cells, headers, textLast);
  return [
    ...wrap(
      `${ref.month}/v${ref.version}: the dispatch list of ${metrics.dispatchFrom.month}/v${metrics.dispatchFrom.version}${listChoice(metrics.dispatchFrom.chosenBy)} against its control group`,
    ),
    `contact log: ${count(contacts.rows)} rows, ${count(contacts.loaded)} used, ${count(contacts.quarantined)} quarantined`,
    ...Object.entries(contacts.quarantineByReason).map(([reason, rows]) => `  ${count(rows)} x ${reason}`),
    ...(metrics.warnings ?? (metrics.warning ? [metrics.warning] : [])).flatMap((w) => wrap(`warning: ${w}`)),
    ...wrap(
      `logged: ${count(overall.contactedSubscribers)} of the ${count(overall.targetedSubscribers)} targeted have a contact record, whatever its outcome; ${count(overall.contactedControls)} of the ${count(overall.controlSubscribers)} held out were contacted anyway (they stay in the control group)`,
    ),
    ...(unreadable(overall) > 0
      ? wrap(
          `unreadable: ${count(unreadable(overall))} on the list (${count(overall.controlUnreadable ?? 0)} held out, ${count(overall.targetedUnreadable ?? 0)} targeted) had every ${ref.month} usage row quarantined: whether they left is unknown, so they are in neither arm (their rows are in quarantine.parquet)`,
        )
      : []),
    '',
    ...wrap(
      `Churn by arm. targeted: everyone on the list not held out, reached or not (intent to treat); churn: no usage in ${ref.month}, the month of the contacts (a subscriber who leaves after a contact but late in the month still counts as kept); uplift = control churn% - targeted churn%, in percentage points (negative: more churn among the targeted); 95% interval: ${metrics.interval}.`,
    ),
    ...weightedNote(metrics.holdOutWeights),
    ...byDimension(armCells, ARM_HEADERS, true),
    '',
    ...wrap(
      `Logged: the targeted with a contact record (a "not reached" outcome too); controls logged: held out but contacted anyway; accepted%: accepted among the logged with an outcome (declined and not reached count); accepted, left: accepted yet no ${ref.month} usage (churned anyway, or a log row to check); kept/100: the uplift per 100 logged (negative: subscribers lost)${keptPer100Gap(metrics) ? `; kept/100 ${keptPer100Gap(metrics)}` : ''}.`,
    ),
    ...byDimension(
      (g) => [
        count(g.targetedSubscribers),
        count(g.contactedSubscribers),
        count(g.contactedControls),
        pp(g.acceptanceRate),
        // no outcome recorded, no acceptance: '–', as accepted% says, not 0 accepted who left
        g.acceptedChurned === undefined ? '' : g.acceptanceRate === null ? '–' : count(g.acceptedChurned),
        g.keptPer100Contacts?.toFixed(1) ?? '–',
      ],
      ['targeted', 'logged', 'controls logged', 'accepted%', 'accepted, left', 'kept/100'],
      false,
    ),
  ].join('\n');
}

/**
 * The follow-up for people (`campaigns show` of the month after the measurement): the headline,
 * then per dimension the churn of each arm by the follow-up's month (with a note when it is
 * weighted) with the uplift, and the uplift in the month of contact beside the uplift a month later.
 */
export function followUpText(followUp: CampaignFollowUp, shown: CampaignFollowUpGroup[]): string {
  if (!followUp.measured) return wrap(followUpHeadline(followUp)).join('\n');
  const { churnMonth, firstMeasuredIn, overall } = followUp;
  const own = firstMeasuredIn.month;
  const byDimension = (cells: (g: CampaignFollowUpGroup) => string[], headers: string[]) =>
    tablesByDimension(shown, cells, headers, true);
  const unreadableNow = overall.controlUnreadable + overall.targetedUnreadable;
  const ownReading = (g: CampaignFollowUpGroup) => {
    const read = ownMonthReading(g);
    return read === null ? '–' : READING_IN_TABLES[read];
  };
  return [
    ...wrap(followUpHeadline(followUp)),
    ...(unreadableNow > 0
      ? wrap(
          `unreadable: ${count(unreadableNow)} on the list (${count(overall.controlUnreadable)} held out, ${count(overall.targetedUnreadable)} targeted) had every ${churnMonth} usage row quarantined: in neither arm`,
        )
      : []),
    '',
    ...wrap(followUpDefinition(churnMonth, own)),
    ...weightedNote(followUp.holdOutWeights),
    ...byDimension(armCells, ARM_HEADERS),
    '',
    ...wrap(`The uplift in ${own} (the month of contact) and by ${churnMonth} (a month later), in percentage points.`),
    ...byDimension(
      (g) => [pp(g.ownMonthAbsoluteUplift), ownReading(g), pp(g.absoluteUplift), READING_IN_TABLES[upliftReading(g)]],
      [`in ${own}`, 'reading', `by ${churnMonth}`, 'reading'],
    ),
  ].join('\n');
}

/** Subscribers of a group left out of both arms: every run-month usage row quarantined (0 in older measurements). */
export function unreadable(g: CampaignGroup): number {
  return (g.controlUnreadable ?? 0) + (g.targetedUnreadable ?? 0);
}

/** How the measured list was chosen, as the header says it. */
function listChoice(chosenBy: 'dispatched' | 'latest' | undefined): string {
  if (chosenBy === 'dispatched') return ' (named by --param dispatched)';
  if (chosenBy === 'latest') return ' (the latest when the run started)';
  return '';
}

/**
 * Why a snapshot whose run was given no contact log has no measurement of its own, naming the
 * versions of its month that measured one (an analyst's rerun without the log became the latest),
 * or saying that the store's first month had no earlier list to measure.
 */
async function whyNoMeasurement(store: StoreConfig, ref: SnapshotRef): Promise<string> {
  const { latestVersion, listVersions } = await import('../../store/snapshots');
  const measured: number[] = [];
  for (const version of await listVersions(store, ref.month))
    if (
      version !== ref.version &&
      // a version whose manifest cannot be read is no answer here (audit verify names it)
      (await readManifest(store, ref.month, version).catch(() => null))?.metrics.campaigns?.measured
    )
      measured.push(version);
  // the store's first month: there was no list before it to measure
  const lastMonth = addMonths(ref.month, -1);
  if (measured.length === 0 && (await listVersions(store, lastMonth)).length === 0)
    return `${ref.month}/v${ref.version} measured no campaign: the store has no snapshot of ${lastMonth}, so there was no earlier dispatch list to measure; ${addMonths(ref.month, 1)}'s run, given ${ref.month}'s contact log (--param contacts=<file>), measures ${ref.month}'s list`;
  if (measured.length === 0)
    return `${ref.month}/v${ref.version} measured no campaign (its run had no --param contacts)`;
  // the month's latest when it measured one (what YYYY-MM means), else the newest that did
  const latest = await latestVersion(store, ref.month);
  const shown = latest !== undefined && measured.includes(latest) ? latest : (measured.at(-1) as number);
  const versions =
    measured.length <= 4
      ? measured
      : [...measured.slice(0, 3), ...(measured.includes(shown) && measured.indexOf(shown) >= 3 ? [shown] : [])];
  const named = versions.map((version) => `v${version}`).join(', ');
  const more = measured.length - versions.length;
  return (
    `${ref.month}/v${ref.version} measured no campaign (its run had no --param contacts); ${ref.month}'s ${named}${more > 0 ? ` and ${more} more` : ''} did: ` +
    `segflow campaigns show ${ref.month}/v${shown}${shown === latest ? ` (the month's latest)` : ''}`
  );
}

/** `segflow campaigns show`: did last month's retention actions work? */
export function registerCampaigns(program: Command): void {
  const campaigns = program
    .command('campaigns')
    .description("Last month's dispatch list measured against its control group (runs given --param contacts=<file>).");
  campaigns
    .command('show <snapshot>')
    .description(
      "Churn of the contacted against the control group (weighted by each subscriber's chance of being held out, when the list's controlShare is known), uplift with its 95% interval and kept per 100 contacts: YYYY-MM (latest), YYYY-MM/vN or YYYY-MM@N.",
    )
    .option('--by <dimension>', `breakdowns to list besides all and action: ${CAMPAIGN_DIMENSIONS.slice(2).join(', ')}`)
    .addOption(json())
    .action(async (reference: string, options: { by?: string; json: boolean }) => {
      const store = loadConfig().store;
      const ref = await resolveSnapshot(store, reference);
      const recorded = (await readManifest(store, ref.month, ref.version)).metrics;
      const metrics = recorded.campaigns;
      // absent in manifests published before the follow-up, and when last month measured no campaign
      const followUp = recorded.campaignFollowUp;
      if (options.by && !(CAMPAIGN_DIMENSIONS as readonly string[]).includes(options.by))
        throw new UsageError(`--by must be one of ${CAMPAIGN_DIMENSIONS.join(', ')}`);
      const dimensionsShown = ['all', 'action', options.by];
      const { readPublishedGroups } = await import('../../activities/campaigns');
      const { FOLLOW_UP_FILE } = await import('../../activities/campaign-follow-up');
      const snapshotPath = versionDir(store, ref.month, ref.version);
      const followUpGroups = followUp?.measured
        ? await readPublishedGroups<CampaignFollowUpGroup>(snapshotPath, FOLLOW_UP_FILE)
        : [];
      const followUpShown = followUpGroups.filter((g) => dimensionsShown.includes(g.dimension));
      // the same keys whatever was measured: null (or no groups) for what was not
      const followUpOutput = followUp
        ? { metrics: followUp, groups: options.by ? followUpShown : followUpGroups }
        : null;
      if (!metrics) {
        // this run measured nothing itself (no contact log): why, and which version of the month did
        const noMeasurement = await whyNoMeasurement(store, ref);
        if (!followUp) throw new UsageError(noMeasurement);
        // the follow-up of last month's measurement alone
        output(
          options.json,
          { snapshot: ref, metrics: null, groups: [], noMeasurement, followUp: followUpOutput },
          () => [...wrap(noMeasurement), '', followUpText(followUp, followUpShown)].join('\n'),
        );
        return;
      }
      const groups = metrics.measured
        ? await readPublishedGroups<CampaignGroup>(snapshotPath, 'campaigns.parquet')
        : [];
      const shown = groups.filter((g) => dimensionsShown.includes(g.dimension));
      output(
        options.json,
        {
          snapshot: ref,
          metrics,
          groups: options.by ? shown : groups,
          noMeasurement: null,
          followUp: followUpOutput,
        },
        () =>
          [campaignsText(ref, metrics, shown), ...(followUp ? ['', followUpText(followUp, followUpShown)] : [])].join(
            '\n',
          ),
      );
    });
  campaigns
    .command('simulate <snapshot>')
    .description(
      "On a generated sample: contact the snapshot's dispatch list (all but its control group) in the month after, with a planted effect per action (data/campaign.ts); writes contacts-<month>.csv and campaign-truth-<month>.json into the sample and keeps the saved subscribers in that month's usage.",
    )
    .option('--sample <dir>', 'the generated sample folder (segflow generate --out; required)')
    .addOption(new Option('--seed <n>', 'random seed of the simulation').argParser(positiveInt).default(11))
    .action(async (reference: string, options: { sample?: string; seed: number }) => {
      const store = loadConfig().store;
      const ref = await resolveSnapshot(store, reference);
      const { simulateCampaign } = await import('../../data/campaign');
      const truth = await simulateCampaign({
        sampleDir: resolve(required(options.sample, '--sample <dir>')),
        dispatchFile: join(versionDir(store, ref.month, ref.version), 'dispatch.parquet'),
        month: addMonths(ref.month, 1),
        seed: options.seed,
      });
      console.log(JSON.stringify(truth, null, 2));
      // the kept subscribers' rows are added to the month's usage file: what read it before read other bytes
      console.error(
        `note: the sample's ${truth.month} usage now holds the subscribers the contacts kept: snapshots of ${truth.month} or later made from this sample before no longer reproduce (their input changed); run those months again`,
      );
    });
}
