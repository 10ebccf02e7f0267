/**
 * The retention planner: which snapshots a service keeps, and why. Pure: plain data in,
 * plain data out; the sweep (control/retention.ts) acts on the plan.
 *
 * Semantics are restic's `forget` (internal/data/snapshot_policy.go, restic ≥ 0.17):
 *
 * - Snapshots are walked newest first (ties: larger id first).
 * - keep-last n keeps the n newest. keep-hourly/daily/weekly/monthly/quarterly/yearly n:
 *   for the last n periods that contain a snapshot, keep the newest snapshot in each.
 *   Periods are calendar periods of the wall clock in the policy's IANA time zone: an hour
 *   is a local wall-clock hour (so the repeated hour when clocks go back is one period), a
 *   day runs from local midnight to midnight (23 or 25 hours on DST days), weeks are ISO
 *   weeks starting Monday, months, quarters and years are calendar ones. The rules and
 *   their periods are the rows of keep-rules.ts (quarterly is Lifeboat's; restic has none).
 * - When a rule still has count left at the oldest snapshot, that oldest snapshot is kept
 *   too ("oldest daily snapshot"): a young history is not thinned below what the rule
 *   asked for, and the longest history possible is kept.
 * - keep-within d keeps every snapshot strictly newer than (newest − d), where the newest
 *   is the newest snapshot not in the future of `now`, and d is subtracted as restic does:
 *   calendar years, months and days on the local date (overflow normalised like Go's
 *   AddDate: Mar 31 − 1 month = Mar 3), then d's hours as elapsed time.
 * - Rules are OR'ed: a snapshot is kept when any rule keeps it, with every matching reason.
 *
 * On top of the policy, protections keep (never count against the rules): the newest
 * verified snapshot, snapshots in use by a running restore or drill, and snapshots under
 * an S3 Object Lock retain-until date after `now` (or a legal hold).
 *
 * Cost: O(n) when the input is already newest first (the catalog's order), O(n log n)
 * otherwise; no allocation per snapshot beyond the reasons of kept ones.
 */
import { DateTime } from 'luxon';
import { RetentionPolicyError, UsageError } from './errors.js';
import { KEEP_RULES, type KeepRuleName, keepRule, WallClock } from './keep-rules.js';
import type { KeepWithin, RetentionRules } from './retention-policy.js';
import { ZoneOffsets } from './zone-offsets.js';

export interface RetentionCandidate {
  id: string;
  /** Snapshot time, epoch milliseconds. */
  time: number;
  /** Verified by a passing restore drill. */
  verified?: boolean;
  /** Holders of live snapshot holds (running restores and drills). */
  inUseBy?: readonly string[];
  /** S3 Object Lock retain-until date of the snapshot's objects, epoch milliseconds. */
  retainUntil?: number;
  /** S3 Object Lock legal hold on the snapshot's objects. */
  legalHold?: boolean;
}

export type KeepReason =
  | { kind: 'rule'; rule: KeepRuleName; oldest: boolean }
  | { kind: 'within'; within: string }
  | { kind: 'newest-verified' }
  | { kind: 'in-use'; holders: readonly string[] }
  | { kind: 'object-lock'; until: number }
  | { kind: 'legal-hold' };

export interface RetentionPlan {
  rules: RetentionRules;
  now: number;
  /** The snapshot time `within` counts back from (newest not in the future), if any. */
  anchor: number | undefined;
  /** keep-within keeps snapshots strictly newer than this. */
  withinCutoff: number | undefined;
  /** Input indices, newest first. */
  order: Uint32Array;
  /** By input index: why the snapshot is kept; undefined = delete it. */
  reasons: (KeepReason[] | undefined)[];
  kept: number;
  deleted: number;
  /** Kept by the policy's rules alone (without protections). */
  keptByRules: number;
}

const HOUR = 3_600_000;

/** The instant `d` before `anchor`, restic style: calendar part on the local date, then hours. */
export function withinCutoff(anchor: number, d: KeepWithin, timezone: string): number {
  const local = DateTime.fromMillis(anchor, { zone: timezone });
  // Date's UTC setters normalise overflow the way Go's time.Date does (Feb 31 → Mar 3).
  const wall = new Date(0);
  wall.setUTCFullYear(local.year - d.years, local.month - 1 - d.months, local.day - d.days);
  wall.setUTCHours(local.hour, local.minute, local.second, local.millisecond);
  const back = DateTime.fromObject(
    {
      year: wall.getUTCFullYear(),
      month: wall.getUTCMonth() + 1,
      day: wall.getUTCDate(),
      hour: wall.getUTCHours(),
      minute: wall.getUTCMinutes(),
      second: wall.getUTCSeconds(),
      millisecond: wall.getUTCMilliseconds(),
    },
    { zone: timezone },
  );
  return back.toMillis() - d.hours * HOUR;
}

