/** `lifeboat drill`: start a restore drill of a service (and optionally wait for its verdict). */
import { type Command, Option } from 'commander';
import { startDrill, waitForDrill } from '../../lambdas/control/drills/start.js';
import { drillVerdict } from '../../lambdas/domain/drill-report.js';
import { DEFAULT_DRILL_KEEP_SECONDS, type DrillRecord, formatSeconds } from '../../lambdas/domain/drills.js';
import type { ExitCode } from '../../lambdas/domain/errors.js';
import { assertServiceName } from '../../lambdas/domain/ids.js';
import { resolveAt } from './at.js';
import { type CliIO, openCatalog, openDrillStore, openLauncher, openRegistry, serviceName } from './context.js';
import { type CommandResult, durationMs, positiveNumber } from './options.js';
import { say } from './output.js';

interface DrillFlags {
  service?: string;
  snapshot?: string;
  at?: string;
  tz?: string;
  keep?: number | true;
  wait?: boolean;
  poll: number;
  table?: string;
  json?: boolean;
}

/** After the deadline, the watchdog (every few minutes) times the drill out; wait that long more. */
const WAIT_GRACE_MS = 10 * 60 * 1000;

/** 0 passed within targets; 1 failed, timed out or over target; 3 could not run or still running. */
export function drillExitCode(drill: DrillRecord): ExitCode {
  switch (drillVerdict(drill)) {
    case 'pass':
      return 0;
    case 'fail':
    case 'timed-out':
    case 'over-target':
      return 1;
    default:
      return 3;
  }
}

function document(drill: DrillRecord, extra: Record<string, unknown>) {
  return {
    drillId: drill.drillId,
    service: drill.service,
    status: drill.status,
    verdict: drillVerdict(drill),
    ...extra,
    snapshotId: drill.snapshotId,
    snapshotCreatedAt: drill.snapshotCreatedAt,
    selection: drill.selection,
    createdAt: drill.createdAt,
    deadline: drill.deadline,
    taskArn: drill.taskArn ?? null,
    finishedAt: drill.finishedAt ?? null,
    reason: drill.reason ?? null,
    keep: drill.keep ?? null,
    exitCode: drill.exitCode ?? null,
    stopCode: drill.stopCode ?? null,
    restoreSeconds: drill.restoreSeconds ?? drill.agent?.restoreSeconds ?? null,
    rtoSeconds: drill.rtoSeconds ?? null,
    rpoSeconds: drill.rpoSeconds,
    snapshotAgeSeconds: drill.snapshotAgeSeconds,
    targets: drill.targets,
    overTarget: drill.overTarget ?? [],
    withinTargets: drill.withinTargets ?? null,
  };
}

export function registerDrill(program: Command, io: CliIO, done: (r: CommandResult) => void): void {
  program
    .command('drill')
    .description("start a restore drill: a fresh task of the service's task definition restores a snapshot and runs its verify command; prints the drill id")
    .option('--service <name>', 'protected service name (env LIFEBOAT_SERVICE)')
    .option('--snapshot <id>', 'snapshot id, "latest" or "random" (default: the policy\'s drill.snapshot, else latest)')
    .option('--at <time>', 'drill the newest complete snapshot taken at or before TIME: ISO time, 2h, yesterday 18:00 (see --tz)')
    .option('--tz <zone>', "IANA time zone of --at times without an offset (default: this machine's)")
    .option(
      '--keep [duration]',
      'incident mode: keep the drill task running after the verdict for inspection (default 1h; the drill watchdog stops it then)',
      durationMs('--keep'),
    )
    .option('--wait', 'wait for the verdict: exit 0 passed, 1 failed/timed out/over target, 3 could not run')
    .addOption(new Option('--poll <seconds>', 'how often --wait looks').argParser(positiveNumber('--poll')).default(5).hideHelp())
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--json', 'print one JSON document')
    .action(async (flags: DrillFlags) => {
      const service = assertServiceName(serviceName(flags.service, io.env));
      const drills = openDrillStore(flags, io);
      const catalog = openCatalog(flags, io);
      const pointInTime = await resolveAt(io, catalog, service, flags);
      const started = await startDrill(
        { drills, catalog, registry: openRegistry(flags, io), launcher: openLauncher(flags, io) },
        {
          service,
          snapshot: pointInTime?.snapshotId ?? flags.snapshot,
          trigger: 'manual',
          ...(flags.keep !== undefined ? { keepSeconds: flags.keep === true ? DEFAULT_DRILL_KEEP_SECONDS : flags.keep / 1000 } : {}),
        },
      );
      let drill = started.drill;
      if (started.outcome === 'launch-failed') {
        say(io, `drill ${drill.drillId} of ${service} could not start: ${drill.reason}`);
      } else {
        say(
          io,
          `drill ${drill.drillId} of ${service} started: snapshot ${drill.snapshotId} (${started.note}), task ${drill.taskArn ?? '-'}, deadline ${drill.deadline}`,
        );
      }
      if (drill.keep && drill.taskArn) {
        const taskId = drill.taskArn.split('/').pop();
        say(
          io,
          `drill ${drill.drillId}: the task stays up ${formatSeconds(drill.keep.seconds)} after the verdict, for inspection (then the drill watchdog stops it):`,
        );
        say(io, `  task ${taskId}; the restored data is in the container's data directory`);
        say(
          io,
          `  aws ecs execute-command --cluster ${drill.launch.cluster} --task ${taskId} --container ${drill.launch.containerName} --interactive --command /bin/sh`,
        );
      }
      let exitCode: ExitCode = started.outcome === 'launch-failed' ? 3 : 0;
      if (flags.wait && drill.status === 'running') {
        say(io, `waiting for drill ${drill.drillId} to finish…`);
        drill = await waitForDrill(drills, service, drill.drillId, {
          giveUpAt: new Date(Date.parse(drill.deadline) + WAIT_GRACE_MS),
          intervalMs: flags.poll * 1000,
          signal: io.signal,
        });
      }
      if (flags.wait) {
        exitCode = drillExitCode(drill);
        if (drill.status === 'running' && io.signal.aborted) {
          say(io, `stopped waiting; drill ${drill.drillId} is still running`);
        } else if (drill.status === 'running') {
          say(io, `drill ${drill.drillId} is still running past its deadline; is the task-events handler (or the watchdog) deployed?`);
        } else {
          const measured = [
            drill.restoreSeconds !== undefined ? `restore ${formatSeconds(drill.restoreSeconds)}` : undefined,
            drill.rtoSeconds !== undefined ? `RTO ${formatSeconds(drill.rtoSeconds)}` : undefined,
            `RPO ${formatSeconds(drill.rpoSeconds)}`,
          ].filter(Boolean);
          say(io, `drill ${drill.drillId} ${drill.status}: ${drill.reason ?? ''} (${measured.join(', ')})`);
        }
      }
      if (flags.json) io.stdout.write(`${JSON.stringify(document(drill, { outcome: started.outcome, note: started.note }), null, 2)}\n`);
      else io.stdout.write(`${drill.drillId}\n`);
      done({ exitCode });
    });
}
