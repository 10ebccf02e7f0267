/**
 * Lambda entry for the snapshot watch (a rate schedule): for every protected service, fails
 * snapshot jobs past their deadline (`SnapshotJobsFailed`) and publishes the RPO watch:
 * `NewestSnapshotAgeSeconds` and `RpoBreached` (1 while the newest complete snapshot is older
 * than the service's RPO target, or there is none; the RPO alarm watches it).
 *
 * Environment: LIFEBOAT_TABLE; the SDK's own. IAM: read the table, update job items.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { expireOverdueJobs, watchRpo } from '../control/snapshot-jobs.js';
import { type SnapshotJobRuntime, snapshotJobFlows } from '../runtime/flows.js';
import { beginInvocation, flushMetrics, serviceMetric } from '../runtime/observability.js';
import { lambdaEntry, type Runtime } from '../runtime/runtime.js';

export interface WatchResult {
  services: { service: string; rpo: string; ageSeconds?: number; expiredJobs: string[] }[];
  failed: { service: string; error: string }[];
}

export type SnapshotWatchRuntime = SnapshotJobRuntime & Pick<Runtime, 'logger' | 'catalog'>;

export function createSnapshotWatchHandler(rt: SnapshotWatchRuntime) {
  return async (_event: unknown, context?: Context): Promise<WatchResult> => {
    beginInvocation(rt, undefined, context);
    const result: WatchResult = { services: [], failed: [] };
    try {
      for (const service of await rt.services.registryList()) {
        try {
          const policy = await rt.services.policy(service);
          if (!policy) continue;
          const expired = await expireOverdueJobs(snapshotJobFlows(rt), service);
          for (const job of expired) rt.logger.warn('snapshot job missed its deadline', { service, jobId: job.jobId, reason: job.reason });
          const rpo = await watchRpo(rt.catalog, policy, new Date(rt.now()));
          if (rpo.ageSeconds !== undefined) serviceMetric(rt, service, 'NewestSnapshotAgeSeconds', MetricUnit.Seconds, rpo.ageSeconds);
          if (rpo.state !== 'no-target') {
            // The alarm watches this one: 1 while the newest complete snapshot is older than the RPO.
            serviceMetric(rt, service, 'RpoBreached', MetricUnit.Count, rpo.state === 'ok' ? 0 : 1);
            if (rpo.state !== 'ok') rt.logger.warn('RPO breached', { service, ...rpo });
          }
          result.services.push({
            service,
            rpo: rpo.state,
            ...(rpo.ageSeconds !== undefined ? { ageSeconds: rpo.ageSeconds } : {}),
            expiredJobs: expired.map((j) => j.jobId),
          });
        } catch (err) {
          // One service's trouble must not hide the others'.
          rt.logger.error('snapshot watch failed', { service, error: err as Error });
          result.failed.push({ service, error: (err as Error).message });
        }
      }
      if (result.failed.length) rt.metrics.addMetric('CheckErrors', MetricUnit.Count, result.failed.length);
      return result;
    } finally {
      flushMetrics(rt);
    }
  };
}

/** Lambda entry point: lambdas/handlers/snapshot-watch.handler */
export const handler = lambdaEntry(createSnapshotWatchHandler);
