/**
 * The retention schedule's Lambda: sweeps one service (the per-service schedule passes
 * `{ "service": "wiki" }`) or every protected service (no service in the event).
 *
 * Thin on purpose: parse the event (zod), read each service's policy, call the sweep
 * (control/retention.ts), log one structured line per service and emit EMF metrics. A
 * service whose policy is refused (empty) is reaped only and reported (RetentionRefused);
 * a service that fails does not stop the others, but the invocation then fails so the
 * Lambda's Errors metric and the scheduler's retry see it (the sweep is idempotent).
 *
 * Deployed entry: `handler`. Local mode and tests call `createRetentionHandler(runtime)`.
 */

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { SERVICE_DIMENSION } from '../contract/metrics.js';
import { type SweepResult, sweepServiceRetention } from '../control/retention.js';
import { isLifeboatError, OperationFailedError, RetentionPolicyError, UsageError } from '../domain/errors.js';
import { assertServiceName } from '../domain/ids.js';
import { retentionFlows } from '../runtime/flows.js';
import { lambdaEntry, type Runtime } from '../runtime/runtime.js';

/** EventBridge Scheduler input (`{ service }`), or an EventBridge rule's event with it in `detail`. */
export const RetentionEventSchema = z
  .object({
    service: z.string().min(1).optional(),
    detail: z
      .object({ service: z.string().min(1).optional() })
      .passthrough()
      .optional(),
  })
  .passthrough();
export type RetentionEvent = z.input<typeof RetentionEventSchema>;

/** The part of a Lambda context the handler uses. */
export interface RetentionInvocationContext {
  getRemainingTimeInMillis?(): number;
  awsRequestId?: string;
}

/** What the handler logs with (Powertools' Logger satisfies it). */
export interface RetentionLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
  appendKeys?(keys: Record<string, unknown>): void;
}

/** What the handler emits metrics with (Powertools' Metrics satisfies it). */
export interface RetentionMetrics {
  addDimension(name: string, value: string): void;
  addMetric(name: string, unit: typeof MetricUnit.Count, value: number): void;
  publishStoredMetrics(): void;
}

/** What the handler uses of the runtime (its logger and metrics may be any that fit). */
export type RetentionRuntime = Pick<Runtime, 'catalog' | 'objects' | 'holds' | 'registry' | 'now'> & {
  logger: RetentionLogger;
  metrics: RetentionMetrics;
};

/** A sweep's counts (SweepResult without the details), and how the service came out. */
export type ServiceSweepSummary = Pick<SweepResult, 'service' | 'deleted' | 'resumed' | 'reaped' | 'skipped' | 'failed' | 'abortedUploads' | 'stoppedEarly'> & {
  outcome: 'swept' | 'refused' | 'not-protected' | 'failed';
  error?: string;
};

export interface RetentionRunSummary {
  services: ServiceSweepSummary[];
}

/** Stop starting deletions this long before the Lambda times out; the next run resumes. */
const SAFETY_MS = 30_000;

const empty = { deleted: 0, resumed: 0, reaped: 0, skipped: 0, failed: 0, abortedUploads: 0, stoppedEarly: false };
const summarize = (service: string, outcome: ServiceSweepSummary['outcome'], r: SweepResult): ServiceSweepSummary => ({
  service,
  outcome,
  deleted: r.deleted,
  resumed: r.resumed,
  reaped: r.reaped,
  skipped: r.skipped,
  failed: r.failed,
  abortedUploads: r.abortedUploads,
  stoppedEarly: r.stoppedEarly,
});

export function createRetentionHandler(rt: RetentionRuntime) {
  return async function retentionHandler(event: unknown, context: RetentionInvocationContext = {}): Promise<RetentionRunSummary> {
    const { registry, logger, metrics } = rt;
    const parsed = RetentionEventSchema.safeParse(event ?? {});
    if (!parsed.success) {
      logger.error('invalid retention event', { issues: parsed.error.issues });
      throw new UsageError(`invalid retention event: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    }
    logger.appendKeys?.({ requestId: context.awsRequestId });
    const one = parsed.data.service ?? parsed.data.detail?.service;
    const services = one !== undefined ? [assertServiceName(one)] : await registry.list();
    const deadline = context.getRemainingTimeInMillis ? Date.now() + context.getRemainingTimeInMillis() - SAFETY_MS : undefined;
    const ctx = retentionFlows(rt);

    const summaries: ServiceSweepSummary[] = [];
    for (const service of services) {
      let summary: ServiceSweepSummary;
      try {
        const policy = await registry.get(service);
        if (!policy) {
          summary = { service, outcome: 'not-protected', ...empty, error: `service ${service} has no policy` };
          logger.warn('service is not protected; nothing swept', { service });
        } else {
          try {
            const r = await sweepServiceRetention(ctx, { service, policy: policy.retention, ...(deadline ? { deadline } : {}) });
            summary = summarize(service, 'swept', r);
            logger.info('retention swept', { ...summary, policy: r.plan.policy, timezone: r.plan.timezone, snapshots: r.snapshots });
          } catch (err) {
            if (!(err instanceof RetentionPolicyError)) throw err;
            // A refused policy deletes nothing complete; dead uploads still go.
            const r = await sweepServiceRetention(ctx, { service, policy: policy.retention, reapOnly: true, ...(deadline ? { deadline } : {}) });
            summary = { ...summarize(service, 'refused', r), error: err.message };
            logger.warn('retention policy refused; only dead uploads were reaped', { ...summary, hint: err.hint });
          }
        }
      } catch (err) {
        summary = { service, outcome: 'failed', ...empty, error: isLifeboatError(err) ? err.message : String((err as Error)?.stack ?? err) };
        logger.error('retention sweep failed', { service, error: summary.error });
      }
      summaries.push(summary);
      metrics.addDimension(SERVICE_DIMENSION, service); // 'service' is Powertools' own default dimension
      metrics.addMetric('SnapshotsExpired', MetricUnit.Count, summary.deleted + summary.resumed);
      metrics.addMetric('UploadsReaped', MetricUnit.Count, summary.reaped + summary.abortedUploads);
      metrics.addMetric('RetentionFailures', MetricUnit.Count, summary.failed + (summary.outcome === 'failed' ? 1 : 0));
      metrics.addMetric('RetentionRefused', MetricUnit.Count, summary.outcome === 'refused' ? 1 : 0);
      metrics.publishStoredMetrics();
    }
    const failed = summaries.filter((s) => s.outcome === 'failed' || s.failed > 0);
    if (failed.length > 0) {
      throw new OperationFailedError(`retention failed for ${failed.map((s) => s.service).join(', ')}; the next run retries`, {
        hint: 'see the log lines "retention sweep failed" / "retention swept" for each service',
      });
    }
    return { services: summaries };
  };
}

/** The Lambda entry point the CDK construct deploys (lambdas/handlers/retention.ts → handler). */
export const handler = lambdaEntry(createRetentionHandler);
