/**
 * Lambda entry for the reconciler (a schedule, e.g. every 5 minutes): for every protected
 * service with an ECS cluster in its policy, make the members agree with ECS (events can
 * be lost), then run the failover check.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { reconcileService, type ReconcileResult } from '../control/reconcile.js';
import { beginInvocation, flushMetrics, reportCheck, runtimeDeps, serviceMetric, type FullDeps } from './runtime.js';

export interface ReconcilerRun {
  reconciled: ReconcileResult[];
  failed: { service: string; error: string }[];
}

export function createReconcilerHandler(deps: FullDeps) {
  return async (event: unknown, context?: Context): Promise<ReconcilerRun> => {
    beginInvocation(deps, (event as { id?: string })?.id, context);
    const run: ReconcilerRun = { reconciled: [], failed: [] };
    try {
      for (const service of await deps.services.registryList()) {
        try {
          const policy = await deps.services.policy(service);
          if (!policy) continue;
          const result = await reconcileService(policy, deps);
          run.reconciled.push(result);
          if (result.recorded || result.markedMissing) {
            deps.logger.info('members reconciled with ECS', { service, recorded: result.recorded, markedMissing: result.markedMissing });
            serviceMetric(deps, service, 'ReconciledMembers', MetricUnit.Count, result.recorded + result.markedMissing);
          }
          if (result.check) reportCheck(deps, result.check, 'reconciler');
        } catch (err) {
          deps.logger.error('reconcile failed', { service, error: err as Error });
          run.failed.push({ service, error: (err as Error).message });
        }
      }
      return run;
    } finally {
      if (run.failed.length) deps.metrics.addMetric('CheckErrors', MetricUnit.Count, run.failed.length);
      flushMetrics(deps);
    }
  };
}

let entry: ReturnType<typeof createReconcilerHandler> | undefined;

/** Lambda entry point: lambdas/handlers/reconciler.handler */
export const handler = (event: unknown, context: Context) => (entry ??= createReconcilerHandler(runtimeDeps()))(event, context);
