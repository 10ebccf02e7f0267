/** "Did you mean …?" for names a user typed: the closest known name, if it is close enough. */
import { closest, distance } from 'fastest-levenshtein';

/** The candidate nearest to `name`, when at most a third of its letters differ (typos, not guesses). */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const best = closest(name, [...candidates]);
  return distance(name, best) <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined;
}

/** ` (did you mean "x"?)`, or nothing. */
export function didYouMean(name: string, candidates: readonly string[]): string {
  const best = closestName(name, candidates);
  return best === undefined ? '' : ` (did you mean ${JSON.stringify(best)}?)`;
}
