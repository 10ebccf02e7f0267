/**
 * `lifeboat agent`: runs inside a protected task, as a sidecar or as the entrypoint
 * wrapper (`lifeboat agent [options] -- APP ARGS...`). In a drill task (LIFEBOAT_MODE=drill,
 * set by the drill launcher) it runs drill mode instead: restore the drill's snapshot into
 * an empty --dir, verify, record the result, exit 0 (passed) or 1. Optionally restores the data
 * directory first (restore-on-start), then heartbeats until stopped — or, as a wrapper,
 * until the application exits, passing on its exit code and forwarding SIGTERM/SIGINT.
 * Role changes go to stderr (and through the promote/demote hooks). `snapshot` commands
 * (snapshot jobs) are run by the agent itself, beside the heartbeat; other commands go
 * through --on-command, else as one JSON line each on stdout (on stderr when wrapping an
 * application, whose stdout it is).
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { runAgent } from '../../lambdas/agent/agent.js';
import { runHook } from '../../lambdas/engine/hooks.js';
import { restoreSnapshot } from '../../lambdas/engine/restore.js';
import { resolveTaskIdentity } from '../../lambdas/agent/task-identity.js';
import type { Role } from '../../lambdas/domain/election.js';
import { HookFailedError, UsageError } from '../../lambdas/domain/errors.js';
import { assertServiceName } from '../../lambdas/domain/ids.js';
import { createDynamoClient, createSqsClient } from '../../lambdas/adapters/aws.js';
import { DynamoCoordinationStore } from '../../lambdas/adapters/coordination.js';
import { SqsFailoverTimer } from '../../lambdas/adapters/failover-timer.js';
import { DynamoServiceRegistry } from '../../lambdas/adapters/service-registry.js';
import { dataDir, openCatalog, openObjectStore, serviceName, tableName, type CliIO } from './context.js';
import { positiveNumber, type CommandResult } from './program.js';
import { say } from './output.js';
import { runSnapshotCommand } from '../../lambdas/agent/snapshot-command.js';
import { finishAgentJob, jobForCommand } from '../../lambdas/control/snapshot-jobs.js';
import { DynamoJobStore } from '../../lambdas/adapters/job-store.js';
import { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import { SNAPSHOT_COMMAND } from '../../lambdas/domain/snapshot-jobs.js';
import type { MemberCommand } from '../../lambdas/domain/membership.js';
import { runDrillMode } from './drill-agent.js';
import { assertRecipeBinaries } from '../../lambdas/recipes/index.js';
import { DRILL_ENV } from '../../lambdas/domain/drills.js';

interface AgentFlags {
  service?: string;
  task?: string;
  dir?: string;
  restore?: boolean;
  verify?: string;
  onPromote?: string;
  onDemote?: string;
  onCommand?: string;
  positionCommand?: string;
  hookTimeout: number;
  elect: boolean;
  table?: string;
  store?: string;
}

const describeRole = (r: Role) => (r.kind === 'primary' ? `primary (term ${r.term})` : r.kind);

export function registerAgent(program: Command, io: CliIO, done: (r: CommandResult) => void): void {
  program
    .command('agent')
    .description('join the service from inside its task: restore on start, heartbeat, follow the primary role, receive commands')
    .argument('[app...]', 'run this application under the agent (after --) and exit with its exit code')
    .option('--service <name>', 'protected service name (env LIFEBOAT_SERVICE)')
    .option('--task <arn>', 'this task (default: env LIFEBOAT_TASK, else the ECS task metadata endpoint)')
    .option('--dir <path>', 'data directory (env LIFEBOAT_DIR), for --restore')
    .option('--restore', 'restore the newest complete snapshot into --dir first if it is empty')
    .option('--verify <command>', 'in a drill task (LIFEBOAT_MODE=drill): the check run after the restore; exit 0 = pass (env LIFEBOAT_VERIFY)')
    .option('--on-promote <command>', 'shell command run when this task becomes primary (LIFEBOAT_TERM is set)')
    .option('--on-demote <command>', 'shell command run when this task stops being primary')
    .option('--on-command <command>', 'shell command run for each received command (LIFEBOAT_COMMAND_ID/_TYPE/_ARGS); default: print it as a JSON line')
    .option('--position-command <command>', 'shell command printing how fresh the data is (a number, bigger is fresher)')
    .option('--hook-timeout <seconds>', 'time limit for each hook', positiveNumber('--hook-timeout'), 600)
    .option('--no-elect', 'never run an election from this agent (leave it to the control plane)')
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--store <url>', 's3://bucket/prefix or file:///path, for --restore (env LIFEBOAT_STORE or LIFEBOAT_BUCKET)')
    .action(async (app: string[], flags: AgentFlags) => {
      const service = assertServiceName(serviceName(flags.service, io.env));
      const table = tableName(flags, io.env);
      const dynamo = createDynamoClient(io.env);
      const identity = await resolveTaskIdentity(flags.task, io.env);
      if (identity.drill) {
        // Drill tasks restore and verify; they never join the service they rehearse.
        say(io, `drill task ${identity.taskArn}: not joining ${service} as a member`);
        // Without a drill id this is a task someone marked as a drill by hand: nothing to run.
        if (io.env[DRILL_ENV.drillId] === undefined) return;
        done({
          exitCode: await runDrillMode(
            { service, dir: flags.dir, verify: flags.verify, taskArn: identity.taskArn, table: flags.table, store: flags.store },
            io,
          ),
        });
        return;
      }
      const policy = await new DynamoServiceRegistry(dynamo, table).get(service);
      if (!policy) {
        throw new UsageError(`service ${service} is not protected: table ${table} has no policy for it`, {
          hint: "protect it with the CDK construct (or write its policy with the service registry), then start the agent",
        });
      }
      assertRecipeBinaries(policy); // database recipes (lambdas/recipes): fail at start, not at the first snapshot
      const hookTimeoutMs = flags.hookTimeout * 1000;
      const baseEnv = { LIFEBOAT_SERVICE: service, LIFEBOAT_TASK: identity.taskArn };

      let restoredPosition: number | undefined;
      if (flags.restore) {
        const result = await restoreSnapshot({
          catalog: openCatalog(flags, io),
          store: openObjectStore(flags, io),
          service,
          dir: dataDir(flags.dir, io.env),
          snapshot: 'latest',
          ifEmpty: true,
          signal: io.signal,
          onNotice: (line) => say(io, line),
        });
        if (result.status === 'restored') {
          restoredPosition = Date.parse(result.snapshot.createdAt);
          say(io, `restored snapshot ${result.snapshot.id} of ${service} into ${result.dir}`);
        } else {
          say(io, result.message);
        }
      }

      const dataPosition = flags.positionCommand
        ? async () => {
            const r = await runHook(flags.positionCommand!, { name: 'position command', env: baseEnv, timeoutMs: hookTimeoutMs });
            const n = Number(r.output.trim());
            if (!Number.isFinite(n)) throw new UsageError(`position command printed ${JSON.stringify(r.output.trim())}, not a number`);
            return n;
          }
        : async () => restoredPosition;

      const hook = async (command: string | undefined, name: string, env: Record<string, string>) => {
        if (!command) return;
        try {
          await runHook(command, { name, env: { ...baseEnv, ...env }, timeoutMs: hookTimeoutMs });
        } catch (err) {
          // The role is what the lease says, whatever the hook did: report and carry on.
          if (!(err instanceof HookFailedError)) throw err;
          say(io, `lifeboat: error: ${err.message}`);
        }
      };

      // Snapshot jobs arrive as commands; the snapshot runs beside the heartbeat loop (it
      // may take minutes; the lease must keep being renewed meanwhile), one at a time.
      let role: Role = { kind: 'replica' };
      let snapshotting: Promise<void> | undefined;
      const jobs = new DynamoJobStore(dynamo, table);
      const snapshotStore = (() => {
        try {
          return openObjectStore(flags, io);
        } catch {
          return undefined; // the job says why, if one ever comes
        }
      })();
      const snapshotDeps = { jobs, catalog: new DynamoSnapshotCatalog(dynamo, table), store: snapshotStore, now: () => Date.now() };
      const startSnapshot = (command: MemberCommand) => {
        if (snapshotting) {
          return void jobForCommand(jobs, service, command)
            .then((job) => job && finishAgentJob(snapshotDeps, job, { error: `task ${identity.taskArn} is already taking a snapshot` }))
            .catch((err: Error) => say(io, `lifeboat: error: snapshot job ${command.id}: ${err.message}`));
        }
        say(io, `snapshot requested (job ${command.id})`);
        snapshotting = runSnapshotCommand(snapshotDeps, {
          service,
          policy,
          taskArn: identity.taskArn,
          role,
          dir: flags.dir ?? io.env.LIFEBOAT_DIR,
          command,
          signal: io.signal,
          onNotice: (line) => say(io, line),
        })
          .then((r) => say(io, r.outcome === 'skipped' ? `snapshot job ${command.id} skipped: ${r.reason}` : `snapshot job ${r.job.jobId} ${r.job.status}: ${r.job.reason}`))
          .catch((err: Error) => say(io, `lifeboat: error: snapshot job ${command.id}: ${err.message}`))
          .finally(() => {
            snapshotting = undefined;
          });
      };

      say(io, `agent for ${service} in ${identity.taskArn}: heartbeat every ${policy.failover.heartbeatSeconds} s, lease ${policy.failover.leaseSeconds} s, failover after ${policy.failover.timeoutSeconds} s`);
      // As an entrypoint wrapper, the agent lives as long as the application does.
      const stopAgent = new AbortController();
      const onSignal = () => stopAgent.abort();
      io.signal.addEventListener('abort', onSignal, { once: true });
      const wrapped = app.length ? startApp(app, { ...baseEnv }, io, stopAgent) : undefined;
      const printCommand = (line: string) => (wrapped ? io.stderr : io.stdout).write(`${line}\n`);
      const summary = await runAgent({
        store: new DynamoCoordinationStore(dynamo, table),
        service,
        taskArn: identity.taskArn,
        failover: policy.failover,
        signal: stopAgent.signal,
        dataPosition,
        elect: flags.elect,
        ...(io.env.LIFEBOAT_FAILOVER_QUEUE_URL ? { timer: new SqsFailoverTimer(createSqsClient(io.env), io.env.LIFEBOAT_FAILOVER_QUEUE_URL) } : {}),
        onNotice: (line) => say(io, line),
        onRole: async (next, previous) => {
          role = next;
          say(io, `role: ${describeRole(previous)} -> ${describeRole(next)}`);
          if (next.kind === 'primary') await hook(flags.onPromote, 'promote hook', { LIFEBOAT_ROLE: 'primary', LIFEBOAT_TERM: String(next.term) });
          else if (previous.kind === 'primary') await hook(flags.onDemote, 'demote hook', { LIFEBOAT_ROLE: next.kind, LIFEBOAT_TERM: String(previous.term) });
        },
        onCommand: async (command) => {
          if (command.type === SNAPSHOT_COMMAND) {
            startSnapshot(command);
            return;
          }
          if (flags.onCommand) {
            await hook(flags.onCommand, `command hook (${command.type})`, {
              LIFEBOAT_COMMAND_ID: command.id,
              LIFEBOAT_COMMAND_TYPE: command.type,
              LIFEBOAT_COMMAND_ARGS: JSON.stringify(command.args ?? {}),
            });
          } else {
            printCommand(JSON.stringify(command));
          }
        },
      });
      io.signal.removeEventListener('abort', onSignal);
      // A snapshot still running when the agent stops finishes (or is aborted by the signal) first.
      await snapshotting;
      say(io, `agent stopped after ${summary.heartbeats} heartbeats (${summary.failedHeartbeats} failed), ${summary.commands} commands, ${summary.elections} elections`);
      if (wrapped) {
        const code = await wrapped.exited;
        say(io, `${app[0]} exited with ${code}`);
        done({ exitCode: code });
      }
    });
}

/**
 * Starts the wrapped application. Its output goes where the agent's goes; a signal to the
 * agent is passed on to it; its exit stops the agent (which then releases the membership).
 */
function startApp(app: string[], env: Record<string, string>, io: CliIO, stopAgent: AbortController): { exited: Promise<number> } {
  const direct = io.stdout === process.stdout;
  const child = spawn(app[0]!, app.slice(1), { env: { ...io.env, ...env }, stdio: direct ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
  if (!direct) {
    child.stdout!.on('data', (b: Buffer) => io.stdout.write(b));
    child.stderr!.on('data', (b: Buffer) => io.stderr.write(b));
  }
  const forward = () => child.kill('SIGTERM');
  io.signal.addEventListener('abort', forward, { once: true });
  const exited = new Promise<number>((resolve) => {
    child.once('error', (err) => {
      say(io, `lifeboat: error: cannot start ${app[0]}: ${err.message}`);
      resolve(127);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGTERM' ? 143 : signal === 'SIGINT' ? 130 : 128)));
  }).finally(() => {
    io.signal.removeEventListener('abort', forward);
    stopAgent.abort();
  });
  return { exited };
}
