import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reproduceText } from '../../cli/commands/snapshots';
import { compareCode, type CodeVersion } from '../../activities/code-version';
import { reproduceSnapshot, type ReproduceReport } from '../../pipelines/reproduce';
import { builtOnNote } from '../../pipelines/retire';
import { versionDir } from '../../store/layout';
import { storeIn, tempDir } from '../helpers';

const code: CodeVersion = {
  segflow: '0.1.0',
  commit: 'c0d87d6aa1b2c3d4e5f60718293a4b5c6d7e8f90',
  node: 'v20.0.0',
  dependencies: {},
  stageCode: '5'.repeat(64),
};

/** 2026-10/v1 reproduced after 2026-09/v1, which it built on, was retired; the run took stored work. */
const afterRetirement: ReproduceReport = {
  ref: { month: '2026-10', version: 1 },
  changedInputs: [],
  changes: [],
  inputFolderNow: [],
  notes: [
    'its previous snapshot 2026-09/v1 is no longer in the store (retired or removed): the segment ids, migration and campaign results compared against it cannot be recomputed as published',
  ],
  previousSnapshotGone: true,
  monthBeforeGone: true,
  codeNow: code.commit,
  codeThen: code.commit,
  stageCodeNow: code.stageCode ?? '',
  stageCodeThen: code.stageCode ?? null,
  code: compareCode(code, code),
  files: [
    { file: 'migration.parquet', expected: 'a'.repeat(64), actual: null, published: 'a'.repeat(64), identical: false },
    {
      file: 'subscribers.parquet',
      expected: 'b'.repeat(64),
      actual: 'c'.repeat(64),
      published: 'b'.repeat(64),
      identical: false,
    },
  ],
  manifestDifferences: ['metrics.previousSnapshot', 'metrics.segments'],
  identical: false,
  reused: [
    {
      stage: 'feature-month',
      key: 'f'.repeat(64),
      producedBy: { workflowId: 'segflow-2026-09', runId: 'r1' },
    },
  ],
};

describe('reproduce after the month before was retired', () => {
  it('names the retired snapshot as the cause, without the stage cache note', () => {
    const text = reproduceText(afterRetirement);
    expect(text.split('\n').slice(0, 3)).toEqual([
      `2026-10/v1: DIFFERENT (code then ${code.commit}, now ${code.commit})`,
      'note: its previous snapshot 2026-09/v1 is no longer in the store (retired or removed): the segment ids, migration and campaign results compared against it cannot be recomputed as published',
      "the manifest records otherwise than the recomputation: metrics.previousSnapshot, metrics.segments (its previous snapshot is gone, see the note above; 'segflow audit verify' checks the manifest's hash)",
    ]);
    expect(text).not.toContain('stage cache');
    // with the month before in place, a difference by the same code may be the stored work's
    expect(
      reproduceText({ ...afterRetirement, notes: [], previousSnapshotGone: false, monthBeforeGone: false }),
    ).toContain(
      'note: the run took stored work from the stage cache, which this recomputation computed again: feature-month ffffffffffff (stored by segflow-2026-09)',
    );
  });

  it("finds the month before's snapshot its campaigns read gone, as well as the one its ids were matched to", async () => {
    const store = storeIn(await tempDir());
    const folder = versionDir(store, '2026-10', 1);
    await mkdir(folder, { recursive: true });
    // clustered on other features than the month before's: its campaigns read 2026-09's latest apart
    const manifest = {
      snapshot: { month: '2026-10', version: 1, publishedAt: '2026-11-02T03:00:00.000Z' },
      params: { month: '2026-10', input: join(folder, 'no-input'), historyMonths: 1 },
      inputs: [{ path: join(folder, 'no-input', 'usage.parquet'), sha256: '0'.repeat(64), bytes: 1, rows: 1 }],
      code,
      metrics: { previousSnapshot: null, campaignsMonthBefore: { month: '2026-09', version: 1 } },
      outputs: [],
    };
    await writeFile(join(folder, 'manifest.json'), JSON.stringify(manifest));
    const gone = await reproduceSnapshot(store, { month: '2026-10', version: 1 });
    expect(gone).toMatchObject({ previousSnapshotGone: false, monthBeforeGone: true });
    expect(gone.notes).toEqual([
      "the month before's snapshot its campaigns read, 2026-09/v1, is no longer in the store (retired or removed): the campaign results read from it cannot be recomputed as published",
    ]);
    await mkdir(versionDir(store, '2026-09', 1), { recursive: true });
    const there = await reproduceSnapshot(store, { month: '2026-10', version: 1 });
    expect(there).toMatchObject({ monthBeforeGone: false, notes: [] });
  });
});

