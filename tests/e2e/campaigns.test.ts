import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { simulateCampaign } from '../../data/campaign';
import type { SampleSummary } from '../../data/generate';
import type { StoreConfig } from '../../store/layout';
import { readManifest } from '../../store/snapshots';
import { monthlySegmentation, type MonthlySegmentationResult } from '../../workflows/monthly-segmentation';
import { smallSample, storeIn, tempDir } from '../helpers';
import { startTemporal, workflowBundle } from './temporal-env';

/** The marketing manager's loop through a real dev server: dispatch in May, contact, measure in June. */
describe('dispatch, contact and measure through Temporal', () => {
  let env: TestWorkflowEnvironment;
  let store: StoreConfig;
  let sample: SampleSummary;

  beforeAll(async () => {
    const [started, dir] = await Promise.all([startTemporal(), tempDir()]);
    env = started;
    sample = await smallSample(dir, 3_000, 9);
    store = storeIn(dir);
  });
  afterAll(async () => {
    await env?.teardown();
  });

  async function runMonth(month: string, params: Record<string, unknown> = {}): Promise<MonthlySegmentationResult> {
    const taskQueue = `e2e-campaigns-${month}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities(store),
    });
    return worker.runUntil(
      env.client.workflow.execute(monthlySegmentation, {
        taskQueue,
        workflowId: `e2e-campaigns-${month}`,
        args: [
          {
            params: { month, input: join(sample.outDir, 'usage'), k: 5, controlShare: 0.2, ...params },
            requestedBy: 'e2e-test',
          },
        ],
      }) as Promise<MonthlySegmentationResult>,
    );
  }

  it("publishes June's measurement of May's dispatch list", async () => {
    const may = await runMonth('2026-05');
    const truth = await simulateCampaign({
      sampleDir: sample.outDir,
      dispatchFile: join(may.snapshotPath, 'dispatch.parquet'),
      month: '2026-06',
      seed: 11,
    });
    const june = await runMonth('2026-06', { contacts: truth.contactsFile });
    const manifest = await readManifest(store, '2026-06', june.version);
    const campaigns = manifest.metrics.campaigns;
    if (!campaigns?.measured) throw new Error(`June was not measured: ${JSON.stringify(campaigns)}`);
    expect(campaigns.dispatchFrom).toMatchObject({ month: '2026-05', version: may.version, chosenBy: 'latest' });
    expect(campaigns.contacts).toMatchObject({ rows: truth.contacts, quarantined: 0 });
    expect(campaigns.overall.controlSubscribers + campaigns.overall.targetedSubscribers).toBe(
      truth.effects[0].subscribers,
    );
    expect(manifest.outputs.map((o) => o.file)).toContain('campaigns.parquet');
    expect(await readFile(join(june.snapshotPath, 'report.html'), 'utf8')).toContain("Did last month's actions work?");
  });
});
