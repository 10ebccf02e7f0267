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
  program
    .command('local')
    .description('run the whole control plane on this machine with an example service (3 tasks), a live status view and commands; Ctrl-C stops everything')
    .option('--ephemeral', 'keep nothing: DynamoDB in memory, snapshots in the in-memory S3 server, a temporary directory')
    .option('--speed <n>', 'run schedules n times faster than the clock (e.g. 60: rate(5 minutes) fires every 5 s)', positiveNumber('--speed'), 1)
    .option('--replicas <n>', 'tasks of the example service', positiveNumber('--replicas'), 3)
    .option('--state-dir <path>', 'where persistent state goes', '.lifeboat')
    .option('--reports-dir <path>', 'where drill reports are written', 'lifeboat-reports')
    .option('--api-port <port>', 'port of the local API (0: a free one)', port('--api-port'), 0)
    .option('--service-port <port>', "port of the example service's front, which follows the primary (0: a free one)", port('--service-port'), 0)
    .option('--no-ui', 'plain lines instead of the refreshing table, even on a terminal')
    .action(async (flags: LocalFlags) => {
      // Loaded here: the rest of the CLI must not need local mode's dev-only servers.
      const { LocalMode } = await import('../../lambdas/local/local-mode.js');
      const { serveLocalApi } = await import('../../lambdas/local/api.js');
      const { renderStatus, summaryLine, activityLine, KEYS_HELP } = await import('../../lambdas/local/status-view.js');
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
        say: (line) => say(io, `lifeboat local: ${line}`),
        onActivity: (a) => {
          if (plainActivity) io.stdout.write(`${activityLine(a)}\n`);
        },
      });
      let exitCode = 0;
      try {
        const api = await serveLocalApi(mode, flags.apiPort);
        mode.setApiUrl(api.url, api.close);
        say(io, `lifeboat local: ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        say(
          io,
          `lifeboat local: the example service (follows the primary): ${mode.serviceUrl}/kv/KEY   e.g. curl -X PUT --data hello ${mode.serviceUrl}/kv/greeting`,
        );
        say(io, `lifeboat local: local API: ${api.url}/status  (POST /kill-primary, /snapshot, /drill, /corrupt, /schedules/NAME)`);
        say(io, `lifeboat local: web console: ${api.url}/`);
        say(io, `lifeboat local: logs: ${join(mode.stateDir, 'logs')}; drill reports: ${mode.reportsDir}`);
        if (io.signal.aborted) stop.abort();
        if (tty) await interactive(mode, stop, { renderStatus, KEYS_HELP });
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
  view: { renderStatus: typeof import('../../lambdas/local/status-view.js').renderStatus; KEYS_HELP: string },
): Promise<void> {
  const { default: logUpdate } = await import('log-update');
  let message = '';
  const command = (what: string, run: () => Promise<string>) => {
    message = `${what}…`;
    run()
      .then((m) => (message = m))
      .catch((err: unknown) => (message = `${what} failed: ${(err as Error).message}`));
  };
  const onKey = (_s: string, key: { name?: string; ctrl?: boolean }) => {
    if ((key.ctrl && key.name === 'c') || key.name === 'q') return stop.abort();
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
        logUpdate(`${view.renderStatus(s, { color: true })}\n\n${view.KEYS_HELP}${message ? `\n> ${message}` : ''}`);
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
