import { describe, expect, it } from 'vitest';
import type { CampaignGroup, CampaignMetrics } from '../../activities/campaigns';
import { campaignsSection } from '../../activities/report/sections/campaigns';
import { campaignsText } from '../../cli/commands/campaigns';
import { campaignWarningLine } from '../../cli/snapshot-text';

function group(dimension: string, name: string, values: Partial<CampaignGroup> = {}): CampaignGroup {
  return {
    dimension,
    group: name,
    controlSubscribers: 300,
    controlChurned: 30,
    controlChurnRate: 0.1,
    targetedSubscribers: 2_700,
    targetedChurned: 216,
    targetedChurnRate: 0.08,
    absoluteUplift: 0.02,
    relativeUplift: 0.2,
    upliftLow: -0.01,
    upliftHigh: 0.06,
    significant: false,
    tooSmall: false,
    keptPer100Contacts: 2.5,
    contactedSubscribers: 2_160,
    acceptedSubscribers: 400,
    acceptanceRate: 0.25,
    contactedControls: 3,
    ...values,
  };
}

function metrics(values: Partial<Extract<CampaignMetrics, { measured: true }>> = {}): CampaignMetrics {
  const overall = group('all', 'all on the list');
  return {
    measured: true,
    dispatchFrom: { month: '2026-10', version: 1 },
    contacts: {
      file: '/data/contacts.csv',
      sha256: 'f'.repeat(64),
      rows: 144,
      loaded: 0,
      quarantined: 144,
      quarantineByReason: { 'contact_date: outside the run month': 141, 'subscriber_id: missing': 3 },
      contactedControls: 0,
    },
    interval: 'Newcombe hybrid score interval (method 10) from two Wilson 95% intervals',
    minArmSubscribers: 30,
    overall,
    byAction: [],
    ...values,
  };
}

const ref = { month: '2026-11', version: 1 };
const WARNING =
  '0 of 144 contact-log rows were used (141 x contact_date: outside the run month 2026-11; 3 x subscriber_id: missing): is this the log of the contacts made in 2026-11?';

describe('campaign measurement as text', () => {
  it('shows the warning of a mostly unusable contact log in campaigns show, the report, the snapshot and the run result', async () => {
    const warned = metrics({ warning: WARNING });
    const groups = [group('all', 'all on the list'), group('action', 'offer')];
    expect(campaignsText(ref, warned, groups)).toContain(`warning: ${WARNING}`);
    expect(campaignsText(ref, metrics(), groups)).not.toContain('warning');
    const html = (await campaignsSection({ metrics: warned, groups })).html;
    expect(html).toContain('Check the contact log');
    expect(html).toContain('0 of 144 contact-log rows were used');
    expect((await campaignsSection({ metrics: metrics(), groups })).html).not.toContain('Check the contact log');
    expect(campaignWarningLine({ metrics: { campaigns: warned } } as never)).toBe(
      `  campaigns     warning: ${WARNING}`,
    );
    expect(campaignWarningLine({ metrics: { campaigns: metrics() } } as never)).toBeUndefined();
    expect(campaignWarningLine({ metrics: {} } as never)).toBeUndefined();
  });
});
