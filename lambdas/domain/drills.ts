/**
 * Restore drills, the pure part: drill ids, what a drill record holds, which snapshot a
 * drill restores, the RunTask request that launches it, how a drill task is recognised in
 * an ECS event, and how the task's end (exit code, stop code) and the agent's own result
 * are combined into one outcome with RTO and RPO measured against the service's targets.
 *
 * No SDK, no I/O, no clock: every time is passed in, so every rule here is unit-tested.
 *
 * Outcome words, kept apart on purpose (CI treats them differently):
 * - `passed`: restored, every check passed (it may still be over a target; see `overTarget`);
 * - `failed`: the backup or the service did not pass a check (corrupted file, verify
 *   command exited non-zero, health check never passed);
 * - `error`: the drill could not run or could not be judged (task failed to start, no exit
 *   code, agent result missing or contradicting the exit code, store unreachable);
 * - `timed-out`: still running at its deadline; the watchdog stopped it. Counts as failed.
 */
import { DRILL_STARTED_BY_PREFIX } from '../contract/triggers.js';
import type { CanaryResult, CheckSpec, DatabasePolicy, RecipeName } from './drill-checks.js';
import { type EcsTask, overrideEnvironment } from './ecs-task.js';
import { UsageError } from './errors.js';
import { buildRunTask, type RunTaskRequest, stampedId, type TaskPlacement, taskPlacement } from './run-task.js';
import type { ServicePolicy } from './service-policy.js';

export type DrillStatus = 'running' | 'passed' | 'failed' | 'error' | 'timed-out';
export const FINISHED_DRILL_STATUSES: readonly DrillStatus[] = ['passed', 'failed', 'error', 'timed-out'];

export type DrillTrigger = 'schedule' | 'manual';
/** How the drill's snapshot was chosen. */
export type SnapshotSelection = 'latest' | 'random' | 'explicit';

/** A drill runs at most this long unless the policy says otherwise. */
export const DEFAULT_DRILL_TIMEOUT_SECONDS = 3600;
export const DEFAULT_RANDOM_WINDOW_DAYS = 7;
/** Output kept from each check (the tail), so a drill item stays far below DynamoDB's 400 KB. */
export const DRILL_OUTPUT_LIMIT_BYTES = 8 * 1024;

/** Environment variables the drill task's container receives through RunTask overrides. */
export const DRILL_ENV = {
  mode: 'LIFEBOAT_MODE',
  drillId: 'LIFEBOAT_DRILL_ID',
  snapshotId: 'LIFEBOAT_SNAPSHOT_ID',
  service: 'LIFEBOAT_SERVICE',
  deadline: 'LIFEBOAT_DRILL_DEADLINE',
  verify: 'LIFEBOAT_VERIFY',
  appCommand: 'LIFEBOAT_DRILL_APP',
  healthCommand: 'LIFEBOAT_DRILL_HEALTH_CMD',
  healthUrl: 'LIFEBOAT_DRILL_HEALTH_URL',
  keep: 'LIFEBOAT_DRILL_KEEP_SECONDS',
} as const;

/** `lifeboat drill --keep` without a duration keeps the task this long after the verdict. */
export const DEFAULT_DRILL_KEEP_SECONDS = 3600;
/** The longest a drill task may be kept (a forgotten kept task costs money). */
export const MAX_DRILL_KEEP_SECONDS = 7 * 86_400;
export const DRILL_MODE = 'drill';

// ---------------------------------------------------------------------------------------
// Ids

/**
 * `drill-20261127T081735Z-9f3c2a1b`: sorts by start time as a plain string, and fits
 * ECS `startedBy` (at most 36 letters, digits, '-', '/', '_'; no '.'), which carries it.
 */
const DRILL_ID_WORD = DRILL_STARTED_BY_PREFIX.slice(0, -1);
const DRILL_ID = new RegExp(`^${DRILL_STARTED_BY_PREFIX}(\\d{8}T\\d{6}Z)-([0-9a-f]{8})$`);

export { ECS_STARTED_BY_MAX } from './run-task.js';

export function makeDrillId(at: Date, random: Uint8Array): string {
  return stampedId(DRILL_ID_WORD, at, random);
}

export function isDrillId(id: string): boolean {
  return DRILL_ID.test(id);
}

export function assertDrillId(id: string): string {
  if (!isDrillId(id)) {
    throw new UsageError(`"${id}" is not a drill id`, { hint: 'drill ids look like drill-20261127T081735Z-9f3c2a1b' });
  }
  return id;
}

