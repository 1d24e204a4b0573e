import { describe, expect, it } from 'vitest';
import type { CampaignFollowUp, CampaignFollowUpGroup } from '../../activities/campaign-metrics';
import { campaignFollowUpLine, manifestNotes, snapshotSummary } from '../../cli/snapshot-text';
import { followUpHeadline } from '../../domain/campaign-reading';
import type { SnapshotManifest } from '../../store/manifest';
import { printedResult } from '../printed-result';
import { followUpRow, measuredFollowUp } from '../campaign-follow-up-fixtures';

/** The whole list a month later: not significant, after a significant uplift in the month of contact. */
const overall = (values: Partial<CampaignFollowUpGroup> = {}) => followUpRow('all', 'all on the list', values);
const followedUp = (row = overall()): CampaignFollowUp => measuredFollowUp(row);

const REASON = "2026-05/v1's dispatch list, measured by 2026-06/v2, is no longer in the store (retired or removed)";
const notFollowedUp: CampaignFollowUp = {
  measured: false,
  reason: REASON,
  firstMeasuredIn: { month: '2026-06', version: 2 },
};

const snapshot = { month: '2026-07', version: 1 };

/** A manifest holding what `snapshots show` reads, with the follow-up given (none: no such field). */
function manifest(campaignFollowUp?: CampaignFollowUp): SnapshotManifest {
  return {
    snapshot: { ...snapshot, publishedAt: '2026-08-02T03:00:04.123Z' },
    run: { workflowId: 'w', runId: 'r' },
    requestedBy: 'cli:analyst',
    paramsHash: 'p'.repeat(64),
    inputs: [{ path: '/data/usage/all.parquet', sha256: 'a'.repeat(64), bytes: 1, rows: 31_131 }],
    code: { segflow: '0.1.0', commit: 'c0ffee' },
    rowCounts: {
      inputRows: 31_131,
      loaded: 31_131,
      quarantined: 0,
      subscribers: 15_939,
      trainingRows: 12_000,
      holdoutRows: 3_000,
    },
    quarantineByReason: {},
    skippedFeatures: [],
    metrics: {
      churnHoldout: { rocAuc: 0.8, liftByDecile: [3] },
      riskBandCounts: { high: 10 },
      kmeans: { k: 2 },
      segments: [],
      ...(campaignFollowUp ? { campaignFollowUp } : {}),
    },
    outputs: [],
  } as unknown as SnapshotManifest;
}

const MEASURED_LINE = [
  "  a month later 2026-05/v1's list, churn read in 2026-07: uplift +4.0 pp (95% interval −0.6 to",
  '                +8.7 pp, not significant), against +3.2 pp (+0.4 to +6.3 pp, significant (kept)) in',
  '                2026-06: the effect measured in the month of contact cannot be told from none a',
  '                month later; segflow campaigns show 2026-07/v1',
].join('\n');

const NOT_FOLLOWED_LINE = [
  "  a month later not followed up: 2026-05/v1's dispatch list, measured by 2026-06/v2, is no longer in",
  '                the store (retired or removed)',
].join('\n');

const within100 = (text: string) => text.split('\n').every((line) => line.length <= 100);

