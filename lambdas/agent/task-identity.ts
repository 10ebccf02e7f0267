/**
 * Which task the agent runs in. In ECS the task metadata endpoint (v4) knows the task ARN;
 * `LIFEBOAT_TASK` (or `--task`) overrides it, and is how local mode names its tasks.
 */

import { ENV } from '../contract/environment.js';
import { DRILL_ENV, isDrillTask } from '../domain/drills.js';
import { UsageError } from '../domain/errors.js';

export interface TaskIdentity {
  taskArn: string;
  /** A drill task never joins the service as a member. */
  drill: boolean;
  source: 'flag' | 'env' | 'ecs-metadata';
}

export async function resolveTaskIdentity(
  flag: string | undefined,
  env: Record<string, string | undefined>,
  fetchJson: (url: string) => Promise<unknown> = async (url) => (await fetch(url, { signal: AbortSignal.timeout(2000) })).json(),
): Promise<TaskIdentity> {
  // The drill launcher sets LIFEBOAT_MODE=drill in the task's environment (RunTask overrides).
  const mode = env[DRILL_ENV.mode];
  const drillEnv = mode !== undefined ? { [DRILL_ENV.mode]: mode } : undefined;
  if (flag) return { taskArn: flag, drill: isDrillTask({ overrideEnvironment: drillEnv }), source: 'flag' };
  if (env[ENV.task]) return { taskArn: env[ENV.task]!, drill: isDrillTask({ overrideEnvironment: drillEnv }), source: 'env' };
  const base = env.ECS_CONTAINER_METADATA_URI_V4;
  if (!base) {
    throw new UsageError('cannot tell which task this is', { hint: 'run inside an ECS task (metadata endpoint v4), or pass --task ID / set LIFEBOAT_TASK' });
  }
  let doc: { TaskARN?: string; StartedBy?: string } | undefined;
  try {
    doc = (await fetchJson(`${base}/task`)) as typeof doc;
  } catch (err) {
    throw new UsageError(`the ECS task metadata endpoint did not answer: ${(err as Error).message}`, { hint: 'pass --task ID or set LIFEBOAT_TASK' });
  }
  if (!doc?.TaskARN) throw new UsageError('the ECS task metadata has no TaskARN', { hint: 'pass --task ID or set LIFEBOAT_TASK' });
  return { taskArn: doc.TaskARN, drill: isDrillTask({ startedBy: doc.StartedBy, overrideEnvironment: drillEnv }), source: 'ecs-metadata' };
}
