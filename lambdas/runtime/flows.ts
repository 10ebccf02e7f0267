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
import { dateClock } from '../domain/clock.js';
import { logWith, serviceMetric } from './observability.js';
import type { Runtime } from './runtime.js';

export type DrillFlowDeps = DrillDeps & FinalizeDeps & WatchdogDeps & ReportDeps & { objects: ObjectStore };
export type DrillRuntime = Pick<Runtime, 'drills' | 'catalog' | 'registry' | 'launcher' | 'objects' | 'drillMetrics' | 'logger' | 'now'>;

/** What starting, finishing, timing out and reporting drills need. */
export function drillFlows(rt: DrillRuntime): DrillFlowDeps {
  return {
    get drills() {
      return rt.drills;
    },
    get catalog() {
      return rt.catalog;
    },
    get registry() {
      return rt.registry;
    },
    get launcher() {
      return rt.launcher;
    },
    get objects() {
      return rt.objects;
    },
    get metrics() {
      return rt.drillMetrics;
    },
    clock: dateClock(rt.now),
    log: logWith(rt.logger),
  };
}

export type RetentionRuntime = Pick<Runtime, 'catalog' | 'objects' | 'holds' | 'now'>;

/** What planning and sweeping retention need. */
export function retentionFlows(rt: RetentionRuntime): RetentionContext {
  return {
    get catalog() {
      return rt.catalog;
    },
    get objects() {
      return rt.objects;
    },
    get holds() {
      return rt.holds;
    },
    now: dateClock(rt.now),
  };
}

export type SnapshotJobRuntime = Pick<Runtime, 'services' | 'jobs' | 'coordination' | 'launcher' | 'now' | 'metrics'>;

/** What requesting, finishing and expiring snapshot jobs need; counts become metrics per service. */
export function snapshotJobFlows(rt: SnapshotJobRuntime): SnapshotJobDeps {
  return {
    policy: (service) => rt.services.policy(service),
    get jobs() {
      return rt.jobs;
    },
    get coordination() {
      return rt.coordination;
    },
    get launcher() {
      return rt.launcher;
    },
    now: rt.now,
    count: (service, metric, value = 1) => serviceMetric(rt, service, metric, MetricUnit.Count, value),
  };
}
