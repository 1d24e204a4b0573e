import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FOLLOW_UP_FILE, followUpGroups } from '../../activities/campaign-follow-up';
import type { CampaignFollowUpGroup, CampaignGroup } from '../../activities/campaign-metrics';
import { readCampaignGroups, readGroupRows, readPublishedGroups } from '../../activities/campaigns';
import { setVariable, withConnection } from '../../activities/duckdb';
import { tempDir } from '../helpers';

/** Rows of a campaign table: a few columns of each file, snake-cased as published. */
const ROWS = `SELECT * FROM (VALUES
  ('all', 'all on the list', 100, 0.25, 0.04, true, 3),
  ('action', 'voice bundle', 40, 0.2, NULL, false, 0),
  ('grid', NULL, 10, NULL, NULL, false, 1)
) t(dimension, "group", control_subscribers, control_churn_rate, absolute_uplift, significant, control_unreadable)`;

describe('reading campaign groups', () => {
  it('reads the measurement, the follow-up and either published file through one helper', async () => {
    const dir = await tempDir();
    const expected = [
      {
        dimension: 'all',
        group: 'all on the list',
        controlSubscribers: 100,
        controlChurnRate: 0.25,
        absoluteUplift: 0.04,
        significant: true,
        controlUnreadable: 3,
      },
      {
        dimension: 'action',
        group: 'voice bundle',
        controlSubscribers: 40,
        controlChurnRate: 0.2,
        absoluteUplift: null,
        significant: false,
        controlUnreadable: 0,
      },
      {
        dimension: 'grid',
        group: null,
        controlSubscribers: 10,
        controlChurnRate: null,
        absoluteUplift: null,
        significant: false,
        controlUnreadable: 1,
      },
    ];
    await withConnection(':memory:', async (conn) => {
      await conn.run(`CREATE TEMP TABLE snapshot_campaigns AS ${ROWS}`);
      await conn.run(`CREATE TEMP TABLE snapshot_campaign_follow_up AS ${ROWS}`);
      for (const [table, file] of [
        ['snapshot_campaigns', 'campaigns.parquet'],
        ['snapshot_campaign_follow_up', FOLLOW_UP_FILE],
      ]) {
        await setVariable(conn, 'file', join(dir, file));
        await conn.run(`COPY ${table} TO (getvariable('file')) (FORMAT parquet)`);
      }
      // the measurement's rows (by default its every dimension), the follow-up's, and filtered
      expect(await readCampaignGroups(conn)).toEqual(expected);
      expect(await followUpGroups(conn)).toEqual(expected);
      expect(await readGroupRows(conn, 'snapshot_campaign_follow_up', ['all', 'action'])).toEqual(expected.slice(0, 2));
      expect(await readCampaignGroups(conn, ['grid'])).toEqual(expected.slice(2));
    });
    // the published files, as `campaigns show` reads them
    expect(await readPublishedGroups<CampaignGroup>(dir, 'campaigns.parquet')).toEqual(expected);
    expect(await readPublishedGroups<CampaignFollowUpGroup>(dir, FOLLOW_UP_FILE)).toEqual(expected);
  });
});
