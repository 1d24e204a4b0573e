import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { followUpEndsNote } from '../../cli/commands/run';
import { monthDir, versionDir } from '../../store/layout';
import { segflow, storeIn, tempDir, usageCsv } from '../helpers';

/** Nothing listens on port 1: `run` says its note, then cannot reach Temporal (exit 3). */
const NO_SERVER = { TEMPORAL_ADDRESS: '127.0.0.1:1' };

const NOTE =
  "note: 2026-06/v2 measured 2026-05/v1's dispatch list against a contact log; this run is given none and, published, becomes 2026-06's latest, so 2026-07's run will have no measurement to follow up a month later. Give --param contacts=<that log> to measure it again, or --experiment to publish beside it (docs/campaigns.md)";

/** A store whose 2026-06 latest is v2, which measured 2026-05/v1's list (or measured nothing). */
async function storeWithLatest(measured: boolean) {
  const home = await tempDir();
  const store = storeIn(home);
  await mkdir(versionDir(store, '2026-06', 2), { recursive: true });
  const campaigns = measured
    ? { measured: true, dispatchFrom: { month: '2026-05', version: 1, sha256: 'd'.repeat(64) } }
    : { measured: false, reason: 'no subscriber of the contact log is on the list' };
  await writeFile(join(versionDir(store, '2026-06', 2), 'manifest.json'), JSON.stringify({ metrics: { campaigns } }));
  await writeFile(join(monthDir(store, '2026-06'), 'latest.json'), JSON.stringify({ month: '2026-06', version: 2 }));
  return { home, store };
}

describe("a rerun that would end next month's follow-up", () => {
  it('is noted when it has no contact log and would become the latest of a month that measured one', async () => {
    const { store } = await storeWithLatest(true);
    expect(await followUpEndsNote(store, { month: '2026-06' }, false)).toBe(NOTE);
    // given a log it measures again; as an experiment the latest stays
    expect(await followUpEndsNote(store, { month: '2026-06', contacts: '/logs/june.csv' }, false)).toBeUndefined();
    expect(await followUpEndsNote(store, { month: '2026-06' }, true)).toBeUndefined();
    // another month, and a store with no snapshot of the month
    expect(await followUpEndsNote(store, { month: '2026-07' }, false)).toBeUndefined();
    expect(await followUpEndsNote(storeIn(await tempDir()), { month: '2026-06' }, false)).toBeUndefined();
  });

  it('is not noted, and the run not refused, when latest.json cannot be read', async () => {
    const { store } = await storeWithLatest(true);
    await writeFile(join(monthDir(store, '2026-06'), 'latest.json'), '{"month": "2026-06", "vers');
    expect(await followUpEndsNote(store, { month: '2026-06' }, false)).toBeUndefined();
  });

  it('is not noted when the latest measured nothing: there is nothing to follow up', async () => {
    const { store } = await storeWithLatest(false);
    expect(await followUpEndsNote(store, { month: '2026-06' }, false)).toBeUndefined();
  });

  it('is said by `run` before it starts', async () => {
    const { home } = await storeWithLatest(true);
    const input = await tempDir(); // not home: an input holding the store is refused
    await writeFile(join(input, 'usage.csv'), usageCsv('2026-06')); // one the run's plan takes
    const result = await segflow(['run', '--month', '2026-06', '--input', input], { ...NO_SERVER, SEGFLOW_HOME: home });
    expect(result.code).toBe(3);
    expect(result.output).toContain(NOTE);
  }, 60_000);
});
