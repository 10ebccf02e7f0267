/**
 * The control plane in one process, for local mode and benchmarks: the same handler
 * functions the Lambdas export, fed directly.
 *
 * - `createLocalControlPlane` (benchmarks): ECS-shaped events go to the task-events
 *   handler, failover waits become timers that invoke the watchdog with the SQS-shaped
 *   message the real queue would deliver, and `tick()` is the watchdog's schedule.
 * - `createLocalHandlers` (local mode): every handler the CDK construct deploys, built by
 *   its own factory over adapters local mode injects (the local launcher for ECS, the
 *   embedded servers for DynamoDB, S3 and SQS, local discovery); local mode wires them to
 *   its event bus, scheduler and queue poller exactly as EventBridge, EventBridge Scheduler
 *   and the SQS event source mapping are wired to the Lambdas.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createDynamoClient } from '../adapters/aws.js';
import { DynamoCoordinationStore } from '../adapters/coordination.js';
import type { PrimaryDiscovery } from '../adapters/discovery.js';
import type { FailoverCheck, FailoverTimer } from '../adapters/failover-timer.js';
import { DynamoServiceRegistry } from '../adapters/service-registry.js';
import { ServiceResolver } from '../control/services.js';
import type { HandlerDeps } from '../handlers/runtime.js';
import { createTaskEventsHandler } from '../handlers/task-events.js';
import { createWatchdogHandler } from '../handlers/watchdog.js';
import { createReconcilerHandler } from '../handlers/reconciler.js';
import { createRetentionHandler } from '../handlers/retention.js';
import { makeDrillSchedulerHandler } from '../handlers/drill-scheduler.js';
import { makeDrillWatchdogHandler } from '../handlers/drill-watchdog.js';
import { makeReportHandler } from '../handlers/report.js';
import type { DrillRuntime } from '../handlers/drill-runtime.js';
import { DynamoSnapshotCatalog } from '../adapters/catalog.js';
import { DynamoDrillStore } from '../adapters/drill-store.js';
import { PowertoolsDrillMetrics } from '../adapters/drill-metrics.js';
import type { TaskLauncher } from '../adapters/ecs-launcher.js';
import type { EcsTasks } from '../adapters/ecs-tasks.js';
import { DynamoSnapshotHolds } from '../adapters/snapshot-holds.js';
import type { ObjectStore } from '../adapters/stores/store.js';
import { DynamoJobStore } from '../adapters/job-store.js';
import { createSnapshotSchedulerHandler } from '../handlers/snapshot-scheduler.js';
import { createSnapshotWatchHandler } from '../handlers/snapshot-watch.js';
import { jobDeps, type SnapshotHandlerDeps } from '../handlers/snapshot-runtime.js';

/** setTimeout in place of an SQS delay queue; delivers the same message body. */
export class LocalFailoverTimer implements FailoverTimer {
  private readonly timers = new Set<NodeJS.Timeout>();
  private n = 0;
  constructor(private readonly deliver: (sqsEvent: unknown) => Promise<unknown>) {}

  async schedule(check: FailoverCheck, now: number): Promise<void> {
    const body = JSON.stringify({ kind: 'failover-check', ...check });
    const messageId = `local-${++this.n}`;
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        void this.deliver({ Records: [{ messageId, body, eventSource: 'aws:sqs' }] });
      },
      Math.max(0, check.dueAt - now),
    );
    this.timers.add(timer);
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

export interface LocalControlPlaneOptions {
  table: string;
  env?: Record<string, string | undefined>;
  discovery?: PrimaryDiscovery;
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  now?: () => number;
}

export interface LocalControlPlane {
  /** Hands an EventBridge-shaped event to the task-events handler, as the event bus would. */
  publishTaskEvent(event: unknown): ReturnType<ReturnType<typeof createTaskEventsHandler>>;
  /** One scheduled watchdog run. */
  tick(): ReturnType<ReturnType<typeof createWatchdogHandler>>;
  stop(): void;
}