// ---------------------------------------------------------------------------------------
// Records

export interface DrillTargets {
  rpoSeconds?: number;
  rtoSeconds?: number;
}

/** The built-in steps' names; typed checks (domain/drill-checks.ts) carry their own. */
export type DrillCheckName = 'restore' | 'verify' | 'health' | 'open' | 'canary' | (string & {});

/** One step of the agent's work in the drill task. */
export interface DrillCheck {
  name: DrillCheckName;
  /** What kind of check: the built-in steps, or a typed check's type. */
  type?: 'restore' | 'open' | 'canary' | 'sql' | 'integrity' | 'command' | 'http' | 'health';
  status: 'passed' | 'failed' | 'error' | 'skipped';
  durationSeconds?: number;
  /** The shell command (verify, app health) or URL (health). */
  command?: string;
  exitCode?: number;
  /** The tail of the command's output, at most DRILL_OUTPUT_LIMIT_BYTES. */
  output?: string;
  /** One line saying what happened. */
  message?: string;
}

/** What the agent in the drill task writes to the drill record before it exits. */
export interface DrillAgentResult {
  outcome: 'passed' | 'failed' | 'error';
  /** One line: why it failed, or what passed. */
  reason: string;
  /** The agent's own start (container clock). */
  startedAt: string;
  restoreSeconds?: number;
  /** When the last configured check passed: RTO ends here. */
  readyAt?: string;
  files?: number;
  dataBytes?: number;
  /** Data objects the restore read: distinct packs (v1: parts), and the bytes fetched from them. */
  packsRead?: number;
  bytesRead?: number;
  checks: DrillCheck[];
  /** The recipe's canary: what the snapshot recorded and what the restored database holds. */
  canary?: CanaryResult;
  taskArn?: string;
  reportedAt: string;
}

/** What the drill task is launched with: copied from the policy when the drill starts, so
 *  a retried launch sends exactly the same RunTask request (the client token needs that). */
export interface DrillLaunchSpec extends TaskPlacement {
  verifyCommand?: string;
  appCommand?: string;
  healthCheckCommand?: string;
  healthCheckUrl?: string;
  /** The database recipe and typed checks the drill agent runs (read from the drill record). */
  recipe?: RecipeName;
  database?: DatabasePolicy;
  checks?: CheckSpec[];
}

export interface DrillRecord {
  service: string;
  drillId: string;
  status: DrillStatus;
  trigger: DrillTrigger;
  /** Drill start: when the record was written. RPO is measured here. */
  createdAt: string;
  /** createdAt + timeoutSeconds: the watchdog stops the task after this. */
  deadline: string;
  timeoutSeconds: number;
  snapshotId: string;
  snapshotCreatedAt: string;
  selection: SnapshotSelection;
  /** Age of the drilled snapshot at drill start. */
  snapshotAgeSeconds: number;
  /** Newest complete snapshot at drill start: what a real recovery would have restored. */
  newestSnapshotId: string;
  /** RPO: age of the newest complete snapshot at drill start (equals snapshotAgeSeconds
   *  when the drill restores the newest one). */
  rpoSeconds: number;
  targets: DrillTargets;
  launch: DrillLaunchSpec;
  taskArn?: string;
  launchedAt?: string;
  agent?: DrillAgentResult;

  // Set once, when the drill finishes.
  finishedAt?: string;
  /** `agent`: a kept drill, concluded from the agent's result while its task stays up. */
  finishedBy?: 'task-stopped' | 'watchdog' | 'launch' | 'agent';
  reason?: string;
  exitCode?: number;
  stopCode?: string;
  stoppedReason?: string;
  taskStartedAt?: string;
  taskStoppedAt?: string;
  restoreSeconds?: number;
  /** RTO: task start to the moment the last check passed. Only for passed drills. */
  rtoSeconds?: number;
  overTarget?: ('rto' | 'rpo')[];
  /** Passed and within every target: the only result that counts as proof. */
  withinTargets?: boolean;
  /** `canary`: rpoSeconds is the age of the canary the restored database proved to hold. */
  rpoSource?: 'snapshot' | 'canary';
  /**
   * `lifeboat drill --keep`: the task stays up after the verdict for inspection, `seconds`
   * long; `until` is set with the verdict, `stoppedAt` when the drill watchdog stopped it.
   */
  keep?: DrillKeep;
}

