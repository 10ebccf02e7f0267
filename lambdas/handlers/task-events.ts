/**
 * Lambda entry for EventBridge "ECS Task State Change" events: parse (domain/ecs-task.ts),
 * then control/task-events.ts routes the task (member, drill or dump-job task) and acts.
 * `handler` is the Lambda entry; `createTaskEventsHandler(runtime)` is the same function over
 * any runtime (local mode, tests).
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { handleTaskEvent, type TaskEventResult } from '../control/task-events.js';
import { EcsTaskStateChangeSchema } from '../domain/ecs-task.js';
import { type TaskEventRuntime, taskEventFlows } from '../runtime/flows.js';
import { beginInvocation, flushMetrics, reportCheck } from '../runtime/observability.js';
import { lambdaEntry } from '../runtime/runtime.js';

export type TaskEventsResult = TaskEventResult | { outcome: 'invalid'; issues: string };

export type TaskEventsRuntime = TaskEventRuntime;

export function createTaskEventsHandler(rt: TaskEventsRuntime) {
  return async (event: unknown, context?: Context): Promise<TaskEventsResult> => {
    const parsed = EcsTaskStateChangeSchema.safeParse(event);
    beginInvocation(rt, parsed.success ? parsed.data.id : undefined, context);
    try {
      if (!parsed.success) {
        // Retrying cannot fix a malformed event: say exactly what is wrong, count it, move on.
        const issues = z.prettifyError(parsed.error);
        rt.logger.error('not an ECS Task State Change event', { issues });
        rt.metrics.addMetric('InvalidEvents', MetricUnit.Count, 1);
        return { outcome: 'invalid', issues };
      }
      const detail = parsed.data.detail;
      const result = await handleTaskEvent(detail, taskEventFlows(rt));
      if (result.outcome === 'snapshot-job') {
        const done = result.result;
        if (done.outcome === 'finished')
          rt.logger.info('snapshot job finished', { service: done.job.service, jobId: done.job.jobId, status: done.job.status, reason: done.job.reason });
        else rt.logger.debug('dump task event', { task: detail.taskArn, outcome: done.outcome, ...('why' in done ? { why: done.why } : {}) });
        return result;
      }
      const fields = { task: detail.taskArn, lastStatus: detail.lastStatus, desiredStatus: detail.desiredStatus, version: detail.version };
      if (result.outcome === 'ignored') rt.logger.debug('task ignored', { ...fields, why: result.why });
      else {
        rt.logger.info(result.outcome === 'stale' ? 'older event ignored' : 'member recorded', { ...fields, service: result.service });
        rt.metrics.addMetric(result.outcome === 'stale' ? 'StaleEvents' : 'TaskEvents', MetricUnit.Count, 1);
        if (result.outcome === 'recorded' && result.check) reportCheck(rt, result.check, 'task-event');
      }
      return result;
    } finally {
      flushMetrics(rt);
    }
  };
}

/** Lambda entry point: lambdas/handlers/task-events.handler */
export const handler = lambdaEntry(createTaskEventsHandler);
