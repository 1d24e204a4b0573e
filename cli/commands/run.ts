import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parseRunParams } from '../../domain/params';
import { loadConfig } from '../../worker/config';
import { connectClient, describeRunFailure, followRun, startMonthlyRun } from '../../pipelines/client';
import { elapsed, printResult } from '../format';
import { progressDisplay } from '../progress';
import { sampleDir } from './demo';
import { EXIT, collectParam, monthArg, partitionsOption } from '../options';

/** The run parameters with their defaults, from the params schema itself. */
export function paramsHelp(): string {
  const parsed = parseRunParams({ month: '2000-01', input: '.' });
  if (!parsed.ok) return '';
  const rows = Object.entries(parsed.params)
    .filter(([name]) => name !== 'month' && name !== 'input')
    .map(([name, value]) => `  ${name.padEnd(26)} default ${JSON.stringify(value)}`);
  return `\nRun parameters (--param name=value), ranges in domain/params.ts:\n${rows.join('\n')}`;
}

/** Parameters from --params file.json, then --param pairs (which win). */
export function paramsFromOptions(options: {
  param: Record<string, unknown>;
  params?: string;
}): Record<string, unknown> {
  const fromFile = options.params ? (JSON.parse(readFileSync(options.params, 'utf8')) as Record<string, unknown>) : {};
  return { ...fromFile, ...options.param };
}

async function run(options: {
  month: string;
  input?: string;
  param: Record<string, unknown>;
  params?: string;
  requestedBy: string;
  heartbeatTimeout: string;
  partitions: number;
  reuse: boolean;
  wait: boolean;
  json: boolean;
}): Promise<number> {
  const config = loadConfig();
  const fromOptions = paramsFromOptions(options);
  const params = {
    ...fromOptions,
    month: options.month,
    input: resolve(options.input ?? join(sampleDir(config), 'usage')),
    // the worker may run elsewhere: paths travel absolute
    ...(typeof fromOptions.contacts === 'string' ? { contacts: resolve(fromOptions.contacts) } : {}),
  };
  const client = await connectClient(config);
  const { handle } = await startMonthlyRun(client, config, {
    params,
    requestedBy: options.requestedBy,
    heartbeatTimeout: options.heartbeatTimeout,
    partitions: options.partitions,
    reuse: options.reuse,
  });
  if (!options.wait) {
    console.log(options.json ? JSON.stringify({ workflowId: handle.workflowId }) : `started ${handle.workflowId}`);
    return EXIT.ok;
  }
  if (!options.json) console.log(`${elapsed()}  started workflow ${handle.workflowId}`);
  try {
    const display = options.json ? undefined : progressDisplay();
    const result = await followRun(handle, (progress) => display?.update(progress)).finally(() => display?.stop());
    if (options.json) console.log(JSON.stringify({ workflowId: handle.workflowId, ...result }, null, 2));
    else printResult(result, { workflowId: handle.workflowId, namespace: config.temporal.namespace });
    return EXIT.ok;
  } catch (error) {
    const message = describeRunFailure(error);
    if (options.json) console.log(JSON.stringify({ workflowId: handle.workflowId, error: message }));
    else console.error(`run failed: ${message}`);
    return EXIT.failed;
  }
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description(
      'Start a monthly run (analyst rerun = a new snapshot version, never an overwrite), follow it, print the result.',
    )
    .requiredOption('--month <YYYY-MM>', 'month to segment and score', monthArg)
    .option('--input <path>', 'usage Parquet file or folder (default: the demo sample)')
    .option('--param <name=value>', 'run parameter, repeatable (listed below)', collectParam, {})
    .option('--params <file.json>', 'run parameters from a JSON file (--param wins)')
    .option('--requested-by <name>', 'who asked for the run, for the audit log', userInfo().username)
    .option('--heartbeat-timeout <duration>', 'how soon a stage on a dead worker is retried elsewhere', '30s')
    .addOption(partitionsOption())
    .option('--no-reuse', 'compute load and features again even when their stored output matches (docs/reuse.md)')
    .option('--no-wait', 'print the workflow id and return')
    .option('--json', 'machine-readable output', false)
    .addHelpText('after', paramsHelp())
    .action(async (options) => process.exit(await run(options)));
}
