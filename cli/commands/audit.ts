import { InvalidArgumentError, type Command } from '@commander-js/extra-typings';
import { loadConfig } from '../../worker/config';
import { verifyAudit, type AuditProblem, type AuditReport } from '../../store/audit-verify';
import { formatHead, parseHead, readAuditLog } from '../../store/audit-log';
import { snapshotsDir } from '../../store/layout';
import { loadPublicKey } from '../../store/signing';
import type { RetainedRunsCheck } from '../../pipelines/audit-crosscheck';
import type { LogRunsInTemporal } from '../../pipelines/runs';
import { jsonOption as json } from '../json-option';
import { EXIT, output } from '../options';

/** The cross-check against Temporal (and how many of the log's recent runs it knows), or why it was not made. */
export type TemporalCheck = (RetainedRunsCheck & { coverage: LogRunsInTemporal }) | { notChecked: string };

function headArg(value: string) {
  const head = parseHead(value);
  if (!head) throw new InvalidArgumentError('must be <seq>:<hash> as printed by `segflow audit head`');
  return head;
}

/** Temporal knowing none of several recent runs is no cross-check at all: a finding, not a note. */
export function unwitnessedRuns(
  coverage: LogRunsInTemporal,
  temporal: { address: string; namespace: string; taskQueue: string },
): AuditProblem | undefined {
  const { recent, known, otherTaskQueue, newestUnknown } = coverage;
  if (recent < 2 || known > 0 || !newestUnknown) return undefined;
  return {
    where: `temporal:${temporal.address}/${temporal.namespace}`,
    problem:
      `TEMPORAL KNOWS NONE OF THE LOG'S RECENT RUNS: the log records ${recent} runs within the namespace's retention (${retentionText(coverage)}), the newest ${newestUnknown.run.workflowId} at ${newestUnknown.lastAt}, and Temporal knows none of them on task queue ${temporal.taskQueue}` +
      `${otherTaskQueue ? ` (${otherTaskQueue} on another task queue)` : ''}: the cross-check witnessed nothing, so it cannot show a cut of the log (is verify pointed at the server, namespace and task queue the runs used? or was the server's history reset?)`,
  };
}

/** "24 h", and whose retention it is when Temporal did not say. */
function retentionText(coverage: LogRunsInTemporal): string {
  return `${coverage.retentionHours} h${coverage.retentionRead ? '' : ", the dev server's: the namespace's could not be read"}`;
}

/** What the cross-check covered: a check of runs Temporal does not know witnesses nothing of them. */
function coverageText(check: RetainedRunsCheck & { coverage: LogRunsInTemporal }): string {
  const { coverage } = check;
  const retention = retentionText(coverage);
  if (coverage.recent === 0)
    return `; the log has no run within its retention (${retention}): the anchored head covers the older ones`;
  if (coverage.known === coverage.recent)
    return `; it knows all ${coverage.recent} of the log's runs within its retention (${retention})`;
  const unknown = coverage.recent - coverage.known;
  return (
    `\ntemporal: it knows ${coverage.known === 0 ? 'none' : `only ${coverage.known}`} of the log's ${coverage.recent} runs within its retention (${retention}) on this task queue` +
    `${coverage.otherTaskQueue ? ` (${coverage.otherTaskQueue} on another task queue)` : ''}: the cross-check cannot witness a cut of the log ${coverage.known === 0 ? '' : `for the other ${unknown} `}` +
    '(a fresh server history, or another server, namespace or task queue than the runs used?)'
  );
}

/**
 * The verdict line of a verify that found nothing: a cut of the log's tail leaves a whole chain, and
 * only Temporal's runs or an anchored head catch it (what its runs left behind may not, session 43),
 * so an OK without either says so in its first words, not only in the notes below it.
 */
function okLine(report: AuditReport & { temporal: TemporalCheck; expectHead?: boolean }, summary: string): string {
  if (!('notChecked' in report.temporal) || report.expectHead) return `OK: ${summary}`;
  const why = report.temporal.notChecked.replace(/; start one with: segflow server$/, '');
  return `OK, Temporal NOT cross-checked (${why}): a log cut at its tail is not caught without it or --expect-head\n${summary}`;
}

/** `audit verify`'s text: OK or the findings, then what was and was not checked. */
export function verifyText(report: AuditReport & { temporal: TemporalCheck; expectHead?: boolean }): string {
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
      : 'signatures: NOT checked (no --public-key)',
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
      const config = loadConfig();
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
            report.unended.push(
              ...running.map(
                ({ run }) =>
                  `run ${run?.workflowId} (${run?.runId}): running in Temporal, though it wrote no audit entry for over an hour (a long stage, or waiting for a worker): verify again after it ends`,
              ),
            );
            const unwitnessed = unwitnessedRuns(coverage, config.temporal);
            const problems = [...checked.problems, ...ended, ...(unwitnessed ? [unwitnessed] : [])];
            temporal = { ...checked, coverage, problems };
            report.publishing = report.publishing.filter((ref) => !ended.some((p) => p.where === `snapshots/${ref}`));
          } finally {
            await client.connection.close();
          }
        }
      }
      const problems = [...report.problems, ...('problems' in temporal ? temporal.problems : [])];
      const full = { ...report, ok: problems.length === 0, problems, temporal, expectHead: !!options.expectHead };
      output(options.json, full, verifyText);
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
      const last = (await readAuditLog(loadConfig().store)).at(-1);
      if (!last) {
        console.error('segflow: the audit log is empty');
        process.exit(EXIT.failed);
      }
      output(options.json, { seq: last.seq, hash: last.hash }, formatHead);
    });
}
