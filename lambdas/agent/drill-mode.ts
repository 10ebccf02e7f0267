/**
 * The agent's drill mode: what runs inside a drill task.
 *
 * 1. Restore the drill's snapshot into an empty directory (every checksum verified by the
 *    restore engine), timing it.
 * 2. Run the service's verify command in that directory (exit 0 = pass), keeping the tail
 *    of its output.
 * 3. If configured, start the application and wait for its health check (a command that
 *    exits 0, or a URL that answers 2xx), then stop it.
 * 4. Write the result to the drill record — accepted only while the drill is still
 *    running — and return exit code 0 (passed) or 1 (anything else).
 *
 * The agent never decides the drill's final status: the task's STOPPED event does, by
 * matching this result with the container's exit code (drills/finalize.ts). A drill task
 * is never a member, never primary, and never heartbeats.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { SnapshotCatalog } from '../adapters/catalog.js';
import type { AgentResultOutcome, DrillStore } from '../adapters/drill-store.js';
import type { SnapshotHolds } from '../adapters/snapshot-holds.js';
import type { ObjectStore } from '../adapters/stores/store.js';
import {
  assertDrillId,
  DRILL_ENV,
  DRILL_OUTPUT_LIMIT_BYTES,
  type DrillAgentResult,
  type DrillCheck,
  formatSeconds,
  OUTPUT_CUT_MARKER,
  truncateOutput,
} from '../domain/drills.js';
import { AbortedError, LifeboatError, TargetBusyError, UsageError } from '../domain/errors.js';
import { assertServiceName, isSnapshotId } from '../domain/ids.js';
import { runCommand } from '../engine/hooks.js';
import { restoreSnapshot } from '../engine/restore.js';

export interface DrillAppOptions {
  /** Shell command that runs the application in the foreground. */
  command: string;
  healthCheckCommand?: string;
  healthCheckUrl?: string;
  /** Not healthy within this long: the drill fails. Default 300 s (bounded by the deadline). */
  startTimeoutMs?: number;
  /** Between health checks. Default 1 s. */
  pollIntervalMs?: number;
}

export interface DrillAgentOptions {
  drills: DrillStore;
  catalog: SnapshotCatalog;
  objects: ObjectStore;
  service: string;
  drillId: string;
  snapshotId: string;
  /** Restored into; must be missing or empty (a fresh task's data directory). */
  dir: string;
  /** Shell command run in `dir` after the restore; exit 0 = pass. None: the verified restore is the check. */
  verify?: string;
  /** Default: what is left until the deadline, else 10 minutes. */
  verifyTimeoutMs?: number;
  app?: DrillAppOptions;
  /** The drill's deadline (ISO); time limits never reach past it. */
  deadline?: string;
  taskArn?: string;
  /** Injected for tests; default the system clock. Every recorded time and duration uses it. */
  clock?: () => Date;
  signal?: AbortSignal;
  onNotice?: (line: string) => void;
  /** Health-check URL fetcher; default global fetch. */
  fetch?: typeof fetch;
  /** When given, the restore holds a snapshot hold (holder = drill id) so retention cannot delete the snapshot under it. */
  holds?: SnapshotHolds;
}

export interface DrillAgentRun {
  exitCode: 0 | 1;
  result: DrillAgentResult;
  /** What the drill record said to the result (`failed`: it could not be written). */
  recorded: AgentResultOutcome | 'failed';
  recordError?: string;
}

const DEFAULT_VERIFY_TIMEOUT_MS = 10 * 60 * 1000;
const DEFAULT_START_TIMEOUT_MS = 5 * 60 * 1000;
const HEALTH_CHECK_TIMEOUT_MS = 10_000;

const secondsBetween = (a: Date, b: Date) => Math.round(Math.max(0, b.getTime() - a.getTime())) / 1000;

/**
 * Runs the drill inside the drill task and records its result. Never throws for a drill
 * that fails or cannot run: that is the result. Throws only for bad options (UsageError).
 */
