/**
 * Lambda entry for the reconciler (a schedule, e.g. every 5 minutes): for every protected
 * service with an ECS cluster in its policy, make the members agree with ECS (events can
 * be lost), then run the failover check.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { type ReconcileResult, reconcileService } from '../control/reconcile.js';
import { beginInvocation, flushMetrics, reportCheck, serviceMetric } from '../runtime/observability.js';
import { lambdaEntry, type Runtime } from '../runtime/runtime.js';

export interface ReconcilerRun {
  reconciled: ReconcileResult[];
  failed: { service: string; error: string }[];
}

export type ReconcilerRuntime = Pick<Runtime, 'logger' | 'metrics' | 'coordination' | 'services' | 'discovery' | 'timer' | 'ecs' | 'now'>;

export function createReconcilerHandler(rt: ReconcilerRuntime) {
  return async (event: unknown, context?: Context): Promise<ReconcilerRun> => {
    beginInvocation(rt, (event as { id?: string })?.id, context);
    const run: ReconcilerRun = { reconciled: [], failed: [] };
    try {
      for (const service of await rt.services.registryList()) {
        try {
          const policy = await rt.services.policy(service);
          if (!policy) continue;
          const result = await reconcileService(policy, rt);
          run.reconciled.push(result);
          if (result.recorded || result.markedMissing) {
            rt.logger.info('members reconciled with ECS', { service, recorded: result.recorded, markedMissing: result.markedMissing });
            serviceMetric(rt, service, 'ReconciledMembers', MetricUnit.Count, result.recorded + result.markedMissing);
          }
          if (result.check) reportCheck(rt, result.check, 'reconciler');
        } catch (err) {
          rt.logger.error('reconcile failed', { service, error: err as Error });
          run.failed.push({ service, error: (err as Error).message });
        }
      }
      return run;
    } finally {
      if (run.failed.length) rt.metrics.addMetric('CheckErrors', MetricUnit.Count, run.failed.length);
      flushMetrics(rt);
    }
  };
}

/** Lambda entry point: lambdas/handlers/reconciler.handler */
export const handler = lambdaEntry(createReconcilerHandler);