export function createLocalControlPlane(o: LocalControlPlaneOptions): LocalControlPlane {
  const env = o.env ?? process.env;
  const dynamo = createDynamoClient(env);
  const now = o.now ?? Date.now;
  // Metrics would print EMF lines to stdout; locally they are noise.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  let watchdog: ReturnType<typeof createWatchdogHandler>;
  const timer = new LocalFailoverTimer((event) => watchdog(event));
  const deps: HandlerDeps = {
    logger: new Logger({ serviceName: 'lifeboat', logLevel: o.logLevel ?? 'WARN' }),
    metrics: new Metrics({ namespace: 'Lifeboat', serviceName: 'lifeboat' }),
    store: new DynamoCoordinationStore(dynamo, o.table),
    services: new ServiceResolver(new DynamoServiceRegistry(dynamo, o.table), now),
    timer,
    ...(o.discovery ? { discovery: o.discovery } : {}),
    now,
  };
  watchdog = createWatchdogHandler(deps);
  const taskEvents = createTaskEventsHandler(deps);
  return {
    publishTaskEvent: (event) => taskEvents(event),
    tick: () => watchdog({ id: `local-schedule-${now()}`, source: 'aws.events', 'detail-type': 'Scheduled Event' }),
    stop: () => timer.stop(),
  };
}

export interface LocalHandlersOptions {
  table: string;
  /** The SDK's settings (endpoints, region, credentials) for the embedded servers. */
  env: Record<string, string | undefined>;
  store: ObjectStore;
  /** ECS: RunTask/StopTask and ListTasks/DescribeTasks. */
  ecs: TaskLauncher & EcsTasks;
  discovery: PrimaryDiscovery;
  /** Failover waits (the SQS adapter on the embedded queue, in local mode). */
  timer: FailoverTimer;
  /** Where the handlers' structured logs go (the Lambdas write them to CloudWatch). */
  logger: Logger;
  now?: () => number;
}

/** Every Lambda handler of the control plane, over local adapters. */
export function createLocalHandlers(o: LocalHandlersOptions) {
  const dynamo = createDynamoClient(o.env);
  const now = o.now ?? Date.now;
  // EMF metrics would print to stdout, which the status view owns; CloudWatch is not here anyway.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  const metrics = new Metrics({ namespace: 'Lifeboat', serviceName: 'lifeboat' });
  const registry = new DynamoServiceRegistry(dynamo, o.table);
  const coordination = new DynamoCoordinationStore(dynamo, o.table);
  const catalog = new DynamoSnapshotCatalog(dynamo, o.table);
  const deps: SnapshotHandlerDeps & { ecs: EcsTasks } = {
    logger: o.logger,
    metrics,
    store: coordination,
    services: new ServiceResolver(registry, now),
    timer: o.timer,
    discovery: o.discovery,
    ecs: o.ecs,
    jobs: new DynamoJobStore(dynamo, o.table),
    commands: coordination,
    catalog,
    launcher: o.ecs,
    now,
  };
  const drillRuntime: DrillRuntime = {
    drills: new DynamoDrillStore(dynamo, o.table),
    catalog,
    registry,
    launcher: o.ecs,
    store: o.store,
    metrics: new PowertoolsDrillMetrics(),
    logger: o.logger,
    clock: () => new Date(now()),
  };
  return {
    taskEvents: createTaskEventsHandler(deps),
    watchdog: createWatchdogHandler(deps),
    reconciler: createReconcilerHandler(deps),
    retention: createRetentionHandler({
      catalog: drillRuntime.catalog,
      store: o.store,
      holds: new DynamoSnapshotHolds(dynamo, o.table),
      registry,
      logger: o.logger,
      metrics,
      now: () => new Date(now()),
    }),
    drillScheduler: makeDrillSchedulerHandler(() => drillRuntime),
    drillWatchdog: makeDrillWatchdogHandler(() => drillRuntime),
    report: makeReportHandler(() => drillRuntime, o.env),
    snapshotScheduler: createSnapshotSchedulerHandler(deps),
    snapshotWatch: createSnapshotWatchHandler(deps),
    /** What a manual snapshot request (`lifeboat snapshot`'s job path, local mode's key) goes through. */
    snapshotJobs: jobDeps(deps),
    drillDeps: drillRuntime,
  };
}

export type LocalHandlers = ReturnType<typeof createLocalHandlers>;
