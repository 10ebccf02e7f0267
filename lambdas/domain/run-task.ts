/**
 * One-off ECS tasks launched with RunTask — restore drills and dump tasks: their ids, where
 * they run (copied from the service's policy), and the request itself as plain data. Pure.
 */
import { UsageError } from './errors.js';
import type { EcsPlacement, ServicePolicy } from './service-policy.js';

/** A RunTask request as plain data (the ECS adapter sends it as is). */
export interface RunTaskRequest {
  cluster: string;
  taskDefinition: string;
  count: 1;
  startedBy: string;
  clientToken: string;
  launchType?: 'FARGATE' | 'EC2';
  networkConfiguration?: {
    awsvpcConfiguration: { subnets: string[]; securityGroups?: string[]; assignPublicIp: 'ENABLED' | 'DISABLED' };
  };
  overrides: { containerOverrides: { name: string; environment: { name: string; value: string }[] }[] };
}

/** Where a one-off task runs, copied from the policy so a retried launch is identical. */
export interface TaskPlacement {
  cluster: string;
  taskDefinition: string;
  containerName: string;
  launchType?: 'FARGATE' | 'EC2';
  subnets?: string[];
  securityGroups?: string[];
  assignPublicIp?: boolean;
}

/** ECS `startedBy` (and client tokens): at most 36 letters, digits, '-', '/', '_'; no '.'. */
export const ECS_STARTED_BY_MAX = 36;

/**
 * `<prefix>-20261127T081735Z-9f3c2a1b`: sorts by time as a plain string and, with a short
 * prefix, fits `startedBy`.
 */
export function stampedId(prefix: string, at: Date, random: Uint8Array): string {
  const stamp = at
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
  return `${prefix}-${stamp}-${Buffer.from(random.subarray(0, 4)).toString('hex').padStart(8, '0')}`;
}

/**
 * The placement of a one-off task from the policy's `ecs` section, with the task definition
 * and container chosen by the caller; throws UsageError naming every missing setting.
 */
export function taskPlacement(
  policy: ServicePolicy,
  task: { what: string; taskDefinition?: string; containerName?: string; names?: { taskDefinition: string; containerName: string } },
): TaskPlacement {
  const ecs: EcsPlacement = policy.ecs ?? {};
  const names = task.names ?? { taskDefinition: 'ecs.taskDefinition', containerName: 'ecs.containerName' };
  const taskDefinition = task.taskDefinition ?? ecs.taskDefinition;
  const containerName = task.containerName ?? ecs.containerName;
  const missing = [!ecs.cluster && 'ecs.cluster', !taskDefinition && names.taskDefinition, !containerName && names.containerName].filter(Boolean);
  if (missing.length > 0) {
    throw new UsageError(`service ${policy.service} has no ${missing.join(', ')} in its policy; ${task.what} cannot be launched`, {
      hint: 'protect the service with the CDK construct (it fills the ECS placement) or add them to its policy',
    });
  }
  if ((ecs.launchType ?? 'FARGATE') === 'FARGATE' && !(ecs.subnets && ecs.subnets.length > 0)) {
    throw new UsageError(`service ${policy.service} runs on Fargate but its policy has no ecs.subnets; ${task.what} needs a network`, {
      hint: 'set ecs.subnets (and ecs.securityGroups) to those of the ECS service',
    });
  }
  return {
    cluster: ecs.cluster!,
    taskDefinition: taskDefinition!,
    containerName: containerName!,
    ...(ecs.launchType ? { launchType: ecs.launchType } : {}),
    ...(ecs.subnets ? { subnets: [...ecs.subnets] } : {}),
    ...(ecs.securityGroups ? { securityGroups: [...ecs.securityGroups] } : {}),
    ...(ecs.assignPublicIp !== undefined ? { assignPublicIp: ecs.assignPublicIp } : {}),
  };
}

/**
 * The RunTask request: `startedBy` and the client token are the same id, so a retry with
 * the same record is the same launch for ECS; the container learns its job from `environment`.
 */
export function buildRunTask(placement: TaskPlacement, id: string, environment: { name: string; value: string }[]): RunTaskRequest {
  if (id.length > ECS_STARTED_BY_MAX) throw new UsageError(`task id ${id} is longer than ECS startedBy allows (${ECS_STARTED_BY_MAX})`);
  const p = placement;
  return {
    cluster: p.cluster,
    taskDefinition: p.taskDefinition,
    count: 1,
    startedBy: id,
    clientToken: id,
    ...(p.launchType ? { launchType: p.launchType } : {}),
    ...(p.subnets && p.subnets.length > 0
      ? {
          networkConfiguration: {
            awsvpcConfiguration: {
              subnets: [...p.subnets],
              ...(p.securityGroups && p.securityGroups.length > 0 ? { securityGroups: [...p.securityGroups] } : {}),
              assignPublicIp: p.assignPublicIp ? 'ENABLED' : 'DISABLED',
            },
          },
        }
      : {}),
    overrides: { containerOverrides: [{ name: p.containerName, environment }] },
  };
}
