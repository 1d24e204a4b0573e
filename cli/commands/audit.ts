import { InvalidArgumentError, type Command } from '@commander-js/extra-typings';
import type { Client } from '@temporalio/client';
import { UsageError } from '../../domain/errors';
import { loadConfig, temporalAddress } from '../../worker/config';
import {
  headToAnchor,
  unendedNote,
  verifyAudit,
  type AuditProblem,
  type AuditReport,
  type UnendedRun,
} from '../../store/audit-verify';
import { formatHead, parseHead, readAuditLog, type AuditEntry } from '../../store/audit-log';
import { snapshotsDir, type RunRef } from '../../store/layout';
import { loadPublicKey } from '../../store/signing';
import type { RetainedRunsCheck } from '../../pipelines/audit-crosscheck';
import type { LogRunsInTemporal } from '../../pipelines/runs';
import { jsonOption as json } from '../json-option';
import { EXIT, output } from '../options';

/** The cross-check against Temporal: how many of the log's recent runs it knows, and on which other task queues it knows some. */
type TemporalChecked = RetainedRunsCheck & { coverage: LogRunsInTemporal; otherQueues?: string[] };

/** The cross-check against Temporal, or why it was not made. */
export type TemporalCheck = TemporalChecked | { notChecked: string };

function headArg(value: string) {
  const head = parseHead(value);
  // a finding's short form (12 hex digits) is no anchor: a prefix that short can be matched by a
  // rewritten entry with enough tries, while the full sha256 cannot
  if (!head && /^\d+:[0-9a-f]{1,63}…?$/.test(value.trim()))
    throw new InvalidArgumentError(
      `must be <seq>:<hash> with the whole hash (64 hex digits) as printed by \`segflow audit head\`, not the short form findings print: a short hash anchors too little (a rewritten entry can be made to match it)`,
    );
  if (!head) throw new InvalidArgumentError('must be <seq>:<hash> as printed by `segflow audit head`');
  return head;
}

/** Temporal knowing none of several recent runs is no cross-check at all: a finding, not a note. */
export function unwitnessedRuns(
  coverage: LogRunsInTemporal,
  temporal: { address: string; namespace: string; taskQueue: string },
  /** The task queues Temporal names for the log's runs it knows on another one (otherTaskQueueNames). */
  otherQueues: readonly string[] = [],
): AuditProblem | undefined {
  const { recent, known, otherTaskQueue, newestUnknown } = coverage;
  if (recent < 2 || known > 0 || !newestUnknown) return undefined;
  return {
    where: `temporal:${temporal.address}/${temporal.namespace}`,
    problem:
      `TEMPORAL KNOWS NONE OF THE LOG'S RECENT RUNS: the log records ${recent} runs within the namespace's retention (${retentionText(coverage)}), the newest ${newestUnknown.run.workflowId} at ${newestUnknown.lastAt}, and Temporal knows none of them on task queue ${temporal.taskQueue}` +
      `${otherTaskQueue ? ` (${onOtherQueues(otherTaskQueue, otherQueues)})` : ''}: the cross-check witnessed nothing, so it cannot show a cut of the log (is verify pointed at the server, namespace and task queue the runs used? or was the server's history reset?)`,
  };
}

/** "6 on another task queue, segflow-old": where the runs Temporal knows elsewhere ran, to point verify at. */
function onOtherQueues(count: number, queues: readonly string[]): string {
  const named = queues.length === 0 ? '' : `, ${queues.map((queue) => JSON.stringify(queue)).join(', ')}`;
  return `${count} on ${queues.length > 1 ? 'other task queues' : 'another task queue'}${named}`;
}

/**
 * The task queues other than `taskQueue` that Temporal names for the log's newest runs (at most
 * `recent` of them, newest first, stopping once `count` are found): coverage counts the runs it
 * knows on another queue, and the queue is what the auditor points verify at instead.
 */