export interface DrillKeep {
  seconds: number;
  until?: string;
  stoppedAt?: string;
}

/** The fields written when a drill finishes. */
export type DrillConclusion = Required<Pick<DrillRecord, 'status' | 'finishedAt' | 'finishedBy' | 'reason' | 'overTarget' | 'withinTargets'>> &
  Pick<DrillRecord, 'exitCode' | 'stopCode' | 'stoppedReason' | 'taskStartedAt' | 'taskStoppedAt' | 'restoreSeconds' | 'rtoSeconds' | 'rpoSource' | 'keep'> & {
    rpoSeconds?: number;
  };

// ---------------------------------------------------------------------------------------
// Snapshot selection

/** The catalog facts selection needs: complete snapshots, newest first. */
export interface SnapshotCandidate {
  id: string;
  createdAt: string;
}

export interface SnapshotChoice {
  snapshot: SnapshotCandidate;
  selection: SnapshotSelection;
  /** Why this one, for messages ("newest complete", "random among 5 of the last 7 days"). */
  note: string;
}

/**
 * Picks the snapshot a drill restores. `latest`: the newest complete one. `random`: one
 * of the complete snapshots created within the last `windowDays` (AWS Backup restore
 * testing's "random within window"), chosen with `random()` in [0, 1) (injected, so tests
 * are deterministic); when the window holds none, the newest complete one. Undefined when
 * there is no complete snapshot at all.
 */
export function selectDrillSnapshot(
  completeNewestFirst: readonly SnapshotCandidate[],
  options: { mode: 'latest' | 'random'; now: Date; windowDays?: number; random: () => number },
): SnapshotChoice | undefined {
  const newest = completeNewestFirst[0];
  if (!newest) return undefined;
  if (options.mode === 'latest') return { snapshot: newest, selection: 'latest', note: 'newest complete snapshot' };
  const days = options.windowDays ?? DEFAULT_RANDOM_WINDOW_DAYS;
  const since = options.now.getTime() - days * 86_400_000;
  const inWindow = completeNewestFirst.filter((s) => Date.parse(s.createdAt) >= since);
  if (inWindow.length === 0) {
    return { snapshot: newest, selection: 'latest', note: `no complete snapshot in the last ${days} days; newest complete snapshot` };
  }
  const r = options.random();
  const index = Math.min(inWindow.length - 1, Math.max(0, Math.floor(r * inWindow.length)));
  return {
    snapshot: inWindow[index]!,
    selection: 'random',
    note: `random among ${inWindow.length} complete snapshot${inWindow.length === 1 ? '' : 's'} of the last ${days} days`,
  };
}

// ---------------------------------------------------------------------------------------
// Launch

/** The launch settings a drill needs from the policy; throws UsageError naming what is missing. */
export function drillLaunchSpec(policy: ServicePolicy): DrillLaunchSpec {
  const drill = policy.drill;
  return {
    ...taskPlacement(policy, { what: 'a drill' }),
    ...(drill.verifyCommand ? { verifyCommand: drill.verifyCommand } : {}),
    ...(drill.app?.command ? { appCommand: drill.app.command } : {}),
    ...(drill.app?.healthCheckCommand ? { healthCheckCommand: drill.app.healthCheckCommand } : {}),
    ...(drill.app?.healthCheckUrl ? { healthCheckUrl: drill.app.healthCheckUrl } : {}),
    ...(policy.recipe ? { recipe: policy.recipe } : {}),
    ...(policy.database ? { database: policy.database } : {}),
    ...(drill.checks?.length ? { checks: drill.checks } : {}),
  };
}

/** A RunTask request as plain data (domain/run-task.ts). */
export type DrillRunTaskRequest = RunTaskRequest;

/**
 * The RunTask request for a drill, built only from the drill record, so that a retry
 * sends the same request: ECS treats a repeated client token with the same parameters as
 * the same launch, and a different one as a conflict. `startedBy` and the client token are
 * the drill id; the container learns drill mode, drill id and snapshot id from its
 * environment. Drill tasks are launched outside the ECS service, so they are never in the
 * service's discovery, and `isDrillTask` keeps them out of membership and elections.
 */
