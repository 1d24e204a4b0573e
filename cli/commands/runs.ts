import { userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { MonthlyRunHandle } from '../../pipelines/client';
import { Option, type Command } from '@commander-js/extra-typings';
import { UsageError } from '../../domain/errors';
import { loadConfig, type SegflowConfig } from '../../worker/config';
import { jsonOption as json } from '../json-option';
import { EXIT, fittedTable, monthArg, output, positiveInt, recordedName, table, wrappedNote } from '../options';
import { actorText, type AuditEntry } from '../../store/audit-log';
import type { RunDetail, RunListing } from '../../pipelines/runs';

/** Temporal is optional for reading the audit log: without it, Temporal's columns say so. */
async function optionalClient(config: SegflowConfig): Promise<Client | undefined> {
  const { connectClient } = await import('../../pipelines/client');
  return connectClient(config).catch((error: unknown) => {
    // on stderr: --json output stays the rows alone
    console.error(`note: ${unreachedNote(config, error)}: showing what the audit log holds`);
    return undefined;
  });
}

/** Why Temporal was not consulted, in the words of the connection's error. */
function unreachedNote(config: SegflowConfig, error: unknown): string {
  const why = error instanceof Error ? error.message : String(error);
  return why.startsWith('cannot reach Temporal')
    ? why.replace(/; start one with: segflow server$/, '')
    : `cannot reach Temporal at ${config.temporal.address} (${why})`;
}

/** What a schedule event records beside its actor: the note, and for its creation the input, parameters and policies. */
function scheduleEventDetails(details: Record<string, unknown> | undefined): string {
  if (!details) return '';
  // who ran the command shows beside the actor (actorText)
  const { note, osUser: _osUser, host: _host, ...rest } = details;
  const parts = Object.entries(rest).map(([name, value]) => `${name} ${JSON.stringify(value)}`);
  return [...(note ? [`note: ${String(note)}`] : []), ...parts].join('; ');
}

/**
 * A run's workflow id as given on the command line, or a usage error for an empty one (`runs
 * cancel ""` said "Failed to describe workflow", exit 1, after reaching Temporal).
 */
export function workflowIdArg(command: string, workflowId: string): string {
  if (workflowId.trim() === '')
    throw new UsageError(
      `${command}: the workflow id is empty; give a run's workflow id ('segflow runs list' shows the runs)`,
    );
  return workflowId;
}

/** `segflow runs list | show`: runs from the audit log, joined with Temporal's status and history. */
export function registerRuns(program: Command): void {
  const runs = program.command('runs').description('Runs from the audit log, joined with Temporal status and history.');
  runs
    .command('list')
    .description(
      "List runs, newest last: the audit log's, and the runs Temporal still holds (within its retention) that the log has no entry of, marked 'no audit entry' (a run that failed before it wrote its first one, e.g. with a store its worker cannot write; 'segflow runs show <workflow id>' says why). Without Temporal, the audit log's alone. Within 100 columns; --json has every field whole.",
    )
    .option('--month <YYYY-MM>', 'only this month', monthArg)
    .addOption(new Option('--limit <n>', 'at most this many').argParser(positiveInt).default(50))
    .addOption(json())
    .action(async (options) => {
      const config = loadConfig();
      const { listRuns } = await import('../../pipelines/runs');
      const rows = await listRuns(config.store, await optionalClient(config), {
        month: options.month,
        limit: options.limit,
        taskQueue: config.temporal.taskQueue,
      });
      output(options.json, rows, runsListText);
    });
  runs
    .command('follow <workflowId>')
    .description(
      "Follow a run started elsewhere (a schedule's, run --no-wait, or one Ctrl-C stopped following): its progress, then its result, as run shows them; exits as run does.",
    )
    .addOption(json())
    .action(async (workflowId: string, options) => {
      workflowIdArg('runs follow', workflowId);
      const config = loadConfig();
      const { connectClient } = await import('../../pipelines/client');
      const { WorkflowNotFoundError } = await import('@temporalio/client');
      const { followToItsEnd, stopFollowingOnCtrlC } = await import('./run');
      const client = await connectClient(config);
      const handle = client.workflow.getHandle(workflowId) as MonthlyRunHandle;
      await handle.describe().catch((error: unknown) => {
        if (error instanceof WorkflowNotFoundError)
          throw new UsageError(`no run ${workflowId} in Temporal ('segflow runs list' shows the runs)`);
        throw error;
      });
      if (!options.json) console.log(`following ${workflowId}`);
      stopFollowingOnCtrlC(workflowId);
      process.exit(await followToItsEnd(handle, client, config, options));
    });
  runs
    .command('show <workflowId>')
    .description(
      "One run: every audit event (those of a reused workflow id's earlier runs marked as such) and, while Temporal keeps it, status, why it failed (as runs follow says it), search attributes, activity attempts and the activities running now (their attempt, the last failure).",
    )
    .addOption(json())
    .action(async (workflowId: string, options) => {
      const config = loadConfig();
      const { showRun } = await import('../../pipelines/runs');
      const client = await optionalClient(config);
      const detail = await showRun(config.store, client, workflowId);
      if (detail.audit.length === 0 && !detail.temporal) {
        throw new UsageError(
          client
            ? `no run ${workflowId} in the audit log or in Temporal ('segflow runs list' shows the runs)`
            : `no run ${workflowId} in the audit log; Temporal, not reached, was not asked ('segflow runs list' shows the runs)`,
        );
      }
      output(options.json, detail, (d) => runDetailText(workflowId, d, client !== undefined));
    });
  runs
    .command('cancel <workflowId>')
    .description(
      'Cancel a running run: it stops, publishes nothing, and the audit log records who asked and that it was cancelled.',
    )
    .option(
      '--requested-by <name>',
      'who cancels, for the audit log',
      recordedName('--requested-by'),
      userInfo().username,
    )
    .action(async (workflowId: string, options) => {
      workflowIdArg('runs cancel', workflowId);
      const config = loadConfig();
      const { CancelledFailure, WorkflowFailedError } = await import('@temporalio/client');
      const { connectClient, describeRunFailure, taskQueueHasPollers } = await import('../../pipelines/client');
      const { cancelRun } = await import('../../pipelines/runs');
      const client = await connectClient(config);
      await cancelRun(client, config.store, workflowId, options.requestedBy);
      console.log(`cancellation requested for ${workflowId}; waiting for it to stop`);
      const ended = client.workflow
        .getHandle(workflowId)
        .result()
        .then(
          () => 'it had reached publishing, which is not interrupted: it published',
          (error: unknown) =>
            error instanceof WorkflowFailedError && error.cause instanceof CancelledFailure
              ? 'cancelled: nothing published'
              : `it ended otherwise: ${describeRunFailure(error)}`,
        );
      // a run no worker polls for only sees the cancellation once one does: said at once, not after the wait
      const quick = await Promise.race([ended, sleep(1_000, undefined, { ref: false })]);
      if (quick === undefined) {
        const { taskQueue } = await client.workflow.getHandle(workflowId).describe();
        if (!(await taskQueueHasPollers(client, taskQueue))) {
          console.log(
            `no worker polls task queue "${taskQueue}": the run sees the cancellation once one does ('segflow worker' starts one); the cancellation is recorded`,
          );
          process.exit(EXIT.ok);
        }
      }
      // a stage whose worker is gone stops when its heartbeat timeout passes (30 s unless the run set another)
      const outcome = await Promise.race([
        ended,
        sleep(
          40_000,
          `still stopping: a running stage ends when it next hears from Temporal, or when its heartbeat timeout passes if its worker is gone, and a run no worker polls for stops once one does; 'segflow runs show ${workflowId}' shows where it is`,
          { ref: false },
        ),
      ]);
      console.log(outcome);
      // the request was met (cancelled, or publishing had begun) or is still being met; a failure is the run's
      process.exit(outcome.startsWith('it ended otherwise') ? EXIT.failed : EXIT.ok);
    });
}

/**
 * Temporal's status each outcome of the audit log's goes with (pipelines/runs.ts OUTCOME and
 * NO_AUDIT_ENTRY_YET, not imported: this module loads at every command's start): beside it, it
 * would say nothing more.
 */
const AGREEING_STATUS: Record<string, string> = {
  requested: 'RUNNING',
  running: 'RUNNING',
  retrying: 'RUNNING',
  cancelling: 'RUNNING',
  'no audit entry yet': 'RUNNING',
  published: 'COMPLETED',
  failed: 'FAILED',
  cancelled: 'CANCELLED',
};

/**
 * A run's outcome as `runs list` prints it, in a few columns: its version beside `published`, or
 * beside `promoted` and `retired` for a run published whose snapshot was since promoted or retired,
 * `(x)` for an experiment, and Temporal's status where it adds to the log's word (`ended
 * unrecorded (TERMINATED)`, `no audit entry (FAILED)`); not `gone` (past retention) nor a status
 * unknown (Temporal not reached).
 */
function listedOutcome(row: RunListing): string {
  const experiment = row.outcome.endsWith(' (experiment)');
  const outcome = row.outcome.replace(/ \(experiment\)$/, '');
  const ending = outcome.split(',')[0];
  const since = /^published, since (\w+)$/.exec(outcome)?.[1];
  const status = row.temporalStatus;
  const told = /^[A-Z_]+$/.test(status) && AGREEING_STATUS[ending] !== status ? ` (${status})` : '';
  const version = row.version === null ? '' : ` v${row.version}`;
  return `${since ?? outcome}${version}${told}${experiment ? ' (x)' : ''}`;
}

/** Who asked for a run, in a few columns: a schedule's runs say `schedule`, their workflow id naming it. */
function listedRequester(row: RunListing): string {
  const scheduleId = /^schedule:(.+)$/.exec(row.requestedBy)?.[1];
  return scheduleId !== undefined && row.workflowId.startsWith(`${scheduleId}-`) ? 'schedule' : row.requestedBy || '-';
}

/**
 * `runs list` as text within TEXT_WIDTH columns: the table (who asked cut to fit, the workflow id
 * whole, on a line of its own when it does not fit beside), and what its marks mean. Run ids,
 * full times and Temporal's status where it agrees are behind --json.
 */
export function runsListText(rows: RunListing[]): string {
  const unlogged = rows.filter((row) => !row.inAuditLog);
  return [
    fittedTable(
      rows.map((row) => ({
        month: row.month || '-',
        outcome: listedOutcome(row),
        'requested (UTC)': row.requestedAt.slice(0, 16).replace('T', ' '),
        by: listedRequester(row),
        'workflow id': row.workflowId,
      })),
      { by: 8 },
    ),
    ...(rows.some((row) => row.outcome.endsWith(' (experiment)'))
      ? ["(x) an experiment (run --experiment): it does not move the month's latest"]
      : []),
    ...(unlogged.length
      ? [
          wrappedNote(
            `no audit entry: a run Temporal holds that the audit log has nothing of: it ended before it wrote its first entry (a store its worker cannot write, say), no worker has taken it up yet (while it runs), or it is another store's run on this task queue started before runs named their store. 'segflow runs show <workflow id>' says why it ended`,
          ),
        ]
      : []),
  ].join('\n');
}

/**
 * `runs show` as text: the audit log's entries (those of a workflow id's earlier runs marked as
 * such: a schedule's backfill reuses its ids), then what Temporal holds of its latest run, with
 * why it failed. `reached`: whether Temporal was asked.
 */
export function runDetailText(workflowId: string, detail: RunDetail, reached: boolean): string {
  // a schedule's id names its changes in the log (schedule.created, .paused, ...), not a run
  const isSchedule =
    detail.audit.length > 0 &&
    detail.audit.every((e) => e.event.startsWith('schedule.') && e.run.workflowId === workflowId);
  const temporal = detail.temporal;
  // the run shown: Temporal's (the workflow id's latest), else the log's last
  const runIds = [...new Set(detail.audit.filter((e) => ownEntry(e, workflowId)).map((e) => e.run.runId))];
  const shown = temporal?.runId ?? detail.audit.findLast((e) => ownEntry(e, workflowId))?.run.runId;
  const earlier = runIds.filter((runId) => runId !== shown);
  const ofRun = (e: AuditEntry) =>
    !ownEntry(e, workflowId) ? '' : e.run.runId === shown ? 'this run' : 'an earlier run';
  const shownHasEntries = shown !== undefined && runIds.includes(shown);
  const auditLines =
    detail.audit.length === 0 && temporal
      ? [`Audit log: no entry of this run (${temporal.runId}): ${noEntryReason(temporal)}`]
      : [
          'Audit log:',
          ...(earlier.length
            ? [
                `${workflowId} has had more than one run (a schedule's runs are named by their scheduled time, so a month backfilled again reuses its workflow id): entries marked 'an earlier run' are of ${
                  earlier.length === 1 ? 'a run' : `${earlier.length} runs`
                } before ${temporal ? `the one Temporal shows below (${shown})` : `its latest in the log (${shown})`}, those marked 'this run' of that one`,
              ]
            : []),
          table(
            detail.audit.map((e) =>
              isSchedule
                ? {
                    seq: e.seq,
                    at: e.at,
                    event: e.event,
                    actor: actorText(e),
                    details: scheduleEventDetails(e.details),
                  }
                : {
                    seq: e.seq,
                    at: e.at,
                    event: e.event,
                    subject: runEntrySubject(e),
                    actor: actorText(e),
                    runId: e.run.runId,
                    ...(earlier.length ? { run: ofRun(e) } : {}),
                  },
            ),
          ),
          ...(temporal && !shownHasEntries && !isSchedule
            ? [`no entry of this run (${temporal.runId}), the one Temporal shows below: ${noEntryReason(temporal)}`]
            : []),
        ];
  return [
    ...auditLines,
    '',
    temporal
      ? [
          `Temporal: ${temporal.status}, run ${temporal.runId}, started ${temporal.startTime}, closed ${temporal.closeTime ?? '-'}`,
          ...(temporal.failure ? [`Failure: ${temporal.failure}`] : []),
          `Search attributes: ${JSON.stringify(temporal.searchAttributes)}`,
          ...(temporal.activities.length
            ? ['Activity attempts:', table(temporal.activities)]
            : ['Activity attempts: none']),
          ...(temporal.running.length ? ['Running now:', table(temporal.running)] : []),
        ].join('\n')
      : isSchedule
        ? scheduleState(workflowId, detail.audit)
        : reached
          ? 'Temporal: no history (past the namespace retention; the audit log is the long-term record)'
          : 'Temporal: not reached (the audit log is the long-term record)',
  ].join('\n');
}

/** An entry the run itself or an operator wrote of it (not the schedule trigger that started it, listed with it). */
const ownEntry = (entry: AuditEntry, workflowId: string) =>
  entry.run.workflowId === workflowId && entry.run.runId !== '';

/** Why a run Temporal holds has no audit entry, by its status. */
function noEntryReason(temporal: NonNullable<RunDetail['temporal']>): string {
  if (temporal.status === 'RUNNING')
    return "none yet: no worker has taken it up, or its worker cannot write its first entry (the worker's log says which; 'segflow runs follow' waits for its end)";
  if (temporal.status === 'COMPLETED')
    return "its entries are not in this audit log (another store's run on this task queue, or entries cut from the log)";
  return `it ended before it wrote its first entry${temporal.failure ? ' (the failure below says why)' : ''}`;
}

/** What a schedule id's entries say of it now: deleted unless created again after its last deletion. */
export function scheduleState(scheduleId: string, entries: { seq: number; event: string }[]): string {
  const last = entries.findLast((e) => e.event === 'schedule.created' || e.event === 'schedule.deleted');
  return last?.event === 'schedule.deleted'
    ? `${scheduleId} was a schedule, deleted (audit seq ${last.seq}); 'segflow runs list' shows the runs it started`
    : `${scheduleId} is a schedule: 'segflow schedule describe --id ${scheduleId}' shows it and its runs`;
}

/**
 * An entry of a run as `runs show` lists it: a failure or cancellation names the stage it ended
 * in, a promotion or retirement its reason, a failed attempt its error's type, and the schedule
 * trigger that started the run what it did (its subject is only the time).
 */
export function runEntrySubject(entry: Pick<AuditEntry, 'event' | 'subject' | 'details'>): string {
  const details = entry.details ?? {};
  if (entry.event.startsWith('schedule.')) return scheduleEventDetails(details);
  return (
    (entry.subject ?? (typeof details.stage === 'string' ? `at ${details.stage}` : '')) +
    (typeof details.reason === 'string' ? `: ${details.reason}` : '') +
    (entry.event === 'stage.attempt-failed' && typeof details.type === 'string' ? `: ${details.type}` : '')
  );
}
