import { addMonths } from './month';
import { DEFAULT_MIN_RUN_MONTH_SHARE, type RunParams } from './params';

/**
 * Why the models cannot train on last month's subscribers, and what to do: a small extract (fewer
 * than ten leaves' worth) needs a smaller treeMinLeaf; too few churners or stayers is the input's
 * or the labels' to fix.
 */
export function tooLittleHistory(
  counts: { train: number; churners: number },
  params: Pick<RunParams, 'treeMinLeaf' | 'labels' | 'month'>,
): string {
  const stayers = counts.train - counts.churners;
  const needed = 10 * params.treeMinLeaf;
  const outcomes = counts.churners >= 10 && stayers >= 10;
  const fixes = [
    ...(counts.train === 0 || !outcomes
      ? [
          params.labels
            ? `does ${params.labels} label the subscribers of the month before ${params.month}, churned and stayed (docs/own-data.md)?`
            : counts.train === 0
              ? `does the input hold the month before ${params.month}?`
              : `a model needs at least 10 churners and 10 stayers: an extract of more subscribers, or a labels file (docs/own-data.md)`,
        ]
      : []),
    // under ten subscribers no leaf size trains: treeMinLeaf=1 still needs ten
    ...(counts.train >= 10 && counts.train < needed
      ? [
          `a small extract trains with a smaller minimum leaf: --param treeMinLeaf=${Math.max(1, Math.floor(counts.train / 10))} (the models need 10 x treeMinLeaf subscribers last month)`,
        ]
      : []),
  ];
  return (
    `too little history to train a churn model: ${counts.train} subscribers last month, ${counts.churners} of them churned ` +
    `and ${stayers} stayed (need at least ${needed}, 10 x treeMinLeaf ${params.treeMinLeaf}, with 10 churners and 10 stayers); ` +
    fixes.join('; ')
  );
}

/** The least share of the month before's subscribers the run month must hold (minRunMonthShare). */
function minRunMonthShare(params: Pick<RunParams, 'minRunMonthShare'>): number {
  return params.minRunMonthShare ?? DEFAULT_MIN_RUN_MONTH_SHARE;
}

/**
 * Whether the run month holds far fewer subscribers than the month before (a delivery cut off part
 * way, files still arriving), and if so what to do: scored as it is, every subscriber of the month
 * before missing from the run month counts as a churner in the absence-based label, and every
 * score is learnt from that.
 */
export function runMonthCutOff(
  counts: { score: number; train: number },
  params: Pick<RunParams, 'month' | 'minRunMonthShare'>,
): string | null {
  const least = minRunMonthShare(params);
  if (counts.train === 0 || counts.score >= least * counts.train) return null;
  const share = counts.score / counts.train;
  const before = addMonths(params.month, -1);
  // rounded down: 1,289 of 2,580 is 49.9%, not the 50% it is under
  const percent = (value: number) => `${Math.floor(value * 1000) / 10}%`;
  // a share the run month holds, so that the same input passes with it
  const lower = Math.floor(share * 10) / 10;
  return (
    `the run month ${params.month} holds ${counts.score} subscribers, ${percent(share)} of the ${counts.train} of ${before} ` +
    `(under minRunMonthShare ${least}): is its delivery cut off part way (files still arriving, a partial export)? ` +
    `Scored as it is, every subscriber of ${before} missing from ${params.month} would count as a churner and the models would learn from that. ` +
    `Rerun once the month's files are complete; for a base that truly shrank this much, --param minRunMonthShare=${lower} (0 turns the check off)`
  );
}
