/**
 * The control plane as a table: one entry per Lambda entry in `lambdas/handlers/` — its
 * file, what it may touch, and its size. What triggers it comes from the trigger table
 * (lambdas/contract/triggers.ts), which local mode is wired from too. `Lifeboat` turns each
 * entry into a function, its triggers and its grants.
 *
 * Only strings and plain data: the library never imports handler code.
 *
 * Every handler of `lambdas/handlers/` is deployed (the others there are shared runtime code).
 */
import { Duration } from 'aws-cdk-lib';
import { type HandlerId, TRIGGERS, type Trigger } from '../../lambdas/contract/triggers.js';

export type { ServiceScheduleKind } from '../../lambdas/contract/triggers.js';

/** What a handler may do across the control plane (beyond its logs, traces and failure queue). */
export type SharedAccess =
  /** Items of every service: catalog, drills, policies (the control plane works on all of them). */
  | 'table-read-write'
  /** Only the policy items: `SVC#<service>`/`CONFIG` and `REGISTRY` entries. */
  | 'service-registry-write'
  /** Write the drill reports under `_reports/drills/`. */
  | 'drill-reports-write'
  /** List, read the lock state of, and delete every service's snapshot objects; abort their uploads. */
  | 'snapshots-expire'
  /** Send delayed failover checks to the failover queue. */
  | 'failover-queue-send';

/** What a handler may do with each protected service's ECS resources. */
export type ServiceAccess =
  /** RunTask of the service's task definition in its cluster, and pass its roles to ECS. */
  | 'run-drill-task'
  /** The same for the dump task definition of a service whose snapshots are dumps. */
  | 'run-dump-task'
  /** StopTask of tasks in the service's cluster. */
  | 'stop-drill-task'
  /** ListTasks and DescribeTasks in the service's cluster. */
  | 'read-service-tasks'
  /** Re-point the service's Cloud Map discovery at its primary. */
  | 'publish-primary';

/** Settings a handler reads from its environment beyond the table and the bucket. */
export type HandlerSetting = 'report-max-age' | 'failover-queue';

export interface HandlerDefinition {
  /** Construct id of the function: part of the construct's public contract (logical ids). */
  readonly id: HandlerId;
  /** File in `lambdas/handlers/` that exports `handler`. */
  readonly entry: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly triggers: readonly Trigger[];
  readonly access: readonly SharedAccess[];
  readonly serviceAccess?: readonly ServiceAccess[];
  readonly settings?: readonly HandlerSetting[];
}

export const HANDLERS: readonly HandlerDefinition[] = [
  {
    id: 'ServiceConfig',
    entry: 'service-config.ts',
    description: 'Lifeboat: stores a protected service policy (custom resource of protect())',
    memorySize: 256,
    timeout: Duration.minutes(1),
    triggers: TRIGGERS.ServiceConfig,
    access: ['service-registry-write'],
  },
  {
    id: 'DrillScheduler',
    entry: 'drill-scheduler.ts',
    description: "Lifeboat: starts a service's scheduled restore drill (RunTask in drill mode)",
    memorySize: 512,
    timeout: Duration.minutes(1),
    triggers: TRIGGERS.DrillScheduler,
    access: ['table-read-write'],
    serviceAccess: ['run-drill-task'],
  },
  {
    id: 'DrillWatchdog',
    entry: 'drill-watchdog.ts',
    description: 'Lifeboat: times out drills past their deadline (StopTask) and rewrites their reports',
    memorySize: 512,
    timeout: Duration.minutes(5),
    triggers: TRIGGERS.DrillWatchdog,
    access: ['table-read-write', 'drill-reports-write'],
    serviceAccess: ['stop-drill-task'],
    settings: ['report-max-age'],
  },
  {
    id: 'Report',
    entry: 'report.ts',
    description: "Lifeboat: finalizes a finished drill from its task's STOPPED event and writes the drill reports",
    memorySize: 1024,
    timeout: Duration.minutes(2),
    triggers: TRIGGERS.Report,
    access: ['table-read-write', 'drill-reports-write'],
    settings: ['report-max-age'],
  },
  {
    id: 'Retention',
    entry: 'retention.ts',
    description: "Lifeboat: applies a service's retention policy (two-phase deletion) and reaps dead uploads",
    memorySize: 512,
    // The sweep stops starting new work 30 s before the function's end; the next run resumes.
    timeout: Duration.minutes(15),
    triggers: TRIGGERS.Retention,
    access: ['table-read-write', 'snapshots-expire'],
  },
  {
    id: 'TaskEvents',
    entry: 'task-events.ts',
    description: "Lifeboat: records the protected services' task state changes and starts failovers",
    memorySize: 512,
    timeout: Duration.minutes(1),
    triggers: TRIGGERS.TaskEvents,
    access: ['table-read-write', 'failover-queue-send'],
    serviceAccess: ['publish-primary'],
    settings: ['failover-queue'],
  },
  {
    id: 'Watchdog',
    entry: 'watchdog.ts',
    description: 'Lifeboat: elects primaries when failover waits end or leases run out, and keeps discovery right',
    memorySize: 512,
    timeout: Duration.minutes(2),
    triggers: TRIGGERS.Watchdog,
    access: ['table-read-write', 'failover-queue-send'],
    serviceAccess: ['publish-primary'],
    settings: ['failover-queue'],
  },
  {
    id: 'Reconciler',
    entry: 'reconciler.ts',
    description: 'Lifeboat: makes the members agree with ECS when task events were lost',
    memorySize: 512,
    timeout: Duration.minutes(5),
    triggers: TRIGGERS.Reconciler,
    access: ['table-read-write', 'failover-queue-send'],
    serviceAccess: ['read-service-tasks', 'publish-primary'],
    settings: ['failover-queue'],
  },
  {
    id: 'SnapshotScheduler',
    entry: 'snapshot-scheduler.ts',
    description: "Lifeboat: asks the primary's agent for a scheduled snapshot, or launches the dump task",
    memorySize: 512,
    timeout: Duration.minutes(1),
    triggers: TRIGGERS.SnapshotScheduler,
    access: ['table-read-write'],
    serviceAccess: ['run-dump-task'],
  },
  {
    id: 'SnapshotWatch',
    entry: 'snapshot-watch.ts',
    description: 'Lifeboat: fails snapshot jobs past their deadline and publishes the RPO watch',
    memorySize: 512,
    timeout: Duration.minutes(2),
    triggers: TRIGGERS.SnapshotWatch,
    access: ['table-read-write'],
  },
];
