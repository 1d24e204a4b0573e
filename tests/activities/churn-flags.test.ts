import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { trainAndScoreChurn } from '../../activities/churn';
import { computeFeatures } from '../../activities/features';
import { loadUsage } from '../../activities/load';
import { seededRandom } from '../../activities/ml/random';
import { storeIn, tempDir } from '../helpers';

/**
 * Flags written as one value or a blank, declared "numeric": the models read a gap as 0. One
 * written 1 or blank says itself whether it is there; one written 0 or blank is 0 throughout,
 * so only its missing indicator tells the blanks (who churn more) from the zeros.
 */
describe('a flag declared numeric, one value or a blank', () => {
  it('gets a missing indicator when its value is 0, none when it is 1', async () => {
    const dir = await tempDir();
    const random = seededRandom(46);
    const lines = Array.from({ length: 3_000 }, (_, i) => {
      const late = random() < 0.4;
      const churn = random() < (late ? 0.35 : 0.08);
      return [
        `S${String(i + 1).padStart(6, '0')}`,
        (20 + random() * 80).toFixed(2),
        String(1 + Math.floor(random() * 60)),
        late ? '' : '0',
        late ? '1' : '',
        churn ? 'Yes' : 'No',
      ].join(',');
    });
    const input = join(dir, 'flags.csv');
    await writeFile(input, ['cust,charges,tenure,on_time_zero,late_one,Churn', ...lines].join('\n') + '\n');
    const mapping = join(dir, 'mapping.json');
    await writeFile(
      mapping,
      JSON.stringify({
        format: 'snapshot',
        columns: { subscriber_id: 'cust', spend: 'charges', tenure_months: 'tenure', churn_label: 'Churn' },
        values: { churn_label: { Yes: true, No: false } },
        features: { on_time_zero: 'numeric', late_one: 'numeric' },
      }),
    );
    const load = await loadUsage(
      storeIn(dir),
      { workflowId: 'churn-flags', runId: 'r1' },
      { month: '2026-05', input, mapping },
    );
    const features = await computeFeatures(load.dbPath, load.params, {
      format: load.format,
      inputColumns: load.inputColumns,
      userFeatures: load.userFeatures,
    });
    const churn = await trainAndScoreChurn(
      load.dbPath,
      load.params,
      features.skippedFeatures.map((s) => s.feature),
      { features: load.userFeatures, openFeatureSet: load.openFeatureSet },
    );
    const used = Object.fromEntries(churn.features.map((f) => [f.name, f]));
    expect(used.on_time_zero).toMatchObject({ type: 'numeric', source: 'user' });
    // 0 against a gap (read as 0): the indicator carries the flag
    expect(used['on_time_zero missing']).toMatchObject({ source: 'user', missingOf: 'on_time_zero' });
    expect(used['on_time_zero missing'].importance).toBeGreaterThan(0);
    // 1 against a gap: the value says it, no indicator
    expect(used['late_one missing']).toBeUndefined();
    expect(used.late_one.importance).toBeGreaterThan(0);
  }, 120_000);
});
