/**
 * Finishing a drill from its task's `STOPPED` event, and the watchdog for drills that run
 * past their deadline.
 *
 * ECS delivers events at least once and in any order. Finishing is one conditional write
 * on `status = running` (and on the drill's own task), so a duplicate `STOPPED`, one that
 * arrives after the watchdog timed the drill out, or one for another task carrying the
 * same drill id, changes nothing. The write comes first and the side effects (marking the
 * snapshot verified, metrics) after; a redelivered event for a passed drill re-applies the
 * (idempotent) verification, so a crash between the two converges.
 */
import type { SnapshotCatalog } from '../../adapters/catalog.js';
import type { DrillMetrics } from '../../adapters/drill-metrics.js';
import type { DrillStore } from '../../adapters/drill-store.js';
import type { TaskLauncher } from '../../adapters/ecs-launcher.js';
import type { ServiceRegistry } from '../../adapters/service-registry.js';
import {
  concludeDrill,
  DRILL_ENV,
  type DrillRecord,
  drillIdOfTask,
  drillTaskEnd,
  isOverdue,
  keepExpired,
  keptConclusion,
  timedOutConclusion,
} from '../../domain/drills.js';
import { type EcsTask, overrideEnvironment } from '../../domain/ecs-task.js';
import { OperationFailedError } from '../../domain/errors.js';

export interface FinalizeDeps {
  drills: DrillStore;
  catalog: SnapshotCatalog;
  clock?: () => Date;
  metrics?: DrillMetrics;
  /** Structured log lines (the handler passes its Powertools logger). */
  log?: (message: string, fields: Record<string, unknown>) => void;
}

/** What finalizing reads of a drill task's event (domain/ecs-task.ts). */
export type DrillTaskEvent = Pick<
  EcsTask,
  'taskArn' | 'lastStatus' | 'startedBy' | 'stopCode' | 'stoppedReason' | 'startedAt' | 'stoppedAt' | 'containers' | 'overrides'
>;

export type FinalizeResult =
  | { outcome: 'finalized'; drill: DrillRecord; snapshotVerified: boolean }
  | {
      outcome: 'ignored';
      /**
       * not-a-drill: the task is not a drill task (the caller handles it otherwise);
       * not-stopped: the event is not a STOPPED one;
       * unknown-drill: no such drill (or no service to look it up in);
       * already-finished: a duplicate, or the watchdog or another event was first;
       * other-task: the drill has a different task (a stray launch).
       */
      reason: 'not-a-drill' | 'not-stopped' | 'unknown-drill' | 'already-finished' | 'other-task';
      drill?: DrillRecord;
    };

/**
 * Finalizes the drill whose task stopped. `detail` is the `detail` of an ECS "Task State
 * Change" event (parsed by the caller); `service` is only needed when the event carries no
 * container overrides. Safe to call for any event: non-drill tasks and non-STOPPED events
 * come back as `ignored`.
 */
export async function finalizeDrill(deps: FinalizeDeps, detail: DrillTaskEvent, options: { service?: string } = {}): Promise<FinalizeResult> {
  const clock = deps.clock ?? (() => new Date());
  const log = deps.log ?? (() => undefined);
  const drillId = drillIdOfTask(detail);
  if (!drillId) return { outcome: 'ignored', reason: 'not-a-drill' };
  if (detail.lastStatus !== 'STOPPED') return { outcome: 'ignored', reason: 'not-stopped' };
  // The service, from the environment the drill launcher gave the task.
  const service = overrideEnvironment(detail)[DRILL_ENV.service] || options.service;
  if (!service) {
    log('drill task event without a service', { drillId, taskArn: detail.taskArn });
    return { outcome: 'ignored', reason: 'unknown-drill' };
  }
  const drill = await deps.drills.get(service, drillId);
  if (!drill) {
    log('STOPPED event for an unknown drill', { protectedService: service, drillId, taskArn: detail.taskArn });
    return { outcome: 'ignored', reason: 'unknown-drill' };
  }
  if (drill.status !== 'running') {
    const snapshotVerified = await applyVerdict(deps, drill);
    log('drill already finished; event ignored', { protectedService: service, drillId, status: drill.status, snapshotVerified });
    return { outcome: 'ignored', reason: 'already-finished', drill };
  }
  if (drill.taskArn && drill.taskArn !== detail.taskArn) {
    log('STOPPED event for a task that is not the drill task', { protectedService: service, drillId, taskArn: detail.taskArn, drillTask: drill.taskArn });
    return { outcome: 'ignored', reason: 'other-task', drill };
  }
  const conclusion = concludeDrill(drill, drillTaskEnd(detail, drill.launch.containerName), clock());
  const finished = await deps.drills.finish(service, drillId, conclusion, { taskArn: detail.taskArn });
  if (finished.outcome !== 'finished') {
    return {
      outcome: 'ignored',
      reason: finished.outcome === 'other-task' ? 'other-task' : finished.outcome === 'unknown-drill' ? 'unknown-drill' : 'already-finished',
      drill: finished.drill,
    };
  }
  const snapshotVerified = await applyVerdict(deps, finished.drill);
  deps.metrics?.drillFinished(finished.drill);
  log('drill finished', {
    protectedService: service,
    drillId,
    status: finished.drill.status,
    reason: finished.drill.reason,
    rtoSeconds: finished.drill.rtoSeconds,
    rpoSeconds: finished.drill.rpoSeconds,
  });
  return { outcome: 'finalized', drill: finished.drill, snapshotVerified };
}

