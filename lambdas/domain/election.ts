/**
 * Primary election: who may be primary, who is best, when the current primary counts as
 * lost, and what an elector should do about it. Pure: plain data in, a decision out.
 *
 * The same decision runs in the task-events Lambda (the holder's task STOPPED), the
 * watchdog (a lease that ran out, a failover wait that is over) and the replica agents
 * (their heartbeat found no live primary). Whoever runs it, the write that follows is one
 * conditional transaction on the observed term (see ElectionRequest), so concurrent and
 * duplicate electors elect exactly one primary per term.
 */
import type { Lease, Member } from './membership.js';
import type { FailoverPolicy } from './service-policy.js';

// ---------------------------------------------------------------------------------------
// The rules, as data
//
// Eligibility, loss and staying are written once, here, as conditions over a member's
// fields. The same data is evaluated by `holds` below (the domain, the memory model) and
// rendered into the ConditionExpressions of the DynamoDB store's election transaction,
// heartbeat and enqueue (adapters/dynamo-condition.ts). A comparison with a field the member does not have is
// false, in `holds` as in DynamoDB, so they cannot disagree on a missing field.
// test/integration/election-rule.test.ts checks on generated members that they agree.

/** The times a rule is evaluated at. */
export interface RuleTimes {
  now?: number;
  cutoff?: number;
}

/** The member fields the rules read: ECS's statuses and the times the agent and ECS set. */
export type RuleMember = Partial<Pick<Member, 'lastStatus' | 'desiredStatus' | 'goneAt' | 'aliveUntil'>>;
type TextField = 'lastStatus' | 'desiredStatus';
type TimeField = 'goneAt' | 'aliveUntil';

/** A condition over one member's fields. */
export type MemberRule =
  | { test: 'equals'; field: TextField; value: string }
  | { test: 'absent'; field: keyof RuleMember }
  /** field > time (false when the field is missing). */
  | { test: 'after'; field: TimeField; time: keyof RuleTimes }
  /** field <= time (false when the field is missing). */
  | { test: 'notAfter'; field: TimeField; time: keyof RuleTimes }
  | { test: 'all' | 'any'; of: readonly MemberRule[] };

/** The signs that a primary is going or gone: ECS or its agent said so (goneAt), or its lease ran out. */
export const LOSS_SIGNS = ['goneAt', 'aliveUntil'] as const satisfies readonly TimeField[];

/**
 * The member is not going away (nobody set `goneAt`): it may renew its heartbeat and be
 * handed commands. Once it is going away, both are refused and it is never elected.
 */
export const STAYING: MemberRule = { test: 'absent', field: 'goneAt' };

/** A member may become primary at `now`: running, meant to run, not leaving, alive. */
export const ELIGIBILITY: MemberRule = {
  test: 'all',
  of: [
    { test: 'equals', field: 'lastStatus', value: 'RUNNING' },
    { test: 'equals', field: 'desiredStatus', value: 'RUNNING' },
    STAYING,
    { test: 'after', field: 'aliveUntil', time: 'now' },
  ],
};

/** The primary counts as lost at `cutoff`: one of its loss signs is at or before it. */
export const LOSS: MemberRule = { test: 'any', of: LOSS_SIGNS.map((field) => ({ test: 'notAfter', field, time: 'cutoff' }) as const) };

/** Evaluates a rule on a member. */
export function holds(rule: MemberRule, m: RuleMember, times: RuleTimes): boolean {
  const time = (name: keyof RuleTimes): number => {
    const t = times[name];
    if (t === undefined) throw new Error(`election rule needs the time "${name}", which was not given`);
    return t;
  };
  switch (rule.test) {
    case 'equals':
      return m[rule.field] === rule.value;
    case 'absent':
      return m[rule.field] === undefined;
    case 'after': {
      const v = m[rule.field];
      return v !== undefined && v > time(rule.time);
    }
    case 'notAfter': {
      const v = m[rule.field];
      return v !== undefined && v <= time(rule.time);
    }
    case 'all':
      return rule.of.every((r) => holds(r, m, times));
    case 'any':
      return rule.of.some((r) => holds(r, m, times));
  }
}

/** The member is not going away (STAYING). */
export function isStaying(m: RuleMember): boolean {
  return holds(STAYING, m, {});
}

/** A member may become primary: running, meant to run, alive, not leaving (ELIGIBILITY). */
export function isEligible(m: Member, now: number): boolean {
  return holds(ELIGIBILITY, m, { now });
}

/** The (previous) primary counts as lost at `cutoff` (LOSS). */
export function isLostAt(m: Member, cutoff: number): boolean {
  return holds(LOSS, m, { cutoff });
}

/** Best first: freshest data, then higher priority, then oldest, then task ARN. */
export function compareCandidates(a: Member, b: Member): number {
  const pos = (m: Member) => m.dataPosition ?? Number.NEGATIVE_INFINITY;
  if (pos(a) !== pos(b)) return pos(b) - pos(a) > 0 ? 1 : -1;
  const pri = (m: Member) => m.priority ?? 0;
  if (pri(a) !== pri(b)) return pri(b) - pri(a);
  const started = (m: Member) => m.startedAt ?? Number.POSITIVE_INFINITY;
  if (started(a) !== started(b)) return started(a) < started(b) ? -1 : 1;
  return a.taskArn < b.taskArn ? -1 : a.taskArn > b.taskArn ? 1 : 0;
}