export async function otherTaskQueueNames(
  client: Client,
  entries: readonly AuditEntry[],
  taskQueue: string,
  coverage: Pick<LogRunsInTemporal, 'recent' | 'otherTaskQueue'>,
): Promise<string[]> {
  if (coverage.otherTaskQueue === 0) return [];
  const runs = new Map<string, RunRef>();
  for (const entry of [...entries].reverse())
    if (entry.run.runId !== '' && entry.run.workflowId !== 'cache')
      runs.set(`${entry.run.workflowId}\u0000${entry.run.runId}`, entry.run);
  const queues = new Set<string>();
  let found = 0;
  for (const run of [...runs.values()].slice(0, coverage.recent)) {
    const queue = await client.workflow
      .getHandle(run.workflowId, run.runId)
      .describe()
      .then((description) => description.taskQueue)
      .catch(() => undefined);
    if (queue === undefined || queue === taskQueue) continue;
    queues.add(queue);
    if (++found >= coverage.otherTaskQueue) break;
  }
  return [...queues].sort();
}

/** "24 h", and whose retention it is when Temporal did not say. */
function retentionText(coverage: LogRunsInTemporal): string {
  return `${coverage.retentionHours} h${coverage.retentionRead ? '' : ", the dev server's: the namespace's could not be read"}`;
}

/** What the cross-check covered: a check of runs Temporal does not know witnesses nothing of them. */
function coverageText(check: TemporalChecked): string {
  const { coverage, otherQueues = [] } = check;
  const retention = retentionText(coverage);
  if (coverage.recent === 0)
    return `; the log has no run within its retention (${retention}): the anchored head covers the older ones`;
  if (coverage.known === coverage.recent)
    return `; it knows all ${coverage.recent} of the log's runs within its retention (${retention})`;
  const unknown = coverage.recent - coverage.known;
  return (
    `\ntemporal: it knows ${coverage.known === 0 ? 'none' : `only ${coverage.known}`} of the log's ${coverage.recent} runs within its retention (${retention}) on this task queue` +
    `${coverage.otherTaskQueue ? ` (${onOtherQueues(coverage.otherTaskQueue, otherQueues)})` : ''}: the cross-check cannot witness a cut of the log ${coverage.known === 0 ? '' : `for the other ${unknown} `}` +
    '(a fresh server history, or another server, namespace or task queue than the runs used?)'
  );
}

/** A verify's report with what the command adds: the Temporal cross-check, and whether a head was anchored. */
type VerifyReport = AuditReport & { temporal: TemporalCheck; expectHead?: boolean };

/**
 * What a verify did not check that could hide a finding, each with what goes unseen: a cut of
 * the log's tail leaves a whole chain, and only Temporal's runs or an anchored head catch it (what
 * its runs left behind may not, session 43); in a store whose entries are signed, an entry
 * appended or rewritten by someone without the key chains like any other, and only the
 * signatures tell it. Said first in an OK (not only in the notes below it), and in --json.
 */
export function caveats(report: VerifyReport): string[] {
  const found: string[] = [];
  if ('notChecked' in report.temporal && !report.expectHead) {
    const why = report.temporal.notChecked.replace(/; start one with: segflow server$/, '');
    found.push(`Temporal NOT cross-checked (${why}): a log cut at its tail is not caught without it or --expect-head`);
  }
  const signed = report.signed;
  if (report.signatures !== 'checked' && signed && signed.entries > 0)
    found.push(
      `signatures NOT checked: ${signedText(signed, report.entries)}: an entry forged or rewritten by someone without the key is not caught without --public-key <the store's public key>`,
    );
  return found;
}

/** "26 of 27 entries are signed (key d1cd…)". */
function signedText(signed: { entries: number; keyIds: string[] }, entries: number): string {
  const keys = signed.keyIds.length === 1 ? `key ${signed.keyIds[0]}` : `keys ${signed.keyIds.join(', ')}`;
  return `${signed.entries === entries ? `all ${entries}` : `${signed.entries} of ${entries}`} entries are signed (${keys})`;
}

