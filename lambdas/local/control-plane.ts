/**
 * The control plane in one process, for local mode and benchmarks: the same handler
 * functions the Lambdas export, fed directly — ECS-shaped events go to the task-events
 * handler, failover waits become timers that invoke the watchdog with the SQS-shaped
 * message the real queue would deliver, and `tick()` is the watchdog's schedule.
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
