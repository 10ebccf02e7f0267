/**
 * "ECS Task State Change" events as ECS sends them to EventBridge, built from a local
 * task's state. The shape follows the documented examples (Fargate-like, awsvpc): the
 * address on the ENI attachment and on the container's network interface, the container's
 * port in its network bindings, `group` `service:<name>` for service tasks and
 * `family:<name>` for RunTask, `startedBy`, `version` increasing with every change, ISO
 * times, and the container's exit code once it has one.
 */
import type { EcsTask } from '../domain/ecs-task.js';

export interface LocalTaskState {
  taskArn: string;
  containerArn: string;
  containerName: string;
  taskDefinitionArn: string;
  group: string;
  startedBy: string;
  /** Environment set through RunTask container overrides. */
  overrides: Record<string, string>;
  version: number;
  lastStatus: string;
  desiredStatus: string;
  createdAt: string;
  updatedAt?: string;
  startedAt?: string;
  stoppingAt?: string;
  stoppedAt?: string;
  executionStoppedAt?: string;
  stopCode?: string;
  stoppedReason?: string;
  exitCode?: number;
  port: number;
}

const LOOPBACK = '127.0.0.1';

/**
 * The event's `detail`: also what DescribeTasks would answer for the task. Typed as the
 * domain's one ECS task model, so the emitter cannot drift from what the handlers read.
 */
export function taskDetail(t: LocalTaskState, clusterArn: string): EcsTask {
  const attachmentId = t.taskArn.slice(-36).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
  const stopped = t.lastStatus === 'STOPPED';
  return {
    attachments: [
      {
        id: attachmentId,
        type: 'eni',
        status: stopped ? 'DELETED' : t.lastStatus === 'PROVISIONING' ? 'PRECREATED' : 'ATTACHED',
        details: [
          { name: 'subnetId', value: 'subnet-local' },
          { name: 'networkInterfaceId', value: `eni-${t.taskArn.slice(-17)}` },
          { name: 'privateDnsName', value: 'localhost' },
          { name: 'privateIPv4Address', value: LOOPBACK },
        ],
      },
    ],
    availabilityZone: 'local-1a',
    clusterArn,
    connectivity: 'CONNECTED',
    containers: [
      {
        containerArn: t.containerArn,
        lastStatus: t.lastStatus === 'DEACTIVATING' || t.lastStatus === 'STOPPING' ? 'STOPPED' : t.lastStatus,
        name: t.containerName,
        taskArn: t.taskArn,
        ...(t.exitCode !== undefined ? { exitCode: t.exitCode } : {}),
        networkBindings: [{ bindIP: LOOPBACK, containerPort: t.port, hostPort: t.port, protocol: 'tcp' }],
        networkInterfaces: [{ attachmentId, privateIpv4Address: LOOPBACK }],
      },
    ],
    createdAt: t.createdAt,
    desiredStatus: t.desiredStatus,
    group: t.group,
    launchType: 'EC2',
    lastStatus: t.lastStatus,
    overrides: {
      containerOverrides: [
        {
          name: t.containerName,
          ...(Object.keys(t.overrides).length ? { environment: Object.entries(t.overrides).map(([name, value]) => ({ name, value })) } : {}),
        },
      ],
    },
    ...(t.startedAt ? { startedAt: t.startedAt } : {}),
    startedBy: t.startedBy,
    ...(t.stoppingAt ? { stoppingAt: t.stoppingAt } : {}),
    ...(t.stoppedAt ? { stoppedAt: t.stoppedAt } : {}),
    ...(t.executionStoppedAt ? { executionStoppedAt: t.executionStoppedAt } : {}),
    ...(t.stopCode ? { stopCode: t.stopCode } : {}),
    ...(t.stoppedReason ? { stoppedReason: t.stoppedReason } : {}),
    taskArn: t.taskArn,
    taskDefinitionArn: t.taskDefinitionArn,
    updatedAt: t.updatedAt ?? t.createdAt,
    version: t.version,
  };
}

let sequence = 0;

/** The EventBridge envelope around the detail. */
export function taskStateChangeEvent(t: LocalTaskState, where: { clusterArn: string; region: string; account: string }) {
  const time = t.updatedAt ?? new Date().toISOString();
  return {
    version: '0',
    id: `local-${t.taskArn.slice(-8)}-${t.version}-${++sequence}`,
    'detail-type': 'ECS Task State Change',
    source: 'aws.ecs',
    account: where.account,
    // EventBridge's `time` has whole seconds.
    time: time.replace(/\.\d{3}Z$/, 'Z'),
    region: where.region,
    resources: [t.taskArn],
    detail: taskDetail(t, where.clusterArn),
  };
}
