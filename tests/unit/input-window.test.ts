import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findInputFiles } from '../../activities/load';
import { tempDir } from '../helpers';

describe('an input whose month folders all lie outside the run window', () => {
  it('says which months its folders hold, to compare with --month', async () => {
    const root = await tempDir();
    for (const month of ['2026-01', '2026-03', '2025-12']) {
      await mkdir(join(root, `month=${month}`));
      await writeFile(join(root, `month=${month}`, 'part.parquet'), '');
    }
    await expect(findInputFiles(root, '2024-12', '2025-06')).rejects.toMatchObject({
      name: 'InputFileError',
      message: `none of the 3 files under ${root} is in the window 2024-12..2025-06: its month folders hold 2025-12..2026-03`,
    });
  });
});
