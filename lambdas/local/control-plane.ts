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
import type { PrimaryDiscovery } from '../adapters/discovery.js';
import type { FailoverCheck, FailoverTimer } from '../adapters/failover-timer.js';
import { ENV, type Env } from '../contract/environment.js';
import type { HandlerId } from '../contract/triggers.js';
import type { Clock } from '../domain/clock.js';
import { createDrillSchedulerHandler } from '../handlers/drill-scheduler.js';
import { createDrillWatchdogHandler } from '../handlers/drill-watchdog.js';
import { createReconcilerHandler } from '../handlers/reconciler.js';
import { createReportHandler } from '../handlers/report.js';
import { createRetentionHandler } from '../handlers/retention.js';
import { createServiceConfigHandler } from '../handlers/service-config.js';
import { createSnapshotSchedulerHandler } from '../handlers/snapshot-scheduler.js';
import { createSnapshotWatchHandler } from '../handlers/snapshot-watch.js';
import { createTaskEventsHandler } from '../handlers/task-events.js';
import { createWatchdogHandler } from '../handlers/watchdog.js';
import { drillFlows, snapshotJobFlows } from '../runtime/flows.js';
import { createRuntime, type Runtime } from '../runtime/runtime.js';

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
  env?: Env;
  discovery?: PrimaryDiscovery;
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  now?: Clock;
}

export interface LocalControlPlane {
  /** Hands an EventBridge-shaped event to the task-events handler, as the event bus would. */
  publishTaskEvent(event: unknown): ReturnType<ReturnType<typeof createTaskEventsHandler>>;
  /** One scheduled watchdog run. */
  tick(): ReturnType<ReturnType<typeof createWatchdogHandler>>;
  stop(): void;
}

/** Metrics would print EMF lines to stdout, which the status view owns; CloudWatch is not here anyway. */
export function quietMetrics(): Metrics {
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  return new Metrics({ namespace: 'Lifeboat', serviceName: 'lifeboat' });
}

export function createLocalControlPlane(o: LocalControlPlaneOptions): LocalControlPlane {
  const now = o.now ?? Date.now;
  let watchdog: ReturnType<typeof createWatchdogHandler>;
  const timer = new LocalFailoverTimer((event) => watchdog(event));
  const rt = createRuntime(
    { ...(o.env ?? process.env), [ENV.table]: o.table },
    { logger: new Logger({ serviceName: 'lifeboat', logLevel: o.logLevel ?? 'WARN' }), metrics: quietMetrics(), timer, discovery: o.discovery, now },
  );
  watchdog = createWatchdogHandler(rt);
  const taskEvents = createTaskEventsHandler(rt);
  return {
    publishTaskEvent: (event) => taskEvents(event),
    tick: () => watchdog({ id: `local-schedule-${now()}`, source: 'aws.events', 'detail-type': 'Scheduled Event' }),
    stop: () => timer.stop(),
  };
}

/** A handler as local mode invokes it: an event in, whatever the handler returns out. */
export type LocalHandler = (event: unknown) => Promise<unknown>;

/** Every Lambda handler of the control plane over one local runtime, by handler id (the trigger table's). */
export function createLocalHandlers(rt: Runtime) {
  const handlers = {
    ServiceConfig: createServiceConfigHandler(rt),
    TaskEvents: createTaskEventsHandler(rt),
    Watchdog: createWatchdogHandler(rt),
    Reconciler: createReconcilerHandler(rt),
    Retention: createRetentionHandler(rt),
    DrillScheduler: createDrillSchedulerHandler(rt),
    DrillWatchdog: createDrillWatchdogHandler(rt),
    Report: createReportHandler(rt),
    SnapshotScheduler: createSnapshotSchedulerHandler(rt),
    SnapshotWatch: createSnapshotWatchHandler(rt),
  } satisfies Record<HandlerId, LocalHandler>;
  return {
    runtime: rt,
    handlers,
    /** What a manual snapshot request (local mode's key) goes through. */
    snapshotJobs: snapshotJobFlows(rt),
    /** What a manual drill goes through. */
    drills: drillFlows(rt),
  };
}

export type LocalHandlers = ReturnType<typeof createLocalHandlers>;
