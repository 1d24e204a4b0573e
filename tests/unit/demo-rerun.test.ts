import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { demoRerunNotes, ensureSample, identicalSnapshot, latestChosenElsewhere } from '../../cli/commands/demo';
import { parseRunParams } from '../../domain/params';
import { hashFile, paramsHash } from '../../store/hashing';
import { loadConfig } from '../../worker/config';
import { tempDir } from '../helpers';

/** The demo says when it is about to publish a version identical to one the month has. */
describe('demo rerun detection', () => {
  it('finds the version computed from the same parameters and input bytes, and only that one', async () => {
    const home = await tempDir();
    const config = loadConfig({ SEGFLOW_HOME: home });
    const input = join(home, 'usage.parquet');
    await writeFile(input, 'usage bytes');
    const params = { month: '2026-10', input };
    const parsed = parseRunParams(params);
    if (!parsed.ok) throw new Error(parsed.problems.join());
    const publish = async (version: number, hash: string, requestedBy = 'analyst') => {
      const dir = join(config.store.storeDir, 'snapshots', '2026-10', `v${version}`);
      await mkdir(dir, { recursive: true });
      const inputs = [{ path: input, ...(await hashFile(input)), rows: 1 }];
      await writeFile(join(dir, 'manifest.json'), JSON.stringify({ paramsHash: hash, inputs, requestedBy }));
    };
    await publish(1, paramsHash(parsed.params));
    await publish(2, 'other parameters');
    // the demo's own run of an older segflow, whose parameters hashed otherwise (one added since)
    await publish(3, 'an older release', 'maintainer (demo)');
    expect(await identicalSnapshot(config, params)).toBe(1);
    expect(await identicalSnapshot(config, { ...params, k: 4 })).toBeUndefined();
    await writeFile(input, 'changed bytes');
    expect(await identicalSnapshot(config, params)).toBeUndefined();

    // the month's latest: the demo's own (v1), or an analyst's of other parameters (v2), which the demo leaves the latest
    const latest = (version: number) =>
      writeFile(join(config.store.storeDir, 'snapshots', '2026-10', 'latest.json'), JSON.stringify({ version }));
    expect(await latestChosenElsewhere(config, params)).toBeUndefined();
    await latest(1);
    expect(await latestChosenElsewhere(config, params)).toBeUndefined();
    await latest(2);
    expect(await latestChosenElsewhere(config, params)).toBe(2);
    await latest(3);
    expect(await latestChosenElsewhere(config, params)).toBeUndefined();
  });
});

describe("what the demo says of the month's versions before it starts", () => {
  it('names the identical version also when an analyst holds the latest, with how to make it the latest again', () => {
    expect(demoRerunNotes('2026-11', undefined, undefined)).toEqual([]);
    expect(demoRerunNotes('2026-11', 1, undefined)).toEqual([
      expect.stringContaining(
        '2026-11/v1 was computed from this sample with these parameters; this run publishes an identical new version',
      ),
    ]);
    const both = demoRerunNotes('2026-11', 1, 4);
    expect(both).toHaveLength(2);
    expect(both[0]).toContain(
      "2026-11's latest is v4, published with other parameters or input than the demo's: this run publishes an experiment",
    );
    expect(both[1]).toBe(
      "2026-11/v1 was computed from this sample with these parameters: 'segflow snapshots promote 2026-11/v1 --reason …' makes it the latest again without a run",
    );
  });
});

describe('demo sample', () => {
  it('says when it replaces a sample of another shape, whose snapshots can no longer be reproduced', async () => {
    const config = loadConfig({ SEGFLOW_HOME: await tempDir() });
    const printed: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
    try {
      const shape = { subscribers: 60, months: 4, lastMonth: '2026-10', seed: 1 };
      await ensureSample(config, shape);
      await ensureSample(config, shape);
      await ensureSample(config, { ...shape, seed: 2 });
    } finally {
      log.mockRestore();
    }
    expect(printed.filter((line) => /sample data present|replacing the sample/.test(line))).toEqual([
      expect.stringContaining('sample data present'),
      expect.stringContaining(
        'replacing the sample of 60 subscribers x 4 months to 2026-10 (seed 1): snapshots computed from it can no longer be reproduced',
      ),
    ]);
  });
});
