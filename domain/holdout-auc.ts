import { count, decimals } from './decimals';

/** Below this many churners held out, a holdout ROC AUC moves widely with the split (a seed alone moves it). */
export const FEW_HELD_OUT_CHURNERS = 30;

/**
 * A 95% interval for a ROC AUC from the numbers of churners and stayers it was measured on, by
 * Hanley and McNeil's (1982) standard error, which needs no scores (older snapshots have the counts
 * only) and errs wide rather than narrow (tests/unit/holdout-auc.test.ts); null where it cannot be measured.
 */
export function aucInterval(auc: number, positives: number, negatives: number): { low: number; high: number } | null {
  if (!Number.isFinite(auc) || positives < 1 || negatives < 1) return null;
  const q1 = auc / (2 - auc);
  const q2 = (2 * auc * auc) / (1 + auc);
  const variance =
    (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) /
    (positives * negatives);
  const half = 1.96 * Math.sqrt(Math.max(variance, 0));
  return { low: Math.max(0, auc - half), high: Math.min(1, auc + half) };
}

/** "0.866 (95%: 0.830 to 0.902; 121 churners held out)", or the AUC alone where no interval can be given. */
export function holdoutAucText(auc: number | null | undefined, positives?: number, rows?: number): string {
  const value = decimals(auc, 3);
  if (typeof auc !== 'number' || positives === undefined || rows === undefined) return value;
  const interval = aucInterval(auc, positives, rows - positives);
  return interval
    ? `${value} (95%: ${decimals(interval.low, 3)} to ${decimals(interval.high, 3)}; ${count(positives)} churners held out)`
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
