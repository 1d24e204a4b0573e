import { CommanderError } from '@commander-js/extra-typings';
import { InfrastructureError, UsageError } from '../domain/errors';
import { EXIT } from './options';
import { buildProgram } from './program';

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
