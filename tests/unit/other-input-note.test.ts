import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { otherInputNote } from '../../cli/commands/run';
import { monthDir, versionDir } from '../../store/layout';
import { segflow, storeIn, tempDir, usageCsv } from '../helpers';

/** Nothing listens on port 1: `run` says its note, then cannot reach Temporal (exit 3). */
const NO_SERVER = { TEMPORAL_ADDRESS: '127.0.0.1:1' };

/** A store whose 2026-11 latest is v3, built from `input`. */
async function storeWithLatest(input: string) {
  const home = await tempDir();
  const store = storeIn(home);
  await mkdir(versionDir(store, '2026-11', 3), { recursive: true });
  await writeFile(
    join(versionDir(store, '2026-11', 3), 'manifest.json'),
    JSON.stringify({ params: { month: '2026-11', input } }),
  );
  await writeFile(join(monthDir(store, '2026-11'), 'latest.json'), JSON.stringify({ month: '2026-11', version: 3 }));
  return { home, store };
}

describe("a run of another input that would become the month's latest", () => {
  it('is noted, unless it is an experiment, the same input, or a month without a latest', async () => {
    const { store } = await storeWithLatest('/data/monthly/usage');
    expect(await otherInputNote(store, { month: '2026-11', input: '/home/ana/extract.csv' }, false)).toBe(
      "note: 2026-11's latest, v3, was built from another input (/data/monthly/usage); published, this run becomes 2026-11's latest, which next month's run, campaigns and '2026-11' in every command then mean. To try this input beside it, add --experiment (or use another SEGFLOW_HOME)",
    );
    expect(await otherInputNote(store, { month: '2026-11', input: '/home/ana/extract.csv' }, true)).toBeUndefined();
    expect(await otherInputNote(store, { month: '2026-11', input: '/data/monthly/usage/' }, false)).toBeUndefined();
    expect(await otherInputNote(store, { month: '2026-10', input: '/home/ana/extract.csv' }, false)).toBeUndefined();
  });

  it('is not noted, and the run not refused, when the latest cannot be read', async () => {
    const { store } = await storeWithLatest('/data/monthly/usage');
    await writeFile(join(versionDir(store, '2026-11', 3), 'manifest.json'), '{"params": {');
    expect(await otherInputNote(store, { month: '2026-11', input: '/home/ana/extract.csv' }, false)).toBeUndefined();
  });

  it('is said by `run` before it starts', async () => {
    const { home } = await storeWithLatest('/data/monthly/usage');
    const input = await tempDir(); // not home: an input holding the store is refused
    await writeFile(join(input, 'usage.csv'), usageCsv('2026-11')); // one the run's plan takes
    const result = await segflow(['run', '--month', '2026-11', '--input', input], { ...NO_SERVER, SEGFLOW_HOME: home });
    expect(result.code).toBe(3);
    expect(result.output).toContain("note: 2026-11's latest, v3, was built from another input (/data/monthly/usage)");
  }, 60_000);
});
