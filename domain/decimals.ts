/**
 * A measure with `digits` decimals, or "–" where it is undefined: a holdout without a churner has
 * no ROC AUC (NaN in a run, null once it went through JSON: a manifest, a workflow's result).
 * `unit` follows a number only ("4.2x", not "–x").
 */
export function decimals(n: number | null | undefined, digits: number, unit = ''): string {
  return n === null || n === undefined || !Number.isFinite(n) ? '–' : `${n.toFixed(digits)}${unit}`;
}

/** A whole number with thousands separators, as the command line and messages print counts: 1,234,567. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}