function newestFirst(snapshots: readonly RetentionCandidate[]): Uint32Array {
  const n = snapshots.length;
  const order = new Uint32Array(n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    order[i] = i;
    if (i > 0 && sorted) {
      const a = snapshots[i - 1]!;
      const b = snapshots[i]!;
      if (a.time < b.time || (a.time === b.time && a.id < b.id)) sorted = false;
    }
  }
  if (!sorted) {
    order.sort((x, y) => {
      const a = snapshots[x]!;
      const b = snapshots[y]!;
      return b.time - a.time || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
    });
  }
  return order;
}

/**
 * Plans which snapshots to keep. `snapshots` are the service's complete snapshots in any
 * order (newest first is fastest); `now` (epoch ms) decides which snapshots are in the
 * future and which Object Lock dates have passed.
 */
export function planRetention(snapshots: readonly RetentionCandidate[], rules: RetentionRules, options: { now: number }): RetentionPlan {
  const n = snapshots.length;
  const now = options.now;
  const order = newestFirst(snapshots);
  const reasons: (KeepReason[] | undefined)[] = new Array(n);

  // keep-within counts back from the newest snapshot that is not in the future (restic).
  let anchor: number | undefined;
  for (let i = 0; i < n; i++) {
    const t = snapshots[order[i]!]!.time;
    if (t < now) {
      anchor = t;
      break;
    }
  }
  // No snapshot in the past (a clock running ahead): restic then keeps everything within.
  const cutoff =
    rules.within === undefined ? undefined : anchor === undefined ? Number.NEGATIVE_INFINITY : withinCutoff(anchor, rules.within.duration, rules.timezone);

  // The rules with count left, in table order (the order reasons are listed in); a rule
  // leaves these lists when its count runs out, so the walk only asks the ones still counting.
  const inUse = KEEP_RULES.filter((r) => rules.counts[r.name] > 0);
  let m = inUse.length;
  const period = inUse.map((r) => r.period);
  const name = inUse.map((r) => r.name);
  const left = inUse.map((r) => rules.counts[r.name]);
  const last = inUse.map(() => Number.NaN); // each rule's current period key
  const clock = new WallClock(new ZoneOffsets(rules.timezone));
  const withinReason: KeepReason | undefined = rules.within ? { kind: 'within', within: rules.within.text } : undefined;
  let kept = 0;

  for (let i = 0; i < n; i++) {
    const index = order[i]!;
    const t = snapshots[index]!.time;
    let why: KeepReason[] | undefined;
    if (cutoff !== undefined && t > cutoff) why = [withinReason!];
    if (m > 0) {
      clock.set(i, t);
      const oldest = i === n - 1;
      for (let r = 0; r < m; r++) {
        const key = period[r]!(clock);
        const same = key === last[r];
        if (!same || oldest) {
          last[r] = key;
          (why ??= []).push({ kind: 'rule', rule: name[r]!, oldest: same });
          if (--left[r]! === 0) {
            for (const list of [period, name, left, last] as unknown[][]) list.splice(r, 1);
            r--;
            m--;
          }
        }
      }
    }
    if (why) {
      reasons[index] = why;
      kept++;
    }
  }
  const keptByRules = kept;
  if (n > 0 && keptByRules === 0) {
    // Rules that retentionRules() accepted always keep the newest; this guards callers that build rules by hand.
    throw new RetentionPolicyError(`refusing a retention plan whose rules would delete all ${n} snapshots`, {
      hint: 'give at least one keep rule above zero (build the rules with retentionRules())',
    });
  }

  // Protections, on top of the rules.
  let newestVerifiedSeen = false;
  for (let i = 0; i < n; i++) {
    const index = order[i]!;
    const s = snapshots[index]!;
    const extra: KeepReason[] = [];
    if (s.verified && !newestVerifiedSeen) {
      newestVerifiedSeen = true;
      extra.push({ kind: 'newest-verified' });
    }
    if (s.inUseBy && s.inUseBy.length > 0) extra.push({ kind: 'in-use', holders: s.inUseBy });
    if (s.retainUntil !== undefined && s.retainUntil > now) extra.push({ kind: 'object-lock', until: s.retainUntil });
    if (s.legalHold) extra.push({ kind: 'legal-hold' });
    if (extra.length === 0) continue;
    const existing = reasons[index];
    if (existing) existing.push(...extra);
    else {
      reasons[index] = extra;
      kept++;
    }
  }

  return { rules, now, anchor, withinCutoff: cutoff, order, reasons, kept, deleted: n - kept, keptByRules };
}

