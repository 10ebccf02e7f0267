/**
 * Lambda entry for EventBridge "ECS Task State Change" events: parse (domain/ecs-task.ts),
 * then control/task-events.ts routes the task (member, drill or dump-job task) and acts.
 * `handler` is the Lambda entry; `createTaskEventsHandler(deps)` is the same function over
 * injected adapters.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { EcsTaskStateChangeSchema } from '../domain/ecs-task.js';
import { handleTaskEvent, type TaskEventResult } from '../control/task-events.js';
import { beginInvocation, flushMetrics, reportCheck, runtimeDeps, serviceMetric, type HandlerDeps } from './runtime.js';

export type TaskEventsResult = TaskEventResult | { outcome: 'invalid'; issues: string };

export function createTaskEventsHandler(deps: HandlerDeps) {
  return async (event: unknown, context?: Context): Promise<TaskEventsResult> => {
    const parsed = EcsTaskStateChangeSchema.safeParse(event);
    beginInvocation(deps, parsed.success ? parsed.data.id : undefined, context);
    try {
      if (!parsed.success) {
        // Retrying cannot fix a malformed event: say exactly what is wrong, count it, move on.
        const issues = z.prettifyError(parsed.error);
        deps.logger.error('not an ECS Task State Change event', { issues });
        deps.metrics.addMetric('InvalidEvents', MetricUnit.Count, 1);
        return { outcome: 'invalid', issues };
      }
      const detail = parsed.data.detail;
      const result = await handleTaskEvent(detail, { ...deps, count: (service, metric) => serviceMetric(deps, service, metric, MetricUnit.Count, 1) });
      if (result.outcome === 'snapshot-job') {
        const done = result.result;
        if (done.outcome === 'finished') deps.logger.info('snapshot job finished', { service: done.job.service, jobId: done.job.jobId, status: done.job.status, reason: done.job.reason });
        else deps.logger.debug('dump task event', { task: detail.taskArn, outcome: done.outcome, ...('why' in done ? { why: done.why } : {}) });
        return result;
      }
      const fields = { task: detail.taskArn, lastStatus: detail.lastStatus, desiredStatus: detail.desiredStatus, version: detail.version };
      if (result.outcome === 'ignored') deps.logger.debug('task ignored', { ...fields, why: result.why });
      else {
        deps.logger.info(result.outcome === 'stale' ? 'older event ignored' : 'member recorded', { ...fields, service: result.service });
        deps.metrics.addMetric(result.outcome === 'stale' ? 'StaleEvents' : 'TaskEvents', MetricUnit.Count, 1);
        if (result.outcome === 'recorded' && result.check) reportCheck(deps, result.check, 'task-event');
      }
      return result;
    } finally {
      flushMetrics(deps);
    }
  };
}

let entry: ReturnType<typeof createTaskEventsHandler> | undefined;

/** Lambda entry point: lambdas/handlers/task-events.handler */
export const handler = (event: unknown, context: Context) => (entry ??= createTaskEventsHandler(runtimeDeps()))(event, context);
