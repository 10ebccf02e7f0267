/**
 * Snapshot jobs: a scheduled (or manual) request for a snapshot of a service, recorded with
 * a deadline. Pure: ids, the request to the primary's agent, the dump task's RunTask
 * request, how a dump task's end decides the job, and the RPO watch.
 *
 * Two modes (`snapshot.mode` in the policy):
 * - `agent` (default): the request reaches the primary's agent as a `snapshot` command in
 *   its heartbeat answer; the job completes when the agent registers the snapshot under
 *   its term (the catalog commit is fenced, so a deposed primary cannot complete it).
 * - `dump`: a one-off ECS task dumps the data over the network and snapshots the dump; its
 *   STOPPED event decides the job from the exit code and stop code.
 */
import { createHash } from 'node:crypto';
import { UsageError } from './errors.js';
import { buildRunTask, type RunTaskRequest, stampedId, type TaskPlacement, taskPlacement } from './run-task.js';
import type { ServicePolicy } from './service-policy.js';

export type JobStatus = 'requested' | 'complete' | 'failed' | 'error';
export type JobMode = 'agent' | 'dump';

/** What the dump task is launched with, copied from the policy so a retry is identical. */
export type DumpLaunchSpec = TaskPlacement;

export interface SnapshotJob {
  service: string;
  jobId: string;
  mode: JobMode;
  trigger: 'schedule' | 'manual';
  status: JobStatus;
  requestedAt: string;
  /** The job fails if not complete by then. */
  deadline: string;
  /** Agent mode: the primary that was asked, and its term. */
  target?: { taskArn: string; term: number };
  /** Dump mode. */
  launch?: DumpLaunchSpec;
  taskArn?: string;
  /** The snapshot that completed the job. */
  snapshotId?: string;
  finishedAt?: string;
  /** Why it failed or could not run; for `complete`, what completed it. */
  reason?: string;
  exitCode?: number;
  stopCode?: string;
}

/** Finished states; a job leaves `requested` exactly once. */
export const FINAL_JOB_STATUSES: readonly JobStatus[] = ['complete', 'failed', 'error'];

export const DEFAULT_JOB_DEADLINE_SECONDS = 3600;

/** The command type the agent runs a snapshot for. */
export const SNAPSHOT_COMMAND = 'snapshot';

/** Environment of the dump task's container (RunTask overrides). */
export const JOB_ENV = {
  mode: 'LIFEBOAT_MODE',
  jobId: 'LIFEBOAT_JOB_ID',
  service: 'LIFEBOAT_SERVICE',
} as const;
export const DUMP_MODE = 'dump';

/**
 * `job-20261127T081735Z-9f3c2a1b`: sorts by request time, and fits ECS `startedBy` and
 * client tokens (≤ 36 characters, no '.') for dump tasks.
 */
const JOB_ID = /^job-(\d{8}T\d{6}Z)-([0-9a-f]{8})$/;

export function makeJobId(at: Date, random: Uint8Array): string {
  return stampedId('job', at, random);
}

/** The same service and scheduled time always give the same job: a retried schedule asks once. */
export function scheduledJobId(service: string, scheduledTime: Date): string {
  return makeJobId(scheduledTime, createHash('sha256').update(`snapshot\n${service}\n${scheduledTime.toISOString()}`).digest());
}

export function isJobId(id: string): boolean {
  return JOB_ID.test(id);
}

export function assertJobId(id: string): string {
  if (!isJobId(id)) throw new UsageError(`"${id}" is not a snapshot job id`, { hint: 'job ids look like job-20261127T081735Z-9f3c2a1b' });
  return id;
}

export function jobDeadline(policy: ServicePolicy, requestedAt: Date): Date {
  return new Date(requestedAt.getTime() + (policy.snapshot.deadlineSeconds ?? DEFAULT_JOB_DEADLINE_SECONDS) * 1000);
}

