import { Command, CommanderError } from '@commander-js/extra-typings';
import { InfrastructureError, UsageError } from '../domain/errors';
import { registerDemo } from './commands/demo';
import { registerInfra } from './commands/infra';
import { registerAudit } from './commands/audit';
import { registerRuns } from './commands/runs';
import { registerSnapshots } from './commands/snapshots';
import { registerRun } from './commands/run';
import { registerSchedule } from './commands/schedule';
import { EXIT } from './options';

export function buildProgram(): Command {
  const program = new Command('segflow')
    .description(
      'Monthly telecom segmentation, churn scoring and retention actions as versioned, auditable snapshots, orchestrated by Temporal.',
    )
    .showHelpAfterError()
    // usage errors (unknown option, invalid value) end with exit code 2, not commander's 1
    .exitOverride();
  registerDemo(program);
  registerRun(program);
  registerSchedule(program);
  registerRuns(program);
  registerSnapshots(program);
  registerAudit(program);
  registerInfra(program);
  return program;
}

buildProgram()
  .parseAsync()
  .catch((error: unknown) => {
    // commander has printed the message (or the help) already
    if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? EXIT.ok : EXIT.usage);
    console.error(`segflow: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(
      error instanceof UsageError
        ? EXIT.usage
        : error instanceof InfrastructureError
          ? EXIT.infrastructure
          : EXIT.failed,
    );
  });
