/**
 * How every handler logs and measures (Powertools Logger + Metrics of the runtime): the
 * invocation's correlation id, one metric per protected service, what a failover check did,
 * and the flush at the end of an invocation. Local mode passes its own logger to the runtime.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { SERVICE_DIMENSION } from '../contract/metrics.js';
import type { CheckResult } from '../control/failover.js';
import type { Observability } from './runtime.js';

export type { Observability } from './runtime.js';

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/** Starts an invocation's logging: Lambda context, and the correlation id of what triggered it. */
export function beginInvocation(o: Observability, correlationId: string | undefined, context?: Context): void {
  if (context) o.logger.addContext(context);
  o.logger.setCorrelationId(correlationId ?? context?.awsRequestId);
}

/**
 * One metric with the protected service as its dimension. A single-metric instance is
 * published (and its dimensions cleared) by each addMetric, so each metric gets its own.
 */
export function serviceMetric(o: Pick<Observability, 'metrics'>, service: string, name: string, unit: Unit, value: number): void {
  const one = o.metrics.singleMetric();
  one.addDimension(SERVICE_DIMENSION, service);
  one.addMetric(name, unit, value);
}

/** Logs and measures what a failover check did; one place so every handler reports alike. */
export function reportCheck(o: Observability, result: CheckResult, trigger: string): void {
  const fields = {
    service: result.service,
    trigger,
    decision: result.decision,
    term: result.lease?.term,
    holder: result.lease?.holder,
    retries: result.retries,
  };
  const metric = (name: string, unit: Unit, value: number) => serviceMetric(o, result.service, name, unit, value);
  if (result.elected) {
    const latency = Math.max(0, result.elected.lease.electedAt - result.elected.lostAt);
    o.logger.info('primary elected', {
      ...fields,
      reason: result.elected.reason,
      previousHolder: result.elected.lease.previousHolder,
      failoverMs: latency,
      discovery: result.discovery,
    });
    metric('Elections', MetricUnit.Count, 1);
    if (result.elected.reason === 'failover') metric('FailoverTime', MetricUnit.Milliseconds, latency);
  } else if (result.decision === 'wait') {
    o.logger.info('primary lost; failover scheduled', { ...fields, dueAt: result.dueAt ? new Date(result.dueAt).toISOString() : undefined });
    metric('FailoverWaits', MetricUnit.Count, 1);
  } else if (result.decision === 'no-candidate') {
    o.logger.warn('primary lost and no member can take over', fields);
    metric('NoCandidate', MetricUnit.Count, 1);
  } else {
    o.logger.debug('failover check', { ...fields, discovery: result.discovery });
  }
  if (result.discovery === 'registered') metric('DiscoveryUpdates', MetricUnit.Count, 1);
  if (result.retries) metric('ElectionRetries', MetricUnit.Count, result.retries);
}

/** Publishes what the invocation measured (per-service metrics went out as they were made). */
export function flushMetrics(o: Pick<Observability, 'metrics'>): void {
  if (o.metrics.hasStoredMetrics()) o.metrics.publishStoredMetrics();
}

/** A logger as the drill workflows take it: message plus fields. */
export function logWith(logger: Observability['logger']): (message: string, fields: Record<string, unknown>) => void {
  return (message, fields) => logger.info(message, fields);
}
