import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CampaignFollowUp, CampaignMetrics } from '../../activities/campaign-metrics';
import { setVariable, withConnection } from '../../activities/duckdb';
import { CONTACT_MOMENTS } from '../../domain/actions';
import { versionDir } from '../../store/layout';
import { REPO_ROOT } from '../../worker/config';
import { storeIn, tempDir } from '../helpers';

/**
 * `segflow campaigns show` on a published measurement: a snapshot folder holding only what the
 * command reads (the manifest's metrics.campaigns and campaigns.parquet), with 400 grids so that
 * the JSON is well beyond a pipe's buffer, and the real contact moments as groups.
 */
describe('campaigns show', () => {
  let storeDir: string;

  beforeAll(async () => {
    const store = storeIn(await tempDir());
    storeDir = store.storeDir;
    const dir = versionDir(store, '2026-10', 1);
    await mkdir(dir, { recursive: true });
    await withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'file', join(dir, 'campaigns.parquet'));
      const moments = Object.values(CONTACT_MOMENTS)
        .map((m) => `'${m}'`)
        .join(', ');
      await conn.run(
        `COPY (
           WITH groups(dimension, "group") AS (
             SELECT 'all', 'all on the list'
             UNION ALL SELECT 'action', unnest(['larger data package or data add-on', 'premium unlimited plan with a device offer'])
             UNION ALL SELECT 'channel', unnest(['SMS and app push', 'outbound call and app push'])
             UNION ALL SELECT 'contact moment', unnest([${moments}])
             UNION ALL SELECT 'grid', 'grid ' || i FROM range(400) t(i)
           )
           SELECT dimension, "group", 1234 AS control_subscribers, 123 AS control_churned, 0.099676 AS control_churn_rate,
                  12345 AS targeted_subscribers, 1111 AS targeted_churned, 0.089996 AS targeted_churn_rate,
                  -0.10968 AS absolute_uplift, -0.5 AS relative_uplift, -0.150123 AS uplift_low, -0.070456 AS uplift_high,
                  true AS significant, false AS too_small, -14.912 AS kept_per_100_contacts,
                  9876 AS contacted_subscribers, 2345 AS accepted_subscribers, 0.25 AS acceptance_rate, 17 AS contacted_controls
           FROM groups
         ) TO (getvariable('file')) (FORMAT parquet)`,
      );
    });
    const overall = {
      dimension: 'all',
      group: 'all on the list',
      controlSubscribers: 1234,
      controlChurned: 123,
      controlChurnRate: 0.099676,
      targetedSubscribers: 12345,
      targetedChurned: 1111,
      targetedChurnRate: 0.089996,
      absoluteUplift: -0.10968,
      relativeUplift: -0.5,
      upliftLow: -0.150123,
      upliftHigh: -0.070456,
      significant: true,
      tooSmall: false,
      keptPer100Contacts: -14.912,
      contactedSubscribers: 9876,
      acceptedSubscribers: 2345,
      acceptanceRate: 0.25,
      contactedControls: 17,
    };
    const campaigns: CampaignMetrics = {
      measured: true,
      dispatchFrom: { month: '2026-09', version: 1 },
      contacts: {
        file: '/data/contacts-2026-10.csv',
        sha256: '0'.repeat(64),
        rows: 10_000,
        loaded: 9_950,
        quarantined: 50,
        quarantineByReason: { "subscriber_id: not on last month's dispatch list": 50 },
        contactedControls: 17,
      },
      interval: 'Newcombe hybrid score interval (method 10) from two Wilson 95% intervals',
      minArmSubscribers: 30,
      overall,
      byAction: [],
    };
    await writeFile(join(dir, '..', 'latest.json'), JSON.stringify({ month: '2026-10', version: 1, path: 'v1' }));
    await writeFile(
      join(dir, 'manifest.json'),
      JSON.stringify({ snapshot: { month: '2026-10', version: 1 }, metrics: { campaigns } }),
    );
  });

  /** Runs the command; with `closeAfterFirstChunk` its reader goes away after the first chunk, as `| head` does. */
  function show(
    args: string[],
    closeAfterFirstChunk = false,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((done, fail) => {
      const child = spawn(join(REPO_ROOT, 'bin', 'segflow'), ['campaigns', 'show', ...args], {
        env: { ...process.env, SEGFLOW_STORE: storeDir },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (closeAfterFirstChunk) child.stdout.destroy();
      });
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', fail);
      child.on('close', (code) => done({ code, stdout, stderr }));
    });
  }

  it('names the version of the month that measured one when the one asked for did not (a rerun without the log)', async () => {
    const rerun = join(storeDir, 'snapshots', '2026-10', 'v2');
    await mkdir(rerun, { recursive: true });
    await writeFile(
      join(rerun, 'manifest.json'),
      JSON.stringify({ snapshot: { month: '2026-10', version: 2 }, metrics: {} }),
    );
    try {
      const result = await show(['2026-10/v2']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        "2026-10/v2 measured no campaign (its run had no --param contacts); 2026-10's v1 did: segflow campaigns show 2026-10/v1 (the month's latest)",
      );
    } finally {
      await rm(rerun, { recursive: true });
    }
  }, 60_000);

  it('gives the same JSON keys whether the run measured a campaign or only followed one up, and names the version that measured', async () => {
    const rerun = join(storeDir, 'snapshots', '2026-10', 'v2');
    await mkdir(rerun, { recursive: true });
    const followUp: CampaignFollowUp = {
      measured: false,
      reason: "2026-08/v1's dispatch list, measured by 2026-09/v1, is no longer in the store (retired or removed)",
      firstMeasuredIn: { month: '2026-09', version: 1 },
    };
    await writeFile(
      join(rerun, 'manifest.json'),
      JSON.stringify({ snapshot: { month: '2026-10', version: 2 }, metrics: { campaignFollowUp: followUp } }),
    );
    try {
      const alone = await show(['2026-10/v2', '--json']);
      expect(alone.code).toBe(0);
      const hint =
        "2026-10/v2 measured no campaign (its run had no --param contacts); 2026-10's v1 did: segflow campaigns show 2026-10/v1 (the month's latest)";
      expect(JSON.parse(alone.stdout)).toEqual({
        snapshot: { month: '2026-10', version: 2 },
        metrics: null,
        groups: [],
        noMeasurement: hint,
        followUp: { metrics: followUp, groups: [] },
      });
      const measured = JSON.parse((await show(['2026-10/v1', '--json', '--by', 'channel'])).stdout) as Record<
        string,
        unknown
      >;
      expect(Object.keys(measured)).toEqual(['snapshot', 'metrics', 'groups', 'noMeasurement', 'followUp']);
      expect(measured).toMatchObject({ noMeasurement: null, followUp: null });
      expect(measured.groups).toHaveLength(5); // all, two actions, two channels
      // the text says it too, before the follow-up
      const text = await show(['2026-10/v2']);
      expect(text.stdout.replace(/\n +/g, ' ')).toContain(
        `${hint}\n\nA month later: not followed up: ${followUp.reason}.`,
      );
    } finally {
      await rm(rerun, { recursive: true });
    }
  }, 60_000);

  it("says a store's first month had no earlier list to measure, instead of blaming its run for no --param contacts", async () => {
    const first = join(storeDir, 'snapshots', '2026-08', 'v1');
    await mkdir(first, { recursive: true });
    await writeFile(
      join(first, 'manifest.json'),
      JSON.stringify({ snapshot: { month: '2026-08', version: 1 }, metrics: {} }),
    );
    try {
      const result = await show(['2026-08/v1']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        "2026-08/v1 measured no campaign: the store has no snapshot of 2026-07, so there was no earlier dispatch list to measure; 2026-09's run, given 2026-08's contact log (--param contacts=<file>), measures 2026-08's list",
      );
      expect(result.stderr).not.toContain('--param contacts)');
    } finally {
      await rm(join(storeDir, 'snapshots', '2026-08'), { recursive: true });
    }
  }, 60_000);

  it('ends quietly, exit 0, when its reader closes the pipe early (| head)', async () => {
    const full = await show(['2026-10', '--json']);
    expect(full.stderr).toBe('');
    expect(full.code).toBe(0);
    expect(full.stdout.length).toBeGreaterThan(200_000); // beyond the pipe's buffer
    const cut = await show(['2026-10', '--json'], true);
    expect(cut.stderr).not.toContain('EPIPE');
    expect(cut.code).toBe(0);
  }, 60_000);

  it('names the arms for what they are, shows the logged counts and fits 100 columns with the contact moments', async () => {
    const { code, stdout } = await show(['2026-10', '--by', 'contact moment']);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines.filter((line) => line.length > 100)).toEqual([]);
    expect(stdout).toContain(
      'logged: 9,876 of the 12,345 targeted have a contact record, whatever its outcome; 17 of the 1,234\n  held out were contacted anyway',
    );
    const headers = lines.filter((line) => /^(all|action|contact moment) +(control|targeted)/.test(line));
    expect(headers).toHaveLength(6); // per dimension: churn by arm, then contacts
    for (const header of headers) {
      expect(header).toContain('targeted');
      expect(header).not.toContain('contacted');
    }
    expect(headers.filter((h) => h.includes('logged'))).toHaveLength(3);
    // each contact moment whole, on a line of its own above its numbers
    for (const moment of Object.values(CONTACT_MOMENTS)) expect(lines).toContain(moment);
    expect(stdout).toMatch(/^ +1,234 +10\.0 +12,345 +9\.0 +-11\.0 +-15\.0 \.\. -7\.0 +significant \(harm\)$/m);
    expect(stdout).toMatch(/^ +12,345 +9,876 +17 +25\.0 +-14\.9$/m);
    // its manifest records no holdOutWeights (published before the weights): no word of weights
    expect(stdout).not.toContain('weighted');
  }, 60_000);
});
