/**
 * `kv-ctl`: the example service's hooks, as a user of Lifeboat would write them. Each is a
 * shell command in the service's policy or on `lifeboat agent`'s command line:
 *
 *   kv-ctl promote   --on-promote: become primary (LIFEBOAT_TERM). A replica's data is what
 *                    it restored when it started; if a newer complete snapshot exists, the
 *                    data directory is replaced with it first, so every acknowledged write
 *                    that made it into a complete snapshot survives the failover.
 *   kv-ctl demote    --on-demote: stop accepting writes.
 *   kv-ctl pause     snapshot.pre: hold writes and append the snapshot's marker
 *                    (LIFEBOAT_SNAPSHOT_ID), so the snapshot is consistent and knows itself.
 *   kv-ctl resume    snapshot.post: let writes go on.
 *   kv-ctl verify    drill.verifyCommand: every record's checksum and sequence in the
 *                    restored directory, and that it ends with the drilled snapshot's marker.
 *   kv-ctl health    drill.app.healthCheckCommand: the server answers /health.
 *
 * Environment: KV_DIR (else LIFEBOAT_DIR), KV_PORT, KV_HOST, KV_ROLE_FILE as for kv-server;
 * LIFEBOAT_* as Lifeboat sets them for hooks. `lifeboat` must be on PATH (it is in the
 * container image; local mode puts a shim there).
 */
import { spawnSync } from 'node:child_process';
import { LogCorruptError, readLog } from './log.js';
import { roleFileOf, writeRole } from './role.js';

const env = process.env;
const dir = env.KV_DIR ?? env.LIFEBOAT_DIR;
const base = `http://${env.KV_HOST ?? '127.0.0.1'}:${env.KV_PORT ?? 8080}`;

function fail(message: string, code = 1): never {
  console.error(`kv-ctl: ${message}`);
  process.exit(code);
}

async function call(path: string, { optional = false } = {}): Promise<unknown> {
  try {
    const res = await fetch(`${base}${path}`, { method: path === '/health' ? 'GET' : 'POST', signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as unknown;
    if (!res.ok) fail(`${path} answered ${res.status}: ${JSON.stringify(body)}`);
    return body;
  } catch (err) {
    // The server may not be listening yet (a hook right after start); it reads the role file then.
    if (optional && (err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED') return undefined;
    return fail(`cannot reach kv-server at ${base}${path}: ${(err as Error).message}`);
  }
}

function lifeboat(args: string[]): string {
  const r = spawnSync('lifeboat', args, { encoding: 'utf8', env });
  if (r.error) fail(`cannot run lifeboat: ${r.error.message}`);
  if (r.status !== 0) fail(`lifeboat ${args[0]} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** The id of the newest complete snapshot of the service, if any. */
function newestCompleteSnapshot(service: string): string | undefined {
  const list = JSON.parse(lifeboat(['snapshots', '--service', service, '--limit', '20', '--json'])) as { id: string; status: string }[];
  return list.find((s) => s.status === 'complete')?.id;
}

async function promote(): Promise<void> {
  if (!dir) fail('set KV_DIR or LIFEBOAT_DIR', 2);
  const service = env.LIFEBOAT_SERVICE ?? fail('LIFEBOAT_SERVICE is not set (the agent sets it for hooks)', 2);
  const term = Number(env.LIFEBOAT_TERM ?? 0);
  let local: string | undefined;
  let damaged = false;
  try {
    local = readLog(dir).lastSnapshot;
  } catch (err) {
    if (!(err instanceof LogCorruptError)) throw err;
    damaged = true;
  }
  const newest = newestCompleteSnapshot(service);
  // Snapshot ids sort by time: a newer snapshot holds writes this replica never saw.
  if (newest && (damaged || !local || newest > local)) {
    console.error(`kv-ctl: local data is from ${local ?? 'no snapshot'}; restoring newer snapshot ${newest} before taking writes`);
    await call('/_admin/close', { optional: true });
    lifeboat(['restore', '--service', service, '--dir', dir, '--snapshot', newest, '--force']);
    await call('/_admin/open', { optional: true });
  }
  writeRole(env.KV_ROLE_FILE ?? roleFileOf(dir), { role: 'primary', term });
  await call('/_admin/role', { optional: true });
  console.error(`kv-ctl: primary for term ${term}`);
}

async function demote(): Promise<void> {
  if (!dir) fail('set KV_DIR or LIFEBOAT_DIR', 2);
  writeRole(env.KV_ROLE_FILE ?? roleFileOf(dir), { role: 'replica', term: Number(env.LIFEBOAT_TERM ?? 0) });
  await call('/_admin/role', { optional: true });
}

function verify(): void {
  const target = env.LIFEBOAT_DIR ?? dir ?? process.cwd();
  let state;
  try {
    state = readLog(target);
  } catch (err) {
    if (err instanceof LogCorruptError) fail(`verify: ${err.message}`);
    throw err;
  }
  if (state.tornBytes) fail(`verify: the log ends with a torn record (${state.tornBytes} bytes); a snapshot taken while writes were paused never has one`);
  const expected = env.LIFEBOAT_SNAPSHOT_ID;
  if (expected && state.lastSnapshot !== expected) {
    fail(`verify: the data ends with the marker of snapshot ${state.lastSnapshot ?? '(none)'}, not of ${expected}`);
  }
  console.log(
    `verify: ${state.records} records, ${state.data.size} keys, last sequence ${state.lastSeq}, every checksum good${expected ? `, ends with the marker of ${expected}` : ''}`,
  );
}

const commands: Record<string, () => Promise<void> | void> = {
  promote,
  demote,
  pause: async () => {
    const id = env.LIFEBOAT_SNAPSHOT_ID;
    console.log(JSON.stringify(await call(`/_admin/pause${id ? `?snapshot=${encodeURIComponent(id)}` : ''}`)));
  },
  resume: async () => void (await call('/_admin/resume')),
  verify,
  health: async () => void (await call('/health')),
};

const name = process.argv[2] ?? '';
const command = commands[name];
if (!command) fail(`usage: kv-ctl ${Object.keys(commands).join('|')}`, 2);
await command();
