/**
 * The known name a mistyped one was probably meant to be ("treedepth" → "treeDepth", "MSISDN" →
 * "msisdn", "办理产口" → "办理产品"), or undefined when none is close: at most max(2, a third of its
 * length) edits away, and fewer edits than it has characters (two-character Chinese headers are
 * common, and "渠道" is not a typo of "日期").
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const length = [...name].length;
  const scored = known.map((candidate) => ({ candidate, distance: editDistance(name, candidate) }));
  const best = scored.sort((a, b) => a.distance - b.distance)[0];
  return best && best.distance <= Math.max(2, Math.floor(length / 3)) && best.distance < length
    ? best.candidate
    : undefined;
}

/**
 * Levenshtein distance, case-insensitive (a wrong case is the commonest slip: treedepth), over
 * code points: a character outside the BMP (𠮷) is one edit, not two.
 */
function editDistance(a: string, b: string): number {
  const [x, y] = [[...a.toLowerCase()], [...b.toLowerCase()]];
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++)
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[y.length];
}
