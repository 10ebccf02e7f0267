/**
 * Lambda entry for the watchdog. Two triggers, one job (the failover check):
 *   - a schedule (EventBridge, every minute): every protected service — finds leases that
 *     ran out without any event, and re-applies discovery for live primaries;
 *   - the failover queue (SQS): continuations "check this service at dueAt" scheduled when
 *     a primary was lost, so the election happens when the failover timeout is over.
 * SQS records that fail are reported back (ReportBatchItemFailures) and retried alone.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { z } from 'zod';
import { type CheckResult, checkService } from '../control/failover.js';
import { beginInvocation, flushMetrics, reportCheck } from '../runtime/observability.js';
import { lambdaEntry, type Runtime } from '../runtime/runtime.js';

const SqsEvent = z.looseObject({
  Records: z.array(z.looseObject({ messageId: z.string(), body: z.string(), eventSource: z.literal('aws:sqs') })).min(1),
});

export const FailoverCheckMessage = z.object({
  kind: z.literal('failover-check'),
  service: z.string().min(1),
  dueAt: z.number(),
  reason: z.string().optional(),
});

export interface WatchdogRun {
  checked: CheckResult[];
  failed: { service?: string; messageId?: string; error: string }[];
}

export type WatchdogRuntime = Pick<Runtime, 'logger' | 'metrics' | 'coordination' | 'services' | 'discovery' | 'timer' | 'now'>;

export function createWatchdogHandler(rt: WatchdogRuntime) {
  const check = async (service: string, trigger: string): Promise<CheckResult | undefined> => {
    const policy = await rt.services.policy(service);
    if (!policy) {
      rt.logger.info('service is no longer protected; nothing to check', { service, trigger });
      return undefined;
    }
    const result = await checkService(policy, rt);
    reportCheck(rt, result, trigger);
    return result;
  };

  async function onSchedule(run: WatchdogRun): Promise<void> {
    for (const service of await rt.services.registryList()) {
      try {
        const r = await check(service, 'schedule');
        if (r) run.checked.push(r);
      } catch (err) {
        // One service's trouble must not hide the others'.
        rt.logger.error('failover check failed', { service, error: err as Error });
        run.failed.push({ service, error: (err as Error).message });
      }
    }
  }

  return async (event: unknown, context?: Context): Promise<WatchdogRun & Partial<SQSBatchResponse>> => {
    const sqs = SqsEvent.safeParse(event);
    beginInvocation(rt, sqs.success ? sqs.data.Records[0]!.messageId : (event as { id?: string })?.id, context);
    const run: WatchdogRun = { checked: [], failed: [] };
    try {
      if (!sqs.success) {
        await onSchedule(run);
        return run;
      }
      const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
      for (const record of sqs.data.Records) {
        let message;
        try {
          message = FailoverCheckMessage.parse(JSON.parse(record.body));
        } catch (err) {
          // A body that will never parse is dropped (retrying cannot help), loudly.
          rt.logger.error('unreadable failover-check message dropped', { messageId: record.messageId, error: (err as Error).message });
          rt.metrics.addMetric('InvalidEvents', MetricUnit.Count, 1);
          continue;
        }
        try {
          const r = await check(message.service, 'continuation');
          if (r) run.checked.push(r);
        } catch (err) {
          rt.logger.error('failover check failed', { service: message.service, messageId: record.messageId, error: err as Error });
          run.failed.push({ service: message.service, messageId: record.messageId, error: (err as Error).message });
          batchItemFailures.push({ itemIdentifier: record.messageId });
        }
      }
      return { ...run, batchItemFailures };
    } finally {
      if (run.failed.length) rt.metrics.addMetric('CheckErrors', MetricUnit.Count, run.failed.length);
      flushMetrics(rt);
    }
  };
}

/** Lambda entry point: lambdas/handlers/watchdog.handler */
export const handler = lambdaEntry(createWatchdogHandler);