export async function runDrillAgent(options: DrillAgentOptions): Promise<DrillAgentRun> {
  const clock = options.clock ?? (() => new Date());
  const notice = options.onNotice ?? (() => undefined);
  const service = assertServiceName(options.service);
  assertDrillId(options.drillId);
  if (!isSnapshotId(options.snapshotId)) {
    throw new UsageError(`drill ${options.drillId} was given ${JSON.stringify(options.snapshotId)} as its snapshot, which is not a snapshot id`, {
      hint: `pass --snapshot ID (or set ${DRILL_ENV.snapshotId}); the drill record names the snapshot`,
    });
  }
  const startedAt = clock();
  const checks: DrillCheck[] = [];
  const remainingMs = () => (options.deadline ? Math.max(1000, Date.parse(options.deadline) - clock().getTime()) : Number.POSITIVE_INFINITY);
  const result = (outcome: DrillAgentResult['outcome'], reason: string, extra: Partial<DrillAgentResult> = {}): DrillAgentResult => ({
    outcome,
    reason,
    startedAt: startedAt.toISOString(),
    checks,
    ...(options.taskArn ? { taskArn: options.taskArn } : {}),
    ...extra,
    reportedAt: clock().toISOString(),
  });

  const outcome = await (async (): Promise<DrillAgentResult> => {
    // 1. Restore.
    notice(`drill ${options.drillId}: restoring snapshot ${options.snapshotId} of ${service} into ${options.dir}`);
    const restoreStart = clock();
    let restored;
    try {
      restored = await restoreSnapshot({
        catalog: options.catalog,
        store: options.objects,
        service,
        dir: options.dir,
        snapshot: options.snapshotId,
        signal: options.signal,
        onNotice: notice,
        ...(options.holds ? { use: { holds: options.holds, holder: options.drillId, purpose: 'drill' as const } } : {}),
      });
    } catch (err) {
      const durationSeconds = secondsBetween(restoreStart, clock());
      const message = messageOf(err);
      // A corrupted or missing backup is the drill failing; anything else (a full disk or an
      // unwritable directory: EnvironmentError, exit 4; another restore holding the
      // directory; an abort) means it could not run.
      const failed = err instanceof LifeboatError && err.exitCode === 1 && !(err instanceof AbortedError) && !(err instanceof TargetBusyError);
      checks.push({ name: 'restore', status: failed ? 'failed' : 'error', durationSeconds, message });
      return result(failed ? 'failed' : 'error', `restore of snapshot ${options.snapshotId} ${failed ? 'failed' : 'could not run'}: ${message}`, {
        restoreSeconds: durationSeconds,
      });
    }
    if (restored.status !== 'restored') {
      checks.push({ name: 'restore', status: 'error', message: restored.message });
      return result('error', `restore did not run: ${restored.message}`);
    }
    const restoreSeconds = secondsBetween(restoreStart, clock());
    const restoreFacts = { restoreSeconds, files: restored.files, dataBytes: restored.bytes };
    checks.push({
      name: 'restore',
      status: 'passed',
      durationSeconds: restoreSeconds,
      message: `${restored.files} files, ${restored.bytes} bytes, every checksum verified`,
    });
    notice(`drill ${options.drillId}: restored ${restored.files} files in ${formatSeconds(restoreSeconds)}`);

    const env = {
      LIFEBOAT_SERVICE: service,
      LIFEBOAT_DIR: restored.dir,
      LIFEBOAT_SNAPSHOT_ID: options.snapshotId,
      LIFEBOAT_DRILL_ID: options.drillId,
    };

    // 2. Verify.
    if (options.verify) {
      const verifyStart = clock();
      const timeoutMs = Math.min(options.verifyTimeoutMs ?? DEFAULT_VERIFY_TIMEOUT_MS, remainingMs());
      const run = await runCommand(options.verify, {
        name: 'verify command',
        cwd: restored.dir,
        env: { ...env, LIFEBOAT_HOOK: 'verify' },
        timeoutMs,
        maxOutputBytes: DRILL_OUTPUT_LIMIT_BYTES,
        signal: options.signal,
      }).catch((err: unknown) => ({ exitCode: 127, output: messageOf(err), outputBytes: 0, durationMs: 0 }));
      const durationSeconds = secondsBetween(verifyStart, clock());
      const passed = run.exitCode === 0;
      const timedOut = run.exitCode === 124 && /\[timed out after/.test(run.output);
      const message = passed ? 'exited 0' : timedOut ? `timed out after ${formatSeconds(Math.round(timeoutMs / 1000))}` : `exited with code ${run.exitCode}`;
      const output = run.outputBytes > Buffer.byteLength(run.output) ? `${OUTPUT_CUT_MARKER}${run.output}` : run.output;
      checks.push({
        name: 'verify',
        status: passed ? 'passed' : 'failed',
        durationSeconds,
        command: options.verify,
        exitCode: run.exitCode,
        output: truncateOutput(output),
        message,
      });
      if (!passed) return result('failed', `verify command \`${options.verify}\` ${message}${lastLine(run.output)}`, restoreFacts);
      notice(`drill ${options.drillId}: verify command passed in ${formatSeconds(durationSeconds)}`);
    }

    // 3. The application and its health check.
    if (options.app) {
      const health = await appHealthCheck(options.app, { cwd: restored.dir, env, clock, remainingMs, signal: options.signal, fetch: options.fetch ?? fetch });
      checks.push(health.check);
      if (health.check.status !== 'passed') return result('failed', `application health check failed: ${health.check.message}`, restoreFacts);
      notice(`drill ${options.drillId}: application healthy after ${formatSeconds(health.check.durationSeconds ?? 0)}`);
    }
    const what = [options.verify ? 'verify command passed' : undefined, options.app ? 'application healthy' : undefined].filter(Boolean).join(', ');
    return result('passed', `restored ${restored.files} files in ${formatSeconds(restoreSeconds)}${what ? `; ${what}` : '; every checksum verified'}`, {
      ...restoreFacts,
      readyAt: clock().toISOString(),
    });
  })();

  // 4. Record: only a running drill accepts it (a drill the watchdog timed out does not).
  let recorded: DrillAgentRun['recorded'];
  let recordError: string | undefined;
  try {
    recorded = await options.drills.recordAgentResult(service, options.drillId, outcome);
  } catch (err) {
    recorded = 'failed';
    recordError = messageOf(err);
  }
  if (recorded !== 'recorded') notice(`drill ${options.drillId}: result not recorded (${recorded}${recordError ? `: ${recordError}` : ''})`);
  return { exitCode: outcome.outcome === 'passed' && recorded === 'recorded' ? 0 : 1, result: outcome, recorded, ...(recordError ? { recordError } : {}) };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function lastLine(output: string): string {
  const line = output.trim().split('\n').pop()?.trim();
  return line ? `: ${line.length > 200 ? `${line.slice(0, 200)}…` : line}` : '';
}

interface HealthContext {
  cwd: string;
  env: Record<string, string>;
  clock: () => Date;
  remainingMs: () => number;
  signal?: AbortSignal;
  fetch: typeof fetch;
}

/** Starts the app, polls its health check until it passes, the app exits, or time runs out; stops the app. */
async function appHealthCheck(app: DrillAppOptions, ctx: HealthContext): Promise<{ check: DrillCheck }> {
  const started = ctx.clock();
  const timeoutMs = Math.min(app.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS, ctx.remainingMs());
  // Time limits run on the real clock; the injected one only stamps what is recorded.
  const giveUpAt = Date.now() + timeoutMs;
  const what = [app.healthCheckCommand ? `\`${app.healthCheckCommand}\`` : undefined, app.healthCheckUrl].filter(Boolean).join(' and ');
  const child = spawn('/bin/sh', ['-c', app.command], {
    cwd: ctx.cwd,
    env: { ...process.env, ...ctx.env, LIFEBOAT_HOOK: 'app' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const keep = (b: Buffer) => {
    output = truncateOutput(output + b.toString('utf8'));
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: string | undefined;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', (err) => {
      spawnError = err.message;
      exited ??= { code: 127, signal: null };
      resolve();
    });
  });
  const check = (status: DrillCheck['status'], message: string, lastOutput = output): { check: DrillCheck } => ({
    check: {
      name: 'health',
      status,
      durationSeconds: secondsBetween(started, ctx.clock()),
      command: what,
      message,
      ...(lastOutput ? { output: truncateOutput(lastOutput) } : {}),
    },
  });
  try {
    let lastProbe = '';
    for (;;) {
      if (ctx.signal?.aborted) return check('error', 'interrupted');
      if (exited) {
        return check(
          'failed',
          spawnError
            ? `the application could not start: ${spawnError}`
            : `the application exited (${exited.signal ?? `code ${exited.code}`}) before it was healthy`,
        );
      }
      const probe = await probeHealth(app, ctx);
      if (probe.healthy) return check('passed', `healthy (${probe.detail})`);
      lastProbe = probe.detail;
      if (Date.now() >= giveUpAt) return check('failed', `not healthy within ${formatSeconds(Math.round(timeoutMs / 1000))}; last check: ${lastProbe}`);
      await Promise.race([new Promise((r) => setTimeout(r, app.pollIntervalMs ?? 1000)), exitedPromise]);
    }
  } finally {
    await stopProcessGroup(child, exitedPromise, () => exited !== undefined);
  }
}

async function probeHealth(app: DrillAppOptions, ctx: HealthContext): Promise<{ healthy: boolean; detail: string }> {
  const details: string[] = [];
  if (app.healthCheckCommand) {
    const r = await runCommand(app.healthCheckCommand, {
      name: 'health check',
      cwd: ctx.cwd,
      env: ctx.env,
      timeoutMs: HEALTH_CHECK_TIMEOUT_MS,
      maxOutputBytes: 1024,
    }).catch((err: unknown) => ({
      exitCode: 127,
      output: messageOf(err),
    }));
    if (r.exitCode !== 0) return { healthy: false, detail: `\`${app.healthCheckCommand}\` exited ${r.exitCode}${lastLine(r.output)}` };
    details.push(`\`${app.healthCheckCommand}\` exited 0`);
  }
  if (app.healthCheckUrl) {
    try {
      const res = await ctx.fetch(app.healthCheckUrl, { signal: AbortSignal.timeout(HEALTH_CHECK_TIMEOUT_MS), redirect: 'manual' });
      await res.body?.cancel();
      if (res.status < 200 || res.status > 299) return { healthy: false, detail: `GET ${app.healthCheckUrl} answered ${res.status}` };
      details.push(`GET ${app.healthCheckUrl} answered ${res.status}`);
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      return { healthy: false, detail: `GET ${app.healthCheckUrl} failed: ${cause ?? messageOf(err)}` };
    }
  }
  return { healthy: true, detail: details.join(', ') };
}

/** SIGTERM to the app's process group, SIGKILL if it lingers. */
async function stopProcessGroup(child: ChildProcess, exited: Promise<void>, hasExited: () => boolean): Promise<void> {
  if (hasExited() || child.pid === undefined) return;
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      child.kill(sig);
    }
  };
  signalGroup('SIGTERM');
  const timer = setTimeout(() => signalGroup('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
