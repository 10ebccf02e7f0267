/**
 * The web console: one page (plain HTML, CSS and JavaScript served from here; no CDN, no
 * framework, no external request) and a small JSON API it polls.
 *
 *   GET  /  or /console                      the page
 *   GET  /console/assets/NAME                its script, style sheet and icon
 *   GET  /console/api/state                  every service's view (model.ts), cached 1 s
 *   POST /console/api/actions/NAME?service=S an action, only with actions allowed, with a
 *                                            JSON body {"confirm": S}: the page's
 *                                            confirmation step, checked here too
 *
 * The API refuses a POST that is not `application/json` (a cross-site form cannot send
 * one without a preflight this server never answers) or whose Origin is another site.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { isLifeboatError, UsageError } from '../domain/errors.js';
import type { ActionName, ConsoleBackend } from './backend.js';
import { type ServiceView, serviceView } from './model.js';

export interface ConsoleOptions {
  backend: ConsoleBackend;
  /** Without it the console is read-only: no action button, and the API refuses actions. */
  allowActions: boolean;
  /** Snapshot rows per service in the state (the counts cover all). */
  snapshotLimit?: number;
  /** How often the page polls, ms. */
  pollMs?: number;
}

export interface ConsoleState {
  mode: 'local' | 'aws';
  label: string;
  allowActions: boolean;
  actions: ActionName[];
  pollMs: number;
  generatedAt: string;
  services: ServiceView[];
  errors: { service: string; error: string }[];
  activity?: { at: string; kind: string; text: string }[];
}

const ASSETS: Record<string, string> = {
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'icon.svg': 'image/svg+xml',
  'index.html': 'text/html; charset=utf-8',
};

/** The assets next to this module (source tree), or next to the bundled CLI (dist/console-assets). */
function assetDir(): string {
  for (const rel of ['./assets/', './console-assets/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  throw new Error('the console assets are missing (lambdas/console/assets, or dist/console-assets next to the bundled CLI)');
}

let assetCache: Map<string, Buffer> | undefined;
function assets(): Map<string, Buffer> {
  if (!assetCache) {
    const dir = assetDir();
    assetCache = new Map(Object.keys(ASSETS).map((name) => [name, readFileSync(`${dir}${name}`)]));
  }
  return assetCache;
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...SECURITY_HEADERS });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage, limit = 16 * 1024): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new UsageError('request body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface ConsoleHandler {
  /** Handles console routes; false for any other path (the caller serves it). */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** The state as the page sees it. */
  state(): Promise<ConsoleState>;
}

export function createConsole(o: ConsoleOptions): ConsoleHandler {
  const pollMs = o.pollMs ?? 2000;
  let cache: { at: number; value: Promise<ConsoleState> } | undefined;
  const compute = async (): Promise<ConsoleState> => {
    const now = Date.now();
    const names = await o.backend.services();
    const errors: ConsoleState['errors'] = [];
    const views = await Promise.all(
      names.map(async (service) => {
        try {
          return serviceView(await o.backend.read(service), { now, snapshotLimit: o.snapshotLimit ?? 100 });
        } catch (err) {
          errors.push({ service, error: (err as Error).message });
          return undefined;
        }
      }),
    );
    return {
      mode: o.backend.mode,
      label: o.backend.label,
      allowActions: o.allowActions,
      actions: o.allowActions ? [...o.backend.actions] : [],
      pollMs,
      generatedAt: new Date(now).toISOString(),
      services: views.filter((v): v is ServiceView => v !== undefined),
      errors,
      ...(o.backend.activity
        ? {
            activity: o.backend
              .activity()
              .slice(-30)
              .map((a) => ({ at: new Date(a.at).toISOString(), kind: a.kind, text: a.text })),
          }
        : {}),
    };
  };
  const state = (): Promise<ConsoleState> => {
    const now = Date.now();
    if (!cache || now - cache.at >= 1000) {
      const value = compute();
      value.catch(() => (cache = undefined));
      cache = { at: now, value };
    }
    return cache.value;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://console');
    const p = url.pathname;
    const method = req.method ?? 'GET';
    if (method === 'GET' && (p === '/' || p === '/console' || p === '/console/')) {
      res.writeHead(200, { 'content-type': ASSETS['index.html']!, ...SECURITY_HEADERS });
      res.end(assets().get('index.html'));
      return true;
    }
    const asset = /^\/console\/assets\/([\w.-]+)$/.exec(p);
    if (method === 'GET' && asset) {
      const body = assets().get(asset[1]!);
      if (!body) {
        send(res, 404, { error: `no asset ${asset[1]}` });
        return true;
      }
      res.writeHead(200, { 'content-type': ASSETS[asset[1]!]!, ...SECURITY_HEADERS });
      res.end(body);
      return true;
    }
    if (method === 'GET' && p === '/console/api/state') {
      send(res, 200, await state());
      return true;
    }
    const action = /^\/console\/api\/actions\/([\w-]+)$/.exec(p);
    if (action) {
      if (method !== 'POST') {
        send(res, 405, { error: 'actions are POST requests' });
        return true;
      }
      const name = action[1] as ActionName;
      if (!o.allowActions) {
        send(res, 403, { error: 'this console is read-only', hint: 'start it with `lifeboat console --allow-actions` to allow actions' });
        return true;
      }
      if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
        send(res, 415, { error: 'actions need a JSON body' });
        return true;
      }
      const origin = req.headers.origin;
      if (origin && origin !== `http://${req.headers.host}`) {
        send(res, 403, { error: `requests from ${origin} are not accepted` });
        return true;
      }
      if (!o.backend.actions.includes(name)) {
        send(res, 404, { error: `no action ${name}`, actions: o.backend.actions });
        return true;
      }
      const service = url.searchParams.get('service') ?? '';
      let confirm: unknown;
      try {
        confirm = (JSON.parse((await readBody(req)) || '{}') as { confirm?: unknown }).confirm;
      } catch {
        send(res, 400, { error: 'the body is not JSON' });
        return true;
      }
      if (confirm !== service || !service) {
        send(res, 400, { error: `action ${name} needs {"confirm": "${service}"}: the service name, as confirmation` });
        return true;
      }
      const result = await o.backend.act(name, service);
      cache = undefined;
      send(res, 200, result);
      return true;
    }
    return false;
  }
  return {
    state,
    handle: (req, res) =>
      handle(req, res).catch((err: unknown) => {
        if (isLifeboatError(err)) send(res, err.exitCode === 2 ? 400 : 409, { error: err.message, hint: err.hint });
        else send(res, 500, { error: (err as Error).message });
        return true;
      }),
  };
}

/**
 * Serves the console alone (`lifeboat console`) on `host:port`. A port in use is an error
 * naming it (and the fix), not a crash.
 */
export async function serveConsole(o: ConsoleOptions & { host?: string; port: number }): Promise<{ url: string; close: () => Promise<void> }> {
  const host = o.host ?? '127.0.0.1';
  const console_ = createConsole(o);
  const server = createServer((req, res) => {
    void console_.handle(req, res).then((handled) => {
      if (!handled) send(res, 404, { error: `no route ${req.method} ${req.url}` });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE')
        reject(
          new UsageError(`port ${o.port} on ${host} is in use`, {
            hint: `pick another with --port N (or --port 0 for a free one), or stop what listens on ${o.port}`,
          }),
        );
      else if (err.code === 'EACCES') reject(new UsageError(`port ${o.port} on ${host} needs privileges`, { hint: 'pick a port above 1023 with --port N' }));
      else reject(err);
    });
    server.listen(o.port, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
