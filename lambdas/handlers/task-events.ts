/**
 * Lambda entry for EventBridge "ECS Task State Change" events: parse (domain/ecs-task.ts),
 * then control/task-events.ts routes the task (member, drill or dump-job task) and acts.
 * `handler` is the Lambda entry; `createTaskEventsHandler(runtime)` is the same function over
 * any runtime (local mode, tests).
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { handleTaskEvent, type TaskEventDeps, type TaskEventResult } from '../control/task-events.js';
import { EcsTaskStateChangeSchema } from '../domain/ecs-task.js';
import { beginInvocation, flushMetrics, reportCheck, serviceMetric } from '../runtime/observability.js';
import { lambdaEntry, type Runtime } from '../runtime/runtime.js';

export type TaskEventsResult = TaskEventResult | { outcome: 'invalid'; issues: string };

/** What the handler uses of the runtime; without `jobs`, dump tasks are not followed. */
export type TaskEventsRuntime = Pick<Runtime, 'logger' | 'metrics' | 'coordination' | 'services' | 'discovery' | 'timer' | 'now'> &
  Partial<Pick<Runtime, 'jobs'>>;

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
      const result = await handleTaskEvent(detail, taskEventDeps(rt));
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

/**
 * The flow's dependencies as getters on the runtime: spreading the runtime would build every
 * adapter it has (and fail on settings this handler does not have, such as the bucket).
 */
function taskEventDeps(rt: TaskEventsRuntime): TaskEventDeps {
  return {
    get coordination() {
      return rt.coordination;
    },
    get services() {
      return rt.services;
    },
    get discovery() {
      return rt.discovery;
    },
    get timer() {
      return rt.timer;
    },
    get jobs() {
      return rt.jobs;
    },
    now: rt.now,
    count: (service, metric) => serviceMetric(rt, service, metric, MetricUnit.Count, 1),
  };
}

/** Lambda entry point: lambdas/handlers/task-events.handler */
export const handler = lambdaEntry(createTaskEventsHandler);