/** The dump task's launch settings; throws UsageError naming what the policy lacks. */
export function dumpLaunchSpec(policy: ServicePolicy): DumpLaunchSpec {
  return taskPlacement(policy, {
    what: 'a dump task (snapshot.mode "dump")',
    taskDefinition: policy.snapshot.dumpTaskDefinition,
    containerName: policy.snapshot.dumpContainerName,
    names: { taskDefinition: 'snapshot.dumpTaskDefinition (or ecs.taskDefinition)', containerName: 'snapshot.dumpContainerName (or ecs.containerName)' },
  });
}

/**
 * The dump task's RunTask request, built only from the job record so a retry is the same
 * request (ECS treats a repeated client token with the same parameters as one launch).
 */
export function buildDumpRunTask(job: Pick<SnapshotJob, 'service' | 'jobId' | 'launch'>): RunTaskRequest {
  if (!job.launch) throw new UsageError(`job ${job.jobId} is not a dump job`);
  return buildRunTask(job.launch, job.jobId, [
    { name: JOB_ENV.mode, value: DUMP_MODE },
    { name: JOB_ENV.jobId, value: job.jobId },
    { name: JOB_ENV.service, value: job.service },
  ]);
}

/** How a dump task ended (from its STOPPED event). */
export interface DumpTaskEnd {
  stopCode?: string;
  stoppedReason?: string;
  stoppedAt?: string;
  /** Exit code of the dump container; undefined when ECS reported none. */
  exitCode?: number;
}

export interface JobConclusion {
  status: Exclude<JobStatus, 'requested'>;
  reason: string;
  finishedAt: string;
  exitCode?: number;
  stopCode?: string;
}

/**
 * A dump task's end decides its job: exit 0 = complete, another exit code = failed (the
 * backup did not work), and a task that never ran or has no exit code = error (the backup
 * could not be attempted — not the same thing, and reported apart).
 */
export function concludeDumpJob(job: Pick<SnapshotJob, 'jobId' | 'launch'>, end: DumpTaskEnd, now: Date): JobConclusion {
  const finishedAt = end.stoppedAt ?? now.toISOString();
  const base = { finishedAt, ...(end.stopCode ? { stopCode: end.stopCode } : {}) };
  const why = end.stoppedReason ? ` (${end.stoppedReason})` : '';
  if (end.stopCode === 'TaskFailedToStart') return { ...base, status: 'error', reason: `the dump task failed to start${why}` };
  if (end.exitCode === undefined) {
    return { ...base, status: 'error', reason: `the dump container ${job.launch?.containerName ?? '(unknown)'} stopped without an exit code${why}` };
  }
  if (end.exitCode === 0) return { ...base, status: 'complete', exitCode: 0, reason: 'the dump task exited 0' };
  return { ...base, status: 'failed', exitCode: end.exitCode, reason: `the dump task exited with code ${end.exitCode}${why}` };
}

/** True when a job still waiting has passed its deadline. */
export function isOverdue(job: Pick<SnapshotJob, 'status' | 'deadline'>, now: Date): boolean {
  return job.status === 'requested' && Date.parse(job.deadline) <= now.getTime();
}

export interface RpoState {
  /** `no-target`: the policy sets no RPO; `no-snapshot`: nothing complete yet (a breach). */
  state: 'ok' | 'breached' | 'no-snapshot' | 'no-target';
  /** Age of the newest complete snapshot, in seconds. */
  ageSeconds?: number;
  targetSeconds?: number;
  newestSnapshotId?: string;
}

/** The RPO watch: is the newest complete snapshot older than the service's RPO target? */
export function rpoState(newest: { id: string; createdAt: string } | undefined, rpoSeconds: number | undefined, now: Date): RpoState {
  const age = newest ? Math.max(0, (now.getTime() - Date.parse(newest.createdAt)) / 1000) : undefined;
  const known = { ...(age !== undefined ? { ageSeconds: Math.round(age) } : {}), ...(newest ? { newestSnapshotId: newest.id } : {}) };
  if (rpoSeconds === undefined) return { state: 'no-target', ...known };
  if (age === undefined) return { state: 'no-snapshot', targetSeconds: rpoSeconds };
  return { state: age > rpoSeconds ? 'breached' : 'ok', targetSeconds: rpoSeconds, ...known };
}
