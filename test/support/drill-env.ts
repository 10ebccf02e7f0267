/**
 * A drill setup on the shared local servers: a fresh table (catalog, registry, drill
 * records), an S3 store with real snapshots, a protected service, and an ECS client mocked
 * with aws-sdk-client-mock (ECS has no local server). Times come from an injected clock.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import type { DrillMetrics } from '../../lambdas/adapters/drill-metrics.js';
import { DynamoDrillStore } from '../../lambdas/adapters/drill-store.js';
import { EcsTaskLauncher } from '../../lambdas/adapters/ecs-launcher.js';
import { DynamoServiceRegistry } from '../../lambdas/adapters/service-registry.js';
import type { S3Store } from '../../lambdas/adapters/stores/s3-store.js';
import { DRILL_ENV, type DrillRecord } from '../../lambdas/domain/drills.js';
import { type EcsTask, EcsTaskSchema } from '../../lambdas/domain/ecs-task.js';
import { normalizeServicePolicy, type ServicePolicyInput } from '../../lambdas/domain/service-policy.js';
import type { SnapshotRecord } from '../../lambdas/domain/snapshot.js';
import { takeSnapshot } from '../../lambdas/engine/snapshot.js';
import type { DrillRuntime } from '../../lambdas/runtime/flows.js';
import { freshS3Store, freshTable, tempDir } from './fixtures.js';

export const ecsMock = mockClient(ECSClient);

export function policyInput(service: string, extra: Partial<ServicePolicyInput> = {}): ServicePolicyInput {
  return {
    service,
    ecs: {
      cluster: 'prod',
      taskDefinition: `${service}:7`,
      containerName: 'app',
      launchType: 'FARGATE',
      subnets: ['subnet-0a', 'subnet-0b'],
      securityGroups: ['sg-0c'],
      assignPublicIp: false,
    },
    drill: { verifyCommand: 'test -f hello.txt', timeoutSeconds: 1800 },
    targets: { rtoSeconds: 600, rpoSeconds: 7200 },
    ...extra,
  };
}

export interface DrillEnv {
  table: string;
  store: S3Store;
  catalog: DynamoSnapshotCatalog;
  drills: DynamoDrillStore;
  registry: DynamoServiceRegistry;
  launcher: EcsTaskLauncher;
  /** The injected clock; move it with `clock.set`. */
  clock: (() => Date) & { set(d: Date): void; advance(seconds: number): void };
  finished: DrillRecord[];
  metrics: DrillMetrics;
  runtime(): DrillRuntime;
  /** Takes a real snapshot of a tiny tree for `service`. */
  snapshot(service: string, files?: Record<string, string>): Promise<SnapshotRecord>;
  cleanup(): Promise<void>;
}

export async function drillEnv(): Promise<DrillEnv> {
  const [table, store, work] = await Promise.all([freshTable(), freshS3Store('drills/'), tempDir('lifeboat-drill')]);
  const dynamo = createDynamoClient();
  let now = new Date();
  const clock = Object.assign(() => new Date(now), {
    set: (d: Date) => void (now = new Date(d)),
    advance: (s: number) => void (now = new Date(now.getTime() + s * 1000)),
  });
  const finished: DrillRecord[] = [];
  const metrics: DrillMetrics = { drillFinished: (d) => void finished.push(d) };
  const env: DrillEnv = {
    table,
    store,
    catalog: new DynamoSnapshotCatalog(dynamo, table),
    drills: new DynamoDrillStore(dynamo, table),
    registry: new DynamoServiceRegistry(dynamo, table),
    launcher: new EcsTaskLauncher(new ECSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } })),
    clock,
    finished,
    metrics,
    runtime: () => ({
      drills: env.drills,
      catalog: env.catalog,
      registry: env.registry,
      launcher: env.launcher,
      objects: env.store,
      drillMetrics: env.metrics,
      logger: new Logger({ serviceName: 'lifeboat-test', logLevel: 'SILENT' }),
      now: () => env.clock().getTime(),
    }),
    async snapshot(service, files = { 'hello.txt': 'hello\n' }) {
      const dir = join(work.path, `${service}-${Date.now()}-${Math.random().toString(16).slice(2)}`);
      await mkdir(dir);
      for (const [name, content] of Object.entries(files)) {
        await mkdir(dirname(join(dir, name)), { recursive: true });
        await writeFile(join(dir, name), content);
      }
      return (await takeSnapshot({ catalog: env.catalog, store, service, dir, reason: 'test' })).record;
    },
    cleanup: work.cleanup,
  };
  return env;
}

let taskCounter = 0;
export function nextTaskArn(): string {
  return `arn:aws:ecs:eu-west-1:123456789012:task/prod/${(++taskCounter).toString(16).padStart(32, '0')}`;
}

/** RunTask answers with a new task (per call), like ECS does for a new client token. */
export function mockRunTask(taskArn = nextTaskArn()) {
  ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn, lastStatus: 'PROVISIONING' }], failures: [] });
  return taskArn;
}

/**
 * The `detail` of an ECS Task State Change event for the drill's task, shaped like AWS's
 * documented example: containers, overrides (with the drill environment), times; parsed
 * with the one ECS task schema.
 */
export function taskEvent(
  drill: DrillRecord,
  options: {
    lastStatus?: string;
    exitCode?: number | null;
    stopCode?: string;
    stoppedReason?: string;
    taskArn?: string;
    startedAt?: string;
    stoppedAt?: string;
  } = {},
): EcsTask {
  const lastStatus = options.lastStatus ?? 'STOPPED';
  const detail = {
    clusterArn: 'arn:aws:ecs:eu-west-1:123456789012:cluster/prod',
    taskArn: options.taskArn ?? drill.taskArn!,
    taskDefinitionArn: `arn:aws:ecs:eu-west-1:123456789012:task-definition/${drill.launch.taskDefinition}`,
    group: `family:${drill.service}`,
    launchType: 'FARGATE',
    lastStatus,
    desiredStatus: 'STOPPED',
    startedBy: drill.drillId,
    version: lastStatus === 'STOPPED' ? 5 : 3,
    createdAt: drill.createdAt,
    ...(options.startedAt !== undefined ? { startedAt: options.startedAt } : {}),
    ...(lastStatus === 'STOPPED'
      ? {
          stopCode: options.stopCode ?? 'EssentialContainerExited',
          stoppedReason: options.stoppedReason ?? 'Essential container in task exited',
          stoppedAt: options.stoppedAt ?? new Date(Date.parse(drill.createdAt) + 300_000).toISOString(),
        }
      : {}),
    containers: [
      {
        containerArn: 'arn:aws:ecs:eu-west-1:123456789012:container/prod/1/2',
        name: drill.launch.containerName,
        lastStatus,
        ...(options.exitCode !== undefined ? { exitCode: options.exitCode } : {}),
      },
    ],
    overrides: {
      containerOverrides: [
        {
          name: drill.launch.containerName,
          environment: [
            { name: DRILL_ENV.mode, value: 'drill' },
            { name: DRILL_ENV.drillId, value: drill.drillId },
            { name: DRILL_ENV.snapshotId, value: drill.snapshotId },
            { name: DRILL_ENV.service, value: drill.service },
          ],
        },
      ],
    },
  };
  // Read as the handlers read it (a null exit code becomes absent).
  return EcsTaskSchema.parse(detail);
}

export async function protect(env: DrillEnv, service: string, extra: Partial<ServicePolicyInput> = {}): Promise<void> {
  await env.registry.put(normalizeServicePolicy(policyInput(service, extra)));
}
