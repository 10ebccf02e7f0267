/**
 * Members of a protected service: what the control plane knows about each of its tasks,
 * and how an ECS task description (event or DescribeTasks) becomes that knowledge. Pure.
 *
 * Two writers share a member, each owning its own fields, so neither can undo the other:
 *   - ECS facts (lastStatus, desiredStatus, version, ip, times, startedBy, group) come from
 *     task state change events and the reconciler, applied only when `version` is newer;
 *   - agent facts (heartbeatAt, aliveUntil, dataPosition) come from the agent's heartbeat.
 * The election writes `primaryTerm`; commands are appended by other components and
 * acknowledged by the agent.
 *
 * Times are epoch milliseconds.
 */
import { type EcsTask, overrideEnvironment } from './ecs-task.js';

/** A request for the agent (e.g. "take a snapshot now"), delivered at least once. */
export interface MemberCommand {
  /** Unique per command; acknowledging an id twice is harmless. */
  id: string;
  type: string;
  args?: Record<string, unknown>;
  enqueuedAt: number;
}

export interface Member {
  service: string;
  taskArn: string;
  /** ECS: PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED. */
  lastStatus?: string;
  desiredStatus?: string;
  /** ECS event version of the task; only newer versions are applied. */
  version?: number;
  ip?: string;
  startedAt?: number;
  startedBy?: string;
  /** ECS task group, `service:<name>` for service tasks. */
  group?: string;
  clusterArn?: string;
  taskDefinitionArn?: string;
  stopCode?: string;
  stoppedReason?: string;
  /** Exit codes of the task's containers that have exited, by container name. */
  exitCodes?: Record<string, number>;
  /**
   * When the task started going away: ECS desired it STOPPED, it stopped, or its agent
   * released the lease. Set once. A member with `goneAt` is never elected and cannot
   * renew its heartbeat.
   */
  goneAt?: number;
  /** Last heartbeat, by the agent's clock. */
  heartbeatAt?: number;
  /** The agent is alive until then (heartbeat + lease duration); for the primary this is its lease. */
  aliveUntil?: number;
  /** How fresh the task's data is (bigger is fresher), reported by the agent. */
  dataPosition?: number;
  /** Tie-breaker after data freshness; bigger wins. */
  priority?: number;
  /** The term for which this member is primary; absent for replicas. */
  primaryTerm?: number;
  /** The last term this member held before it was deposed. */
  deposedTerm?: number;
  /** Pending commands, by id. */
  commands: Record<string, MemberCommand>;
  updatedAt?: number;
}

/**
 * Who is primary. `term` is the fencing token: strictly increasing, one holder per term.
 * The lease's expiry is the holder's `aliveUntil` (renewed by its heartbeat, the one write
 * that also renews its member item); stores fill in `expiresAt` from it when they read.
 */
export interface Lease {
  service: string;
  holder: string;
  term: number;
  electedAt: number;
  previousHolder?: string;
  expiresAt?: number;
}

/** The lease with its expiry filled in from the holder's member item. */
export function withExpiry(lease: Lease | undefined, members: readonly Member[]): Lease | undefined {
  if (!lease) return undefined;
  const until = members.find((m) => m.taskArn === lease.holder)?.aliveUntil;
  return until === undefined ? lease : { ...lease, expiresAt: until };
}

/** What ECS says about one task, as a member needs it (observationFromEcsTask). */
export interface TaskObservation {
  taskArn: string;
  clusterArn?: string;
  lastStatus: string;
  desiredStatus: string;
  version: number;
  group?: string;
  startedBy?: string;
  taskDefinitionArn?: string;
  ip?: string;
  startedAt?: number;
  stoppingAt?: number;
  stoppedAt?: number;
  /** The event's (or description's) own time. */
  updatedAt?: number;
  stopCode?: string;
  stoppedReason?: string;
  exitCodes?: Record<string, number>;
  /** Environment variables set by RunTask overrides (any container). */
  overrideEnvironment?: Record<string, string>;
}

