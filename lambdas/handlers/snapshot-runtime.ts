/**
 * What the snapshot-job handlers share: the control-plane runtime plus the job store, the
 * catalog (for the RPO watch) and the ECS launcher (dump mode).
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { createEcsClient } from '../adapters/aws.js';
import type { SnapshotCatalog } from '../adapters/catalog.js';
import { EcsTaskLauncher, type TaskLauncher } from '../adapters/ecs-launcher.js';
import type { JobStore } from '../adapters/job-store.js';
import type { MemberCommands } from '../adapters/coordination.js';
import type { SnapshotJobDeps } from '../control/snapshot-jobs.js';
import { runtimeDeps, serviceMetric, type HandlerDeps } from './runtime.js';

export interface SnapshotHandlerDeps extends HandlerDeps {
  jobs: JobStore;
  /** Queues the `snapshot` command on the primary's member item. */
  commands: MemberCommands;
  catalog: Pick<SnapshotCatalog, 'latest'>;
  launcher?: TaskLauncher;
}

export function jobDeps(deps: SnapshotHandlerDeps): SnapshotJobDeps {
  return {
    policy: (service) => deps.services.policy(service),
    jobs: deps.jobs,
    coordination: { readState: (service) => deps.store.readState(service), enqueue: (service, taskArn, command) => deps.commands.enqueue(service, taskArn, command) },
    ...(deps.launcher ? { launcher: deps.launcher } : {}),
    now: deps.now,
    count: (service, metric, value = 1) => serviceMetric(deps, service, metric, MetricUnit.Count, value),
  };
}

let cached: SnapshotHandlerDeps | undefined;
export function snapshotDeps(env: Record<string, string | undefined> = process.env): SnapshotHandlerDeps {
  if (cached) return cached;
  const base = runtimeDeps(env);
  cached = {
    ...base,
    jobs: base.jobs!,
    // Built once in runtimeDeps, on the same DynamoDB client.
    commands: base.commands!,
    catalog: base.catalog!,
    launcher: new EcsTaskLauncher(createEcsClient(env)),
  };
  return cached;
}

