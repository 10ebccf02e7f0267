/**
 * Lambda entry for a service's snapshot schedule (EventBridge Scheduler, one per protected
 * service, cron or rate with a time zone). Input:
 *
 *   { "service": "db", "scheduledTime": "<aws.scheduler.scheduled-time>" }
 *
 * The job id comes from the service and the scheduled time, so a retried or duplicated
 * invocation asks once. Agent mode queues a `snapshot` command on the primary's member
 * item (delivered with its next heartbeat); dump mode launches the dump task. No primary:
 * the job fails at once, with a reason and the `SnapshotJobsFailed` metric.
 *
 * Environment: LIFEBOAT_TABLE; the SDK's own. IAM: the table; ecs:RunTask + iam:PassRole
 * for services in dump mode.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { type RequestOutcome, requestSnapshotJob } from '../control/snapshot-jobs.js';
import { LifeboatError } from '../domain/errors.js';
import { scheduledJobId } from '../domain/snapshot-jobs.js';
import { type SnapshotJobRuntime, snapshotJobFlows } from '../runtime/flows.js';
import { beginInvocation, flushMetrics } from '../runtime/observability.js';
import { lambdaEntry, type Runtime } from '../runtime/runtime.js';

const ScheduleEvent = z.object({
  service: z.string().min(1),
  scheduledTime: z.iso.datetime({ offset: true }).optional(),
});

export type SchedulerResult = (RequestOutcome & { service: string }) | { outcome: 'rejected' | 'not-started'; service?: string; reason: string };

export type SnapshotSchedulerRuntime = SnapshotJobRuntime & Pick<Runtime, 'logger'>;

export function createSnapshotSchedulerHandler(rt: SnapshotSchedulerRuntime) {
  return async (event: unknown, context?: Context): Promise<SchedulerResult> => {
    const parsed = ScheduleEvent.safeParse(event);
    beginInvocation(rt, undefined, context);
    try {
      if (!parsed.success) {
        // A malformed schedule input will not improve on retry: say what is wrong and stop.
        const reason = z.prettifyError(parsed.error);
        rt.logger.error('malformed snapshot schedule event', { reason, event });
        rt.metrics.addMetric('InvalidEvents', MetricUnit.Count, 1);
        return { outcome: 'rejected', reason };
      }
      const { service } = parsed.data;
      const at = parsed.data.scheduledTime ? new Date(parsed.data.scheduledTime) : new Date(rt.now());
      try {
        const r = await requestSnapshotJob(snapshotJobFlows(rt), { service, jobId: scheduledJobId(service, at), trigger: 'schedule' });
        const log = r.outcome === 'failed' ? rt.logger.warn.bind(rt.logger) : rt.logger.info.bind(rt.logger);
        log('snapshot job', {
          service,
          jobId: r.job.jobId,
          outcome: r.outcome,
          status: r.job.status,
          reason: r.job.reason,
          target: r.job.target?.taskArn,
          task: r.job.taskArn,
        });
        return { ...r, service };
      } catch (err) {
        // Not protected or a bad policy: retrying will not help. Unreachable (3): retry.
        if (err instanceof LifeboatError && err.exitCode !== 3) {
          rt.logger.error('snapshot job not started', { service, error: err.message, hint: err.hint });
          return { outcome: 'not-started', service, reason: err.message };
        }
        throw err;
      }
    } finally {
      flushMetrics(rt);
    }
  };
}

/** Lambda entry point: lambdas/handlers/snapshot-scheduler.handler */
export const handler = lambdaEntry(createSnapshotSchedulerHandler);
