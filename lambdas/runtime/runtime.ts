/**
 * The composition root: every adapter of Lifeboat, built from the environment once, each on
 * first use. Every Lambda handler (`lambdaRuntime()`), the CLI and the agent
 * (`createRuntime(env)`), and local mode (`createRuntime(env, { its stand-ins })`) get
 * theirs here, so an adapter is constructed in one place only. Overrides replace any
 * adapter (local mode's launcher and discovery, a test's mock); what is never touched is
 * never built, so a handler needs only the settings its own adapters read.
 *
 * Environment: see lambdas/contract/environment.ts, plus the SDK's own (AWS_REGION, AWS_ENDPOINT_URL_*).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { ECSClient } from '@aws-sdk/client-ecs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoClient, createEcsClient, createS3Client, createServiceDiscoveryClient, createSqsClient } from '../adapters/aws.js';
import { DynamoSnapshotCatalog, type SnapshotCatalog } from '../adapters/catalog.js';
import { type CoordinationStore, DynamoCoordinationStore, type MemberCommands } from '../adapters/coordination.js';
import { CloudMapDiscovery, type PrimaryDiscovery } from '../adapters/discovery.js';
import { type DrillMetrics, PowertoolsDrillMetrics } from '../adapters/drill-metrics.js';
import { type DrillStore, DynamoDrillStore } from '../adapters/drill-store.js';
import { EcsTaskLauncher, type TaskLauncher } from '../adapters/ecs-launcher.js';
import { EcsTaskReader, type EcsTasks } from '../adapters/ecs-tasks.js';
import { type FailoverTimer, SqsFailoverTimer } from '../adapters/failover-timer.js';
import { DynamoJobStore, type JobStore } from '../adapters/job-store.js';
import { DynamoServiceRegistry, type ServiceRegistry } from '../adapters/service-registry.js';
import { DynamoSnapshotHolds, type SnapshotHolds } from '../adapters/snapshot-holds.js';
import { openStore } from '../adapters/stores/registry.js';
import type { ObjectStore } from '../adapters/stores/store.js';
import { ENV, type Env, storeUrlFromEnv } from '../contract/environment.js';
import { METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME } from '../contract/metrics.js';
import { ServiceResolver } from '../control/services.js';
import { type Clock, systemClock } from '../domain/clock.js';
import { parseMaxAge } from '../domain/drill-report.js';
import { UsageError } from '../domain/errors.js';

/** Structured logs and EMF metrics (Powertools), made once per runtime. */
export interface Observability {
  logger: Logger;
  metrics: Metrics;
}

export interface Runtime extends Observability {
  readonly env: Env;
  readonly now: Clock;
  /** The DynamoDB table (LIFEBOAT_TABLE); a clear error when it is not set. */
  readonly table: string;
  /** The lease, members, elections and member commands. */
  readonly coordination: CoordinationStore & MemberCommands;
  readonly catalog: SnapshotCatalog;
  readonly registry: ServiceRegistry;
  readonly services: ServiceResolver;
  readonly holds: SnapshotHolds;
  readonly drills: DrillStore;
  readonly jobs: JobStore;
  /** ECS RunTask/StopTask. */
  readonly launcher: TaskLauncher;
  /** ECS ListTasks/DescribeTasks. */
  readonly ecs: EcsTasks;
  /** Cloud Map; absent where discovery is not managed. */
  readonly discovery?: PrimaryDiscovery;
  /** The failover queue; absent without LIFEBOAT_FAILOVER_QUEUE_URL (callers then poll). */
  readonly timer?: FailoverTimer;
  /** The object store's URL (LIFEBOAT_STORE, else the bucket and prefix). */
  readonly storeUrl: string;
  /** Snapshots and reports. */
  readonly objects: ObjectStore;
  readonly drillMetrics: DrillMetrics;
  /** LIFEBOAT_REPORT_MAX_AGE in seconds; null when not set. */
  readonly reportMaxAgeSeconds: number | null;
}

/** What a caller may put in place of the environment's adapters. */
export type RuntimeOverrides = Partial<Omit<Runtime, 'env'>>;

/** The adapters whose construction is deferred, by name. */
type Lazy = Omit<Runtime, 'env' | 'now'>;

/**
 * A runtime over `env`. Adapters, SDK clients and settings are made on first use and kept;
 * `overrides` win over what the environment would give.
 */