/** The verdict line of a verify that found nothing: `OK:`, or `OK,` and what it did not check. */
function okLine(report: VerifyReport, summary: string): string {
  const not = caveats(report);
  return not.length === 0 ? `OK: ${summary}` : `OK, ${not.join('; ')}\n${summary}`;
}

/** `audit verify`'s text: OK or the findings, then what was and was not checked. */
export function verifyText(report: VerifyReport): string {
  const head = report.head ? formatHead(report.head) : '(empty log)';
  const summary = `${report.entries} audit entries ${report.chainIntact ? 'chained' : 'read, their chain broken'} (head ${head}), ${report.published} published (${report.retired} retired), ${report.snapshots} snapshots, ${report.filesChecked} files checked against their manifests`;
  const notes = [
    // a run Temporal holds as completed is not being published: its missing entry is a finding
    ...report.publishing
      .filter((ref) => !('completed' in report.temporal && report.temporal.completed.includes(ref)))
      .map(
        (ref) =>
          `${ref}: being published (its run has not recorded run.published yet): its files were checked; verify again after the run`,
      ),
    // a run with no end that may still be going: said, so an OK does not pass over it
    ...report.unended,
    // the key's id, as findings name a signature's: the auditor compares it with the key they hold
    report.signatures === 'checked'
      ? report.ok
        ? `signatures: every entry and manifest signed by key ${report.keyId} (checked against the public key)`
        : `signatures: every entry and manifest checked against the public key, key ${report.keyId}`
      : `signatures: NOT checked (no --public-key)${report.signed?.entries ? `: ${signedText(report.signed, report.entries)}` : ''}`,
    'notChecked' in report.temporal
      ? `temporal: runs NOT cross-checked (${report.temporal.notChecked})`
      : `temporal: ${report.temporal.runs} completed runs it retains (this task queue) cross-checked against the log${report.temporal.otherStores ? `; ${report.temporal.otherStores} more published into another store, not checked` : ''}${coverageText(report.temporal)}`,
  ];
  return report.ok
    ? [okLine(report, summary), ...notes].join('\n')
    : [
        `FAILED: ${report.problems.length} problem(s)`,
        ...report.problems.map((p) => `  ${p.where}: ${p.problem}`),
        summary,
        ...notes,
      ].join('\n');
}

/**
 * The notes on runs with no end recorded yet (their last entry within the grace), with what
 * Temporal holds of each: one it holds as ended is not "still going". A run Temporal does not
 * answer for keeps the log's note.
 */
async function unendedNotes(client: Client, runs: UnendedRun[], notes: string[]): Promise<string[]> {
  if (runs.length !== notes.length) return notes;
  const { latestRunStatus } = await import('../../pipelines/runs');
  return Promise.all(
    runs.map(async (unended, index) => {
      const status = await latestRunStatus(client, unended.run.workflowId, unended.run.runId);
      return status === undefined ? notes[index] : unendedNote(unended, status);
    }),
  );
}

