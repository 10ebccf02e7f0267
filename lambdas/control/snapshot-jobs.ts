/**
 * Snapshot jobs over adapters, shared by the handlers, the agent, the CLI and local mode:
 * ask for a snapshot (the primary's agent through its heartbeat commands, or a one-off
 * dump task), finish the job from the agent's result or the dump task's STOPPED event,
 * fail jobs past their deadline, and watch the RPO.
 */

import type { SnapshotCatalog } from '../adapters/catalog.js';
import type { CoordinationStore, MemberCommands } from '../adapters/coordination.js';
import type { TaskLauncher } from '../adapters/ecs-launcher.js';
import type { JobStore } from '../adapters/job-store.js';
import { type EcsTask, overrideEnvironment } from '../domain/ecs-task.js';
import { primaryLostAt } from '../domain/election.js';
import { isLifeboatError, OperationFailedError, UnavailableError, UsageError } from '../domain/errors.js';
import type { MemberCommand } from '../domain/membership.js';
import type { ServicePolicy } from '../domain/service-policy.js';
import {
  buildDumpRunTask,
  concludeDumpJob,
  type DumpTaskEnd,
  dumpLaunchSpec,
  isJobId,
  isOverdue,
  JOB_ENV,
  type JobConclusion,
  jobDeadline,
  type RpoState,
  rpoState,
  SNAPSHOT_COMMAND,
  type SnapshotJob,
} from '../domain/snapshot-jobs.js';

export interface SnapshotJobDeps {
  policy(service: string): Promise<ServicePolicy | undefined>;
  jobs: JobStore;
  coordination: Pick<CoordinationStore, 'readState'> & MemberCommands;
  /** Dump mode only. */
  launcher?: TaskLauncher;
  now(): number;
  /** Counts for metrics: the handler turns them into EMF, tests read them. */
  count?(service: string, metric: 'SnapshotJobsRequested' | 'SnapshotJobsFailed' | 'SnapshotJobsCompleted', value?: number): void;
}

export type RequestOutcome =
  /** Agent mode: the command is queued on the primary's member item. */
  | { outcome: 'requested'; job: SnapshotJob }
  /** Dump mode: the dump task is running. */
  | { outcome: 'launched'; job: SnapshotJob }
  /** The job was decided already (a retried or duplicated schedule). */
  | { outcome: 'existing'; job: SnapshotJob }
  /** Decided at once: no primary, or the dump task could not be launched. */
  | { outcome: 'failed'; job: SnapshotJob };

async function decide(
  deps: Pick<SnapshotJobDeps, 'jobs' | 'count'>,
  job: SnapshotJob,
  conclusion: JobConclusion & { snapshotId?: string },
): Promise<SnapshotJob> {
  const won = await deps.jobs.finish(job.service, job.jobId, conclusion);
  if (!won) return (await deps.jobs.get(job.service, job.jobId)) ?? job;
  deps.count?.(job.service, conclusion.status === 'complete' ? 'SnapshotJobsCompleted' : 'SnapshotJobsFailed');
  return { ...job, ...conclusion };
}

/**
 * Records the job (idempotent by id) and asks for the snapshot. Asking again for a job
 * still `requested` re-delivers it (the command id and the RunTask client token are the
 * job id, so nothing happens twice).
 */
