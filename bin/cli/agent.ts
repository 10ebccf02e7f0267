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
import { withLifeline } from '../../lambdas/adapters/lifeline.js';
import { AgentSession } from '../../lambdas/agent/session.js';
import { resolveTaskIdentity } from '../../lambdas/agent/task-identity.js';
import { ENV } from '../../lambdas/contract/environment.js';
import { DRILL_ENV } from '../../lambdas/domain/drills.js';
import { assertServiceName } from '../../lambdas/domain/ids.js';
import { type CliIO, cliRuntime, dataDir, serviceName } from './context.js';
import { runDrillMode } from './drill-agent.js';
import { type CommandResult, positiveNumber } from './options.js';
import { say } from './output.js';

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
  readAll?: boolean;
  elect: boolean;
  table?: string;
  store?: string;
}

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
    .option('--read-all', 'snapshots this agent takes read every file, even those unchanged since the previous snapshot')
    .option('--no-elect', 'never run an election from this agent (leave it to the control plane)')
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--store <url>', 's3://bucket/prefix or file:///path, for --restore (env LIFEBOAT_STORE or LIFEBOAT_BUCKET)')
    .action(async (app: string[], flags: AgentFlags) => {
      const service = assertServiceName(serviceName(flags.service, io.env));
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
      const session = await AgentSession.start({
        runtime: cliRuntime(flags, io),
        service,
        taskArn: identity.taskArn,
        ...(flags.restore ? { restoreInto: dataDir(flags.dir, io.env) } : {}),
        dir: flags.dir ?? io.env[ENV.dir],
        onPromote: flags.onPromote,
        onDemote: flags.onDemote,
        onCommand: flags.onCommand,
        positionCommand: flags.positionCommand,
        hookTimeoutMs: flags.hookTimeout * 1000,
        elect: flags.elect,
        readAll: flags.readAll === true,
        cancel: io.signal,
        say: (line) => say(io, line),
      });
      // As an entrypoint wrapper, the agent lives as long as the application does.
      const stopAgent = new AbortController();
      const onSignal = () => stopAgent.abort();
      io.signal.addEventListener('abort', onSignal, { once: true });
      const wrapped = app.length ? startApp(app, { [ENV.service]: service, [ENV.task]: identity.taskArn }, io, stopAgent) : undefined;
      await session
        .run(stopAgent.signal, (line) => (wrapped ? io.stderr : io.stdout).write(`${line}\n`))
        .finally(() => io.signal.removeEventListener('abort', onSignal));
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
  // The application dies with the agent (a container's does with its main process; outside
  // one, e.g. in local mode, nothing would stop it otherwise).
  const [command, ...args] = withLifeline(app);
  const child = spawn(command!, args, { env: { ...io.env, ...env }, stdio: direct ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
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
