/**
 * Lambda entry for EventBridge "ECS Task State Change" events: parse, record the member,
 * start the failover when the primary's task goes away. `handler` is the Lambda entry;
 * `createTaskEventsHandler(runtime)` is the same function over any runtime (local mode, tests).
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { observationFromEcsTask } from '../domain/membership.js';
import { applyTaskObservation, type TaskEventResult } from '../control/task-events.js';
import { beginInvocation, flushMetrics, reportCheck, serviceMetric } from '../runtime/observability.js';
import { lambdaEntry, type Runtime } from '../runtime/runtime.js';
import { finishDumpTask, type DumpStopOutcome } from '../control/snapshot-jobs.js';
import { isJobId } from '../domain/snapshot-jobs.js';

const nameValue = z.looseObject({ name: z.string().optional(), value: z.string().optional() });

/** The fields Lifeboat reads; everything else in the event is kept and ignored. */
export const TaskStateChangeEvent = z.looseObject({
  id: z.string(),
  source: z.literal('aws.ecs'),
  'detail-type': z.literal('ECS Task State Change'),
  time: z.string(),
  detail: z.looseObject({
    taskArn: z.string(),
    clusterArn: z.string().optional(),
    lastStatus: z.string(),
    desiredStatus: z.string(),
    version: z.number().int(),
    group: z.string().optional(),
    startedBy: z.string().optional(),
    taskDefinitionArn: z.string().optional(),
    startedAt: z.string().optional(),
    stoppingAt: z.string().optional(),
    stoppedAt: z.string().optional(),
    updatedAt: z.string().optional(),
    stopCode: z.string().optional(),
    stoppedReason: z.string().optional(),
    attachments: z.array(z.looseObject({ type: z.string().optional(), details: z.array(nameValue).optional() })).optional(),
    containers: z
      .array(
        z.looseObject({
          name: z.string().optional(),
          exitCode: z.number().int().nullable().optional(),
          networkInterfaces: z.array(z.looseObject({ privateIpv4Address: z.string().optional() })).optional(),
        }),
      )
      .optional(),
    overrides: z.looseObject({ containerOverrides: z.array(z.looseObject({ environment: z.array(nameValue).optional() })).optional() }).optional(),
  }),
});

export type TaskEventsResult = TaskEventResult | { outcome: 'invalid'; issues: string } | { outcome: 'snapshot-job'; result: DumpStopOutcome };

/** What the handler uses of the runtime; without `jobs`, dump tasks are not followed. */
export type TaskEventsRuntime = Pick<Runtime, 'logger' | 'metrics' | 'coordination' | 'services' | 'discovery' | 'timer' | 'now'> & Partial<Pick<Runtime, 'jobs'>>;

export function createTaskEventsHandler(rt: TaskEventsRuntime) {
  return async (event: unknown, context?: Context): Promise<TaskEventsResult> => {
    const parsed = TaskStateChangeEvent.safeParse(event);
    beginInvocation(rt, parsed.success ? parsed.data.id : undefined, context);
    try {
      if (!parsed.success) {
        // Retrying cannot fix a malformed event: say exactly what is wrong, count it, move on.
        const issues = z.prettifyError(parsed.error);
        rt.logger.error('not an ECS Task State Change event', { issues });
        rt.metrics.addMetric('InvalidEvents', MetricUnit.Count, 1);
        return { outcome: 'invalid', issues };
      }
      // A dump task of a snapshot job (RunTask, `startedBy` = job id): its end decides the job.
      if (rt.jobs && parsed.data.detail.startedBy && isJobId(parsed.data.detail.startedBy)) {
        const detail = parsed.data.detail;
        const done = await finishDumpTask(
          { jobs: rt.jobs, now: rt.now, count: (service, metric) => serviceMetric(rt, service, metric, MetricUnit.Count, 1) },
          { ...detail, containers: detail.containers?.map((c) => ({ name: c.name, exitCode: c.exitCode ?? null })) },
        );
        if (done.outcome === 'finished') rt.logger.info('snapshot job finished', { service: done.job.service, jobId: done.job.jobId, status: done.job.status, reason: done.job.reason });
        else rt.logger.debug('dump task event', { task: detail.taskArn, outcome: done.outcome, ...('why' in done ? { why: done.why } : {}) });
        return { outcome: 'snapshot-job', result: done };
      }
      const obs = observationFromEcsTask(parsed.data.detail);
      if (!obs) throw new Error('unreachable: the schema guarantees the task fields');
      const result = await applyTaskObservation(obs, rt);
      const fields = { task: obs.taskArn, lastStatus: obs.lastStatus, desiredStatus: obs.desiredStatus, version: obs.version };
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