describe("reproduce of a follow-up's second list", () => {
  it('checks the list contacted since only where the manifest pinned its sha256, and names one file once', async () => {
    const store = storeIn(await tempDir());
    const folder = versionDir(store, '2026-07', 1);
    await mkdir(folder, { recursive: true });
    const june = versionDir(store, '2026-06', 1);
    await mkdir(june, { recursive: true });
    await writeFile(join(june, 'dispatch.parquet'), 'the list as published');
    const followUp = (listedAgain: object) => ({
      measured: true,
      dispatchFrom: { month: '2026-05', version: 1, sha256: '1'.repeat(64) },
      firstMeasuredIn: { month: '2026-06', version: 1 },
      churnMonth: '2026-07',
      listedAgain,
    });
    const reproduce = async (listedAgain: object) => {
      await writeFile(
        join(folder, 'manifest.json'),
        JSON.stringify({
          snapshot: { month: '2026-07', version: 1, publishedAt: '2026-08-02T03:00:00.000Z' },
          params: { month: '2026-07', input: join(folder, 'no-input') },
          inputs: [],
          code,
          metrics: { previousSnapshot: null, campaignFollowUp: followUp(listedAgain) },
          outputs: [],
        }),
      );
      return (await reproduceSnapshot(store, { month: '2026-07', version: 1 })).changes.map((c) => c.what);
    };
    const list = { month: '2026-06', version: 1 };
    // the build that counted it before it recorded the list's sha256: nothing to check it against
    expect(await reproduce({ list, control: 3, targeted: 5 })).not.toContain('dispatch list contacted since');
    // pinned, and the file differs: a change
    expect(await reproduce({ list, sha256: '2'.repeat(64), control: 3, targeted: 5 })).toContain(
      'dispatch list contacted since',
    );
  });
});

describe('retire, of the snapshots built on the one retired', () => {
  const builtOn = ['2026-10/v1', '2026-10/v2'];
  const head =
    'note: built on it: 2026-10/v1, 2026-10/v2 (segment ids, migration and any campaign measurement); published, they stay so, but cannot be reproduced as published';

  it("says to rerun their month on the month's latest when it has one", () => {
    expect(builtOnNote('2026-09', { builtOn, latest: 2, left: [2] })).toBe(
      `${head}: rerun their month to build on the month's latest`,
    );
    expect(builtOnNote('2026-09', { builtOn: [], latest: 2, left: [2] })).toBe('');
  });

  it('says to publish the month again first when the retired version was its only one, or only experiments are left', () => {
    expect(builtOnNote('2026-09', { builtOn, latest: null, left: [] })).toBe(
      `${head}. 2026-09 has no version left: rerun 2026-09 first, then rerun their month to build on it; rerun before that, their month builds on no snapshot (new segment ids, no migration, no campaign measurement)`,
    );
    expect(builtOnNote('2026-09', { builtOn, latest: null, left: [2, 3] })).toBe(
      `${head}. 2026-09 has no latest left, only experiments (v2, v3): promote one ('segflow snapshots promote 2026-09/vN --reason …') or rerun 2026-09 first, then rerun their month to build on it; rerun before that, their month builds on no snapshot (new segment ids, no migration, no campaign measurement)`,
    );
  });
});
