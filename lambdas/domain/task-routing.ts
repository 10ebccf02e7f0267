/**
 * Which flow an ECS task's state change belongs to, decided in one place:
 *   - a dump task of a snapshot job (RunTask, `startedBy` = the job id): its STOPPED event
 *     decides the job (control/snapshot-jobs.ts finishDumpTask);
 *   - a restore-drill task (isDrillTask): never a member; the drill flow owns it (its
 *     STOPPED event reaches the report function through its own EventBridge rule, which
 *     finalizes it with control/drills/finalize.ts);
 *   - anything else may be a member of a protected service (control/task-events.ts).
 * Pure: the task in, the route out.
 */
import { isDrillTask } from './drills.js';
import { type EcsTask, overrideEnvironment } from './ecs-task.js';
import { isJobId } from './snapshot-jobs.js';

export type TaskRoute = { to: 'snapshot-job'; jobId: string } | { to: 'drill' } | { to: 'membership' };

export function routeTask(task: Pick<EcsTask, 'startedBy' | 'overrides'>): TaskRoute {
  if (task.startedBy && isJobId(task.startedBy)) return { to: 'snapshot-job', jobId: task.startedBy };
  if (isDrillTask({ ...(task.startedBy ? { startedBy: task.startedBy } : {}), overrideEnvironment: overrideEnvironment(task) })) return { to: 'drill' };
  return { to: 'membership' };
}
