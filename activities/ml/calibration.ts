/**
 * Probability calibration by Platt scaling: p = sigmoid(a * margin + b), fitted by Newton's
 * method on held-out rows. A linear map of the margin, so it folds into the trees of a boosted
 * model (scaleModel) and the published model file gives the calibrated probabilities itself.
 */
import { scoreOrder } from './metrics';

export interface PlattScaling {
  a: number;
  b: number;
}

/** Maximum-likelihood (a, b) for labels given margins; the identity (1, 0) when the rows cannot fit it. */
export function fitPlatt(margins: Float64Array, labels: Uint8Array, iterations = 50): PlattScaling {
  let a = 1;
  let b = 0;
  for (let step = 0; step < iterations; step++) {
    // gradient and Hessian of the mean log-loss in (a, b)
    let ga = 0;
    let gb = 0;
    let haa = 0;
    let hab = 0;
    let hbb = 0;
    for (let i = 0; i < margins.length; i++) {
      const p = 1 / (1 + Math.exp(-(a * margins[i] + b)));
      const residual = p - labels[i];
      const weight = p * (1 - p);
      ga += residual * margins[i];
      gb += residual;
      haa += weight * margins[i] * margins[i];
      hab += weight * margins[i];
      hbb += weight;
    }
    const ridge = 1e-9 * margins.length;
    const det = (haa + ridge) * (hbb + ridge) - hab * hab;
    if (!(det > 0)) return { a: 1, b: 0 };
    const da = ((hbb + ridge) * ga - hab * gb) / det;
    const db = ((haa + ridge) * gb - hab * ga) / det;
    a -= da;
    b -= db;
    if (Math.abs(da) < 1e-12 && Math.abs(db) < 1e-12) break;
  }
  return Number.isFinite(a) && Number.isFinite(b) && a > 0 ? { a, b } : { a: 1, b: 0 };
}

/** Mean squared difference between probability and outcome (lower is better). */
export function brierScore(probabilities: Float64Array, labels: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < probabilities.length; i++) sum += (probabilities[i] - labels[i]) ** 2;
  return sum / Math.max(probabilities.length, 1);
}

export interface ReliabilityBin {
  /** Mean predicted probability in the bin. */
  predicted: number;
  /** Observed churn rate in the bin. */
  observed: number;
  rows: number;
}

/** Reliability curve: rows ranked by probability into `bins` equal-count bins, predicted vs observed per bin. */
export function reliabilityCurve(probabilities: Float64Array, labels: Uint8Array, bins = 10): ReliabilityBin[] {
  const n = probabilities.length;
  const order = scoreOrder(probabilities, 'ascending');
  const curve: ReliabilityBin[] = [];
  for (let bin = 0; bin < bins; bin++) {
    const from = Math.floor((bin * n) / bins);
    const to = Math.floor(((bin + 1) * n) / bins);
    if (to <= from) continue;
    let predicted = 0;
    let observed = 0;
    for (let i = from; i < to; i++) {
      predicted += probabilities[order[i]];
      observed += labels[order[i]];
    }
    curve.push({ predicted: predicted / (to - from), observed: observed / (to - from), rows: to - from });
  }
  return curve;
}
