/**
 * Starting a restore drill: pick the snapshot, write the drill record, launch a fresh task
 * of the service's task definition in drill mode (RunTask), record the task.
 *
 * Idempotent end to end: the record is created with a conditional put, and RunTask carries
 * the drill id as client token and is built only from the record, so a retried start
 * (a Lambda retry, the same schedule firing twice, `lifeboat drill` run again with the same
 * `drillId`) finds the drill it made and, if the launch was not recorded, repeats exactly
 * the same RunTask — which ECS answers with the same task.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import type { SnapshotCatalog } from '../../adapters/catalog.js';
import type { DrillMetrics } from '../../adapters/drill-metrics.js';
import type { DrillStore } from '../../adapters/drill-store.js';
import type { TaskLauncher } from '../../adapters/ecs-launcher.js';
import type { ServiceRegistry } from '../../adapters/service-registry.js';
import {
  ageSeconds,
  assertDrillId,
  buildDrillRunTask,
  DEFAULT_DRILL_TIMEOUT_SECONDS,
  type DrillLaunchSpec,
  type DrillRecord,
  type DrillTrigger,
  deadlineOf,
  drillLaunchSpec,
  formatSeconds,
  launchFailedConclusion,
  MAX_DRILL_KEEP_SECONDS,
  makeDrillId,
  type SnapshotCandidate,
  type SnapshotChoice,
  selectDrillSnapshot,
} from '../../domain/drills.js';
import { LifeboatError, OperationFailedError, SnapshotNotFoundError, UsageError } from '../../domain/errors.js';
import { assertServiceName, isSnapshotId } from '../../domain/ids.js';
import { launchSpecMismatch } from '../../domain/run-task.js';

export interface DrillDeps {
  drills: DrillStore;
  catalog: SnapshotCatalog;
  registry: ServiceRegistry;
  launcher: TaskLauncher;
  /** Injected for tests; defaults to the system clock. */
  clock?: () => Date;
  /** For `random` snapshot selection: a number in [0, 1). */
  random?: () => number;
  /** For drill ids. */
  randomBytes?: (n: number) => Uint8Array;
  metrics?: DrillMetrics;
}

export interface StartDrillRequest {
  service: string;
  /** A snapshot id, `latest` or `random`; default: the policy's `drill.snapshot` (latest). */
  snapshot?: string;
  trigger?: DrillTrigger;
  /** A fixed id makes the start idempotent across retries (the scheduler derives one). */
  drillId?: string;
  /** `--keep`: the drill task stays up this long after the verdict, for inspection. */
  keepSeconds?: number;
}

export interface StartDrillResult {
  drill: DrillRecord;
  /**
   * launched: this call created the drill and launched its task;
   * resumed: the drill existed without a recorded task, and the launch was repeated;
   * existing: the drill already had its task or was finished: nothing was done;
   * launch-failed: ECS refused the task; the drill is recorded as `error`.
   */
  outcome: 'launched' | 'resumed' | 'existing' | 'launch-failed';
  /** How the snapshot was chosen (empty for an existing drill). */
  note: string;
}

/** Complete snapshots of the service, newest first, down to `since` (always at least one). */
async function completeSnapshots(catalog: SnapshotCatalog, service: string, since: number): Promise<SnapshotCandidate[]> {
  const out: SnapshotCandidate[] = [];
  for await (const s of catalog.list(service, { complete: true })) {
    if (out.length > 0 && Date.parse(s.createdAt) < since) break;
    out.push({ id: s.id, createdAt: s.createdAt });
  }
  return out;
}

async function chooseSnapshot(
  deps: DrillDeps,
  service: string,
  requested: string,
  windowDays: number | undefined,
  now: Date,
): Promise<{ choice: SnapshotChoice; newest: SnapshotCandidate }> {
  const random = deps.random ?? Math.random;
  if (requested !== 'latest' && requested !== 'random') {
    if (!isSnapshotId(requested)) {
      throw new UsageError(`--snapshot ${JSON.stringify(requested)} is not a snapshot id, "latest" or "random"`, {
        hint: `list the ids with \`lifeboat snapshots --service ${service}\``,
      });
    }
    const record = await deps.catalog.get(service, requested);
    if (!record) throw new SnapshotNotFoundError(`snapshot ${requested} of service ${service} is not in the catalog`);
    if (record.status !== 'complete') {
      throw new OperationFailedError(`snapshot ${requested} of service ${service} is ${record.status}, not complete; it cannot be drilled`);
    }
    const newest = await deps.catalog.latest(service);
    return {
      choice: { snapshot: { id: record.id, createdAt: record.createdAt }, selection: 'explicit', note: 'snapshot given by id' },
      newest: newest ? { id: newest.id, createdAt: newest.createdAt } : { id: record.id, createdAt: record.createdAt },
    };
  }
  const days = windowDays ?? 7;
  const since = requested === 'random' ? now.getTime() - days * 86_400_000 : Number.POSITIVE_INFINITY;
  const candidates = await completeSnapshots(deps.catalog, service, since);
  const choice = selectDrillSnapshot(candidates, { mode: requested, now, windowDays: days, random });
  if (!choice) {
    throw new OperationFailedError(`service ${service} has no complete snapshot; there is nothing to drill`, {
      hint: 'take one with `lifeboat snapshot` (or wait for the snapshot schedule), then drill',
    });
  }
  return { choice, newest: candidates[0]! };
}

