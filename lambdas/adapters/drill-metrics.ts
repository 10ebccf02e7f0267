/**
 * Drill metrics as CloudWatch EMF (Powertools Metrics): one EMF document per finished
 * drill, namespace `Lifeboat` (or LIFEBOAT_METRICS_NAMESPACE), dimension `ProtectedService`
 * (contract/metrics.ts), so alarms and dashboards work per service.
 *
 *   DrillsPassed        1 when the drill passed within its targets, else 0
 *   DrillsFailed        1 when it failed a check or timed out, else 0
 *   DrillsOverTarget    1 when it passed but missed the RTO or RPO target, else 0
 *   DrillErrors         1 when it could not run or could not be judged, else 0
 *   DrillAlarm          1 for any of the three above: the metric to alarm on
 *   RestoreSeconds      time the agent took to restore (when it got that far)
 *   RtoSeconds          task start to verified (passed drills)
 *   SnapshotAgeSeconds  age of the drilled snapshot at drill start
 *   RpoSeconds          age of the newest complete snapshot at drill start
 *
 * Every count is emitted as 0 or 1 on every drill, so an alarm sees data, not gaps.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { ENV } from '../contract/environment.js';
import { METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME, SERVICE_DIMENSION } from '../contract/metrics.js';
import type { DrillRecord } from '../domain/drills.js';

export interface DrillMetrics {
  /** Called once per drill, by whoever finishes it. */
  drillFinished(drill: DrillRecord): void;
}

export const DEFAULT_METRICS_NAMESPACE = METRICS_NAMESPACE;

export class PowertoolsDrillMetrics implements DrillMetrics {
  constructor(private readonly namespace: string = process.env[ENV.metricsNamespace] ?? DEFAULT_METRICS_NAMESPACE) {}

  drillFinished(drill: DrillRecord): void {
    // One instance per drill, published at once: each EMF document carries its own service.
    const metrics = new Metrics({ namespace: this.namespace, serviceName: POWERTOOLS_SERVICE_NAME });
    metrics.addDimension(SERVICE_DIMENSION, drill.service);
    const passed = drill.status === 'passed' && drill.withinTargets !== false;
    const overTarget = drill.status === 'passed' && drill.withinTargets === false;
    const failed = drill.status === 'failed' || drill.status === 'timed-out';
    const error = drill.status === 'error';
    metrics.addMetric('DrillsPassed', MetricUnit.Count, passed ? 1 : 0);
    metrics.addMetric('DrillsFailed', MetricUnit.Count, failed ? 1 : 0);
    metrics.addMetric('DrillsOverTarget', MetricUnit.Count, overTarget ? 1 : 0);
    metrics.addMetric('DrillErrors', MetricUnit.Count, error ? 1 : 0);
    metrics.addMetric('DrillAlarm', MetricUnit.Count, passed ? 0 : 1);
    const restore = drill.restoreSeconds ?? drill.agent?.restoreSeconds;
    if (restore !== undefined) metrics.addMetric('RestoreSeconds', MetricUnit.Seconds, restore);
    if (drill.rtoSeconds !== undefined) metrics.addMetric('RtoSeconds', MetricUnit.Seconds, drill.rtoSeconds);
    metrics.addMetric('SnapshotAgeSeconds', MetricUnit.Seconds, drill.snapshotAgeSeconds);
    metrics.addMetric('RpoSeconds', MetricUnit.Seconds, drill.rpoSeconds);
    metrics.addMetadata('drillId', drill.drillId);
    metrics.addMetadata('status', drill.status);
    metrics.publishStoredMetrics();
  }
}

/** For the CLI and tests: metrics go nowhere. */
export const noDrillMetrics: DrillMetrics = { drillFinished: () => undefined };