/** The member fields that come from ECS (events, DescribeTasks); the agent never writes them. */
export const ECS_MEMBER_FIELDS = [
  'lastStatus',
  'desiredStatus',
  'version',
  'group',
  'startedBy',
  'clusterArn',
  'taskDefinitionArn',
  'ip',
  'startedAt',
  'stopCode',
  'stoppedReason',
  'exitCodes',
] as const satisfies readonly (keyof TaskObservation & keyof Member)[];

/** The ECS service name of a task's group (`service:wiki` → `wiki`), if it belongs to one. */
export function ecsServiceOfGroup(group: string | undefined): string | undefined {
  return group?.startsWith('service:') ? group.slice('service:'.length) : undefined;
}

/** The task is on its way out, according to ECS. */
export function isGoingAway(obs: Pick<TaskObservation, 'lastStatus' | 'desiredStatus'>): boolean {
  return obs.desiredStatus === 'STOPPED' || obs.lastStatus === 'STOPPED';
}

/** When ECS says the task started going away, or undefined while it is meant to run. */
export function goneAtOf(obs: TaskObservation, now: number): number | undefined {
  if (!isGoingAway(obs)) return undefined;
  // ECS's own account first (stopping began, then stopped); the event's time as a fallback.
  return obs.stoppingAt ?? obs.stoppedAt ?? obs.updatedAt ?? now;
}

/** Days a STOPPED member is kept before DynamoDB's TTL removes it. */
export const STOPPED_MEMBER_RETENTION_DAYS = 7;

/** The TTL (epoch seconds) for a member that ECS reports STOPPED. */
export function stoppedMemberExpiry(now: number): number {
  return Math.floor(now / 1000) + STOPPED_MEMBER_RETENTION_DAYS * 86_400;
}

/** Parses an ISO time or epoch-ms number; undefined for anything else. */
export function toEpochMs(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  if (typeof value === 'string' && value !== '') {
    const t = Date.parse(value);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

/** What a member needs to know of an ECS task (domain/ecs-task.ts), in epoch ms. */
export function observationFromEcsTask(task: EcsTask): TaskObservation {
  // awsvpc tasks carry the address on their ENI attachment; bridge/host mode on containers.
  const eni = task.attachments?.find((a) => a.type === 'eni' || a.type === 'ElasticNetworkInterface');
  const ip =
    eni?.details?.find((d) => d.name === 'privateIPv4Address')?.value ??
    task.containers?.flatMap((c) => c.networkInterfaces ?? []).find((n) => n.privateIpv4Address)?.privateIpv4Address;
  const env = overrideEnvironment(task);
  const obs: TaskObservation = {
    taskArn: task.taskArn,
    lastStatus: task.lastStatus,
    desiredStatus: task.desiredStatus,
    version: task.version,
  };
  const put = <K extends keyof TaskObservation>(k: K, v: TaskObservation[K] | undefined) => {
    if (v !== undefined) obs[k] = v;
  };
  put('clusterArn', task.clusterArn);
  put('group', task.group);
  put('startedBy', task.startedBy);
  put('taskDefinitionArn', task.taskDefinitionArn);
  put('ip', ip);
  put('startedAt', toEpochMs(task.startedAt));
  put('stoppingAt', toEpochMs(task.stoppingAt));
  put('stoppedAt', toEpochMs(task.stoppedAt));
  put('updatedAt', toEpochMs(task.updatedAt));
  put('stopCode', task.stopCode);
  put('stoppedReason', task.stoppedReason);
  if (Object.keys(env).length) obs.overrideEnvironment = env;
  const exits: Record<string, number> = {};
  for (const c of task.containers ?? []) if (c.name && typeof c.exitCode === 'number') exits[c.name] = c.exitCode;
  if (Object.keys(exits).length) obs.exitCodes = exits;
  return obs;
}
