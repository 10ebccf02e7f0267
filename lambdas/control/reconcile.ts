/**
 * The reconciler: events can be lost or late, so periodically make the members agree with
 * what ECS says now — record every running task, ask about members the table thinks are
 * alive but ECS no longer lists, mark those ECS has forgotten as stopped — then run the
 * failover check.
 */

import type { EcsTasks } from '../adapters/ecs-tasks.js';
import { isDrillTask } from '../domain/drills.js';
import type { ServicePolicy } from '../domain/service-policy.js';
import { type CheckResult, checkService, type FailoverDeps } from './failover.js';

export interface ReconcileDeps extends FailoverDeps {
  ecs: EcsTasks;
}

export interface ReconcileResult {
  service: string;
  skipped?: 'no-cluster';
  recorded: number;
  markedMissing: number;
  check?: CheckResult;
}

export async function reconcileService(policy: ServicePolicy, deps: ReconcileDeps): Promise<ReconcileResult> {
  const cluster = policy.ecs?.cluster;
  if (!cluster) return { service: policy.service, skipped: 'no-cluster', recorded: 0, markedMissing: 0 };
  let recorded = 0;
  let markedMissing = 0;
  const running = (await deps.ecs.serviceTasks(cluster, policy.ecs?.serviceName ?? policy.service)).filter((t) => !isDrillTask(t));
  for (const obs of running) if ((await deps.coordination.recordTaskState(policy.service, obs, deps.now())).applied) recorded++;
  const listed = new Set(running.map((t) => t.taskArn));
  const { members } = await deps.coordination.readState(policy.service);
  const unaccounted = members.filter((m) => m.lastStatus !== 'STOPPED' && !listed.has(m.taskArn)).map((m) => m.taskArn);
  if (unaccounted.length) {
    const { found, missing } = await deps.ecs.describe(cluster, unaccounted);
    for (const obs of found) if ((await deps.coordination.recordTaskState(policy.service, obs, deps.now())).applied) recorded++;
    for (const arn of missing) if (await deps.coordination.markMissing(policy.service, arn, deps.now())) markedMissing++;
  }
  return { service: policy.service, recorded, markedMissing, check: await checkService(policy, deps) };
}