export async function requestSnapshotJob(
  deps: SnapshotJobDeps,
  input: { service: string; jobId: string; trigger: SnapshotJob['trigger'] },
): Promise<RequestOutcome> {
  const policy = await deps.policy(input.service);
  if (!policy) {
    throw new UsageError(`service ${input.service} is not protected: no policy in the table`, {
      hint: 'protect it with the CDK construct or `lifeboat service put --policy FILE`',
    });
  }
  const now = new Date(deps.now());
  const mode = policy.snapshot.mode ?? 'agent';
  const fresh: SnapshotJob = {
    service: policy.service,
    jobId: input.jobId,
    mode,
    trigger: input.trigger,
    status: 'requested',
    requestedAt: now.toISOString(),
    deadline: jobDeadline(policy, now).toISOString(),
    ...(mode === 'dump' ? { launch: dumpLaunchSpec(policy) } : {}),
  };
  const { created, job } = await deps.jobs.create(fresh);
  if (job.status !== 'requested') return { outcome: 'existing', job };
  if (created) deps.count?.(job.service, 'SnapshotJobsRequested');

  if (job.mode === 'dump') {
    if (!deps.launcher) throw new UsageError(`service ${job.service} takes snapshots in dump mode, but no task launcher is configured`);
    try {
      const { taskArn } = await deps.launcher.runTask(buildDumpRunTask(job));
      await deps.jobs.setTask(job.service, job.jobId, taskArn);
      return { outcome: 'launched', job: { ...job, taskArn } };
    } catch (err) {
      // ECS unreachable: throw, so the scheduler retries. ECS said no: the job ends here.
      if (err instanceof UnavailableError || !isLifeboatError(err)) throw err;
      const decided = await decide(deps, job, {
        status: 'error',
        reason: `the dump task could not be launched: ${err.message}`,
        finishedAt: now.toISOString(),
      });
      return { outcome: 'failed', job: decided };
    }
  }

  const { lease, members } = await deps.coordination.readState(job.service);
  const holder = lease ? members.find((m) => m.taskArn === lease.holder) : undefined;
  if (!lease || !holder || primaryLostAt(lease, holder) <= now.getTime()) {
    const why = !lease ? 'the service has no primary' : `the primary ${lease.holder} (term ${lease.term}) is gone or its lease ran out`;
    const decided = await decide(deps, job, { status: 'failed', reason: `no primary to take the snapshot: ${why}`, finishedAt: now.toISOString() });
    return { outcome: 'failed', job: decided };
  }
  const command: MemberCommand = { id: job.jobId, type: SNAPSHOT_COMMAND, args: { jobId: job.jobId, trigger: job.trigger }, enqueuedAt: now.getTime() };
  const queued = await deps.coordination.enqueue(job.service, holder.taskArn, command);
  if (queued !== 'queued') {
    const decided = await decide(deps, job, {
      status: 'failed',
      reason: `no primary to take the snapshot: ${holder.taskArn} is ${queued === 'gone' ? 'going away' : 'not a member'}`,
      finishedAt: now.toISOString(),
    });
    return { outcome: 'failed', job: decided };
  }
  await deps.jobs.setTarget(job.service, job.jobId, { taskArn: holder.taskArn, term: lease.term });
  return { outcome: 'requested', job: { ...job, target: { taskArn: holder.taskArn, term: lease.term } } };
}

/** The agent took (or could not take) the snapshot a job asked for. */
export async function finishAgentJob(
  deps: Pick<SnapshotJobDeps, 'jobs' | 'now' | 'count'>,
  job: SnapshotJob,
  result: { snapshotId: string; term: number } | { error: string },
): Promise<SnapshotJob> {
  const finishedAt = new Date(deps.now()).toISOString();
  const conclusion =
    'snapshotId' in result
      ? { status: 'complete' as const, snapshotId: result.snapshotId, reason: `snapshot ${result.snapshotId} registered under term ${result.term}`, finishedAt }
      : { status: 'failed' as const, reason: result.error, finishedAt };
  return decide(deps, job, conclusion);
}

/** What the job flow reads of a dump task's STOPPED event (domain/ecs-task.ts). */
export type DumpTaskEvent = Pick<EcsTask, 'taskArn' | 'lastStatus' | 'startedBy' | 'stopCode' | 'stoppedReason' | 'stoppedAt' | 'containers' | 'overrides'>;

export type DumpStopOutcome =
  | { outcome: 'ignored'; why: 'not-a-dump-task' | 'not-stopped' | 'unknown-job' | 'other-task' }
  | { outcome: 'duplicate' | 'finished'; job: SnapshotJob };

/**
 * Finishes a dump job from its task's STOPPED event: once, whatever duplicates or older
 * events arrive (only STOPPED counts, and the job leaves `requested` with one conditional
 * write).
 */
