import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inputFolderAgainst, recordedPart } from '../../pipelines/reproduce';
import { sha256 } from '../../store/hashing';
import { tempDir } from '../helpers';

describe('snapshots reproduce and the input listing', () => {
  it('names a file the run read that the listing now passes over (a hidden name), beside the recomputation of what the run read', async () => {
    const dir = await tempDir();
    const june = join(dir, 'usage', 'usage_month=2026-06');
    await mkdir(june, { recursive: true });
    const [kept, hidden] = [join(june, 'part_0.parquet'), join(june, '_part_1.parquet')];
    await writeFile(kept, 'kept');
    await writeFile(hidden, 'hidden');
    // as an earlier version, which read `_`-named files, recorded its inputs
    const manifest = {
      params: { month: '2026-06', input: join(dir, 'usage'), historyMonths: 0 },
      inputs: [
        { path: kept, sha256: sha256('kept'), bytes: 4 },
        { path: hidden, sha256: sha256('hidden'), bytes: 6 },
      ],
    } as unknown as Parameters<typeof inputFolderAgainst>[0];
    // the recomputation reads both, as the run did; a run now would leave the hidden one out
    expect(await inputFolderAgainst(manifest, new Set())).toEqual([
      { path: hidden, change: 'passed over by the input listing now' },
    ]);
    // one gone is named as missing, not again here
    expect(await inputFolderAgainst(manifest, new Set([hidden]))).toEqual([]);
  });
});

describe('what an older manifest records, of a recomputation', () => {
  it('keeps the fields the recorded value has, at every depth, in arrays element by element', () => {
    const recorded = { dispatchFrom: { month: '2026-09', version: 1 }, byAction: [{ group: 'sms', uplift: 0.01 }] };
    const recomputed = {
      dispatchFrom: { month: '2026-09', version: 1, sha256: 'abc' },
      byAction: [{ group: 'sms', uplift: 0.01, acceptance: 0.2 }],
      contacts: { rows: 3 },
    };
    expect(recordedPart(recorded, recomputed)).toEqual(recorded);
    // a value that differs is kept as recomputed; an array of another length whole
    expect(recordedPart({ a: 1, list: [1] }, { a: 2, list: [1, 2] })).toEqual({ a: 2, list: [1, 2] });
  });
});