describe("the follow-up in a line of the run's result and snapshots show", () => {
  it('sums the follow-up up in the words of campaigns show and the report, within 100 columns', () => {
    const line = campaignFollowUpLine({ metrics: { campaignFollowUp: followedUp() }, snapshot } as never);
    expect(line).toBe(MEASURED_LINE);
    expect(within100(line!)).toBe(true);
    // the same words as the headline of campaigns show and the report, not a second formatter
    const words = line!.replace(/\n +/g, ' ');
    const headline = followUpHeadline(followedUp());
    for (const part of [
      'uplift +4.0 pp (95% interval −0.6 to +8.7 pp, not significant), against +3.2 pp (+0.4 to +6.3 pp, significant (kept)) in 2026-06: the effect measured in the month of contact cannot be told from none a month later',
    ]) {
      expect(words).toContain(part);
      expect(headline).toContain(part);
    }
  });

  it('leaves out the month of contact for a list it did not measure as a whole, and reads the verdict', () => {
    const kept = overall({
      upliftLow: 0.01,
      significant: true,
      ownMonthAbsoluteUplift: null,
      ownMonthSignificant: null,
      ownMonthTooSmall: null,
    });
    const words = campaignFollowUpLine({ metrics: { campaignFollowUp: followedUp(kept) }, snapshot } as never)!.replace(
      /\n +/g,
      ' ',
    );
    expect(words).toBe(
      "  a month later 2026-05/v1's list, churn read in 2026-07: uplift +4.0 pp (95% interval +1.0 to +8.7 pp, significant (kept)): the contacted left less often a month later; segflow campaigns show 2026-07/v1",
    );
    expect(words).not.toContain('against');
  });

  it("says the churn it reads is weighted, when the list's controlShare is known", () => {
    const holdOutWeights = { controlShare: 0.25, strata: 'region, grid, operation priority' } as const;
    const line = campaignFollowUpLine({
      metrics: { campaignFollowUp: { ...followedUp(), holdOutWeights } },
      snapshot,
    } as never);
    expect(line).toBe(
      [
        "  a month later 2026-05/v1's list, churn read in 2026-07 (weighted by each subscriber's chance of",
        '                being held out, controlShare 0.25): uplift +4.0 pp (95% interval −0.6 to +8.7 pp,',
        '                not significant), against +3.2 pp (+0.4 to +6.3 pp, significant (kept)) in 2026-06:',
        '                the effect measured in the month of contact cannot be told from none a month later;',
        '                segflow campaigns show 2026-07/v1',
      ].join('\n'),
    );
    expect(within100(line!)).toBe(true);
    const unweighted = { ...followedUp(), holdOutWeights: { ...holdOutWeights, controlShare: null } };
    expect(campaignFollowUpLine({ metrics: { campaignFollowUp: unweighted }, snapshot } as never)).toBe(MEASURED_LINE);
  });

  it('says why a list was not followed up, and nothing when there was nothing to follow up', () => {
    const line = campaignFollowUpLine({ metrics: { campaignFollowUp: notFollowedUp }, snapshot } as never);
    expect(line).toBe(NOT_FOLLOWED_LINE);
    expect(within100(line!)).toBe(true);
    // last month measured no campaign, or a manifest published before the follow-up: no field, no line
    expect(campaignFollowUpLine({ metrics: {}, snapshot } as never)).toBeUndefined();
    expect(manifestNotes(manifest())).toEqual([]);
  });

  it("is a note of snapshots show, after the month's own measurement, and of nothing without one", () => {
    const measured = { measured: false, reason: 'no contact log rows for 2026-07' };
    const both = manifest(followedUp());
    both.metrics.campaigns = measured as never;
    expect(manifestNotes(both)).toEqual([
      '  campaigns     not measured: no contact log rows for 2026-07',
      MEASURED_LINE,
    ]);
    const shown = snapshotSummary(manifest(followedUp()), {}, true, 'manifest.json');
    expect(shown).toContain(`\n${MEASURED_LINE}\n  files `);
    expect(snapshotSummary(manifest(notFollowedUp), {}, true, 'manifest.json')).toContain(`\n${NOT_FOLLOWED_LINE}\n`);
    expect(snapshotSummary(manifest(), {}, true, 'manifest.json')).not.toContain('a month later');
  });

  it("is printed beneath the run's result, as its manifest says", () => {
    const run = { month: '2026-07' };
    expect(printedResult(run, manifest(followedUp()))).toMatch(new RegExp(`\n\n${escape(MEASURED_LINE)}$`));
    expect(printedResult(run, manifest(notFollowedUp))).toMatch(new RegExp(`\n\n${escape(NOT_FOLLOWED_LINE)}$`));
    const plain = printedResult(run, manifest());
    expect(plain).not.toContain('a month later');
    expect(plain.split('\n').at(-1)).toBe('  segments'); // nothing printed beneath the result
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
