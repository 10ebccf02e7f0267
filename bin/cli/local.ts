/**
 * `lifeboat local` (`npm start`): the whole control plane on this machine, with the example
 * service (examples/kv) running as three tasks, a live status view and commands. Runs until
 * Ctrl-C (or `q`), then stops everything it started.
 *
 * Output follows clig.dev: on a terminal a refreshing table (and keys for commands); with
 * no terminal or CI set, plain lines — each activity as it happens and a status line every
 * few seconds. Startup progress and errors go to stderr.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { emitKeypressEvents } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { isLifeboatError, UsageError } from '../../lambdas/domain/errors.js';
import type { LocalMode as LocalModeT, LocalStatus as LocalStatusT } from '../../lambdas/local/local-mode.js';
import type { CliIO } from './context.js';
import { type CommandResult, positiveNumber } from './options.js';
import { say } from './output.js';

interface LocalFlags {
  ephemeral?: boolean;
  speed: number;
  replicas: number;
  stateDir: string;
  reportsDir: string;
  apiPort: number;
  servicePort: number;
  ui: boolean;
  example?: string;
}

/** The repository holding examples/kv (this file is bin/cli/local.ts, or bundled in dist/). */
function repoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'examples/kv/lifeboat-policy.json'))) return dir;
  }
  throw new UsageError('local mode needs the Lifeboat repository (examples/kv); run it from a clone with `npm start`');
}

const port = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${flag} must be a port number (0 for a free one), not ${JSON.stringify(v)}`);
  return n;
};

export function registerLocal(program: Command, io: CliIO, done: (r: CommandResult) => void): void {
  const local = program.command('local');
  registerLocalEnv(local, io);
  local
    .description('run the whole control plane on this machine with an example service (3 tasks), a live status view and commands; Ctrl-C stops everything')
    .option('--ephemeral', 'keep nothing: DynamoDB in memory, snapshots in the in-memory S3 server, a temporary directory')
    .option('--speed <n>', 'run schedules n times faster than the clock (e.g. 60: rate(5 minutes) fires every 5 s)', positiveNumber('--speed'), 1)
    .option('--replicas <n>', 'tasks of the example service', positiveNumber('--replicas'), 3)
    .option('--state-dir <path>', 'where persistent state goes', '.lifeboat')
    .option('--reports-dir <path>', 'where drill reports are written', 'lifeboat-reports')
    .option('--api-port <port>', 'port of the local API (0: a free one)', port('--api-port'), 0)
    .option('--service-port <port>', "port of the example service's front, which follows the primary (0: a free one)", port('--service-port'), 0)
    .option('--no-ui', 'plain lines instead of the refreshing table, even on a terminal')
    .option('--example <name>', 'the example service: kv (default), postgres (a real PostgreSQL 15 per task) or sqlite')
    .action(async (flags: LocalFlags) => {
      // Loaded here: the rest of the CLI must not need local mode's dev-only servers.
      const { LocalMode } = await import('../../lambdas/local/local-mode.js');
      const { serveLocalApi } = await import('../../lambdas/local/api.js');
      const { renderStatus, summaryLine, activityLine, KEYS_HELP, clip } = await import('../../lambdas/local/status-view.js');
      const tty = flags.ui && Boolean(io.stdout.isTTY) && !io.env.CI && process.stdin.isTTY;
      const stop = new AbortController();
      const onAbort = () => stop.abort();
      io.signal.addEventListener('abort', onAbort, { once: true });
      let plainActivity = !tty;
      const started = Date.now();
      say(
        io,
        `lifeboat local: starting (state ${flags.ephemeral ? 'in a temporary directory, removed on exit' : `in ${flags.stateDir}`}; Ctrl-C stops everything)`,
      );
      const mode = await LocalMode.start({
        repoRoot: repoRoot(),
        stateDir: flags.stateDir,
        ephemeral: flags.ephemeral ?? false,
        speed: flags.speed,
        replicas: flags.replicas,
        reportsDir: flags.reportsDir,
        servicePort: flags.servicePort,
        example: flags.example,
        say: (line) => say(io, `lifeboat local: ${line}`),
        onActivity: (a) => {
          if (plainActivity) io.stdout.write(`${activityLine(a)}\n`);
        },
      });
      let exitCode = 0;
      try {
        const api = await serveLocalApi(mode, flags.apiPort);
        mode.setApiUrl(api.url, api.close);
        const envFile = await mode.publishEnv();
        say(io, `lifeboat local: ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        say(
          io,
          `lifeboat local: the example service (follows the primary): ${mode.serviceUrl}/kv/KEY   e.g. curl -X PUT --data hello ${mode.serviceUrl}/kv/greeting`,
        );
        say(io, `lifeboat local: local API: ${api.url}/status  (POST /kill-primary, /snapshot, /drill, /corrupt, /schedules/NAME)`);
        say(io, `lifeboat local: web console: ${api.url}/`);
        say(io, `lifeboat local: logs: ${join(mode.stateDir, 'logs')}; drill reports: ${mode.reportsDir}`);
        say(
          io,
          `lifeboat local: point the CLI at this run: eval "$(lifeboat local env${flags.ephemeral ? ` --state-dir ${mode.stateDir}` : flags.stateDir === '.lifeboat' ? '' : ` --state-dir ${flags.stateDir}`})"  (${envFile})`,
        );
        if (io.signal.aborted) stop.abort();
        if (tty) await interactive(mode, stop, { renderStatus, KEYS_HELP, clip });
        else await plain(mode, io, stop, summaryLine);
      } catch (err) {
        exitCode = isLifeboatError(err) ? err.exitCode : 1;
        say(io, `lifeboat: error: ${(err as Error).message}`);
      } finally {
        plainActivity = true;
        io.signal.removeEventListener('abort', onAbort);
        say(io, 'lifeboat local: stopping everything it started');
        await mode.stop();
        say(io, 'lifeboat local: stopped; nothing is left running');
      }
      done({ exitCode });
    });
}