export function buildDrillRunTask(drill: Pick<DrillRecord, 'service' | 'drillId' | 'snapshotId' | 'deadline' | 'launch' | 'keep'>): DrillRunTaskRequest {
  const l = drill.launch;
  const environment: { name: string; value: string }[] = [
    { name: DRILL_ENV.mode, value: DRILL_MODE },
    { name: DRILL_ENV.drillId, value: drill.drillId },
    { name: DRILL_ENV.snapshotId, value: drill.snapshotId },
    { name: DRILL_ENV.service, value: drill.service },
    { name: DRILL_ENV.deadline, value: drill.deadline },
  ];
  if (l.verifyCommand) environment.push({ name: DRILL_ENV.verify, value: l.verifyCommand });
  if (l.appCommand) environment.push({ name: DRILL_ENV.appCommand, value: l.appCommand });
  if (l.healthCheckCommand) environment.push({ name: DRILL_ENV.healthCommand, value: l.healthCheckCommand });
  if (l.healthCheckUrl) environment.push({ name: DRILL_ENV.healthUrl, value: l.healthCheckUrl });
  if (drill.keep) environment.push({ name: DRILL_ENV.keep, value: String(drill.keep.seconds) });
  return buildRunTask(l, drill.drillId, environment);
}

// ---------------------------------------------------------------------------------------
// Recognising drill tasks in ECS events

/**
 * The drill id of a drill task, from `startedBy` or (when something else set `startedBy`)
 * from the `LIFEBOAT_MODE=drill` container override: the drill record its end belongs to.
 * Undefined for any other task, and for a drill task without a valid drill id.
 */
export function drillIdOfTask(task: Pick<EcsTask, 'startedBy' | 'overrides'>): string | undefined {
  if (task.startedBy && isDrillId(task.startedBy)) return task.startedBy;
  const env = overrideEnvironment(task);
  const id = env[DRILL_ENV.drillId];
  return env[DRILL_ENV.mode] === DRILL_MODE && id && isDrillId(id) ? id : undefined;
}

/**
 * True for a restore-drill task: never a member, never primary, never in discovery.
 * Recognised by the drill prefix in `startedBy`, or by the `LIFEBOAT_MODE=drill` override
 * the drill launcher sets (for a drill task whose `startedBy` someone else chose), without
 * asking for a valid drill id: a task someone marked as a drill by hand has none, and
 * keeping a doubtful task out of elections is the safe side (a restored copy of old data
 * must never become primary). Which drill record a task ends is the stricter question
 * drillIdOfTask answers. Takes a member observation, or the agent's own view of its task.
 */
export function isDrillTask(task: { startedBy?: string; overrideEnvironment?: Record<string, string> }): boolean {
  if (task.startedBy?.startsWith(DRILL_STARTED_BY_PREFIX)) return true;
  return task.overrideEnvironment?.[DRILL_ENV.mode] === DRILL_MODE;
}

/** How the drill task ended, read from a STOPPED event detail. */
export interface DrillTaskEnd {
  taskArn: string;
  stopCode?: string;
  stoppedReason?: string;
  /** The drill container's exit code; undefined when ECS reported none. */
  exitCode?: number;
  containerReason?: string;
  startedAt?: string;
  stoppedAt?: string;
}

export function drillTaskEnd(
  detail: Pick<EcsTask, 'taskArn' | 'stopCode' | 'stoppedReason' | 'startedAt' | 'stoppedAt' | 'containers'>,
  containerName: string,
): DrillTaskEnd {
  const containers = detail.containers ?? [];
  const container = containers.find((c) => c.name === containerName) ?? (containers.length === 1 ? containers[0] : undefined);
  const exitCode = typeof container?.exitCode === 'number' ? container.exitCode : undefined;
  return {
    taskArn: detail.taskArn,
    ...(detail.stopCode ? { stopCode: detail.stopCode } : {}),
    ...(detail.stoppedReason ? { stoppedReason: detail.stoppedReason } : {}),
    ...(exitCode !== undefined ? { exitCode } : {}),
    ...(container?.reason ? { containerReason: container.reason } : {}),
    ...(detail.startedAt ? { startedAt: detail.startedAt } : {}),
    ...(detail.stoppedAt ? { stoppedAt: detail.stoppedAt } : {}),
  };
}

// ---------------------------------------------------------------------------------------
// Evaluation

const seconds = (fromIso: string, toIso: string): number => Math.max(0, (Date.parse(toIso) - Date.parse(fromIso)) / 1000);
const round3 = (n: number): number => Math.round(n * 1000) / 1000;

