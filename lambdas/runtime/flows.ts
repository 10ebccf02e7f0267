/**
 * The control flows' dependencies, cut from a runtime. The one edge where the runtime's
 * clock (epoch ms) becomes the Date clock some flows compute with, and where a flow's
 * counts become the runtime's metrics. Getters keep each adapter unbuilt until the flow uses it.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { ObjectStore } from '../adapters/stores/store.js';
import type { FinalizeDeps, WatchdogDeps } from '../control/drills/finalize.js';
import type { ReportDeps } from '../control/drills/reports.js';
import type { DrillDeps } from '../control/drills/start.js';
import type { RetentionContext } from '../control/retention.js';
import type { SnapshotJobDeps } from '../control/snapshot-jobs.js';
import type { TaskEventDeps } from '../control/task-events.js';
import { dateClock } from '../domain/clock.js';
import { logWith, serviceMetric } from './observability.js';
import type { Runtime } from './runtime.js';

export type DrillFlowDeps = DrillDeps & FinalizeDeps & WatchdogDeps & ReportDeps & { objects: ObjectStore };
export type DrillRuntime = Pick<Runtime, 'drills' | 'catalog' | 'registry' | 'launcher' | 'objects' | 'drillMetrics' | 'logger' | 'now'>;

/** What starting, finishing, timing out and reporting drills need. */
export function drillFlows(rt: DrillRuntime): DrillFlowDeps {
  const deps = Object.assign(lazily(rt, ['drills', 'catalog', 'registry', 'launcher', 'objects']), { clock: dateClock(rt.now), log: logWith(rt.logger) });
  return Object.defineProperty(deps, 'metrics', { get: () => rt.drillMetrics, enumerable: true }) as DrillFlowDeps;
}

export type RetentionRuntime = Pick<Runtime, 'catalog' | 'objects' | 'holds' | 'now'>;

/** What planning and sweeping retention need. */
export function retentionFlows(rt: RetentionRuntime): RetentionContext {
  return Object.assign(lazily(rt, ['catalog', 'objects', 'holds']), { now: dateClock(rt.now) });
}

export type SnapshotJobRuntime = Pick<Runtime, 'services' | 'jobs' | 'coordination' | 'launcher' | 'now' | 'metrics'>;

/** What requesting, finishing and expiring snapshot jobs need; counts become metrics per service. */
export function snapshotJobFlows(rt: SnapshotJobRuntime): SnapshotJobDeps {
  return Object.assign(lazily(rt, ['jobs', 'coordination', 'launcher']), {
    policy: (service: string) => rt.services.policy(service),
    now: rt.now,
    count: (service: string, metric: string, value = 1) => serviceMetric(rt, service, metric, MetricUnit.Count, value),
  });
}

/** What the task-events flow needs; without `jobs`, dump tasks are not followed. */
export type TaskEventRuntime = Pick<Runtime, 'logger' | 'metrics' | 'coordination' | 'services' | 'discovery' | 'timer' | 'now'> &
  Partial<Pick<Runtime, 'jobs'>>;

/** What recording a task's change (member, drill or dump-job task) needs. */
export function taskEventFlows(rt: TaskEventRuntime): TaskEventDeps {
  return Object.assign(lazily(rt, ['coordination', 'services', 'discovery', 'timer', 'jobs']), {
    now: rt.now,
    count: (service: string, metric: string) => serviceMetric(rt, service, metric, MetricUnit.Count, 1),
  });
}

/**
 * `keys` of `source` as getters: the adapter behind each is built when the flow first reads
 * it (spreading a runtime would build all of them).
 */
function lazily<T extends object, K extends keyof T>(source: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const key of keys) Object.defineProperty(out, key, { get: () => source[key], enumerable: true });
  return out;
}