/** `segflow audit verify | head`. */
export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('Audit checks.');
  audit
    .command('verify')
    .description(
      "Check the audit log's hash chain, every published snapshot (present, or retired on purpose) and every file against its manifest, latest.json, signatures (--public-key) and the runs Temporal retains; name every finding.",
    )
    .option('--public-key <file>', 'Ed25519 public key (PEM): every audit entry and manifest must be signed by it')
    .option('--expect-head <seq:hash>', 'an audit head kept outside the store: it must still be in the chain', headArg)
    .option('--no-temporal', 'do not cross-check against the runs Temporal retains')
    .option(
      '--require-temporal',
      'exit 3 when Temporal could not be cross-checked (a scheduled verify that must not pass on the log alone)',
    )
    .addOption(json())
    .action(async (options) => {
      if (!options.temporal && options.requireTemporal)
        throw new UsageError(
          '--require-temporal asks for the cross-check that --no-temporal leaves out: give one of them',
        );
      const config = loadConfig();
      // a malformed address is a typo to fix, not an unreachable server: a verify read as "OK,
      // Temporal NOT cross-checked" would pass a cron job's every night
      if (options.temporal)
        try {
          temporalAddress(config.temporal.address);
        } catch (error) {
          if (!(error instanceof UsageError)) throw error;
          throw new UsageError(`${error.message}; or verify without Temporal: --no-temporal`);
        }
      const report = await verifyAudit(config.store, {
        ...(options.publicKey ? { publicKey: loadPublicKey(options.publicKey) } : {}),
        ...(options.expectHead ? { expectHead: options.expectHead } : {}),
      });
      let temporal: TemporalCheck = { notChecked: '--no-temporal' };
      // a damaged line is verify's finding (named above), and leaves no list of runs to check
      const entries = await readAuditLog(config.store).catch(() => undefined);
      if (!entries) temporal = { notChecked: 'the audit log has lines that are not audit entries' };
      else if (options.temporal) {
        const { connectClient } = await import('../../pipelines/client');
        const { crossCheckRetainedRuns, endedWhilePublishing, stillRunning } =
          await import('../../pipelines/audit-crosscheck');
        const { logRunsInTemporal } = await import('../../pipelines/runs');
        // optional here: a verify without Temporal says so rather than waiting long for it
        const client = await connectClient(config, 2_000).catch((error: Error) => error);
        if (client instanceof Error) temporal = { notChecked: client.message };
        else {
          try {
            const checked = await crossCheckRetainedRuns(
              client,
              entries,
              config.temporal.taskQueue,
              snapshotsDir(config.store),
            );
            const coverage = await logRunsInTemporal(client, entries, config.temporal.taskQueue);
            const ended = await endedWhilePublishing(client, config.store, report.publishing);
            // a run without an end that Temporal holds running (a long stage, one waiting for a worker) is none
            const running = await stillRunning(client, report.problems);
            report.problems = report.problems.filter((problem) => !running.includes(problem));
            // a run with no end yet, within the grace: Temporal says whether it is still going
            report.unended = await unendedNotes(client, report.unendedRuns ?? [], report.unended);
            report.unended.push(
              ...running.map(
                ({ run }) =>
                  `run ${run?.workflowId} (${run?.runId}): running in Temporal, though it wrote no audit entry for over an hour (a long stage, or waiting for a worker): verify again after it ends`,
              ),
            );
            const otherQueues = await otherTaskQueueNames(client, entries, config.temporal.taskQueue, coverage);
            const unwitnessed = unwitnessedRuns(coverage, config.temporal, otherQueues);
            const problems = [...checked.problems, ...ended, ...(unwitnessed ? [unwitnessed] : [])];
            temporal = { ...checked, coverage, otherQueues, problems };
            report.publishing = report.publishing.filter((ref) => !ended.some((p) => p.where === `snapshots/${ref}`));
          } finally {
            await client.connection.close();
          }
        }
      }
      const problems = [...report.problems, ...('problems' in temporal ? temporal.problems : [])];
      const full = { ...report, ok: problems.length === 0, problems, temporal, expectHead: !!options.expectHead };
      output(options.json, { ...full, caveats: caveats(full) }, verifyText);
      // a finding first; then, when asked, a verify that could not reach Temporal is no pass
      const unchecked = options.requireTemporal && 'notChecked' in temporal;
      process.exit(!full.ok ? EXIT.failed : unchecked ? EXIT.infrastructure : EXIT.ok);
    });
  audit
    .command('head')
    .description(
      "The audit log's last entry as <seq>:<hash>: keep it outside the store, then `audit verify --expect-head` detects a truncated or rewritten log.",
    )
    .addOption(json())
    .action(async (options) => {
      const found = await headToAnchor(loadConfig().store);
      if ('refused' in found) {
        console.error(`segflow: ${found.refused}`);
        process.exit(EXIT.failed);
      }
      if (found.note) console.error(found.note);
      output(options.json, found.head, formatHead);
    });
}
