import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reproduceSnapshot } from '../../pipelines/reproduce';
import { sha256 } from '../../store/hashing';
import { versionDir } from '../../store/layout';
import { storeIn, tempDir } from '../helpers';

describe('snapshots reproduce and the input listing', () => {
  it('names a file the run read that the listing now passes over (a hidden name), instead of an unexplained difference', async () => {
    const dir = await tempDir();
    const store = storeIn(dir);
    const june = join(dir, 'usage', 'usage_month=2026-06');
    await mkdir(june, { recursive: true });
    const [kept, hidden] = [join(june, 'part_0.parquet'), join(june, '_part_1.parquet')];
    await writeFile(kept, 'kept');
    await writeFile(hidden, 'hidden');
    // as an earlier version, which read `_`-named files, recorded its inputs
    const folder = versionDir(store, '2026-06', 1);
    await mkdir(folder, { recursive: true });
    await writeFile(
      join(folder, 'manifest.json'),
      JSON.stringify({
        snapshot: { month: '2026-06', version: 1 },
        params: { month: '2026-06', input: join(dir, 'usage'), historyMonths: 0 },
        inputs: [
          { path: kept, sha256: sha256('kept') },
          { path: hidden, sha256: sha256('hidden') },
        ],
        code: { commit: 'then' },
        metrics: {},
      }),
    );
    const report = await reproduceSnapshot(store, { month: '2026-06', version: 1 });
    expect(report).toMatchObject({
      identical: false,
      changes: [{ path: hidden, what: 'input file', change: 'passed over by the input listing now' }],
    });
  });
});
