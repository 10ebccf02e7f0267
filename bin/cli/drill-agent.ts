/**
 * `lifeboat drill-agent` (hidden): the agent's drill mode on its own, for drill tasks and
 * end-to-end tests. Every flag defaults to the environment RunTask's overrides set
 * (LIFEBOAT_DRILL_ID, LIFEBOAT_SNAPSHOT_ID, LIFEBOAT_SERVICE, LIFEBOAT_VERIFY, ...), so a
 * drill task's entrypoint can be just `lifeboat drill-agent --dir /data`. `lifeboat agent`
 * runs the same drill mode by itself when LIFEBOAT_MODE=drill; this is for entrypoints
 * without the agent.
 */
import { spawn } from 'node:child_process';
import { type Command, Option } from 'commander';
import type { SnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import type { DrillStore } from '../../lambdas/adapters/drill-store.js';
import { runDrillAgent } from '../../lambdas/agent/drill-mode.js';
import { ENV } from '../../lambdas/contract/environment.js';
import { finalizeKeptDrill } from '../../lambdas/control/drills/finalize.js';
import { DRILL_ENV } from '../../lambdas/domain/drills.js';
import { UsageError } from '../../lambdas/domain/errors.js';
import { type CliIO, dataDir, openCatalog, openDrillStore, openHolds, openObjectStore, serviceName } from './context.js';
import { type CommandResult, positiveNumber } from './options.js';
import { say } from './output.js';

export interface DrillAgentFlags {
  service?: string;
  drill?: string;
  snapshot?: string;
  dir?: string;
  verify?: string;
  verifyTimeout?: number;
  app?: string;
  healthCmd?: string;
  healthUrl?: string;
  startTimeout?: number;
  deadline?: string;
  taskArn?: string;
  table?: string;
  store?: string;
  json?: boolean;
}

export function registerDrillAgent(program: Command, io: CliIO, done: (r: CommandResult) => void): void {
  program
    .command('drill-agent', { hidden: true })
    .description('inside a drill task: restore the drill snapshot into an empty directory, verify it, record the result; exit 0 passed, 1 otherwise')
    .option('--service <name>', `protected service name (env ${DRILL_ENV.service})`)
    .option('--drill <id>', `drill id (env ${DRILL_ENV.drillId})`)
    .option('--snapshot <id>', `snapshot id (env ${DRILL_ENV.snapshotId})`)
    .option('--dir <path>', 'empty directory to restore into (env LIFEBOAT_DIR)')
    .option('--verify <command>', `shell command run in the restored directory; exit 0 = pass (env ${DRILL_ENV.verify})`)
    .option('--verify-timeout <seconds>', 'time limit of the verify command', positiveNumber('--verify-timeout'))
    .option('--app <command>', `start the application with this command after verifying (env ${DRILL_ENV.appCommand})`)
    .option('--health-cmd <command>', `the application is healthy when this exits 0 (env ${DRILL_ENV.healthCommand})`)
    .option('--health-url <url>', `the application is healthy when this answers 2xx (env ${DRILL_ENV.healthUrl})`)
    .option('--start-timeout <seconds>', 'time the application has to become healthy', positiveNumber('--start-timeout'))
    .addOption(new Option('--deadline <iso>', `the drill's deadline (env ${DRILL_ENV.deadline})`))
    .option('--task-arn <arn>', 'this task (env LIFEBOAT_TASK)')
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--store <url>', 's3://bucket/prefix or file:///path (env LIFEBOAT_STORE or LIFEBOAT_BUCKET)')
    .option('--json', 'print the result as one JSON document')
    .action(async (flags: DrillAgentFlags) => {
      done({ exitCode: await runDrillMode(flags, io) });
    });
}

/**
 * Drill mode, shared by `lifeboat agent` (when the task is a drill task) and the hidden
 * `lifeboat drill-agent`: restore, verify, record; returns the exit code (0 passed).
 */
export async function runDrillMode(flags: DrillAgentFlags, io: CliIO): Promise<0 | 1> {
  const env = io.env;
  const drillId = flags.drill ?? env[DRILL_ENV.drillId];
  const snapshotId = flags.snapshot ?? env[DRILL_ENV.snapshotId];
  if (!drillId) throw new UsageError('no drill id given', { hint: `pass --drill ID or set ${DRILL_ENV.drillId}` });
  if (!snapshotId) throw new UsageError('no snapshot id given', { hint: `pass --snapshot ID or set ${DRILL_ENV.snapshotId}` });
  const appCommand = flags.app ?? env[DRILL_ENV.appCommand];
  const healthCheckCommand = flags.healthCmd ?? env[DRILL_ENV.healthCommand];
  const healthCheckUrl = flags.healthUrl ?? env[DRILL_ENV.healthUrl];
  if (appCommand && !healthCheckCommand && !healthCheckUrl) {
    throw new UsageError('--app needs a health check', { hint: 'add --health-cmd CMD or --health-url URL' });
  }
  const drills = openDrillStore(flags, io);
  const catalog = openCatalog(flags, io);
  const run = await runDrillAgent({
    drills,
    catalog,
    objects: openObjectStore(flags, io),
    holds: openHolds(flags, io),
    service: serviceName(flags.service, env) ?? '',
    drillId,
    snapshotId,
    dir: dataDir(flags.dir, env),
    verify: flags.verify ?? env[DRILL_ENV.verify],
    verifyTimeoutMs: flags.verifyTimeout === undefined ? undefined : flags.verifyTimeout * 1000,
    app: appCommand
      ? { command: appCommand, healthCheckCommand, healthCheckUrl, startTimeoutMs: flags.startTimeout === undefined ? undefined : flags.startTimeout * 1000 }
      : undefined,
    deadline: flags.deadline ?? env[DRILL_ENV.deadline],
    taskArn: flags.taskArn ?? env[ENV.task],
    signal: io.signal,
    onNotice: (line) => say(io, line),
  });
  if (flags.json) {
    io.stdout.write(`${JSON.stringify({ drillId, exitCode: run.exitCode, recorded: run.recorded, recordError: run.recordError, ...run.result }, null, 2)}\n`);
  } else {
    io.stdout.write(`${run.result.outcome}\n`);
  }
  say(io, `drill ${drillId} ${run.result.outcome}: ${run.result.reason}`);
  const keepSeconds = Number(env[DRILL_ENV.keep] ?? 0);
  if (keepSeconds > 0 && run.recorded === 'recorded')
    await keepForInspection(io, {
      drills,
      catalog,
      service: serviceName(flags.service, env) ?? '',
      drillId,
      dir: dataDir(flags.dir, env),
      app: appCommand,
      keepSeconds,
    });
  return run.exitCode;
}

/**
 * `lifeboat drill --keep`: the verdict is written now (not when the task stops), then the
 * task stays up with the restored data, the application running again if it has one, until
 * it is stopped (the drill watchdog does once the keep window is over).
 */
async function keepForInspection(
  io: CliIO,
  o: { drills: DrillStore; catalog: SnapshotCatalog; service: string; drillId: string; dir: string; app?: string; keepSeconds: number },
): Promise<void> {
  const r = await finalizeKeptDrill({ drills: o.drills, catalog: o.catalog, log: (m, f) => say(io, `${m} ${JSON.stringify(f)}`) }, o.service, o.drillId);
  say(io, `drill ${o.drillId} ${r.drill?.status ?? '?'}; kept for inspection until ${r.drill?.keep?.until ?? `${o.keepSeconds} s from now`}: data in ${o.dir}`);
  const app = o.app
    ? spawn('/bin/sh', ['-c', o.app], { cwd: o.dir, stdio: 'inherit', detached: true, env: { ...process.env, LIFEBOAT_HOOK: 'app' } })
    : undefined;
  if (app) say(io, `drill ${o.drillId}: application restarted for inspection (pid ${app.pid}): ${o.app}`);
  await new Promise<void>((resolve) => {
    if (io.signal.aborted) return resolve();
    io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  if (app?.pid !== undefined && app.exitCode === null) {
    try {
      process.kill(-app.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
}
