/**
 * The counted keep rules of a retention policy, one row each. Everything that knows the
 * rules iterates this table: the text form and the checks (retention-policy.ts), the
 * planner and its reasons (retention.ts), and the construct's props
 * (lib/private/policy.ts). Adding a rule is a row here, its prop with a doc comment in
 * lib/protection-policy.ts (the compiler asks for it), and tests. Pure.
 *
 * A rule keeps, for each of the last n periods that contain a snapshot, the newest
 * snapshot in it (restic's `forget`). A period is whatever `period` maps a snapshot to:
 * snapshots in a row with equal keys share a period. Keys are computed on the wall clock
 * of the policy's IANA time zone (see `WallClock`).
 */
import type { ZoneOffsets } from './zone-offsets.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;

/**
 * Where a snapshot falls on the policy's wall clock: the inputs every period key is made
 * of. One instance is moved along the newest-first walk; the calendar fields are only
 * recomputed when the local day changes, so a snapshot costs a few integer operations.
 */
export class WallClock {
  /** Position in the newest-first walk (0 = the newest). */
  index = 0;
  /** Local wall-clock time as epoch milliseconds (the UTC fields read as local time). */
  local = 0;
  /** Local day, counted from 1970-01-01. */
  day = Number.NaN;
  /** The local day of the Monday that starts the snapshot's ISO week. */
  week = 0;
  /** Local calendar month, counted from year 0 (year * 12 + month - 1). */
  month = 0;

  constructor(private readonly offsets: ZoneOffsets) {}

  set(index: number, time: number): void {
    this.index = index;
    const local = time + this.offsets.offsetMs(time);
    this.local = local;
    const day = Math.floor(local / DAY);
    if (day !== this.day) {
      this.day = day;
      this.week = day - ((((day + 3) % 7) + 7) % 7); // 1970-01-01 was a Thursday
      this.month = monthOfDay(day);
    }
  }
}

/** Month number since year 0 (year * 12 + month - 1) of a day count since 1970-01-01. */
function monthOfDay(days: number): number {
  // Howard Hinnant's civil_from_days, proleptic Gregorian.
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return year * 12 + month - 1;
}

export interface KeepRule {
  /** The rule's name: in reasons (`daily snapshot (2026-11-27)`) and in the planner's counts. */
  readonly name: string;
  /** Its token in the text form `daily=7` (restic's `keep-daily=7` is accepted too). */
  readonly token: string;
  /** Its key in the stored policy's `retention` section (JSON). */
  readonly jsonKey: string;
  /** Its prop in the construct's `RetentionOptions` (lib/protection-policy.ts). */
  readonly cdkProp: string;
  /** What `n` of it keeps, for messages and help. */
  readonly description: string;
  /** The snapshot's period as a number, from where it falls on the policy's wall clock. */
  readonly period: (at: WallClock) => number;
  /** Luxon format of the period, as reasons show it; none for a rule without periods. */
  readonly label?: string;
}

/** The counted rules, in restic's order (which is also the order reasons are listed in). */
export const KEEP_RULES = [
  {
    name: 'last',
    token: 'last',
    jsonKey: 'last',
    cdkProp: 'keepLast',
    description: 'the n newest snapshots',
    period: (at) => at.index,
  },
  {
    name: 'hourly',
    token: 'hourly',
    jsonKey: 'hourly',
    cdkProp: 'keepHourly',
    description: 'the newest snapshot of each of the last n wall-clock hours that have one',
    period: (at) => Math.floor(at.local / HOUR),
    label: 'yyyy-MM-dd HH:00',
  },
  {
    name: 'daily',
    token: 'daily',
    jsonKey: 'daily',
    cdkProp: 'keepDaily',
    description: 'the newest snapshot of each of the last n days that have one',
    period: (at) => at.day,
    label: 'yyyy-MM-dd',
  },
  {
    name: 'weekly',
    token: 'weekly',
    jsonKey: 'weekly',
    cdkProp: 'keepWeekly',
    description: 'the newest snapshot of each of the last n ISO weeks (from Monday) that have one',
    period: (at) => at.week,
    label: "kkkk-'W'WW",
  },
  {
    name: 'monthly',
    token: 'monthly',
    jsonKey: 'monthly',
    cdkProp: 'keepMonthly',
    description: 'the newest snapshot of each of the last n calendar months that have one',
    period: (at) => at.month,
    label: 'yyyy-MM',
  },
  {
    name: 'quarterly',
    token: 'quarterly',
    jsonKey: 'quarterly',
    cdkProp: 'keepQuarterly',
    description: 'the newest snapshot of each of the last n calendar quarters (Jan-Mar, Apr-Jun, ...) that have one',
    period: (at) => Math.floor(at.month / 3),
    label: "yyyy-'Q'q",
  },
  {
    name: 'yearly',
    token: 'yearly',
    jsonKey: 'yearly',
    cdkProp: 'keepYearly',
    description: 'the newest snapshot of each of the last n calendar years that have one',
    period: (at) => Math.floor(at.month / 12),
    label: 'yyyy',
  },
] as const satisfies readonly KeepRule[];

export type KeepRuleRow = (typeof KEEP_RULES)[number];
export type KeepRuleName = KeepRuleRow['name'];
/** Counts of the stored policy, keyed as the JSON has them. */
export type KeepCounts = { [R in KeepRuleRow as R['jsonKey']]?: number };

/** keep-within: not counted, so not a row, but named the same ways. */
export const KEEP_WITHIN = {
  name: 'within',
  token: 'within',
  jsonKey: 'within',
  cdkProp: 'keepWithin',
  description: 'every snapshot newer than the newest one minus a duration (2d, 36h, 1y6m; m = months)',
} as const;

const BY_NAME = new Map<string, KeepRule>(KEEP_RULES.map((r) => [r.name, r]));

export function keepRule(name: KeepRuleName): KeepRule {
  return BY_NAME.get(name)!;
}
