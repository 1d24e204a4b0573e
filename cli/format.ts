import type { MonthlySegmentationResult } from '../workflows/monthly-segmentation';
import { count, decimals } from '../domain/decimals';
import { fewHeldOutWarning, holdoutAucText } from '../domain/holdout-auc';
import { tooGoodWarning } from '../domain/too-good';

const started = performance.now();

export function elapsed(): string {
  return `${((performance.now() - started) / 1000).toFixed(1)}s`.padStart(7);
}

/**
 * Beside the quarantined rows that broke the contract, the rows of months outside the window,
 * which were left out (nothing when there are none): the run's result and `snapshots show` alike.
 */
export function outsideWindowNote(outside: number): string {
  return outside > 0
    ? ` (broke the contract; ${count(outside)} more rows of months outside the window were left out)`
    : '';
}

/** What a person wants to see after a run: where the snapshot is and whether it is any good. */
export function printResult(
  result: MonthlySegmentationResult,
  links: { uiUrl?: string; workflowId: string; namespace: string },
): void {
  const outsideWindow = result.rowsOutsideWindow ?? 0;
  const tooGood = tooGoodWarning(result.churnRocAuc, result.churnTopFeature);
  const fewHeldOut = fewHeldOutWarning(result.churnHoldout?.churners);
  const lines = [
    '',
    `Snapshot ${result.month} v${result.version}${result.alreadyPublished ? ' (already published by this run)' : ''}`,
    ...(result.experiment
      ? [
          `  experiment: the month's latest did not move to it; compare with segflow snapshots diff ${result.month} ${result.month}/v${result.version}, adopt with segflow snapshots promote ${result.month}/v${result.version} --reason "…"`,
        ]
      : []),
    `  folder     ${result.snapshotPath}`,
    `  manifest   ${result.manifestPath}`,
    `  report     ${result.snapshotPath}/report.html`,
    '',
    `  subscribers scored      ${result.subscribers.toLocaleString('en-US')}`,
    `  rows quarantined        ${count(result.rowsQuarantined - outsideWindow)}${outsideWindowNote(outsideWindow)}`,
    `  churn holdout ROC AUC   ${holdoutAucText(result.churnRocAuc, result.churnHoldout)}`,
    ...(tooGood ? [`    warning: ${tooGood}`] : []),
    ...(fewHeldOut ? [`    warning: ${fewHeldOut}`] : []),
    `  top-decile lift         ${decimals(result.churnTopDecileLift, 2, 'x')}`,
    `  high churn risk         ${result.highRiskSubscribers.toLocaleString('en-US')}`,
    '',
    '  segments',
    ...result.segments.map(
      (s) => `    ${String(s.segmentId).padStart(2)}  ${s.subscribers.toLocaleString('en-US').padStart(10)}  ${s.name}`,
    ),
  ];
  if (links.uiUrl) {
    lines.push(
      '',
      `Temporal Web UI: ${links.uiUrl}/namespaces/${links.namespace}/workflows/${encodeURIComponent(links.workflowId)}`,
    );
  }
  console.log(lines.join('\n'));
}