export function rankCandidates(members: readonly Member[], now: number): Member[] {
  return members.filter((m) => isEligible(m, now)).sort(compareCandidates);
}

/**
 * Since when the primary counts as lost: the earliest of its LOSS_SIGNS ("started going
 * away", "lease ran out"), so `primaryLostAt(lease, m) <= cutoff` exactly when
 * `isLostAt(m, cutoff)`. -Infinity when there is no primary at all (no lease, or the
 * holder's member item is gone), +Infinity while neither has happened.
 */
export function primaryLostAt(lease: Lease | undefined, holder: Member | undefined): number {
  if (!lease || !holder) return Number.NEGATIVE_INFINITY;
  return Math.min(...LOSS_SIGNS.map((sign) => holder[sign] ?? Number.POSITIVE_INFINITY));
}

/**
 * The write an elector makes, as one transaction:
 *   - the lease moves from `observedTerm` to `observedTerm + 1`, held by `candidate`
 *     (condition: the lease is still at `observedTerm`, or absent when that is 0);
 *   - the previous holder, if any, loses `primaryTerm` (condition: LOSS at `lostCutoff`,
 *     i.e. lost for at least the failover timeout — or its item is gone);
 *   - the candidate gets `primaryTerm` (condition: ELIGIBILITY at `now`).
 */
export interface ElectionRequest {
  service: string;
  observedTerm: number;
  previousHolder?: string;
  /** Whether the previous holder's member item existed when the state was read. */
  previousHolderExists: boolean;
  lostCutoff: number;
  candidate: string;
  now: number;
  /** Why, for logs and metrics: `bootstrap` (no primary yet) or `failover`. */
  reason: 'bootstrap' | 'failover';
}

export type ElectionOutcome =
  | { kind: 'elected'; lease: Lease }
  /** Someone else moved the lease first (a concurrent or earlier elector). */
  | { kind: 'superseded' }
  /** The previous holder came back (heartbeat) or its loss is not old enough yet. */
  | { kind: 'holder-alive' }
  /** The candidate stopped being eligible between the read and the write. */
  | { kind: 'candidate-ineligible' }
  /** A concurrent transaction on the same items: read again and retry. */
  | { kind: 'conflict' };

export type FailoverDecision =
  | { kind: 'healthy'; lease: Lease; holder: Member; expiresAt: number }
  | { kind: 'wait'; lease?: Lease; lostAt: number; dueAt: number }
  | { kind: 'elect'; request: ElectionRequest; lease?: Lease; lostAt: number }
  | { kind: 'no-candidate'; lease?: Lease; lostAt: number };

/**
 * Looks at the lease and the members and says what an elector should do now. A lost
 * primary is replaced only `timeoutSeconds` after it was lost; with no primary at all
 * (first start, holder's item expired) the best candidate is elected at once.
 */
export function decideFailover(
  service: string,
  lease: Lease | undefined,
  members: readonly Member[],
  policy: Pick<FailoverPolicy, 'timeoutSeconds'>,
  now: number,
): FailoverDecision {
  const holder = lease ? members.find((m) => m.taskArn === lease.holder) : undefined;
  const lostAt = primaryLostAt(lease, holder);
  if (lease && holder && lostAt > now) {
    return { kind: 'healthy', lease, holder, expiresAt: holder.aliveUntil ?? Number.POSITIVE_INFINITY };
  }
  const waitMs = lease && holder ? policy.timeoutSeconds * 1000 : 0;
  const dueAt = lostAt + waitMs;
  if (dueAt > now) return { kind: 'wait', ...(lease ? { lease } : {}), lostAt, dueAt };
  const best = rankCandidates(
    members.filter((m) => m.taskArn !== lease?.holder),
    now,
  )[0];
  if (!best) return { kind: 'no-candidate', ...(lease ? { lease } : {}), lostAt };
  return {
    kind: 'elect',
    ...(lease ? { lease } : {}),
    lostAt,
    request: {
      service,
      observedTerm: lease?.term ?? 0,
      ...(lease ? { previousHolder: lease.holder } : {}),
      previousHolderExists: holder !== undefined,
      lostCutoff: now - waitMs,
      candidate: best.taskArn,
      now,
      reason: lease && holder ? 'failover' : 'bootstrap',
    },
  };
}

/** What an agent is, as its own member item says. */
export type Role = { kind: 'primary'; term: number } | { kind: 'replica' } | { kind: 'leaving' };

export function roleOf(member: Member | undefined): Role {
  if (!member || !isStaying(member)) return { kind: 'leaving' };
  return member.primaryTerm !== undefined ? { kind: 'primary', term: member.primaryTerm } : { kind: 'replica' };
}

/**
 * How long before its lease runs out a primary that could not renew demotes itself
 * (Patroni-style): a fifth of the lease. It also absorbs clock skew between the task and
 * the electors up to that much. Heartbeats come at most every half lease, so a healthy
 * primary never gets near it.
 */
export function selfFenceMarginMs(policy: Pick<FailoverPolicy, 'leaseSeconds'>): number {
  return Math.round((policy.leaseSeconds * 1000) / 5);
}
