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

/** A member may become primary: running, meant to run, alive, not leaving, not a drill. */
export function isEligible(m: Member, now: number): boolean {
  return (
    m.lastStatus === 'RUNNING' &&
    m.desiredStatus === 'RUNNING' &&
    m.goneAt === undefined &&
    m.aliveUntil !== undefined &&
    m.aliveUntil > now
  );
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
 * Since when the primary counts as lost: the earlier of "started going away" (ECS or its
 * own agent said so) and "lease ran out". -Infinity when there is no primary at all (no
 * lease, or the holder's member item is gone), +Infinity while neither has happened.
 * The same rule is written as a DynamoDB condition in the coordination store.
 */
export function primaryLostAt(lease: Lease | undefined, holder: Member | undefined): number {
  if (!lease || !holder) return Number.NEGATIVE_INFINITY;
  return Math.min(holder.goneAt ?? Number.POSITIVE_INFINITY, holder.aliveUntil ?? Number.POSITIVE_INFINITY);
}

/**
 * The write an elector makes, as one transaction:
 *   - the lease moves from `observedTerm` to `observedTerm + 1`, held by `candidate`
 *     (condition: the lease is still at `observedTerm`, or absent when that is 0);
 *   - the previous holder, if any, loses `primaryTerm` (condition: it is still lost at
 *     `lostCutoff`, i.e. lost for at least the failover timeout — or its item is gone);
 *   - the candidate gets `primaryTerm` (condition: still eligible at `now`).
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
  if (!member || member.goneAt !== undefined) return { kind: 'leaving' };
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
