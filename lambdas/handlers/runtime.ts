/**
 * What every handler shares: structured logs (Powertools Logger, JSON, with the service
 * and a correlation id), EMF metrics (Powertools Metrics), and the adapters built once per
 * Lambda container from the environment. Handlers are also plain async functions of an
 * event (`createXxxHandler(deps)`), so local mode and tests call them directly.
 *
 * Environment: LIFEBOAT_TABLE (required), LIFEBOAT_METRICS_NAMESPACE, LIFEBOAT_FAILOVER_QUEUE_URL (the watchdog's
 * queue, for failover waits), plus the SDK's own (AWS_REGION, AWS_ENDPOINT_URL_*).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME, SERVICE_DIMENSION } from '../contract/metrics.js';
import type { Context } from 'aws-lambda';
import { UsageError } from '../domain/errors.js';
import { createDynamoClient, createEcsClient, createServiceDiscoveryClient, createSqsClient } from '../adapters/aws.js';
import { DynamoCoordinationStore, type MemberCommands } from '../adapters/coordination.js';
import { DynamoSnapshotCatalog, type SnapshotCatalog } from '../adapters/catalog.js';
import { CloudMapDiscovery } from '../adapters/discovery.js';
import { EcsTaskReader } from '../adapters/ecs-tasks.js';
import { SqsFailoverTimer } from '../adapters/failover-timer.js';
import { DynamoServiceRegistry } from '../adapters/service-registry.js';
import { DynamoJobStore, type JobStore } from '../adapters/job-store.js';
import type { CheckResult, FailoverDeps } from '../control/failover.js';
import { ServiceResolver } from '../control/services.js';
import type { ReconcileDeps } from '../control/reconcile.js';

export interface Observability {
  logger: Logger;
  metrics: Metrics;
}

export interface HandlerDeps extends FailoverDeps, Observability {
  services: ServiceResolver;
  /** Snapshot jobs: the task-events flow finishes dump jobs from their tasks' STOPPED events. */
  jobs?: JobStore;
  /** Commands for members (the same DynamoDB store as `store`): snapshot requests. */
  commands?: MemberCommands;
  /** The snapshot catalog on the same table and client (the RPO watch reads the newest). */
  catalog?: Pick<SnapshotCatalog, 'latest'>;
}

export type FullDeps = HandlerDeps & ReconcileDeps;

export { METRICS_NAMESPACE } from '../contract/metrics.js';

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

export function createObservability(env: Record<string, string | undefined> = process.env): Observability {
  return {
    logger: new Logger({ serviceName: 'lifeboat', ...(env.POWERTOOLS_LOG_LEVEL ? {} : { logLevel: 'INFO' }) }),
    metrics: new Metrics({ namespace: env.LIFEBOAT_METRICS_NAMESPACE ?? METRICS_NAMESPACE, serviceName: POWERTOOLS_SERVICE_NAME }),
  };
}

let cached: FullDeps | undefined;

/** Adapters from the environment, built on first use and kept for the container's life. */
export function runtimeDeps(env: Record<string, string | undefined> = process.env): FullDeps {
  if (cached) return cached;
  const table = env.LIFEBOAT_TABLE;
  if (!table) throw new UsageError('LIFEBOAT_TABLE is not set', { hint: 'the CDK construct sets it on every Lifeboat function' });
  const dynamo = createDynamoClient(env);
  const coordination = new DynamoCoordinationStore(dynamo, table);
  const now = () => Date.now();
  cached = {
    ...createObservability(env),
    store: coordination,
    commands: coordination,
    catalog: new DynamoSnapshotCatalog(dynamo, table),
    services: new ServiceResolver(new DynamoServiceRegistry(dynamo, table), now),
    discovery: new CloudMapDiscovery(createServiceDiscoveryClient(env)),
    ...(env.LIFEBOAT_FAILOVER_QUEUE_URL ? { timer: new SqsFailoverTimer(createSqsClient(env), env.LIFEBOAT_FAILOVER_QUEUE_URL) } : {}),
    ecs: new EcsTaskReader(createEcsClient(env)),
    jobs: new DynamoJobStore(dynamo, table),
    now,
  };
  return cached;
}

/** Starts an invocation's logging: Lambda context, and the correlation id of what triggered it. */
export function beginInvocation(o: Observability, correlationId: string | undefined, context?: Context): void {
  if (context) o.logger.addContext(context);
  o.logger.setCorrelationId(correlationId ?? context?.awsRequestId);
}

/**
 * One metric with the protected service as its dimension. A single-metric instance is
 * published (and its dimensions cleared) by each addMetric, so each metric gets its own.
 */
export function serviceMetric(o: Observability, service: string, name: string, unit: Unit, value: number): void {
  const one = o.metrics.singleMetric();
  one.addDimension(SERVICE_DIMENSION, service);
  one.addMetric(name, unit, value);
}

/** Logs and measures what a failover check did; one place so every handler reports alike. */
export function reportCheck(o: Observability, result: CheckResult, trigger: string): void {
  const fields = { service: result.service, trigger, decision: result.decision, term: result.lease?.term, holder: result.lease?.holder, retries: result.retries };
  const metric = (name: string, unit: Unit, value: number) => serviceMetric(o, result.service, name, unit, value);
  if (result.elected) {
    const latency = Math.max(0, result.elected.lease.electedAt - result.elected.lostAt);
    o.logger.info('primary elected', { ...fields, reason: result.elected.reason, previousHolder: result.elected.lease.previousHolder, failoverMs: latency, discovery: result.discovery });
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
export function flushMetrics(o: Observability): void {
  if (o.metrics.hasStoredMetrics()) o.metrics.publishStoredMetrics();
}
