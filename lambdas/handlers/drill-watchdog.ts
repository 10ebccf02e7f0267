/**
 * Lambda entry for the drill watchdog (an EventBridge schedule, every few minutes): drills
 * still running past their deadline are recorded as timed out and their tasks stopped
 * (StopTask), as are the tasks of kept drills (`--keep`) whose window is over; then the
 * reports of the services with timed-out drills are rewritten.
 */
import { stopOverdueDrills } from '../control/drills/finalize.js';
import { publishDrillReports } from '../control/drills/reports.js';
import { type DrillRuntime, drillFlows } from '../runtime/flows.js';
import { lambdaEntry } from '../runtime/runtime.js';

export interface DrillWatchdogResult {
  timedOut: { service: string; drillId: string }[];
  /** Kept drills (`lifeboat drill --keep`) whose task was stopped because their window is over. */
  keptStopped: { service: string; drillId: string }[];
  stopFailures: number;
}

export function createDrillWatchdogHandler(rt: DrillRuntime) {
  return async function drillWatchdog(_event?: unknown): Promise<DrillWatchdogResult> {
    const flows = drillFlows(rt);
    const result = await stopOverdueDrills(flows);
    const services = [...new Set(result.timedOut.map((d) => d.service))];
    for (const service of services) await publishDrillReports(flows, { service });
    if (result.stopFailures.length > 0) rt.logger.warn('some timed-out drill tasks could not be stopped', { stopFailures: result.stopFailures });
    const ids = (ds: readonly { service: string; drillId: string }[] = []) => ds.map((d) => ({ service: d.service, drillId: d.drillId }));
    return { timedOut: ids(result.timedOut), keptStopped: ids(result.keptStopped), stopFailures: result.stopFailures.length };
  };
}

export const handler = lambdaEntry(createDrillWatchdogHandler);
