/**
 * The application half of the database examples (examples/postgres, examples/sqlite): a
 * small HTTP key-value API over a real database engine, with the same routes and headers
 * as examples/kv so local mode's front, the demo scenario and the drills treat all three
 * alike. The engine half (start/stop the database, promote, the local canary) is given by
 * each example's server.ts.
 *
 *   GET  /health          role, term, engine, rows, the local canary
 *   GET  /kv              every key and value
 *   GET  /kv/:key         the value, or 404
 *   PUT  /kv/:key         primary only (else 503); 200 once the database committed it
 *   POST /_admin/role     re-read the role file and converge (promote/demote hooks)
 *
 * Converging to primary: if the newest complete snapshot holds a newer canary than the
 * local database (a replica's data is what it restored when it started), the database is
 * stopped, that snapshot restored (`lifeboat restore --force`) and started again; then it
 * takes writes. Everything that touches the database runs one step at a time.
 */
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import type { Canary } from '../../lambdas/domain/drill-checks.js';
import { type RoleFile, readRole } from '../kv/role.js';

const execFileAsync = promisify(execFile);

export interface SqlEngine {
  readonly name: string;
  /** Starts (or opens) the database in the given role; creates an empty one when there is none. */
  start(primary: boolean): Promise<void>;
  stop(): Promise<void>;
  /** Replica → primary without a restart where the engine can (Postgres: pg_promote). */
  promote(): Promise<void>;
  /** Primary → replica: stop taking writes. */
  demote(): Promise<void>;
  canary(): Promise<Canary | undefined>;
  get(key: string): Promise<string | undefined>;
  put(key: string, value: string): Promise<void>;
  all(): Promise<Record<string, string>>;
  count(): Promise<number>;
}

export interface SqlServiceOptions {
  engine: SqlEngine;
  service: string;
  dataDir: string;
  roleFile: string;
  port: number;
  host?: string;
  log?: (line: string) => void;
}

interface SnapshotInfo {
  id: string;
  status: string;
  canary?: Canary;
}

/** Runs the lifeboat CLI without blocking the server (it keeps answering /health meanwhile). */
async function lifeboat(args: string[]): Promise<string> {
  try {
    const r = await execFileAsync('lifeboat', args, { encoding: 'utf8', env: process.env, timeout: 10 * 60_000, maxBuffer: 16 * 1024 * 1024 });
    return r.stdout;
  } catch (err) {
    const e = err as { code?: number | string; stderr?: string; message: string };
    throw new Error(`lifeboat ${args[0]} failed (${e.code ?? e.message}): ${(e.stderr ?? '').trim().split('\n').slice(-2).join(' | ')}`);
  }
}

export async function runSqlService(o: SqlServiceOptions): Promise<void> {
  const log = o.log ?? ((line: string) => console.error(`${o.engine.name}-example: ${line}`));
  const engine = o.engine;
  let role: RoleFile = readRole(o.roleFile);
  let isPrimary = false;
  let up = false;
  let converging = 0;
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };

  const newestSnapshot = async (): Promise<SnapshotInfo | undefined> => {
    const list = JSON.parse(await lifeboat(['snapshots', '--service', o.service, '--limit', '20', '--json'])) as SnapshotInfo[];
    return list.find((s) => s.status === 'complete');
  };

  const converge = () => {
    converging++;
    return serial(async () => {
      role = readRole(o.roleFile);
      const wantPrimary = role.role === 'primary';
      if (wantPrimary && !isPrimary) {
        // Newest snapshot first, then the local canary: a snapshot taken in between (this
        // task's agent may already be primary) then only makes the local data look newer.
        const newest = await newestSnapshot();
        let local: Canary | undefined;
        try {
          local = up ? await engine.canary() : undefined;
        } catch (err) {
          log(`cannot read the local canary (${(err as Error).message}); treating local data as stale`);
        }
        // By time, not id: a database started empty counts its canary ids from 1 again.
        if (newest?.canary && (!local || Date.parse(newest.canary.at) > Date.parse(local.at))) {
          log(
            `local data holds canary ${local ? `#${local.id}` : '(none)'}; restoring newer snapshot ${newest.id} (canary #${newest.canary.id}) before taking writes`,
          );
          await engine.stop();
          up = false;
          await lifeboat(['restore', '--service', o.service, '--dir', o.dataDir, '--snapshot', newest.id, '--force']);
          await engine.start(true);
          up = true;
        } else if (!up) {
          await engine.start(true);
          up = true;
        } else {
          await engine.promote();
        }
        isPrimary = true;
        log(`primary for term ${role.term}`);
      } else if (!wantPrimary && (isPrimary || !up)) {
        if (up) await engine.demote();
        else await engine.start(false);
        up = true;
        isPrimary = false;
        log(`replica (term ${role.term})`);
      }
    }).finally(() => converging--);
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
      'x-kv-role': isPrimary ? 'primary' : 'replica',
      'x-kv-term': String(role.term),
    });
    res.end(text);
  };
  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://example');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/health') {
      if (!up) return send(res, 503, { status: 'starting', engine: engine.name });
      return send(res, 200, {
        status: 'ok',
        engine: engine.name,
        role: isPrimary ? 'primary' : 'replica',
        converging: converging > 0,
        term: role.term,
        rows: await engine.count().catch(() => null),
        canary: (await engine.canary().catch(() => undefined)) ?? null,
      });
    }
    if (method === 'POST' && path === '/_admin/role') {
      // Answered at once: the agent runs this hook in its heartbeat loop, and a restore
      // before promotion may take longer than the lease.
      void converge().catch((err: Error) => log(`cannot take the role in ${o.roleFile}: ${err.message}`));
      return send(res, 202, { converging: readRole(o.roleFile) });
    }
    if (!up) return send(res, 503, { error: 'the database is not open yet; retry' });
    if (path === '/kv' && method === 'GET') return send(res, 200, { role: isPrimary ? 'primary' : 'replica', term: role.term, data: await engine.all() });
    const m = /^\/kv\/([^/]+)$/.exec(path);
    if (m) {
      const key = decodeURIComponent(m[1]!);
      if (method === 'GET') {
        const v = await engine.get(key);
        return v === undefined ? send(res, 404, { error: `no key ${key}` }) : send(res, 200, v);
      }
      if (method === 'PUT') {
        const value = await readBody(req);
        if (!isPrimary) return send(res, 503, { error: 'not the primary: writes go to the primary' });
        await serial(() => engine.put(key, value));
        return send(res, 200, { key, term: role.term });
      }
    }
    send(res, 404, { error: `no route ${method} ${path}` });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, { error: (err as Error).message }));
  });
  await new Promise<void>((resolve) => server.listen(o.port, o.host ?? '127.0.0.1', resolve));
  log(`listening on http://${o.host ?? '127.0.0.1'}:${o.port}; data in ${o.dataDir}`);
  await converge().catch((err: Error) => log(`cannot take the role in ${o.roleFile}: ${err.message}`));
  const stop = async () => {
    server.close();
    server.closeAllConnections();
    await engine.stop().catch(() => undefined);
    process.exit(0);
  };
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void stop());
}
