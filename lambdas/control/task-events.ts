/**
 * What an ECS task state change means for Lifeboat. The route (domain/task-routing.ts)
 * says which flow the task belongs to: a dump task ends its snapshot job, a drill task is
 * left to the drill flow, and any other task may be a member: record it (newer versions
 * only), and when the primary's task is going away, start the failover (elect now, or
 * schedule the check for when the failover timeout is over).
 */

import type { JobStore } from '../adapters/job-store.js';
import type { EcsTask } from '../domain/ecs-task.js';
import { ecsServiceOfGroup, observationFromEcsTask, type TaskObservation } from '../domain/membership.js';
import { routeTask } from '../domain/task-routing.js';
import { type CheckResult, checkService, type FailoverDeps } from './failover.js';
import type { ServiceResolver } from './services.js';
import { type DumpStopOutcome, finishDumpTask, type SnapshotJobDeps } from './snapshot-jobs.js';

export interface TaskEventDeps extends FailoverDeps {
  services: ServiceResolver;
  /** Snapshot jobs; without them a dump task's event is treated like any other task's. */
  jobs?: JobStore;
  /** Counts the job metrics (SnapshotJobsCompleted/Failed) per service. */
  count?: SnapshotJobDeps['count'];
}

export type MemberEventResult =
  | { outcome: 'ignored'; why: 'not-a-service-task' | 'unprotected' }
  | { outcome: 'stale' | 'recorded'; service: string; check?: CheckResult };

export type TaskEventResult = MemberEventResult | { outcome: 'ignored'; why: 'drill' } | { outcome: 'snapshot-job'; result: DumpStopOutcome };

/** One ECS task state change (event or DescribeTasks), routed to the flow it belongs to. */
export async function handleTaskEvent(task: EcsTask, deps: TaskEventDeps): Promise<TaskEventResult> {
  const route = routeTask(task);
  if (route.to === 'snapshot-job' && deps.jobs) {
    return { outcome: 'snapshot-job', result: await finishDumpTask({ jobs: deps.jobs, now: deps.now, ...(deps.count ? { count: deps.count } : {}) }, task) };
  }
  // Drill tasks run the service's task definition but are never members (the drill flow owns them).
  if (route.to === 'drill') return { outcome: 'ignored', why: 'drill' };
  return applyTaskObservation(observationFromEcsTask(task), deps);
}

/** A task on the membership route (routeTask): record it and react to the primary leaving. */
export async function applyTaskObservation(obs: TaskObservation, deps: TaskEventDeps): Promise<MemberEventResult> {
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