/** Which targets a (passed) drill missed. RPO is judged for every drill, RTO when measured. */
export function targetsMissed(targets: DrillTargets, measured: { rtoSeconds?: number; rpoSeconds: number }): ('rto' | 'rpo')[] {
  const over: ('rto' | 'rpo')[] = [];
  if (targets.rtoSeconds !== undefined && measured.rtoSeconds !== undefined && measured.rtoSeconds > targets.rtoSeconds) over.push('rto');
  if (targets.rpoSeconds !== undefined && measured.rpoSeconds > targets.rpoSeconds) over.push('rpo');
  return over;
}

/**
 * Combines the task's end with the agent's result. The exit code and the agent's result
 * must agree (0 ⇔ passed); only then does the agent's outcome stand. Everything else is an
 * `error` — the drill could not be judged — never a `failed`:
 * - stop code `TaskFailedToStart`: the task never ran;
 * - no exit code for the drill container (killed with its host, never started);
 * - no agent result (the agent crashed or could not reach the table);
 * - the agent says passed but the container exited non-zero, or the other way round.
 */
export function concludeDrill(drill: DrillRecord, end: DrillTaskEnd, now: Date): DrillConclusion {
  const finishedAt = end.stoppedAt ?? now.toISOString();
  const agent = drill.agent;
  const base = {
    finishedAt,
    finishedBy: 'task-stopped' as const,
    ...(end.exitCode !== undefined ? { exitCode: end.exitCode } : {}),
    ...(end.stopCode ? { stopCode: end.stopCode } : {}),
    ...(end.stoppedReason ? { stoppedReason: end.stoppedReason } : {}),
    ...(end.startedAt ? { taskStartedAt: end.startedAt } : {}),
    ...(end.stoppedAt ? { taskStoppedAt: end.stoppedAt } : {}),
    ...(agent?.restoreSeconds !== undefined ? { restoreSeconds: agent.restoreSeconds } : {}),
  };
  const rpoOver = targetsMissed(drill.targets, { rpoSeconds: drill.rpoSeconds });
  const error = (reason: string): DrillConclusion => ({ ...base, status: 'error', reason, overTarget: rpoOver, withinTargets: false });
  const stopped = end.stoppedReason ? ` (${end.stoppedReason})` : '';

  if (end.stopCode === 'TaskFailedToStart') return error(`the drill task failed to start${stopped}`);
  if (end.exitCode === undefined) {
    const why = end.containerReason ? `: ${end.containerReason}` : stopped;
    return error(`the drill container ${drill.launch.containerName} stopped without an exit code${why}`);
  }
  if (!agent) {
    return error(`the drill task exited with code ${end.exitCode} without recording a result${stopped}`);
  }
  const agentPassed = agent.outcome === 'passed';
  if (agentPassed !== (end.exitCode === 0)) {
    return error(`the agent recorded "${agent.outcome}" (${agent.reason}) but the drill container exited with code ${end.exitCode}${stopped}`);
  }
  if (agent.outcome === 'error') return error(agent.reason);
  if (agent.outcome === 'failed') return { ...base, status: 'failed', reason: agent.reason, overTarget: rpoOver, withinTargets: false };

  const rtoStart = end.startedAt ?? agent.startedAt;
  const rtoSeconds = agent.readyAt ? round3(seconds(rtoStart, agent.readyAt)) : undefined;
  // A canary the restored database proved to hold measures the recovery point from the data
  // itself; it counts as the RPO when the drill restored what a recovery would restore.
  const canaryRpo =
    agent.canary?.matches && agent.canary.ageSeconds !== undefined && drill.snapshotId === drill.newestSnapshotId ? round3(agent.canary.ageSeconds) : undefined;
  const rpoSeconds = canaryRpo ?? drill.rpoSeconds;
  const overTarget = targetsMissed(drill.targets, { rtoSeconds, rpoSeconds });
  return {
    ...base,
    status: 'passed',
    reason:
      overTarget.length === 0 ? agent.reason : `${agent.reason}; over target: ${describeOverTarget({ ...drill, rpoSeconds }, { rtoSeconds, overTarget })}`,
    ...(rtoSeconds !== undefined ? { rtoSeconds } : {}),
    ...(canaryRpo !== undefined ? { rpoSeconds: canaryRpo, rpoSource: 'canary' as const } : {}),
    overTarget,
    withinTargets: overTarget.length === 0,
  };
}