/** Input indices the plan deletes, oldest first (so an interrupted sweep removes the oldest first). */
export function plannedDeletions(plan: RetentionPlan): number[] {
  const out: number[] = [];
  for (let i = plan.order.length - 1; i >= 0; i--) {
    const index = plan.order[i]!;
    if (plan.reasons[index] === undefined) out.push(index);
  }
  return out;
}

/** The period a snapshot falls in for a rule, as a person reads it (local to the policy's zone); undefined for `last`. */
export function periodLabel(rule: KeepRuleName, time: number, timezone: string): string | undefined {
  const { label } = keepRule(rule);
  return label === undefined ? undefined : DateTime.fromMillis(time, { zone: timezone }).toFormat(label);
}

/** One line per reason, for people and for the JSON output. */
export function describeReason(reason: KeepReason, time: number, timezone: string): string {
  switch (reason.kind) {
    case 'rule': {
      const period = periodLabel(reason.rule, time, timezone);
      return `${reason.oldest ? 'oldest ' : ''}${reason.rule} snapshot${period === undefined ? '' : ` (${period})`}`;
    }
    case 'within':
      return `within ${reason.within} of the newest`;
    case 'newest-verified':
      return 'newest verified snapshot (protected)';
    case 'in-use':
      return `in use by ${reason.holders.join(', ')} (protected)`;
    case 'object-lock':
      return `S3 Object Lock until ${new Date(reason.until).toISOString()} (protected)`;
    case 'legal-hold':
      return 'S3 Object Lock legal hold (protected)';
  }
}

/** One snapshot's verdict, as shown to people and in JSON. */
export interface PlanEntry {
  id: string;
  /** Snapshot time, ISO-8601 UTC. */
  time: string;
  action: 'keep' | 'delete';
  reasons: string[];
}

/** The plan as a list, newest first, reasons spelled out (local periods in the policy's zone). */
export function planEntries(snapshots: readonly RetentionCandidate[], plan: RetentionPlan): PlanEntry[] {
  const out: PlanEntry[] = [];
  for (const index of plan.order) {
    const s = snapshots[index]!;
    const why = plan.reasons[index];
    out.push({
      id: s.id,
      time: new Date(s.time).toISOString(),
      action: why ? 'keep' : 'delete',
      reasons: why ? why.map((r) => describeReason(r, s.time, plan.rules.timezone)) : [],
    });
  }
  return out;
}

/**
 * Reads the offline what-if input: a JSON array of `{ "id": "...", "time": "<ISO-8601>" }`
 * (optionally `"verified": true`). A time without an offset is read in `timezone`.
 * Errors name the entry and what is wrong with it.
 */
export function candidatesFromJson(doc: unknown, timezone: string, source = 'the snapshot list'): RetentionCandidate[] {
  const hint = 'give a JSON array like [{ "id": "a", "time": "2026-11-27T08:00:00Z" }]';
  if (!Array.isArray(doc)) throw new UsageError(`${source} is not a JSON array`, { hint });
  const seen = new Set<string>();
  return doc.map((entry: unknown, i) => {
    const where = `entry ${i} of ${source}`;
    if (typeof entry !== 'object' || entry === null) throw new UsageError(`${where} is not an object`, { hint });
    const { id, time, verified } = entry as Record<string, unknown>;
    if (typeof id !== 'string' || id === '') throw new UsageError(`${where} has no "id" string`, { hint });
    if (seen.has(id)) throw new UsageError(`${where} repeats the id ${JSON.stringify(id)}`, { hint: 'ids must be unique' });
    seen.add(id);
    if (typeof time !== 'string') throw new UsageError(`${where} (${JSON.stringify(id)}) has no "time" string`, { hint });
    const parsed = DateTime.fromISO(time, { zone: timezone });
    if (!parsed.isValid) {
      throw new UsageError(
        `${where} (${JSON.stringify(id)}) has time ${JSON.stringify(time)}, which is not ISO-8601: ${parsed.invalidExplanation ?? parsed.invalidReason}`,
        {
          hint: 'write times like 2026-11-27T08:00:00Z or 2026-11-27T09:00:00+01:00',
        },
      );
    }
    if (verified !== undefined && typeof verified !== 'boolean')
      throw new UsageError(`${where} (${JSON.stringify(id)}) has a "verified" that is not true or false`);
    return { id, time: parsed.toMillis(), ...(verified ? { verified: true } : {}) };
  });
}