/**
 * The drill's verdict on its snapshot. A pass proves it restorable: verified (retention
 * keeps the newest verified snapshot). A failure — the data did not restore or verify —
 * withdraws that: the snapshot becomes suspect, so `latest-verified`, restores of `latest`
 * and retention's protection move to the previous good one. (`error` and `timed-out` say
 * nothing about the data and change nothing.) Idempotent, and order-proof: the later of
 * two drills' verdicts stands. True when the snapshot is verified afterwards.
 */
async function applyVerdict(deps: FinalizeDeps, drill: DrillRecord): Promise<boolean> {
  const at = drill.finishedAt ?? (deps.clock ?? (() => new Date()))().toISOString();
  if (drill.status === 'failed') {
    const marked = await deps.catalog.markSuspect(drill.service, drill.snapshotId, at, drill.drillId);
    if (marked)
      deps.log?.('snapshot of a failed drill is suspect; no longer verified', {
        protectedService: drill.service,
        drillId: drill.drillId,
        snapshotId: drill.snapshotId,
      });
    return false;
  }
  if (drill.status !== 'passed') return false;
  const snapshot = await deps.catalog.get(drill.service, drill.snapshotId);
  if (snapshot?.verifiedAt && !snapshot.suspectAt) return true;
  try {
    return await deps.catalog.markVerified(drill.service, drill.snapshotId, at);
  } catch (err) {
    if (err instanceof OperationFailedError) {
      deps.log?.('snapshot of a passed drill could not be marked verified', {
        protectedService: drill.service,
        drillId: drill.drillId,
        snapshotId: drill.snapshotId,
        error: err.message,
      });
      return false;
    }
    throw err;
  }
}

/**
 * Concludes a kept drill (`--keep`) from its agent's result while its task stays up. Called
 * by the agent right after it recorded its result, and by the watchdog for one it missed.
 * Conditional on the drill still running, like every finish.
 */
export async function finalizeKeptDrill(deps: FinalizeDeps, service: string, drillId: string): Promise<FinalizeResult> {
  const drill = await deps.drills.get(service, drillId);
  if (!drill) return { outcome: 'ignored', reason: 'unknown-drill' };
  if (drill.status !== 'running') return { outcome: 'ignored', reason: 'already-finished', drill };
  const conclusion = keptConclusion(drill, (deps.clock ?? (() => new Date()))());
  if (!conclusion) return { outcome: 'ignored', reason: 'not-stopped', drill };
  const finished = await deps.drills.finish(service, drillId, conclusion, drill.taskArn ? { taskArn: drill.taskArn } : {});
  if (finished.outcome !== 'finished') return { outcome: 'ignored', reason: 'already-finished', ...(finished.drill ? { drill: finished.drill } : {}) };
  const snapshotVerified = await applyVerdict(deps, finished.drill);
  deps.metrics?.drillFinished(finished.drill);
  deps.log?.('kept drill finished; its task stays up', { service, drillId, status: finished.drill.status, keepUntil: finished.drill.keep?.until });
  return { outcome: 'finalized', drill: finished.drill, snapshotVerified };
}

