/**
 * `kv-server`: the example stateful service — a small HTTP key-value store whose data is
 * one append-only log in its data directory (log.ts). It knows nothing about AWS: Lifeboat
 * runs it under `lifeboat agent`, which restores the directory before it starts, and tells
 * it through hooks (kv-ctl.ts) when it becomes primary, when to pause for a snapshot and
 * when to resume.
 *
 *   GET    /health            role, term, keys, last sequence number, newest snapshot marker
 *   GET    /kv                every key and value (JSON)
 *   GET    /kv/:key           the value, or 404
 *   PUT    /kv/:key           body = value; primary only (else 503); 200 {seq, term} once on disk
 *   DELETE /kv/:key           primary only
 *   POST   /_admin/role       re-read the role file (promote/demote hooks)
 *   POST   /_admin/pause?snapshot=ID   hold writes, append the snapshot marker (pre-snapshot hook)
 *   POST   /_admin/resume     let writes go on (post-snapshot hook)
 *   POST   /_admin/close      close the log (before the data directory is replaced)
 *   POST   /_admin/open       open it again (after)
 *
 * Environment: KV_DIR (else LIFEBOAT_DIR) the data directory; KV_PORT; KV_HOST (default
 * 127.0.0.1); KV_ROLE_FILE (default `<KV_DIR>.role`), written by the hooks.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { AppendLog, LogCorruptError } from './log.js';
import { type RoleFile, readRole, roleFileOf } from './role.js';

const dir = process.env.KV_DIR ?? process.env.LIFEBOAT_DIR;
if (!dir) {
  console.error('kv-server: set KV_DIR (or LIFEBOAT_DIR) to the data directory');
  process.exit(2);
}
const port = Number(process.env.KV_PORT ?? 8080);
const host = process.env.KV_HOST ?? '127.0.0.1';
const roleFile = process.env.KV_ROLE_FILE ?? roleFileOf(dir);
/** A pause whose post hook never comes (the snapshot process died) must not stop writes for ever. */
const MAX_PAUSE_MS = 120_000;

let log: AppendLog | undefined;
let role: RoleFile = { role: 'replica', term: 0 };
let pause: { release: () => void; gate: Promise<void>; timer: NodeJS.Timeout } | undefined;

function openLog(): void {
  try {
    log = AppendLog.open(dir!);
    if (log.state.tornBytes) console.error(`kv-server: dropped a torn last record (${log.state.tornBytes} bytes, never acknowledged)`);
  } catch (err) {
    if (err instanceof LogCorruptError) {
      console.error(`kv-server: the log in ${dir} is corrupt: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
    'x-kv-role': role.role,
    'x-kv-term': String(role.term),
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function endPause(): void {
  if (!pause) return;
  clearTimeout(pause.timer);
  pause.release();
  pause = undefined;
}

async function write(res: ServerResponse, op: 'put' | 'delete', key: string, value?: string): Promise<void> {
  // Writes wait while a snapshot is being taken, then re-check who is primary.
  while (pause) await pause.gate;
  if (role.role !== 'primary') return send(res, 503, { error: 'not the primary: writes go to the primary', role: role.role });
  if (!log) return send(res, 503, { error: 'the data directory is being replaced; retry' });
  const record = op === 'put' ? log.append({ op, term: role.term, key, value: value ?? '' }) : log.append({ op, term: role.term, key });
  // append() returned after fdatasync: the write is durable on this task's disk.
  send(res, 200, { seq: record.seq, term: record.term, key });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://kv');
  const path = url.pathname;
  const method = req.method ?? 'GET';
  if (path === '/health') {
    return send(res, 200, {
      status: log ? 'ok' : 'closed',
      role: role.role,
      term: role.term,
      keys: log?.state.data.size ?? 0,
      lastSeq: log?.state.lastSeq ?? 0,
      lastSnapshot: log?.state.lastSnapshot ?? null,
      paused: Boolean(pause),
    });
  }
  if (path === '/kv' && method === 'GET') {
    if (!log) return send(res, 503, { error: 'closed' });
    return send(res, 200, { role: role.role, term: role.term, lastSeq: log.state.lastSeq, data: Object.fromEntries(log.state.data) });
  }
  const m = /^\/kv\/([^/]+)$/.exec(path);
  if (m) {
    const key = decodeURIComponent(m[1]!);
    if (method === 'GET') {
      if (!log) return send(res, 503, { error: 'closed' });
      const v = log.state.data.get(key);
      return v === undefined ? send(res, 404, { error: `no key ${key}` }) : send(res, 200, v);
    }
    if (method === 'PUT') return write(res, 'put', key, await readBody(req));
    if (method === 'DELETE') return write(res, 'delete', key);
  }
  if (method === 'POST' && path.startsWith('/_admin/')) {
    switch (path.slice('/_admin/'.length)) {
      case 'role':
        role = readRole(roleFile);
        return send(res, 200, role);
      case 'pause': {
        const snapshot = url.searchParams.get('snapshot');
        if (!log) return send(res, 503, { error: 'closed' });
        if (!pause) {
          let release!: () => void;
          const gate = new Promise<void>((r) => (release = r));
          pause = {
            release,
            gate,
            timer: setTimeout(() => {
              console.error('kv-server: no resume after a pause; resuming writes');
              endPause();
            }, MAX_PAUSE_MS),
          };
        }
        // The marker goes in while writes are held, so the snapshot ends with it.
        const marker = snapshot ? log.append({ op: 'snapshot', term: role.term, snapshot }) : undefined;
        return send(res, 200, { paused: true, seq: log.state.lastSeq, marker: marker?.seq ?? null });
      }
      case 'resume':
        endPause();
        return send(res, 200, { paused: false });
      case 'close':
        log?.close();
        log = undefined;
        return send(res, 200, { closed: true });
      case 'open':
        if (!log) openLog();
        return send(res, 200, { keys: log!.state.data.size, lastSeq: log!.state.lastSeq, lastSnapshot: log!.state.lastSnapshot ?? null });
    }
  }
  send(res, 404, { error: `no route ${method} ${path}` });
}

openLog();
const server = createServer((req, res) => {
  handle(req, res).catch((err: unknown) => send(res, 500, { error: (err as Error).message }));
});
server.listen(port, host, () => {
  // Read the role only once listening: a hook that wrote it earlier could not reach us.
  role = readRole(roleFile);
  console.error(`kv-server: ${log!.state.data.size} keys (seq ${log!.state.lastSeq}) from ${dir}, listening on http://${host}:${port} as ${role.role}`);
});
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections();
    log?.close();
    process.exit(0);
  });
}
