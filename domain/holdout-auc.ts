import { count, decimals } from './decimals';

/** Below this many churners held out, a holdout ROC AUC moves widely with the split (a seed alone moves it). */
const FEW_HELD_OUT_CHURNERS = 30;

/** What a holdout ROC AUC was measured on: its churners, its subscribers, and DeLong's standard error from its scores when recorded. */
export interface HoldoutCounts {
  churners: number;
  rows: number;
  stdError?: number | null;
}

/**
 * A 95% interval for a ROC AUC: from DeLong's standard error, computed from the holdout's scores
 * (activities/ml/metrics.ts), when the run recorded it; else from the numbers of churners and
 * stayers alone by Hanley and McNeil's (1982) formula (older snapshots), which can be too narrow
 * when the two groups' scores spread differently (0.77x in tests/unit/holdout-auc.test.ts). Under
 * FEW_HELD_OUT_CHURNERS churners, the wider of the two. Null where it cannot be measured.
 */
export function aucInterval(auc: number, holdout: HoldoutCounts): { low: number; high: number } | null {
  const positives = holdout.churners;
  const negatives = holdout.rows - holdout.churners;
  // a manifest without the counts (a hand-made or partial one) gives the AUC alone
  if (!Number.isFinite(auc) || !(positives >= 1) || !(negatives >= 1)) return null;
  const recorded = holdout.stdError;
  const counted = hanleyMcNeil(auc, positives, negatives);
  // DeLong's is too narrow on few churners (its 95% held the true AUC 72% of the time on 3 churners,
  // 87% on 10): there the wider of the two (92%, 97%), beside the warning that it is rough
  const stdError =
    typeof recorded !== 'number' || !Number.isFinite(recorded)
      ? counted
      : positives < FEW_HELD_OUT_CHURNERS
        ? Math.max(recorded, counted)
        : recorded;
  const half = 1.96 * stdError;
  return { low: Math.max(0, auc - half), high: Math.min(1, auc + half) };
}

function hanleyMcNeil(auc: number, positives: number, negatives: number): number {
  const q1 = auc / (2 - auc);
  const q2 = (2 * auc * auc) / (1 + auc);
  const variance =
    (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) /
    (positives * negatives);
  return Math.sqrt(Math.max(variance, 0));
}

/** "0.866 (95%: 0.830 to 0.902; 121 churners held out)", or the AUC alone where no interval can be given. */
export function holdoutAucText(auc: number | null | undefined, holdout?: HoldoutCounts): string {
  const value = decimals(auc, 3);
  if (typeof auc !== 'number' || !holdout) return value;
  const interval = aucInterval(auc, holdout);
  return interval
    ? `${value} (95%: ${decimals(interval.low, 3)} to ${decimals(interval.high, 3)}; ${count(holdout.churners)} churners held out)`
    : value;
}

/** What to tell the user of a holdout with fewer than FEW_HELD_OUT_CHURNERS churners; null otherwise. */
export function fewHeldOutWarning(positives: number | undefined): string | null {
  if (positives === undefined || positives >= FEW_HELD_OUT_CHURNERS) return null;
  return (
    `only ${count(positives)} churners were held out to test the models: their holdout figures move widely with ` +
    'which subscribers are held out (another seed alone moves them); read them as rough. More labelled subscribers, ' +
    'or a larger holdoutShare, measure them better'
  );
}
