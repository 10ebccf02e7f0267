/**
 * The one clock type of the wiring: epoch milliseconds. Flows that work in Dates get one
 * made from it at the edge (`dateClock`), so a test moves every part of the system with one clock.
 */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

/** The same clock as Dates, for flows that compute in Dates. */
export function dateClock(clock: Clock): () => Date {
  return () => new Date(clock());
}