/**
 * `lifeboat local env`: the exports of the local mode running on a state directory, for
 * `eval "$(lifeboat local env)"` — afterwards every command (snapshots, status, drill, …)
 * talks to that run, and `lifeboat drill` launches its task through local mode's launcher.
 */
function registerLocalEnv(local: Command, io: CliIO): void {
  local
    .command('env')
    .description('print the shell exports that point the CLI at the running local mode: eval "$(lifeboat local env)"')
    // --state-dir is the parent's option (commander parses it for `local` wherever it stands).
    .action(async () => {
      const flags = local.opts<{ stateDir: string }>();
      const { LOCAL_ENV_FILE } = await import('../../lambdas/local/local-mode.js');
      const file = join(flags.stateDir, LOCAL_ENV_FILE);
      const text = await readFile(file, 'utf8').catch(() => undefined);
      const api = text ? /^export LIFEBOAT_LOCAL_API='([^']*)'$/m.exec(text)?.[1] : undefined;
      // A file left by a run that died is not a running local mode.
      const alive = api
        ? await fetch(`${api}/status`, { signal: AbortSignal.timeout(3000) }).then(
            (r) => r.ok,
            () => false,
          )
        : false;
      if (!text || !alive) {
        throw new UsageError(`no local mode is running on ${flags.stateDir}${text ? ` (${file} is left from a run that is gone)` : ''}`, {
          hint: 'start it with `npm start` (or `lifeboat local`); for --ephemeral pass the --state-dir it printed',
        });
      }
      io.stdout.write(text);
    });
}

/** Plain output: activity lines as they come (printed by onActivity), a status line every 5 s. */
async function plain(mode: LocalModeT, io: CliIO, stop: AbortController, summaryLine: (s: LocalStatusT) => string): Promise<void> {
  while (!stop.signal.aborted) {
    try {
      io.stdout.write(`${summaryLine(await mode.status())}\n`);
    } catch (err) {
      say(io, `lifeboat local: status unavailable: ${(err as Error).message}`);
    }
    await pause(5000, stop.signal);
  }
}

/** The refreshing table, redrawn every second, and keys for commands. */
async function interactive(
  mode: LocalModeT,
  stop: AbortController,
  view: { renderStatus: typeof import('../../lambdas/local/status-view.js').renderStatus; KEYS_HELP: string; clip: (line: string, width: number) => string },
): Promise<void> {
  const { default: logUpdate } = await import('log-update');
  let message = '';
  const command = (what: string, run: () => Promise<string>) => {
    message = `${what}…`;
    run()
      .then((m) => (message = m))
      .catch((err: unknown) => (message = `${what} failed: ${(err as Error).message}`));
  };
  let quitAsked = false;
  const onKey = (_s: string, key: { name?: string; ctrl?: boolean }) => {
    if (key.ctrl && key.name === 'c') return stop.abort();
    if (key.name === 'q') {
      // --ephemeral keeps nothing: the data, its snapshots and every record go with the run. Ask once.
      if (!mode.ephemeral || quitAsked) return stop.abort();
      quitAsked = true;
      message = 'q again quits: --ephemeral deletes the data and every snapshot on exit';
      return;
    }
    quitAsked = false;
    if (key.name === 'k') command('killing the primary', async () => `killed task ${(await mode.killPrimary()).taskArn.split('/').pop()!.slice(0, 8)}`);
    if (key.name === 's') command('asking for a snapshot', async () => `snapshot job ${(await mode.requestSnapshot()).job.jobId}`);
    if (key.name === 'd') command('starting a drill', async () => `drill ${(await mode.drill()).drill.drillId} started`);
    if (key.name === 'c') command('damaging the newest snapshot', async () => `damaged ${(await mode.corruptSnapshot()).snapshotId}; drill it with d`);
    if (key.name === 'r')
      command('running retention', async () => {
        await mode.runSchedule('retention');
        return 'retention ran';
      });
  };
  emitKeypressEvents(process.stdin);
  process.stdin.setRawMode(true);
  process.stdin.on('keypress', onKey);
  process.stdin.resume();
  try {
    while (!stop.signal.aborted) {
      try {
        const s = await mode.status();
        const screen = { width: process.stdout.columns || 100, height: process.stdout.rows || 40, reserved: 3 };
        logUpdate(
          `${view.renderStatus(s, { color: true, ...screen })}\n\n${view.clip(view.KEYS_HELP, screen.width)}${message ? `\n${view.clip(`> ${message}`, screen.width)}` : ''}`,
        );
      } catch (err) {
        logUpdate(`status unavailable: ${(err as Error).message}`);
      }
      await pause(1000, stop.signal);
    }
  } finally {
    logUpdate.done();
    process.stdin.off('keypress', onKey);
    process.stdin.setRawMode(false);
    process.stdin.pause();
  }
}

/** Waits `ms` or until `signal` aborts, leaving no listener behind. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