/** How far back the watchdog looks for kept drill tasks to stop. */
const KEEP_LOOKBACK = 50;

export interface WatchdogDeps {
  drills: DrillStore;
  registry: ServiceRegistry;
  launcher: TaskLauncher;
  /** To mark the snapshot of a kept drill verified (its agent's own call normally does). */
  catalog?: SnapshotCatalog;
  clock?: () => Date;
  metrics?: DrillMetrics;
  log?: (message: string, fields: Record<string, unknown>) => void;
}

export interface WatchdogResult {
  /** Drills this run recorded as timed out. */
  timedOut: DrillRecord[];
  /** Drill tasks that could not be stopped (the drill is timed out all the same). */
  stopFailures: { service: string; drillId: string; taskArn: string; error: string }[];
  /** Kept drill tasks (`--keep`) stopped because their keep window is over. */
  keptStopped?: DrillRecord[];
}

/**
 * Finds running drills past their deadline, records them as `timed-out` (conditional on
 * still running, so a STOPPED event that finalizes the drill at the same moment wins or
 * loses cleanly) and then stops their tasks with StopTask. Timing out first means the
 * task's own STOPPED event, which follows, finds the drill finished and changes nothing.
 */
export async function stopOverdueDrills(deps: WatchdogDeps, options: { services?: readonly string[] } = {}): Promise<WatchdogResult> {
  const clock = deps.clock ?? (() => new Date());
  const log = deps.log ?? (() => undefined);
  const services = options.services ?? (await deps.registry.list());
  const result: WatchdogResult = { timedOut: [], stopFailures: [] };
  for (const service of services) {
    // Kept drills: conclude one whose agent's own call did not, stop tasks whose keep is over.
    let seen = 0;
    for await (const drill of deps.drills.list(service, { limit: KEEP_LOOKBACK })) {
      if (++seen > KEEP_LOOKBACK) break;
      if (!drill.keep) continue;
      if (drill.status === 'running' && drill.agent) {
        if (deps.catalog)
          await finalizeKeptDrill(
            { drills: deps.drills, catalog: deps.catalog, clock, ...(deps.metrics ? { metrics: deps.metrics } : {}), log },
            service,
            drill.drillId,
          ).catch(() => undefined);
        continue;
      }
      if (!keepExpired(drill, clock()) || !drill.taskArn) continue;
      try {
        await deps.launcher.stopTask(drill.launch.cluster, drill.taskArn, `Lifeboat drill ${drill.drillId}: kept for inspection until ${drill.keep.until}`);
        await deps.drills.markKeepStopped?.(service, drill.drillId, clock().toISOString());
        (result.keptStopped ??= []).push(drill);
        log('kept drill task stopped', { service, drillId: drill.drillId, taskArn: drill.taskArn, keepUntil: drill.keep.until });
      } catch (err) {
        result.stopFailures.push({ service, drillId: drill.drillId, taskArn: drill.taskArn, error: (err as Error)?.message ?? String(err) });
      }
    }
    for await (const drill of deps.drills.list(service, { running: true })) {
      const now = clock();
      if (!isOverdue(drill, now)) continue;
      const finished = await deps.drills.finish(service, drill.drillId, timedOutConclusion(drill, now));
      if (finished.outcome !== 'finished') continue;
      result.timedOut.push(finished.drill);
      deps.metrics?.drillFinished(finished.drill);
      log('drill timed out', { protectedService: service, drillId: drill.drillId, deadline: drill.deadline, taskArn: drill.taskArn });
      if (!drill.taskArn) continue;
      try {
        await deps.launcher.stopTask(drill.launch.cluster, drill.taskArn, `Lifeboat drill ${drill.drillId} timed out (deadline ${drill.deadline})`);
      } catch (err) {
        const error = (err as Error)?.message ?? String(err);
        result.stopFailures.push({ service, drillId: drill.drillId, taskArn: drill.taskArn, error });
        log('drill task could not be stopped', { protectedService: service, drillId: drill.drillId, taskArn: drill.taskArn, error });
      }
    }
  }
  return result;
}
