import { readFileSync } from 'node:fs';
import { Command } from '@commander-js/extra-typings';
import { REPO_ROOT } from '../worker/config';
import { registerDemo } from './commands/demo';
import { registerInfra } from './commands/infra';
import { registerAudit } from './commands/audit';
import { registerCampaigns } from './commands/campaigns';
import { registerCache } from './commands/cache';
import { registerRuns } from './commands/runs';
import { registerSnapshots } from './commands/snapshots';
import { registerRun } from './commands/run';
import { registerSchedule } from './commands/schedule';

const ENVIRONMENT_AND_EXIT_CODES = `
Environment:
  SEGFLOW_HOME        state folder: snapshot store, audit log, work files, sample data, dev server
                      database (default: .segflow in the clone)
  TEMPORAL_ADDRESS    Temporal frontend host:port (default 127.0.0.1:7233, the local dev server)
  TEMPORAL_NAMESPACE  default "default"; SEGFLOW_TASK_QUEUE default "segflow"
  SEGFLOW_LOG_LEVEL   worker log level: debug, info, warn, error
  More (TLS, API key, store and work folders): docs/configuration.md

Exit codes:
  0 success   1 the run failed or a check found problems   2 bad usage or parameters (nothing started)
  3 Temporal unreachable   4 nothing started: a schedule trigger skipped (a run of it still going)
  130 interrupted (Ctrl-C) before the command finished`;

function version(): string {
  return (JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { version: string }).version;
}

/**
 * The command tree. Commands import the worker, Temporal's client, DuckDB, zod and the models in
 * the actions that use them, not at the top of their files: every command, `--help` included, took
 * ~1.8 s to start when all of them were loaded up front (docs/benchmark.md, "Session 27"; Temporal's
 * client ~0.5 s and zod ~0.2 s more, "Session 28"), and tests/unit/cli-startup.test.ts keeps them
 * out of this file's imports.
 */
export function buildProgram() {
  const program = new Command('segflow')
    .description(
      'Monthly telecom segmentation, churn scoring and retention actions as versioned, auditable snapshots, orchestrated by Temporal.',
    )
    .version(version(), '-V, --version', 'print the segflow version')
    // a usage error shows the error and a one-line hint, not the whole help (inherited by every command)
    .showHelpAfterError('(add --help for the options)')
    // usage errors (unknown option, invalid value) end with exit code 2, not commander's 1
    .exitOverride()
    // commander's own usage errors start "error:", every other error of the command "segflow:"
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'segflow: ')) })
    .addHelpText('after', ENVIRONMENT_AND_EXIT_CODES);
  registerDemo(program);
  registerRun(program);
  registerSchedule(program);
  registerRuns(program);
  registerSnapshots(program);
  registerCampaigns(program);
  registerAudit(program);
  registerCache(program);
  registerInfra(program);
  return program;
}
