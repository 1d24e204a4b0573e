import { readFileSync } from 'node:fs';
import { Command, CommanderError } from '@commander-js/extra-typings';
import { REPO_ROOT } from '../worker/config';
import { InfrastructureError, UsageError } from '../domain/errors';
import { registerDemo } from './commands/demo';
import { registerInfra } from './commands/infra';
import { registerAudit } from './commands/audit';
import { registerCampaigns } from './commands/campaigns';
import { registerCache } from './commands/cache';
import { registerRuns } from './commands/runs';
import { registerSnapshots } from './commands/snapshots';
import { registerRun } from './commands/run';
import { registerSchedule } from './commands/schedule';
import { EXIT } from './options';

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

/**
 * A reader that stops early (`snapshots show --json | head`) closes the pipe while a long output
 * (beyond the pipe's 64 KB) is still being written: Node then raises EPIPE on stdout, unhandled
 * ("Error: write EPIPE", exit 1). Nobody is left to read the rest, so the rest is dropped, and the
 * command ends as it would have, with its exit code and its clean-up (a run under --local stops
 * the server and worker it started; exiting here would leave them behind).
 */
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.stdout.write = (() => true) as typeof process.stdout.write;
});

buildProgram()
  .parseAsync()
  .catch((error: unknown) => {
    // commander has printed the message (or the help) already
    if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? EXIT.ok : EXIT.usage);
    console.error(`segflow: ${error instanceof Error ? error.message : String(error)}`);
    // a required option left out ends as commander ends its own usage errors
    if (error instanceof UsageError && error.message.startsWith('required option'))
      console.error('(add --help for the options)');
    process.exit(
      error instanceof UsageError
        ? EXIT.usage
        : error instanceof InfrastructureError
          ? EXIT.infrastructure
          : EXIT.failed,
    );
  });
