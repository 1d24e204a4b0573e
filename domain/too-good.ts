import { CHURN_FEATURES } from './churn-features';
import { decimals } from './decimals';

/**
 * A churn model this good on its holdout almost always has a column that gives the label away
 * (the month left, a status written after the fact), not a real signal.
 */
const TOO_GOOD_ROC_AUC = 0.99;

/** The feature a model leans on most, and its share of the importance (0..1). */
export interface TopFeature {
  name: string;
  importance: number;
  /** Where it comes from (derived, contract, user); absent in an older worker's result. */
  source?: string;
  /** A missing indicator: the user's column whose gaps it marks (`<column> missing`). */
  missingOf?: string;
}

/** The feature with the largest importance (the first of equals), none when no feature has any. */
export function largestImportance(features: readonly TopFeature[]): TopFeature | null {
  let top: TopFeature | null = null;
  for (const { name, importance, source, missingOf } of features)
    if (Number.isFinite(importance) && importance > (top?.importance ?? 0))
      top = { name, importance, ...(source ? { source } : {}), ...(missingOf !== undefined ? { missingOf } : {}) };
  return top;
}

/**
 * What to tell the user of a holdout ROC AUC of at least TOO_GOOD_ROC_AUC, naming the feature with
 * the largest importance when known; null for any other AUC (NaN or missing included).
 */
export function tooGoodWarning(rocAuc: number | null | undefined, top?: TopFeature | null): string | null {
  if (typeof rocAuc !== 'number' || !(rocAuc >= TOO_GOOD_ROC_AUC)) return null;
  const largest = top ? ` (largest importance: ${top.name}, ${Math.round(top.importance * 100)}%)` : '';
  // a feature segflow derives from the usage columns cannot be skipped in the mapping: what to check
  // instead. A column of the user's may bear a derived feature's name (arpu): its source tells them apart
  const derived = top && top.source !== 'user' && (CHURN_FEATURES as readonly string[]).includes(top.name);
  return (
    `holdout ROC AUC ${decimals(rocAuc, 3)}: a model this good usually means a column gives the label away${largest}; ` +
    (derived
      ? `${top.name} is derived from the usage columns: check whether the month before already shows who left (rows of zero usage written for them, or their last month's usage cut short)`
      : top?.missingOf !== undefined
        ? `whether ${top.missingOf} has a value gives it away: check that column (a value written only for those who stayed?); to leave it out of the models, give ${top.missingOf} the type skip in the features of the mapping`
        : 'check it; to leave a column of yours out of the models, give it the type skip in the features of the mapping')
  );
}
