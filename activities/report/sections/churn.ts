import { featureLabel, termInWords } from '../../../domain/feature-words';
import { largestImportance, tooGoodWarning } from '../../../domain/too-good';
import type { ChurnSummary } from '../../churn-summary';
import type { LoadSummary } from '../../load';
import type { LeafRule } from '../../ml/tree-rules';
import { importanceChart, liftChart, rocChart } from '../charts';
import { decimals, escape, fmt, pct, type ReportSection } from '../html';

/** A model's holdout reading in words: its riskiest 10% and its PR AUC. */
function modelReading(metrics: ChurnSummary['holdout']): string {
  return `in its riskiest 10% precision ${pct(metrics.precisionAtTopDecile)} and recall ${pct(metrics.recallAtTopDecile)}, ROC AUC ${decimals(metrics.rocAuc, 3)}, PR AUC ${decimals(metrics.prAuc, 3)}`;
}

/** A rule's churn rate among held-out subscribers, with how many they are ("–" for an older run's rules). */
function heldOutCell(rule: LeafRule): string {
  if (!rule.heldOut) return '–';
  const { churnRate, subscribers } = rule.heldOut;
  return churnRate === null ? 'none held out' : `${pct(churnRate)} (${fmt(subscribers)})`;
}

/** How well the churn tree ranks subscribers, what it looks at, and its riskiest rules in words. */
export async function churnSection(
  churn: ChurnSummary,
  input: Partial<Pick<LoadSummary, 'labels' | 'skippedUserFeatures' | 'userFeatures'>> = {},
): Promise<ReportSection> {
  const importance = Object.entries(churn.featureImportance).map(([feature, share]) => ({
    // a user's column has no words of its own: its name once
    label: featureLabel(feature) === feature ? feature : `${featureLabel(feature)} · ${feature}`,
    share,
  }));
  // one condition a line: all of them hold
  const words = (r: LeafRule) =>
    r.terms.length
      ? `<ul class="terms">${r.terms.map((t) => `<li>${escape(termInWords(t))}</li>`).join('')}</ul>`
      : 'all subscribers';
  const rules = churn.topRules.map(
    (r) =>
      `<tr><td title="${escape(r.condition)}">${words(r)}<div class="columns">${escape(r.condition)}</div></td><td class="num">${pct(r.churnRate)}</td><td class="num">${r.lift.toFixed(1)}x</td><td class="num">${fmt(r.subscribers)}</td><td class="num">${heldOutCell(r)}</td></tr>`,
  );
  const { holdout } = churn;
  const noted = (input.userFeatures ?? []).filter((f) => f.note !== undefined);
  const leftOut = [...(input.skippedUserFeatures ?? []), ...(churn.unusedFeatures ?? [])];
  // a model this good has usually been given the label under another name (the run's result says so too)
  const tooGood = tooGoodWarning(holdout.rocAuc, largestImportance(churn.features));
  const warning = tooGood
    ? `<p style="border-left: 4px solid #dc2626; padding-left: 8px;"><b>Check the features:</b> ${escape(tooGood)}.</p>\n    `
    : '';
  // the missing indicators beside the user's numbers with gaps (activities/churn-features.ts)
  const indicators = churn.features.flatMap((f) => (f.missingOf !== undefined ? [f] : []));
  return {
    id: 'churn',
    title: 'Churn risk',
    html: `${warning}<div class="row">${await rocChart(churn.holdoutRoc, holdout.rocAuc)}${await liftChart(holdout.liftByDecile)}</div>
    <div class="row">${await importanceChart(importance)}</div>
    <h3>Riskiest rules</h3>
    <table class="rules">
      <tr><th>subscribers who… (all of these)</th><th class="num">churn rate</th><th class="num">lift</th><th class="num">subscribers (training)</th><th class="num">churn rate, held out (subscribers)</th></tr>
      ${rules.join('\n      ')}
    </table>
    <p class="note">Each rule is a leaf of the readable churn tree, measured on the subscribers it was trained on, and in the last column on the held-out subscribers it holds for (a small leaf's training rate flatters it); the small print names the columns of subscribers.parquet. The tree checked on ${fmt(churn.holdoutRows)} held-out subscribers (base churn rate ${pct(holdout.baseRate)}): ${modelReading(churn.tree.holdout)}.${churn.model === 'boosted' ? ` The ROC curve and lift above are the boosted ensemble's, whose probabilities are the published scores: ${modelReading(holdout)}.` : ''}</p>
    <h3>Features the models were given</h3>
    <table>
      <tr><th>feature</th><th>source</th><th>type</th><th class="num">missing (training)</th><th class="num">importance (${churn.ensemble ? 'boosted ensemble' : 'readable tree'})</th></tr>
      ${churn.features.map((f) => `<tr><td>${escape(featureLabel(f.name))}<div class="columns">${escape(f.name)}</div></td><td>${f.source}</td><td>${f.type}</td><td class="num">${pct(f.missingShare)}</td><td class="num">${pct(f.importance)}</td></tr>`).join('\n      ')}
    </table>
    ${indicators.length ? `<p class="note">${indicators.map((f) => escape(`"${f.name}"`)).join(', ')} ${indicators.length === 1 ? 'is' : 'are'} 1 for the subscribers with no value of ${indicators.map((f) => escape(f.missingOf ?? '')).join(', ')} (0 for the others): the models see a missing number as 0, and these tell them it was missing. A rule that says "or missing" takes in the subscribers without a value.</p>` : ''}${input.labels ? `<p class="note">Churn labels from ${escape(input.labels.path)}: ${fmt(input.labels.rows)} rows, ${fmt(input.labels.unknownIds)} of them for subscribers the input does not have (not used).</p>` : ''}
    ${noted.length ? `<p class="note">Columns of your file read with a note: ${noted.map((f) => `${escape(f.name)} (${escape(f.note ?? '')})`).join('; ')}.</p>` : ''}
    ${leftOut.length ? `<p class="note">Columns of your file left out of the models: ${leftOut.map((s) => `${escape(s.feature)} (${escape(s.reason)})`).join('; ')}.</p>` : ''}`,
  };
}