export function createRuntime(env: Env = process.env, overrides: RuntimeOverrides = {}): Runtime {
  const made = new Map<string, unknown>();
  const once = <T>(key: string, make: () => T): T => {
    if (!made.has(key)) made.set(key, make());
    return made.get(key) as T;
  };
  // One SDK client per service, shared by every adapter of the runtime.
  const clients = {
    dynamo: () => once<DynamoDBDocumentClient>('client:dynamo', () => createDynamoClient(env)),
    s3: () => once<S3Client>('client:s3', () => createS3Client(env)),
    ecs: () => once<ECSClient>('client:ecs', () => createEcsClient(env)),
    sqs: () => once<SQSClient>('client:sqs', () => createSqsClient(env)),
  };
  const now = overrides.now ?? systemClock;
  const rt = { env, now } as Runtime;
  // The table is read first, so a missing LIFEBOAT_TABLE is the error reported, not the client's settings.
  const onTable =
    <T>(make: (client: DynamoDBDocumentClient, table: string) => T) =>
    (): T => {
      const table = rt.table;
      return make(clients.dynamo(), table);
    };

  const factories: { [K in keyof Lazy]-?: () => Lazy[K] } = {
    logger: () => new Logger({ serviceName: POWERTOOLS_SERVICE_NAME, ...(env.POWERTOOLS_LOG_LEVEL ? {} : { logLevel: 'INFO' }) }),
    metrics: () => new Metrics({ namespace: env[ENV.metricsNamespace] ?? METRICS_NAMESPACE, serviceName: POWERTOOLS_SERVICE_NAME }),
    table: () => {
      const table = env[ENV.table];
      if (!table)
        throw new UsageError(`${ENV.table} is not set`, {
          hint: `the CDK construct sets it on every Lifeboat function; the CLI takes --table NAME or ${ENV.table}`,
        });
      return table;
    },
    coordination: onTable((client, table) => new DynamoCoordinationStore(client, table)),
    catalog: onTable((client, table) => new DynamoSnapshotCatalog(client, table)),
    registry: onTable((client, table) => new DynamoServiceRegistry(client, table)),
    services: () => new ServiceResolver(rt.registry, now),
    holds: onTable((client, table) => new DynamoSnapshotHolds(client, table, () => new Date(now()))),
    drills: onTable((client, table) => new DynamoDrillStore(client, table)),
    jobs: onTable((client, table) => new DynamoJobStore(client, table)),
    launcher: () => new EcsTaskLauncher(clients.ecs()),
    ecs: () => new EcsTaskReader(clients.ecs()),
    discovery: () => new CloudMapDiscovery(createServiceDiscoveryClient(env)),
    timer: () => {
      const url = env[ENV.failoverQueueUrl];
      return url ? new SqsFailoverTimer(clients.sqs(), url) : undefined;
    },
    storeUrl: () => {
      const url = storeUrlFromEnv(env);
      if (!url)
        throw new UsageError(`neither ${ENV.store} nor ${ENV.bucket} is set`, {
          hint: `the CDK construct sets ${ENV.bucket}; the CLI takes --store s3://BUCKET[/PREFIX] or --store file:///PATH`,
        });
      return url;
    },
    objects: () => openStore(rt.storeUrl, { env, s3: clients.s3 }),
    drillMetrics: () => new PowertoolsDrillMetrics(env[ENV.metricsNamespace]),
    reportMaxAgeSeconds: () => (env[ENV.reportMaxAge] ? parseMaxAge(env[ENV.reportMaxAge]!) : null),
  };

  for (const key of Object.keys(factories) as (keyof Lazy)[]) {
    const given = key in overrides;
    Object.defineProperty(rt, key, {
      enumerable: true,
      get: () => (given ? overrides[key] : once(key, factories[key] as () => unknown)),
    });
  }
  return rt;
}

let lambda: Runtime | undefined;

/** The runtime of a Lambda container: built on first use from process.env, kept for the container's life. */
export function lambdaRuntime(): Runtime {
  return (lambda ??= createRuntime(process.env));
}

/**
 * A Lambda entry point over a handler factory: the handler (and the runtime) are made on the
 * first invocation, so importing a handler module (tests, local mode) needs no environment.
 */
export function lambdaEntry<A extends unknown[], R>(create: (runtime: Runtime) => (...args: A) => R): (...args: A) => R {
  let entry: ((...args: A) => R) | undefined;
  return (...args: A) => (entry ??= create(lambdaRuntime()))(...args);
}
