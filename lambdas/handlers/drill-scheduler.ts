/**
 * Lambda entry for a service's drill schedule (EventBridge Scheduler, one schedule per
 * protected service). The schedule's input is
 *
 *   { "service": "db", "scheduledTime": "<aws.scheduler.scheduled-time>" }
 *
 * (optionally "snapshot": "latest" | "random" | an id). The drill id is derived from the
 * service and the scheduled time, so a retried or duplicated invocation starts the same
 * drill once (startDrill is idempotent for a fixed id).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { startDrill } from '../control/drills/start.js';
import { makeDrillId } from '../domain/drills.js';
import { LifeboatError } from '../domain/errors.js';
import { type DrillRuntime, drillFlows } from '../runtime/flows.js';
import { lambdaEntry } from '../runtime/runtime.js';

const ScheduleEvent = z.object({
  service: z.string().min(1),
  snapshot: z.string().min(1).optional(),
  scheduledTime: z.iso.datetime({ offset: true }).optional(),
});

export type DrillSchedulerResult =
  | { outcome: 'launched' | 'resumed' | 'existing' | 'launch-failed'; service: string; drillId: string; snapshotId: string; taskArn?: string }
  | { outcome: 'rejected' | 'not-started'; service?: string; reason: string };

/** The same service and scheduled time always give the same drill id. */
export function scheduledDrillId(service: string, scheduledTime: Date): string {
  const digest = createHash('sha256').update(`${service}\n${scheduledTime.toISOString()}`).digest();
  return makeDrillId(scheduledTime, digest);
}

export function createDrillSchedulerHandler(rt: DrillRuntime) {
  return async function drillScheduler(event: unknown): Promise<DrillSchedulerResult> {
    const parsed = ScheduleEvent.safeParse(event);
    if (!parsed.success) {
      // A malformed schedule input will not improve on retry: log it and stop.
      const reason = z.prettifyError(parsed.error);
      rt.logger.error('malformed drill schedule event', { reason, event });
      return { outcome: 'rejected', reason };
    }
    const { service, snapshot } = parsed.data;
    const at = new Date(parsed.data.scheduledTime ?? rt.now());
    try {
      const r = await startDrill(drillFlows(rt), { service, snapshot, trigger: 'schedule', drillId: scheduledDrillId(service, at) });
      rt.logger.info('drill started', {
        service,
        drillId: r.drill.drillId,
        outcome: r.outcome,
        snapshotId: r.drill.snapshotId,
        taskArn: r.drill.taskArn,
        note: r.note,
      });
      return {
        outcome: r.outcome,
        service,
        drillId: r.drill.drillId,
        snapshotId: r.drill.snapshotId,
        ...(r.drill.taskArn ? { taskArn: r.drill.taskArn } : {}),
      };
    } catch (err) {
      // Not protected, no snapshot, bad policy: retrying will not help; say so and stop.
      // Unreachable table or ECS (exit code 3): throw, so the scheduler's retry policy applies.
      if (err instanceof LifeboatError && err.exitCode !== 3) {
        rt.logger.error('drill not started', { service, error: err.message, hint: err.hint });
        return { outcome: 'not-started', service, reason: err.message };
      }
      throw err;
    }
  };
}

export const handler = lambdaEntry(createDrillSchedulerHandler);
