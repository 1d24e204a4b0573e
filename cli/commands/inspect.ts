import type { Client } from '@temporalio/client';
import { Option, type Command } from 'commander';
import { readManifest } from '../../store/snapshots';
import { loadConfig, type SegflowConfig } from '../../worker/config';
import { connectClient } from '../../pipelines/client';
import { verifyAudit } from '../../store/audit-verify';
import { listRuns, showRun } from '../../pipelines/runs';
import { diffSnapshots } from '../../pipelines/diff';
import { listSnapshots, resolveSnapshot } from '../../store/snapshots';
import { reproduceSnapshot } from '../../pipelines/reproduce';
import { EXIT, monthArg, output, positiveInt, table } from '../options';

/** Temporal is optional for reading the audit log: without it, Temporal's columns say so. */
async function optionalClient(config: SegflowConfig): Promise<Client | undefined> {
  return connectClient(config).catch(() => undefined);
}

const json = () => new Option('--json', 'machine-readable output').default(false);

export function registerInspect(program: Command): void {
  const runs = program.command('runs').description('Runs from the audit log, joined with Temporal status and history.');
  runs
    .command('list')
    .description('List runs, newest last.')
    .option('--month <YYYY-MM>', 'only this month', monthArg)
    .addOption(new Option('--limit <n>', 'at most this many').argParser(positiveInt).default(50))
    .addOption(json())
    .action(async (options) => {
      const config = loadConfig();
      const rows = await listRuns(config.store, await optionalClient(config), {
        month: options.month,
        limit: options.limit,
      });
      output(options.json, rows, (r) =>
        table(r, ['month', 'outcome', 'version', 'temporalStatus', 'requestedBy', 'requestedAt', 'workflowId']),
      );
    });
  runs
    .command('show <workflowId>')
    .description(
      'One run: every audit event and, while Temporal keeps it, status, search attributes and activity attempts.',
    )
    .addOption(json())
    .action(async (workflowId: string, options) => {
      const config = loadConfig();
      const detail = await showRun(config.store, await optionalClient(config), workflowId);
      if (detail.audit.length === 0 && !detail.temporal) {
        console.error(`no run ${workflowId} in the audit log or in Temporal`);
        process.exit(EXIT.failed);
      }
      output(options.json, detail, (d) =>
        [
          'Audit log:',
          table(
            d.audit.map((e) => ({
              seq: e.seq,
              at: e.at,
              event: e.event,
              subject: e.subject ?? '',
              actor: e.actor,
              runId: e.run.runId,
            })),
          ),
          '',
          d.temporal
            ? [
                `Temporal: ${d.temporal.status}, started ${d.temporal.startTime}, closed ${d.temporal.closeTime ?? '-'}`,
                `Search attributes: ${JSON.stringify(d.temporal.searchAttributes)}`,
                table(d.temporal.activities),
              ].join('\n')
            : 'Temporal: no history (unreachable, or past the namespace retention; the audit log is the long-term record)',
        ].join('\n'),
      );
    });

  const snapshots = program.command('snapshots').description('Published snapshots: list, show, diff, reproduce.');
  snapshots
    .command('list')
    .description('List snapshots, by month and version.')
    .option('--month <YYYY-MM>', 'only this month', monthArg)
    .addOption(json())
    .action(async (options) => {
      const rows = await listSnapshots(loadConfig().store, options.month);
      output(options.json, rows, (r) =>
        table(r, [
          'month',
          'version',
          'latest',
          'publishedAt',
          'requestedBy',
          'subscribers',
          'segments',
          'churnRocAuc',
          'paramsHash',
        ]),
      );
    });
  snapshots
    .command('show <snapshot>')
    .description("A snapshot's manifest: YYYY-MM (latest), YYYY-MM/vN or YYYY-MM@N.")
    .action(async (reference: string) => {
      const store = loadConfig().store;
      const ref = await resolveSnapshot(store, reference);
      console.log(JSON.stringify(await readManifest(store, ref.month, ref.version), null, 2));
    });
  snapshots
    .command('diff <a> <b>')
    .description('What changed from snapshot A to B: parameters, metrics, segment migration, risk bands.')
    .addOption(json())
    .action(async (a: string, b: string, options) => {
      const store = loadConfig().store;
      const diff = await diffSnapshots(store, await resolveSnapshot(store, a), await resolveSnapshot(store, b));
      output(options.json, diff, (d) =>
        [
          `${d.a.month}/v${d.a.version} -> ${d.b.month}/v${d.b.version}`,
          '',
          'Parameters:',
          d.params.length
            ? table(d.params.map((p) => ({ name: p.name, a: JSON.stringify(p.a), b: JSON.stringify(p.b) })))
            : '(same)',
          '',
          'Metrics:',
          table(d.metrics),
          '',
          'Segment migration (subscribers):',
          table(d.migration),
          '',
          `Risk band changed for ${d.riskBandChangedTotal} subscribers:`,
          table(d.riskBandChanges),
          d.riskBandExamples.length ? `\nFor example:\n${table(d.riskBandExamples)}` : '',
        ].join('\n'),
      );
    });
  snapshots
    .command('reproduce <snapshot>')
    .description(
      'Recompute a snapshot from its manifest (same inputs and parameters, outside Temporal) and compare output hashes.',
    )
    .addOption(json())
    .action(async (reference: string, options) => {
      const store = loadConfig().store;
      const report = await reproduceSnapshot(store, await resolveSnapshot(store, reference));
      output(options.json, report, (r) =>
        r.changedInputs.length
          ? `cannot reproduce: these inputs changed since publishing:\n  ${r.changedInputs.join('\n  ')}`
          : [
              `${r.ref.month}/v${r.ref.version}: ${r.identical ? 'IDENTICAL' : 'DIFFERENT'} (code then ${r.codeThen}, now ${r.codeNow})`,
              table(
                r.files.map((f) => ({
                  file: f.file,
                  identical: f.identical,
                  expected: f.expected.slice(0, 16),
                  actual: (f.actual ?? '-').slice(0, 16),
                })),
              ),
            ].join('\n'),
      );
      process.exit(report.identical ? EXIT.ok : EXIT.failed);
    });

  program
    .command('audit')
    .description('Audit checks.')
    .command('verify')
    .description(
      "Check the audit log's hash chain and every snapshot file against its manifest; report exactly what was altered.",
    )
    .addOption(json())
    .action(async (options) => {
      const report = await verifyAudit(loadConfig().store);
      output(options.json, report, (r) =>
        r.ok
          ? `OK: ${r.entries} audit entries chained, ${r.snapshots} snapshots, ${r.filesChecked} files match their manifests`
          : [`FAILED: ${r.problems.length} problem(s)`, ...r.problems.map((p) => `  ${p.where}: ${p.problem}`)].join(
              '\n',
            ),
      );
      process.exit(report.ok ? EXIT.ok : EXIT.failed);
    });
}
