/** "Did you mean …?": the known word closest to a mistyped one, when it is close enough to be a typo. */

/**
 * The candidate nearest to `word`, or undefined when none is plausibly what was meant. Case, `-` and `_`
 * are ignored (so `followRedirects` finds `follow_redirects`); beyond that, up to one edit per three
 * characters (at most three) counts as a typo.
 */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const typed = normalise(word);
  const allowed = Math.min(3, Math.max(1, Math.floor(typed.length / 3)));
  let best: string | undefined;
  let bestDistance = allowed + 1;
  for (const candidate of candidates) {
    const distance = editDistance(typed, normalise(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function normalise(word: string): string {
  return word.toLowerCase().replace(/[-_]/g, '');
}

/**
 * Optimal string alignment distance: insertions, deletions, substitutions and transpositions of
 * neighbours each cost 1, so `htpp` is one edit from `http`.
 */
export function editDistance(a: string, b: string): number {
  // table[i * width + j] = distance between the first i characters of a and the first j of b.
  const width = b.length + 1;
  const table: number[] = [];
  const at = (i: number, j: number): number => table[i * width + j] ?? 0;
  for (let i = 0; i <= a.length; i++) {
    for (let j = 0; j <= b.length; j++) {
      table[i * width + j] = i === 0 || j === 0 ? i + j : step(a, b, i, j, at);
    }
  }
  return at(a.length, b.length);
}

function step(a: string, b: string, i: number, j: number, at: (i: number, j: number) => number): number {
  const cost = a[i - 1] === b[j - 1] ? 0 : 1;
  const best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
  const swapped = i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1];
  return swapped ? Math.min(best, at(i - 2, j - 2) + 1) : best;
}
