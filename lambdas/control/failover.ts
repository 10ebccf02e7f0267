/**
 * The failover check: read the service's lease and members, decide (domain/election.ts),
 * act — elect, wait (schedule the continuation), or keep discovery pointing at the live
 * primary. Run by the task-events handler (the holder's task is going away), the watchdog
 * (schedule and continuations), the reconciler, and local mode; all of them at once is
 * fine: the election is one conditional write on the observed term.
 */

import type { CoordinationStore } from '../adapters/coordination.js';
import type { PrimaryDiscovery, PublishOutcome } from '../adapters/discovery.js';
import type { FailoverTimer } from '../adapters/failover-timer.js';
import { decideFailover, type ElectionOutcome, type FailoverDecision } from '../domain/election.js';
import type { Lease, Member } from '../domain/membership.js';
import type { ServicePolicy } from '../domain/service-policy.js';

export interface FailoverDeps {
  coordination: CoordinationStore;
  /** Absent: discovery is not managed here (e.g. an agent without Cloud Map access). */
  discovery?: PrimaryDiscovery;
  /** Absent: nobody is told to come back later (the caller polls, like the agent does). */
  timer?: FailoverTimer;
  now: () => number;
}

export type DiscoveryOutcome = PublishOutcome | 'not-configured' | 'no-address';

export interface CheckResult {
  service: string;
  /** The decision the check acted on (after any retries). */
  decision: FailoverDecision['kind'];
  /** The lease after the check. */
  lease?: Lease;
  /** Set when this check elected a primary. */
  elected?: { lease: Lease; reason: 'bootstrap' | 'failover'; lostAt: number };
  /** Set when the check scheduled a continuation. */
  dueAt?: number;
  discovery?: DiscoveryOutcome;
  /** Election writes that lost a race or found the state changed, then re-read. */
  retries: number;
}

/** Re-reads after a lost race; more than a few means something else keeps writing. */
const MAX_ATTEMPTS = 4;

export async function checkService(policy: ServicePolicy, deps: FailoverDeps): Promise<CheckResult> {
  const service = policy.service;
  let retries = 0;
  for (let attempt = 1; ; attempt++) {
    const now = deps.now();
    const state = await deps.coordination.readState(service);
    const decision = decideFailover(service, state.lease, state.members, policy.failover, now);
    const base = { service, decision: decision.kind, retries, ...(state.lease ? { lease: state.lease } : {}) };
    switch (decision.kind) {
      case 'healthy':
        return { ...base, discovery: await publish(policy, deps, decision.lease, decision.holder) };
      case 'wait':
        await deps.timer?.schedule(
          { service, dueAt: decision.dueAt, reason: decision.lease ? `primary ${decision.lease.holder} lost` : 'no primary yet' },
          now,
        );
        return { ...base, dueAt: decision.dueAt };
      case 'no-candidate':
        return base;
      case 'elect': {
        const outcome: ElectionOutcome = await deps.coordination.elect(decision.request);
        if (outcome.kind === 'elected') {
          const holder = state.members.find((m) => m.taskArn === outcome.lease.holder);
          // No primary at all (bootstrap) counts from now: there was nothing to lose.
          const lostAt = Number.isFinite(decision.lostAt) ? decision.lostAt : now;
          return {
            ...base,
            lease: outcome.lease,
            elected: { lease: outcome.lease, reason: decision.request.reason, lostAt },
            discovery: await publish(policy, deps, outcome.lease, holder),
          };
        }
        // Someone else acted, or the state moved under us: look again.
        retries++;
        if (attempt >= MAX_ATTEMPTS) return { ...base, retries };
      }
    }
  }
}

async function publish(policy: ServicePolicy, deps: FailoverDeps, lease: Lease, holder: Member | undefined): Promise<DiscoveryOutcome> {
  const serviceId = policy.discovery?.serviceId;
  if (!serviceId || !deps.discovery) return 'not-configured';
  if (!holder?.ip) return 'no-address';
  return deps.discovery.publish({
    serviceId,
    ...(policy.discovery?.instanceId ? { instanceId: policy.discovery.instanceId } : {}),
    ip: holder.ip,
    ...(policy.discovery?.port !== undefined ? { port: policy.discovery.port } : {}),
    term: lease.term,
    taskArn: lease.holder,
  });
}
