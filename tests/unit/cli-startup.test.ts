import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../worker/config';
import { segflow, tempDir } from '../helpers';
import { moduleImports, reachableModules } from '../import-graph';

/**
 * Packages that take a noticeable part of a second to load: the worker, Temporal's client (with
 * its protobuf types), the workflow SDK, DuckDB, the charts, the models, the progress bars and zod
 * (with the parameters' schema built on it).
 */
const HEAVY_PACKAGES = [
  '@temporalio/worker',
  '@temporalio/client',
  '@temporalio/common',
  '@temporalio/proto',
  '@temporalio/workflow',
  '@duckdb/node-api',
  'vega',
  'vega-lite',
  'ml-kmeans',
  'ml-cart',
  'cli-progress',
  'zod',
];

/**
 * Every command starts by loading cli/index.ts and what it imports; the commands that need the
 * worker, Temporal, DuckDB or the models load them in their actions (cli/program.ts), so `--help`
 * or `snapshots list` do not wait for them.
 */
describe('the command line at start-up', () => {
  it('imports none of the heavy packages before a command asks for them', async () => {
    const loaded = new Map<string, string>();
    for (const file of await reachableModules(['cli/index.ts']))
      for (const name of (await moduleImports(file)).packages)
        if (HEAVY_PACKAGES.some((heavy) => name === heavy || name.startsWith(`${heavy}/`))) loaded.set(name, file);
    expect(Object.fromEntries(loaded)).toEqual({});
  });

  it('loads them in the actions that use them', { timeout: 120_000 }, async () => {
    const home = await tempDir();
    // DuckDB, loaded by the action
    const generated = await segflow(
      ['generate', '--out', join(home, 'sample'), '--subscribers', '300', '--months', '3'],
      { SEGFLOW_HOME: home },
    );
    expect(generated.code).toBe(0);
    // text by default, as every command (--json for the summary as JSON)
    expect(generated.output).toMatch(
      /^wrote a sample of 300 subscribers over 3 months \(\d{4}-\d{2} to \d{4}-\d{2}, seed 42\)/,
    );
    expect(generated.output).toContain(`  usage          ${join(home, 'sample', 'usage')}`);
    expect(await readdir(join(home, 'sample', 'usage'))).toHaveLength(3);
    // it says which folder a run reads: the sample's usage/, not the sample with its ground truth
    const again = await promisify(execFile)(
      join(REPO_ROOT, 'bin', 'segflow'),
      ['generate', '--out', join(home, 'sample'), '--subscribers', '300', '--months', '3'],
      { env: { ...process.env, SEGFLOW_HOME: home } },
    );
    const asJson = await segflow(
      ['generate', '--out', join(home, 'sample'), '--subscribers', '300', '--months', '3', '--json'],
      { SEGFLOW_HOME: home },
    );
    expect(JSON.parse(asJson.output)).toMatchObject({ subscribers: 300, months: 3, seed: 42 });
    expect(again.stderr).toMatch(
      new RegExp(`segflow run --month \\d{4}-\\d{2} --input ${join(home, 'sample', 'usage')} reads this sample`),
    );
    // the diff's module, loaded before the snapshots are looked up
    const diff = await segflow(['snapshots', 'diff', '2026-05/v1', '2026-06/v1'], { SEGFLOW_HOME: home });
    expect(diff).toMatchObject({ code: 2, output: expect.stringContaining('2026-05') });
    // Temporal's client, loaded by the action: the audit log's runs without a server, and a
    // schedule command that needs one
    const noServer = { SEGFLOW_HOME: home, TEMPORAL_ADDRESS: '127.0.0.1:1' };
    expect(await segflow(['runs', 'list'], noServer)).toMatchObject({
      code: 0,
      output: expect.stringContaining('(none)'),
    });
    expect(await segflow(['schedule', 'describe'], noServer)).toMatchObject({
      code: 3,
      output: expect.stringContaining('cannot reach Temporal at 127.0.0.1:1'),
    });
  });
});
