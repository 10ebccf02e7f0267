/**
 * UTC offsets of an IANA time zone, cheap enough to put a million snapshots into calendar
 * periods. Pure (Luxon reads the runtime's time zone database; no I/O).
 *
 * Luxon answers "what is the zone's offset at instant t" through Intl, at a few
 * microseconds a call: too slow to ask once per snapshot. Offsets only change at
 * transitions (a few a year), so the timeline is cut into fixed UTC cells of CELL_MS;
 * Luxon is asked at the cell's two edges and, only when they differ, the transition
 * instant inside the cell is found by bisection (once per cell). Every instant in a cell
 * then costs two comparisons. Cost: one Luxon call per distinct cell touched, plus ~27 per
 * transition, whatever the number of snapshots.
 *
 * Assumption: a zone changes its UTC offset at most once within one cell (one day). A scan
 * of every zone the runtime knows, 1970–2040 at 3-hour steps, found no two changes less
 * than 4 days apart; test/unit/zone-offsets.test.ts checks the cached offsets against
 * Luxon's for every zone.
 */
import { IANAZone } from 'luxon';

export const CELL_MS = 24 * 3600 * 1000;

export class ZoneOffsets {
  private readonly zone: IANAZone;
  private readonly utc: boolean;
  private cell = Number.NaN;
  private before = 0;
  private after = 0;
  private transitionAt = Number.POSITIVE_INFINITY;
  /** The current cell's edges, reused by either neighbouring cell (sorted input walks cells in order). */
  private startAt = Number.NaN;
  private endAt = Number.NaN;
  /** Luxon calls made so far (for the benchmark and tests). */
  lookups = 0;

  constructor(readonly timezone: string) {
    this.zone = IANAZone.create(timezone);
    if (!this.zone.isValid) throw new RangeError(`${timezone} is not an IANA time zone`);
    this.utc = timezone === 'UTC' || timezone === 'Etc/UTC';
  }

  /** The exact offset from Luxon, in milliseconds (positive east of Greenwich). */
  exactOffsetMs(t: number): number {
    this.lookups++;
    return Math.round(this.zone.offset(t) * 60_000);
  }

  private edge(t: number): number {
    if (t === this.startAt) return this.before;
    if (t === this.endAt) return this.after;
    return this.exactOffsetMs(t);
  }

  /** Offset at instant `t` (epoch ms) in milliseconds: local wall clock = t + offset. */
  offsetMs(t: number): number {
    if (this.utc) return 0;
    const cell = Math.floor(t / CELL_MS);
    if (cell !== this.cell) this.load(cell);
    return t < this.transitionAt ? this.before : this.after;
  }

  private load(cell: number): void {
    const start = cell * CELL_MS;
    const end = start + CELL_MS; // the next cell's start: offsets are constant on [start, end) unless they differ
    const a = this.edge(start);
    const b = this.edge(end);
    this.cell = cell;
    this.startAt = start;
    this.endAt = end;
    this.before = a;
    this.after = b;
    if (a === b) {
      this.transitionAt = Number.POSITIVE_INFINITY;
    } else {
      // Invariant: offset(lo) = a, offset(hi) ≠ a. The transition is the first instant with the new offset.
      let lo = start;
      let hi = end;
      while (hi - lo > 1) {
        const mid = lo + Math.floor((hi - lo) / 2);
        if (this.exactOffsetMs(mid) === a) lo = mid;
        else hi = mid;
      }
      this.transitionAt = hi;
    }
  }
}
