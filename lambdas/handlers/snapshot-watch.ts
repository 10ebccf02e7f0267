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
import { beginInvocation, flushMetrics, serviceMetric } from './runtime.js';
import { jobDeps, snapshotDeps, type SnapshotHandlerDeps } from './snapshot-runtime.js';

export interface WatchResult {
  services: { service: string; rpo: string; ageSeconds?: number; expiredJobs: string[] }[];
  failed: { service: string; error: string }[];
}

export function createSnapshotWatchHandler(deps: SnapshotHandlerDeps) {
  return async (_event: unknown, context?: Context): Promise<WatchResult> => {
    beginInvocation(deps, undefined, context);
    const result: WatchResult = { services: [], failed: [] };
    try {
      for (const service of await deps.services.registryList()) {
        try {
          const policy = await deps.services.policy(service);
          if (!policy) continue;
          const expired = await expireOverdueJobs(jobDeps(deps), service);
          for (const job of expired) deps.logger.warn('snapshot job missed its deadline', { service, jobId: job.jobId, reason: job.reason });
          const rpo = await watchRpo(deps.catalog, policy, new Date(deps.now()));
          if (rpo.ageSeconds !== undefined) serviceMetric(deps, service, 'NewestSnapshotAgeSeconds', MetricUnit.Seconds, rpo.ageSeconds);
          if (rpo.state !== 'no-target') {
            // The alarm watches this one: 1 while the newest complete snapshot is older than the RPO.
            serviceMetric(deps, service, 'RpoBreached', MetricUnit.Count, rpo.state === 'ok' ? 0 : 1);
            if (rpo.state !== 'ok') deps.logger.warn('RPO breached', { service, ...rpo });
          }
          result.services.push({ service, rpo: rpo.state, ...(rpo.ageSeconds !== undefined ? { ageSeconds: rpo.ageSeconds } : {}), expiredJobs: expired.map((j) => j.jobId) });
        } catch (err) {
          // One service's trouble must not hide the others'.
          deps.logger.error('snapshot watch failed', { service, error: err as Error });
          result.failed.push({ service, error: (err as Error).message });
        }
      }
      if (result.failed.length) deps.metrics.addMetric('CheckErrors', MetricUnit.Count, result.failed.length);
      return result;
    } finally {
      flushMetrics(deps);
    }
  };
}

let entry: ReturnType<typeof createSnapshotWatchHandler> | undefined;

/** Lambda entry point: lambdas/handlers/snapshot-watch.handler */
export const handler = (event: unknown, context: Context) => (entry ??= createSnapshotWatchHandler(snapshotDeps()))(event, context);
