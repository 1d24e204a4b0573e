import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSample } from '../../data/generate';
import { UsageError } from '../../domain/errors';
import { segflow, tempDir } from '../helpers';

const shape = { subscribers: 50, months: 3, lastMonth: '2026-06', seed: 7 };

describe("the sample's folder", () => {
  it('is refused when it holds files that are not a sample, which stay as they were', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'important'));
    await writeFile(join(dir, 'important', 'file.txt'), 'precious');
    await expect(generateSample({ outDir: dir, ...shape })).rejects.toThrow(UsageError);
    await expect(generateSample({ outDir: dir, ...shape })).rejects.toThrow(
      `${dir} holds 1 file or folder and is not a generated sample (no sample.json of one): give a new or empty folder`,
    );
    expect(await readFile(join(dir, 'important', 'file.txt'), 'utf8')).toBe('precious');
    // the command says it as a usage error, before writing anything
    const result = await segflow(['generate', '--out', dir]);
    expect(result.code).toBe(2);
    expect(result.output).toContain('is not a generated sample');
    expect(await readdir(dir)).toEqual(['important']);
  });

  it('is refused when its sample.json is not one the generator wrote', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'usage'));
    await writeFile(join(dir, 'sample.json'), '{"name": "my data"}');
    await expect(generateSample({ outDir: dir, ...shape })).rejects.toThrow('is not a generated sample');
    expect((await readdir(dir)).sort()).toEqual(['sample.json', 'usage']);
  });

  it('replaces a generation cut short, which left no sample.json', async () => {
    const dir = join(await tempDir(), 'sample');
    await generateSample({ outDir: dir, ...shape });
    // as a generation stopped in its middle leaves it: the marker, part of the usage, no sample.json
    await rm(join(dir, 'sample.json'));
    await writeFile(join(dir, '.generating'), '');
    await generateSample({ outDir: dir, ...shape });
    expect((await readdir(dir)).sort()).toEqual(['sample.json', 'truth.parquet', 'usage']);
  });

  it("replaces an earlier sample's own files and keeps what else it holds", async () => {
    const dir = join(await tempDir(), 'sample');
    await generateSample({ outDir: dir, ...shape });
    await writeFile(join(dir, 'contacts-2026-06.csv'), 'subscriber_id\n');
    const summary = await generateSample({ outDir: dir, ...shape, seed: 8 });
    expect(summary.seed).toBe(8);
    expect((await readdir(dir)).sort()).toEqual(['contacts-2026-06.csv', 'sample.json', 'truth.parquet', 'usage']);
    expect(JSON.parse(await readFile(join(dir, 'sample.json'), 'utf8'))).toMatchObject({ seed: 8 });
  });
});
