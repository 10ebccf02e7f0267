/**
 * The agent's side of a snapshot job: a `snapshot` command arrived with a heartbeat; if
 * this task is still primary, take the snapshot under its term (the catalog commit is
 * fenced with it) and finish the job with the result.
 */

import type { SnapshotCatalog } from '../adapters/catalog.js';
import type { JobStore } from '../adapters/job-store.js';
import type { ObjectStore } from '../adapters/stores/store.js';
import { finishAgentJob, jobForCommand } from '../control/snapshot-jobs.js';
import type { Role } from '../domain/election.js';
import type { MemberCommand } from '../domain/membership.js';
import type { ServicePolicy } from '../domain/service-policy.js';
import type { SnapshotJob } from '../domain/snapshot-jobs.js';
import { takeSnapshot } from '../engine/snapshot.js';

export interface SnapshotCommandDeps {
  jobs: JobStore;
  catalog: SnapshotCatalog;
  /** Undefined when the agent was started without a store: the job fails saying so. */
  objects: ObjectStore | undefined;
  now(): number;
}

export interface SnapshotCommandContext {
  service: string;
  policy: ServicePolicy;
  taskArn: string;
  /** The agent's role when the command is run. */
  role: Role;
  /** The data directory; undefined when the agent was started without --dir. */
  dir: string | undefined;
  command: MemberCommand;
  /** Read every file, even those unchanged since the previous snapshot (v2 change detection off). */
  readAll?: boolean;
  signal?: AbortSignal;
  onNotice?: (line: string) => void;
}

export type SnapshotCommandResult = { outcome: 'skipped'; reason: string } | { outcome: 'complete' | 'failed'; job: SnapshotJob };

export async function runSnapshotCommand(deps: SnapshotCommandDeps, ctx: SnapshotCommandContext): Promise<SnapshotCommandResult> {
  const job = await jobForCommand(deps.jobs, ctx.service, ctx.command);
  if (!job) return { outcome: 'skipped', reason: `job ${ctx.command.id} is already decided` };
  const fail = async (error: string): Promise<SnapshotCommandResult> => ({ outcome: 'failed', job: await finishAgentJob(deps, job, { error }) });
  if (ctx.role.kind !== 'primary') return fail(`task ${ctx.taskArn} got the request but is no longer primary`);
  if (!ctx.dir) return fail(`the agent in ${ctx.taskArn} was started without --dir (LIFEBOAT_DIR), so it cannot take snapshots`);
  if (!deps.objects) return fail(`the agent in ${ctx.taskArn} has no snapshot store (LIFEBOAT_BUCKET or LIFEBOAT_STORE)`);
  try {
    const result = await takeSnapshot({
      catalog: deps.catalog,
      store: deps.objects,
      service: ctx.service,
      dir: ctx.dir,
      reason: job.trigger,
      term: ctx.role.term,
      sourceTask: ctx.taskArn,
      pre: ctx.policy.snapshot.pre,
      post: ctx.policy.snapshot.post,
      readAll: ctx.readAll,
      signal: ctx.signal,
      onNotice: ctx.onNotice,
    });
    const done = await finishAgentJob(deps, job, { snapshotId: result.record.id, term: ctx.role.term });
    return { outcome: done.status === 'complete' ? 'complete' : 'failed', job: done };
  } catch (err) {
    return fail((err as Error).message);
  }
}