export async function finishDumpTask(deps: Pick<SnapshotJobDeps, 'jobs' | 'now' | 'count'>, detail: DumpTaskEvent): Promise<DumpStopOutcome> {
  const jobId = detail.startedBy;
  // The service, from the environment the job flow gave the dump task.
  const service = overrideEnvironment(detail)[JOB_ENV.service] || undefined;
  if (!jobId || !isJobId(jobId) || !service) return { outcome: 'ignored', why: 'not-a-dump-task' };
  if (detail.lastStatus !== 'STOPPED') return { outcome: 'ignored', why: 'not-stopped' };
  const job = await deps.jobs.get(service, jobId);
  if (job?.mode !== 'dump') return { outcome: 'ignored', why: 'unknown-job' };
  if (job.taskArn && job.taskArn !== detail.taskArn) return { outcome: 'ignored', why: 'other-task' };
  if (job.status !== 'requested') return { outcome: 'duplicate', job };
  const container = detail.containers?.find((c) => c.name === job.launch?.containerName);
  const end: DumpTaskEnd = {
    ...(detail.stopCode ? { stopCode: detail.stopCode } : {}),
    ...(detail.stoppedReason ? { stoppedReason: detail.stoppedReason } : {}),
    ...(detail.stoppedAt ? { stoppedAt: detail.stoppedAt } : {}),
    ...(typeof container?.exitCode === 'number' ? { exitCode: container.exitCode } : {}),
  };
  let conclusion = concludeDumpJob(job, end, new Date(deps.now()));
  if (conclusion.status === 'complete') {
    // Exit 0 is not a backup: only a snapshot registered for the job is.
    conclusion = job.snapshotId
      ? { ...conclusion, reason: `the dump task exited 0 after registering snapshot ${job.snapshotId}` }
      : {
          ...conclusion,
          status: 'failed',
          reason: 'the dump task exited 0 but registered no snapshot for the job (run `lifeboat snapshot --job "$LIFEBOAT_JOB_ID"` in it)',
        };
  }
  const won = await deps.jobs.finish(service, jobId, conclusion);
  if (!won) return { outcome: 'duplicate', job: (await deps.jobs.get(service, jobId)) ?? job };
  deps.count?.(service, conclusion.status === 'complete' ? 'SnapshotJobsCompleted' : 'SnapshotJobsFailed');
  return { outcome: 'finished', job: { ...job, ...conclusion } };
}

/** Fails every job of the service still waiting past its deadline; returns them. */
export async function expireOverdueJobs(deps: Pick<SnapshotJobDeps, 'jobs' | 'now' | 'count'>, service: string): Promise<SnapshotJob[]> {
  const now = new Date(deps.now());
  const expired: SnapshotJob[] = [];
  for (const job of await deps.jobs.open(service)) {
    if (!isOverdue(job, now)) continue;
    const asked =
      job.mode === 'dump' ? `dump task ${job.taskArn ?? '(not launched)'}` : job.target ? `primary ${job.target.taskArn} (term ${job.target.term})` : 'nobody';
    const conclusion: JobConclusion = {
      status: 'failed',
      reason: `no snapshot registered by the deadline ${job.deadline} (asked: ${asked})`,
      finishedAt: now.toISOString(),
    };
    if (await deps.jobs.finish(service, job.jobId, conclusion)) {
      deps.count?.(service, 'SnapshotJobsFailed');
      expired.push({ ...job, ...conclusion });
    }
  }
  return expired;
}

/** The RPO watch for one service: the newest complete snapshot's age against the target. */
export async function watchRpo(catalog: Pick<SnapshotCatalog, 'latest'>, policy: ServicePolicy, now: Date): Promise<RpoState> {
  const newest = await catalog.latest(policy.service);
  return rpoState(newest, policy.targets.rpoSeconds, now);
}

/** For the agent: the job behind a `snapshot` command, if it still wants a snapshot. */
export async function jobForCommand(jobs: JobStore, service: string, command: MemberCommand): Promise<SnapshotJob | undefined> {
  const jobId = typeof command.args?.jobId === 'string' ? command.args.jobId : command.id;
  if (!isJobId(jobId)) throw new OperationFailedError(`snapshot command ${command.id} names no valid job (${JSON.stringify(jobId)})`);
  const job = await jobs.get(service, jobId);
  return job?.status === 'requested' ? job : undefined;
}
