/**
 * Local mode's small HTTP API on loopback, for scripts, the demo and the tests (the
 * terminal view offers the same commands as keys):
 *
 *   GET  /status                     the status view's model (JSON)
 *   POST /kill-primary               SIGKILL the primary's task
 *   POST /snapshot                   a manual snapshot job → { jobId, outcome, … }
 *   GET  /snapshot-jobs/:id          a snapshot job's record
 *   POST /drill[?snapshot=ID][&keep=1h]  start a restore drill → the drill record; with keep, the
 *                                    drill task stays up that long after its verdict (`port`: its app)
 *   GET  /drills/:id                 a drill's record
 *   POST /corrupt[?snapshot=ID]      damage a stored snapshot (demo of a failing drill)
 *   POST /schedules/:name            run a schedule now (retention, snapshot, drill, watchdog, …)
 *   POST /ecs/run-task, /ecs/stop-task  ECS's RunTask/StopTask on local mode's launcher (the CLI with LIFEBOAT_LOCAL_API)
}

 *   GET  /                           the web console (lambdas/console/), its assets and API under /console/
 *
 * Errors are JSON `{ error, hint }` with 400 for a LifeboatError the caller can fix, 409
 * when it cannot be done now, 500 otherwise.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import ms from 'ms';
import { createConsole } from '../console/server.js';
import { DEFAULT_DRILL_KEEP_SECONDS } from '../domain/drills.js';
import { isLifeboatError, UsageError } from '../domain/errors.js';
import { LocalConsoleBackend } from './console-backend.js';
import type { LocalMode } from './local-mode.js';

async function jsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

/** `keep=1h` (a duration with a unit, as `lifeboat drill --keep` takes), or `keep=` for the default hour. */
function keepSeconds(text: string): number {
  if (text === '') return DEFAULT_DRILL_KEEP_SECONDS;
  const n = /^\s*\d+(\.\d+)?\s*[a-z]+\s*$/i.test(text) ? ms(text as ms.StringValue) : undefined;
  if (n === undefined || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`keep=${JSON.stringify(text)} is not a duration`, {
      hint: 'use a duration with a unit like 90s, 30m or 1h (keep= alone keeps the task 1 h)',
    });
  }
  return n / 1000;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

async function route(mode: LocalMode, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://local');
  const method = req.method ?? 'GET';
  const p = url.pathname;
  const snapshot = url.searchParams.get('snapshot') ?? undefined;
  if (method === 'GET' && p === '/status') return send(res, 200, await mode.status());
  if (method === 'POST' && p === '/kill-primary') return send(res, 200, await mode.killPrimary());
  if (method === 'POST' && p === '/snapshot') {
    const r = await mode.requestSnapshot();
    return send(res, 200, { outcome: r.outcome, ...r.job });
  }
  if (method === 'POST' && p === '/drill') {
    const keep = url.searchParams.get('keep');
    const r = await mode.drill(snapshot, keep === null ? {} : { keepSeconds: keepSeconds(keep) });
    return send(res, 200, { outcome: r.outcome, ...r.drill, ...(r.port !== undefined ? { port: r.port } : {}) });
  }
  // ECS's RunTask/StopTask for the CLI pointed at local mode (LIFEBOAT_LOCAL_API): local mode's own launcher.
  if (method === 'POST' && p === '/ecs/run-task') return send(res, 200, await mode.taskLauncher.runTask((await jsonBody(req)) as never));
  if (method === 'POST' && p === '/ecs/stop-task') {
    const b = (await jsonBody(req)) as { cluster: string; taskArn: string; reason: string };
    await mode.taskLauncher.stopTask(b.cluster, b.taskArn, b.reason);
    return send(res, 200, { stopped: b.taskArn });
  }
  if (method === 'POST' && p === '/corrupt') return send(res, 200, await mode.corruptSnapshot(snapshot));
  let m = /^\/schedules\/([\w-]+)$/.exec(p);
  if (method === 'POST' && m) {
    await mode.runSchedule(m[1]!);
    return send(res, 200, { ran: m[1] });
  }
  m = /^\/snapshot-jobs\/([\w-]+)$/.exec(p);
  if (method === 'GET' && m) {
    const job = await mode.snapshotJob(m[1]!);
    return job ? send(res, 200, job) : send(res, 404, { error: `no snapshot job ${m[1]}` });
  }
  m = /^\/drills\/([\w-]+)$/.exec(p);
  if (method === 'GET' && m) {
    const drill = await mode.runtime.drills.get(mode.service, m[1]!);
    return drill ? send(res, 200, drill) : send(res, 404, { error: `no drill ${m[1]}` });
  }
  send(res, 404, {
    error: `no route ${method} ${p}`,
    routes: ['GET /status', 'POST /kill-primary', 'POST /snapshot', 'POST /drill', 'POST /corrupt', 'POST /schedules/:name'],
  });
}

/** Serves the API on 127.0.0.1:`port` (0: a free one); returns its URL and a close function. */
export async function serveLocalApi(mode: LocalMode, port = 0): Promise<{ url: string; close: () => Promise<void> }> {
  // Local mode's API already takes these commands, so its console offers them too.
  const webConsole = createConsole({ backend: new LocalConsoleBackend(mode), allowActions: true });
  const server = createServer((req, res) => {
    webConsole
      .handle(req, res)
      .then((handled) => (handled ? undefined : route(mode, req, res)))
      .catch((err: unknown) => {
        if (isLifeboatError(err)) return send(res, err.exitCode === 2 ? 400 : 409, { error: err.message, hint: err.hint });
        send(res, 500, { error: (err as Error).message });
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`;
  return {
    url,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
