import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { laterMonthNote } from '../../cli/commands/run';
import { versionDir } from '../../store/layout';
import { storeIn, tempDir } from '../helpers';

/** A store whose 2026-11 v1 was built on 2026-10/v3 (its ids matched, its list measured) and v2 on v4. */
async function storeBuiltOnOctober() {
  const store = storeIn(await tempDir());
  const built = async (version: number, on: number, measured: boolean) => {
    await mkdir(versionDir(store, '2026-11', version), { recursive: true });
    await writeFile(
      join(versionDir(store, '2026-11', version), 'manifest.json'),
      JSON.stringify({
        params: { month: '2026-11' },
        metrics: {
          previousSnapshot: { month: '2026-10', version: on },
          ...(measured ? { campaigns: { measured: true, dispatchFrom: { month: '2026-10', version: on } } } : {}),
        },
      }),
    );
  };
  await built(1, 3, true);
  await built(2, 4, false);
  return store;
}

describe('a run of a month that next month was built on', () => {
  it('is noted with what was built on which version, unless an experiment or nothing was', async () => {
    const store = await storeBuiltOnOctober();
    expect(await laterMonthNote(store, { month: '2026-10' }, false)).toBe(
      "note: 2026-11/v1 on 2026-10/v3 (segment ids, campaign measurement), 2026-11/v2 on 2026-10/v4 (segment ids) were built on 2026-10 as it stands; published, this run becomes 2026-10's latest and they stay as they are: run 2026-11 again to build on it",
    );
    expect(await laterMonthNote(store, { month: '2026-10' }, true)).toBeUndefined();
    expect(await laterMonthNote(store, { month: '2026-11' }, false)).toBeUndefined();
    expect(await laterMonthNote(store, { month: '2026-09' }, false)).toBeUndefined();
  });
});
