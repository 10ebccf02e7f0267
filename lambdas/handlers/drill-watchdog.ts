/**
 * Lambda entry for the drill watchdog (an EventBridge schedule, every few minutes): drills
 * still running past their deadline are recorded as timed out and their tasks stopped
 * (StopTask); then the reports of the services concerned are rewritten.
 */
import { stopOverdueDrills } from '../control/drills/finalize.js';
import { publishDrillReports } from '../control/drills/reports.js';
import { type DrillRuntime, drillFlows } from '../runtime/flows.js';
import { lambdaEntry } from '../runtime/runtime.js';

export interface DrillWatchdogResult {
  timedOut: { service: string; drillId: string }[];
  stopFailures: number;
}

export function createDrillWatchdogHandler(rt: DrillRuntime) {
  return async function drillWatchdog(_event?: unknown): Promise<DrillWatchdogResult> {
    const flows = drillFlows(rt);
    const result = await stopOverdueDrills(flows);
    const services = [...new Set(result.timedOut.map((d) => d.service))];
    for (const service of services) await publishDrillReports(flows, { service });
    if (result.stopFailures.length > 0) rt.logger.warn('some timed-out drill tasks could not be stopped', { stopFailures: result.stopFailures });
    return { timedOut: result.timedOut.map((d) => ({ service: d.service, drillId: d.drillId })), stopFailures: result.stopFailures.length };
  };
}

export const handler = lambdaEntry(createDrillWatchdogHandler);
