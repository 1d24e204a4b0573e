import { type Command } from '@commander-js/extra-typings';
import { loadConfig } from '../../worker/config';
import { verifyAudit } from '../../store/audit-verify';
import { jsonOption as json } from '../json-option';
import { EXIT, output } from '../options';

/** `segflow audit verify`. */
export function registerAudit(program: Command): void {
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
