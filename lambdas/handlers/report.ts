/**
 * Lambda entry that writes the drill reports (JSON, JUnit, Markdown, HTML) to the store
 * after each drill. Two kinds of event:
 *
 * - the drill task's ECS "Task State Change" STOPPED event (an EventBridge rule matching
 *   `startedBy` prefix `drill-`): the drill is finalized first — finalizeDrill is
 *   idempotent, so it does not matter whether the task-events handler got there before —
 *   then the reports are written, so a report never misses the drill that triggered it;
 * - `{ "service"?: "db" }` (a schedule, the watchdog, local mode, a manual invoke).
 *
 * LIFEBOAT_REPORT_MAX_AGE (e.g. `26h`) sets the staleness limit of stored reports.
 */
import { z } from 'zod';
import { finalizeDrill } from '../control/drills/finalize.js';
import { publishDrillReports } from '../control/drills/reports.js';
import { EcsTaskStateChangeSchema } from '../domain/ecs-task.js';
import { type DrillRuntime, drillFlows } from '../runtime/flows.js';
import { lambdaEntry, type Runtime } from '../runtime/runtime.js';

const DirectEvent = z.object({ service: z.string().min(1).optional() });

export interface ReportHandlerResult {
  keys: string[];
  verdict: string;
  finalized?: string;
}

export type ReportRuntime = DrillRuntime & Partial<Pick<Runtime, 'reportMaxAgeSeconds'>>;

export function createReportHandler(rt: ReportRuntime) {
  return async function report(event: unknown): Promise<ReportHandlerResult> {
    const flows = drillFlows(rt);
    const maxAgeSeconds = rt.reportMaxAgeSeconds ?? null;
    let service: string | undefined;
    let finalized: string | undefined;
    const taskEvent = EcsTaskStateChangeSchema.safeParse(event);
    if (taskEvent.success) {
      const r = await finalizeDrill(flows, taskEvent.data.detail);
      finalized = r.outcome === 'finalized' ? 'finalized' : r.reason;
      service = r.drill?.service;
    } else {
      const direct = DirectEvent.safeParse(event ?? {});
      if (!direct.success) {
        rt.logger.error('malformed report event; writing the all-services report only', { reason: z.prettifyError(direct.error) });
      } else {
        service = direct.data.service;
      }
    }
    const published = await publishDrillReports(flows, { service, maxAgeSeconds });
    rt.logger.info('drill reports written', { service, keys: published.keys, verdict: published.report.verdict, finalized });
    return { keys: published.keys, verdict: published.report.verdict, ...(finalized ? { finalized } : {}) };
  };
}

export const handler = lambdaEntry(createReportHandler);