function describeOverTarget(drill: DrillRecord, m: { rtoSeconds?: number; overTarget: ('rto' | 'rpo')[] }): string {
  return m.overTarget
    .map((t) =>
      t === 'rto'
        ? `RTO ${formatSeconds(m.rtoSeconds!)} > ${formatSeconds(drill.targets.rtoSeconds!)}`
        : `RPO ${formatSeconds(drill.rpoSeconds)} > ${formatSeconds(drill.targets.rpoSeconds!)}`,
    )
    .join(', ');
}

/**
 * The conclusion of a kept drill (`--keep`), from the agent's result while its task stays
 * up: judged as if the container had exited with the code the agent would exit with (0
 * passed, 1 otherwise), so the same rules apply; the keep window starts now.
 */
export function keptConclusion(drill: DrillRecord, now: Date): DrillConclusion | undefined {
  if (!drill.keep || !drill.agent) return undefined;
  const base = concludeDrill(
    drill,
    { taskArn: drill.taskArn ?? '', exitCode: drill.agent.outcome === 'passed' ? 0 : 1, ...(drill.taskStartedAt ? { startedAt: drill.taskStartedAt } : {}) },
    now,
  );
  return {
    ...base,
    finishedAt: now.toISOString(),
    finishedBy: 'agent',
    keep: { ...drill.keep, until: new Date(now.getTime() + drill.keep.seconds * 1000).toISOString() },
  };
}

/** A kept drill whose keep window is over and whose task has not been stopped yet. */
export function keepExpired(drill: Pick<DrillRecord, 'status' | 'keep'>, now: Date): boolean {
  return drill.status !== 'running' && drill.keep?.until !== undefined && drill.keep.stoppedAt === undefined && Date.parse(drill.keep.until) <= now.getTime();
}

/** The conclusion the watchdog writes for a drill still running at its deadline. */
export function timedOutConclusion(drill: DrillRecord, now: Date): DrillConclusion {
  return {
    status: 'timed-out',
    finishedAt: now.toISOString(),
    finishedBy: 'watchdog',
    reason: `the drill did not finish within ${formatSeconds(drill.timeoutSeconds)} (deadline ${drill.deadline}); its task was stopped`,
    overTarget: targetsMissed(drill.targets, { rpoSeconds: drill.rpoSeconds }),
    withinTargets: false,
    ...(drill.agent?.restoreSeconds !== undefined ? { restoreSeconds: drill.agent.restoreSeconds } : {}),
  };
}

/** The conclusion for a drill whose task could not be launched at all. */
export function launchFailedConclusion(drill: DrillRecord, message: string, now: Date): DrillConclusion {
  return {
    status: 'error',
    finishedAt: now.toISOString(),
    finishedBy: 'launch',
    reason: `the drill task could not be launched: ${message}`,
    overTarget: targetsMissed(drill.targets, { rpoSeconds: drill.rpoSeconds }),
    withinTargets: false,
  };
}

export function isOverdue(drill: Pick<DrillRecord, 'status' | 'deadline'>, now: Date): boolean {
  return drill.status === 'running' && Date.parse(drill.deadline) <= now.getTime();
}

export function deadlineOf(createdAt: Date, timeoutSeconds: number): string {
  return new Date(createdAt.getTime() + timeoutSeconds * 1000).toISOString();
}

export function ageSeconds(fromIso: string, at: Date): number {
  return round3(Math.max(0, (at.getTime() - Date.parse(fromIso)) / 1000));
}

/** 42 s, 4.5 min, 2.0 h, 3.0 d — for messages and reports. */
export function formatSeconds(s: number): string {
  if (s < 100) return `${Number.isInteger(s) ? s : s.toFixed(s < 10 ? 2 : 1)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} d`;
}

/** Starts output whose beginning was dropped. */
export const OUTPUT_CUT_MARKER = '[… earlier output cut]\n';

/** Keeps the tail of `text` within `maxBytes` of UTF-8 (plus the marker), marking the cut. */
export function truncateOutput(text: string, maxBytes = DRILL_OUTPUT_LIMIT_BYTES): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  const marker = OUTPUT_CUT_MARKER;
  // Cutting inside a multi-byte character leaves a replacement char at the start; drop it.
  return (
    marker +
    bytes
      .subarray(bytes.length - maxBytes)
      .toString('utf8')
      .replace(/^\uFFFD+/, '')
  );
}
