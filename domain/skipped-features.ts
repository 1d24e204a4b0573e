/** A feature the input could not support, as the manifest lists it (activities/features.ts). */
interface Skipped {
  feature: string;
  reason: string;
}

const ABSENT_COLUMN = /^input has no (.+?); (.+)$/;

/**
 * Skipped features as people read them: a score's components the input lacks, whose reasons say
 * the same of the score, in one item (`stability_score.contract, stability_score.broadband (input
 * has no contract_end_date, has_broadband; stability_score is rescaled ...)`) instead of one item
 * each repeating that sentence. Others as they are, in the manifest's order.
 */
export function skippedFeatureItems(skipped: readonly Skipped[]): string[] {
  const items: ({ text: string } | { features: string[]; columns: string[]; rest: string })[] = [];
  const byRest = new Map<string, { features: string[]; columns: string[]; rest: string }>();
  for (const { feature, reason } of skipped) {
    const match = ABSENT_COLUMN.exec(reason);
    if (!match) {
      items.push({ text: `${feature} (${reason})` });
      continue;
    }
    const [, column, rest] = match as unknown as [string, string, string];
    const group = byRest.get(rest);
    if (group) {
      group.features.push(feature);
      if (!group.columns.includes(column)) group.columns.push(column);
      continue;
    }
    const created = { features: [feature], columns: [column], rest };
    byRest.set(rest, created);
    items.push(created);
  }
  return items.map((item) =>
    'text' in item ? item.text : `${item.features.join(', ')} (input has no ${item.columns.join(', ')}; ${item.rest})`,
  );
}