async function launch(deps: DrillDeps, drill: DrillRecord, clock: () => Date, deployed: DrillLaunchSpec): Promise<{ drill: DrillRecord; failed: boolean }> {
  let taskArn: string;
  try {
    // The drill item is in the partition a task can write: launch only what the policy says.
    const mismatch = launchSpecMismatch(drill.launch, deployed);
    if (mismatch) throw new UsageError(`refused to launch drill ${drill.drillId}: ${mismatch}`);
    ({ taskArn } = await deps.launcher.runTask(buildDrillRunTask(drill)));
  } catch (err) {
    // The SDK has already retried with the same client token: the drill cannot run now.
    const message = err instanceof LifeboatError ? err.message : String((err as Error)?.message ?? err);
    const finished = await deps.drills.finish(drill.service, drill.drillId, launchFailedConclusion(drill, message, clock()));
    if (finished.outcome === 'finished') deps.metrics?.drillFinished(finished.drill);
    return { drill: finished.drill ?? drill, failed: true };
  }
  const updated = await deps.drills.recordLaunch(drill.service, drill.drillId, taskArn, clock().toISOString());
  return { drill: updated ?? { ...drill, taskArn }, failed: false };
}

/**
 * Starts a drill of `request.service`. Throws UsageError when the service is not
 * protected or its policy lacks ECS settings, SnapshotNotFoundError for an unknown
 * snapshot id, OperationFailedError when there is no complete snapshot. A refused launch
 * does not throw: the drill is recorded as `error` and returned with `launch-failed`.
 */
export async function startDrill(deps: DrillDeps, request: StartDrillRequest): Promise<StartDrillResult> {
  const clock = deps.clock ?? (() => new Date());
  const service = assertServiceName(request.service);
  if (request.drillId !== undefined) {
    assertDrillId(request.drillId);
    const existing = await deps.drills.get(service, request.drillId);
    if (existing) return resume(deps, existing, clock);
  }
  const policy = await deps.registry.get(service);
  if (!policy) {
    throw new UsageError(`service ${service} is not protected by Lifeboat`, {
      hint: 'protect it with the CDK construct or `lifeboat service put --policy FILE`, or check --service and LIFEBOAT_TABLE',
    });
  }
  const spec = drillLaunchSpec(policy);
  const now = clock();
  const requested = request.snapshot ?? policy.drill.snapshot ?? 'latest';
  const { choice, newest } = await chooseSnapshot(deps, service, requested, policy.drill.randomWindowDays, now);
  const timeoutSeconds = policy.drill.timeoutSeconds ?? DEFAULT_DRILL_TIMEOUT_SECONDS;
  const drillId = request.drillId ?? makeDrillId(now, (deps.randomBytes ?? nodeRandomBytes)(4));
  const drill: DrillRecord = {
    service,
    drillId,
    status: 'running',
    trigger: request.trigger ?? 'manual',
    createdAt: now.toISOString(),
    deadline: deadlineOf(now, timeoutSeconds),
    timeoutSeconds,
    snapshotId: choice.snapshot.id,
    snapshotCreatedAt: choice.snapshot.createdAt,
    selection: choice.selection,
    snapshotAgeSeconds: ageSeconds(choice.snapshot.createdAt, now),
    newestSnapshotId: newest.id,
    rpoSeconds: ageSeconds(newest.createdAt, now),
    targets: { ...policy.targets },
    launch: spec,
    ...(request.keepSeconds !== undefined ? { keep: { seconds: assertKeepSeconds(request.keepSeconds) } } : {}),
  };
  if ((await deps.drills.create(drill)) === 'exists') {
    // Two starts raced on the same fixed id: the other one owns the launch.
    const existing = await deps.drills.get(service, drillId);
    if (existing) return resume(deps, existing, clock);
  }
  const launched = await launch(deps, drill, clock, spec);
  return { drill: launched.drill, outcome: launched.failed ? 'launch-failed' : 'launched', note: choice.note };
}

function assertKeepSeconds(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > MAX_DRILL_KEEP_SECONDS) {
    throw new UsageError(`--keep ${formatSeconds(seconds)} is not between 1 s and ${MAX_DRILL_KEEP_SECONDS / 86_400} days`, {
      hint: 'use a duration like 30m, 1h or 4h; the drill watchdog stops the task when it is over',
    });
  }
  return Math.round(seconds);
}

async function resume(deps: DrillDeps, drill: DrillRecord, clock: () => Date): Promise<StartDrillResult> {
  if (drill.status !== 'running' || drill.taskArn) return { drill, outcome: 'existing', note: '' };
  const policy = await deps.registry.get(drill.service);
  if (!policy) throw new UsageError(`service ${drill.service} is not protected by Lifeboat; drill ${drill.drillId} cannot be launched`);
  const launched = await launch(deps, drill, clock, drillLaunchSpec(policy));
  return { drill: launched.drill, outcome: launched.failed ? 'launch-failed' : 'resumed', note: '' };
}

/**
 * Polls the drill until it is finished (by its task's STOPPED event, or the watchdog) or
 * until `giveUpAt`. `sleep` is injectable so tests do not wait on the wall clock.
 */
export async function waitForDrill(
  drills: DrillStore,
  service: string,
  drillId: string,
  options: { giveUpAt: Date; intervalMs?: number; clock?: () => Date; sleep?: (ms: number) => Promise<void>; signal?: AbortSignal },
): Promise<DrillRecord> {
  const clock = options.clock ?? (() => new Date());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (;;) {
    const drill = await drills.get(service, drillId);
    if (!drill) throw new OperationFailedError(`drill ${drillId} of ${service} does not exist`);
    if (drill.status !== 'running') return drill;
    if (clock().getTime() >= options.giveUpAt.getTime() || options.signal?.aborted) return drill;
    await sleep(options.intervalMs ?? 5000);
  }
}
