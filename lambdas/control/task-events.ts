/**
 * What an ECS task state change means for Lifeboat: record the member (newer versions
 * only), and when the primary's task is going away, start the failover (elect now, or
 * schedule the check for when the failover timeout is over).
 */
import { ecsServiceOfGroup, isDrillTask, type TaskObservation } from '../domain/membership.js';
import { checkService, type CheckResult, type FailoverDeps } from './failover.js';
import type { ServiceResolver } from './services.js';

export interface TaskEventDeps extends FailoverDeps {
  services: ServiceResolver;
}

export type TaskEventResult =
  | { outcome: 'ignored'; why: 'drill' | 'not-a-service-task' | 'unprotected' }
  | { outcome: 'stale' | 'recorded'; service: string; check?: CheckResult };

export async function applyTaskObservation(obs: TaskObservation, deps: TaskEventDeps): Promise<TaskEventResult> {
  // Drill tasks run the service's task definition but are never members (the drill flow owns them).
  if (isDrillTask(obs)) return { outcome: 'ignored', why: 'drill' };
  const ecsService = ecsServiceOfGroup(obs.group);
  if (!ecsService) return { outcome: 'ignored', why: 'not-a-service-task' };
  const policy = await deps.services.resolve(ecsService, obs.clusterArn);
  if (!policy) return { outcome: 'ignored', why: 'unprotected' };
  const { applied, member } = await deps.coordination.recordTaskState(policy.service, obs, deps.now());
  if (!applied) return { outcome: 'stale', service: policy.service };
  // Only the holder's departure needs a decision; a replica leaving changes nothing.
  if (member?.goneAt !== undefined && member.primaryTerm !== undefined) {
    return { outcome: 'recorded', service: policy.service, check: await checkService(policy, deps) };
  }
  return { outcome: 'recorded', service: policy.service };
}
