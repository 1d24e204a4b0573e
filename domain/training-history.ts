import type { RunParams } from './params';

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
