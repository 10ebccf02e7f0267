/**
 * The trigger table: what invokes each handler of the control plane. The CDK construct
 * (lib/private/handlers.ts, lib/lifeboat.ts, lib/protected-service.ts) builds its rules,
 * schedules and event source mapping from it; local mode (lambdas/local/wiring.ts) wires its
 * event bus, scheduler and queue poller from it. A test compares the two
 * (test/cdk/local-wiring.test.ts). Plain data: durations in seconds, event patterns as
 * EventBridge writes them, schedule inputs with placeholders.
 */

/** `startedBy` of drill tasks starts with this (drill ids: `drill-20261127T081735Z-9f3c2a1b`). */
export const DRILL_STARTED_BY_PREFIX = 'drill-';

/** Placeholder in a schedule's input for the time it fires (EventBridge Scheduler's own context attribute). */
export const SCHEDULED_TIME = '<aws.scheduler.scheduled-time>';
/** Placeholder in a per-service schedule's input for the protected service's name. */
export const SERVICE_NAME = '<lifeboat.service>';

/** The control plane's handlers; the ids are also the functions' construct ids. */
export const HANDLER_IDS = [
  'ServiceConfig',
  'DrillScheduler',
  'DrillWatchdog',
  'Report',
  'Retention',
  'TaskEvents',
  'Watchdog',
  'Reconciler',
  'SnapshotScheduler',
  'SnapshotWatch',
] as const;
export type HandlerId = (typeof HANDLER_IDS)[number];

/** The policy sections that can have a schedule per protected service. */
export type ServiceScheduleKind = 'snapshot' | 'retention' | 'drill';
export const SERVICE_SCHEDULE_KINDS: readonly ServiceScheduleKind[] = ['snapshot', 'retention', 'drill'];

/** An EventBridge event pattern, as EventBridge writes it. */
export type EventPattern = { readonly [field: string]: unknown };

export type Trigger =
  /** ECS "Task State Change" events of the protected clusters, narrowed by `detail`. */
  | { readonly kind: 'ecs-task-state-change'; readonly id: string; readonly description: string; readonly detail?: EventPattern }
  /** One rate schedule for the whole control plane. */
  | { readonly kind: 'schedule'; readonly id: string; readonly description: string; readonly everySeconds: number }
  /** One schedule per protected service with this policy section; the expression comes from the policy. */
  | { readonly kind: 'service-schedule'; readonly policy: ServiceScheduleKind; readonly input: EventPattern }
  /** The provider of `protect()`'s custom resource. */
  | { readonly kind: 'custom-resource' }
  /** The failover queue: delayed "check this service" messages (the failover wait). */
  | { readonly kind: 'failover-queue'; readonly batchSize: number; readonly reportBatchItemFailures: boolean };

export const TRIGGERS: { readonly [id in HandlerId]: readonly Trigger[] } = {
  ServiceConfig: [{ kind: 'custom-resource' }],
  // The scheduled time makes the drill id, so a retried invocation starts the same drill.
  DrillScheduler: [{ kind: 'service-schedule', policy: 'drill', input: { service: SERVICE_NAME, scheduledTime: SCHEDULED_TIME } }],
  DrillWatchdog: [{ kind: 'schedule', id: 'DrillWatchdogSchedule', description: 'Lifeboat: drills past their deadline are timed out', everySeconds: 300 }],
  Report: [
    {
      kind: 'ecs-task-state-change',
      id: 'DrillTaskStoppedRule',
      description: 'Lifeboat: a drill task of a protected cluster stopped',
      detail: { lastStatus: ['STOPPED'], startedBy: [{ prefix: DRILL_STARTED_BY_PREFIX }] },
    },
  ],
  Retention: [{ kind: 'service-schedule', policy: 'retention', input: { service: SERVICE_NAME } }],
  TaskEvents: [{ kind: 'ecs-task-state-change', id: 'TaskStateChangeRule', description: 'Lifeboat: task state changes of the protected clusters' }],
  Watchdog: [
    { kind: 'schedule', id: 'WatchdogSchedule', description: 'Lifeboat: failover check of every protected service', everySeconds: 60 },
    // Each record is checked on its own; a failed one is retried alone.
    { kind: 'failover-queue', batchSize: 10, reportBatchItemFailures: true },
  ],
  Reconciler: [{ kind: 'schedule', id: 'ReconcilerSchedule', description: 'Lifeboat: members reconciled with ECS', everySeconds: 300 }],
  // The scheduled time makes the job id: a retried invocation asks once.
  SnapshotScheduler: [{ kind: 'service-schedule', policy: 'snapshot', input: { service: SERVICE_NAME, scheduledTime: SCHEDULED_TIME } }],
  SnapshotWatch: [
    { kind: 'schedule', id: 'SnapshotWatchSchedule', description: 'Lifeboat: snapshot deadlines and RPO of every protected service', everySeconds: 300 },
  ],
};

/** The failover queue's own settings (the consumer's visibility timeout is a multiple of its timeout). */
export const FAILOVER_QUEUE = { retentionSeconds: 86_400, maxReceiveCount: 5, visibilityTimeoutPerConsumerTimeout: 6 } as const;

export type TriggerOf<K extends Trigger['kind']> = Extract<Trigger, { kind: K }>;

/** Every trigger of one kind, with its handler, in table order. */
export function triggersOf<K extends Trigger['kind']>(kind: K): { handler: HandlerId; trigger: TriggerOf<K> }[] {
  const out: { handler: HandlerId; trigger: TriggerOf<K> }[] = [];
  for (const handler of HANDLER_IDS) for (const t of TRIGGERS[handler]) if (t.kind === kind) out.push({ handler, trigger: t as TriggerOf<K> });
  return out;
}

/** The event pattern of an ECS trigger, before the clusters are added. */
export function ecsTaskEventPattern(trigger: TriggerOf<'ecs-task-state-change'>, clusterArns?: readonly string[]): EventPattern {
  const detail = { ...trigger.detail, ...(clusterArns ? { clusterArn: [...clusterArns] } : {}) };
  return { source: ['aws.ecs'], 'detail-type': ['ECS Task State Change'], detail };
}

/** `rate(1 minute)`, `rate(5 minutes)`, `rate(2 hours)`: the largest whole unit, as Scheduler writes it. */
export function rateExpression(everySeconds: number): string {
  if (!Number.isInteger(everySeconds) || everySeconds < 60) throw new Error(`a rate schedule needs whole seconds, at least 60 (got ${everySeconds})`);
  const units: [number, string][] = [
    [86_400, 'day'],
    [3_600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, unit] of units) {
    if (everySeconds % size === 0) {
      const n = everySeconds / size;
      return `rate(${n} ${unit}${n === 1 ? '' : 's'})`;
    }
  }
  throw new Error(`a rate schedule needs whole minutes (got ${everySeconds} s)`);
}

/** A schedule input with its placeholders filled (the CDK passes Scheduler's own attribute for the time). */
export function renderScheduleInput(input: EventPattern, values: { service: string; scheduledTime: string }): Record<string, unknown> {
  const fill = (v: unknown): unknown => {
    if (v === SERVICE_NAME) return values.service;
    if (v === SCHEDULED_TIME) return values.scheduledTime;
    if (Array.isArray(v)) return v.map(fill);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
    return v;
  };
  return fill(input) as Record<string, unknown>;
}
