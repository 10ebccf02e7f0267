/**
 * The PostgreSQL recipe (tested with the Debian `postgresql` 15 packages).
 *
 * Snapshot: `pg_basebackup -X stream` from the running server into a staging directory.
 * The server keeps serving reads and writes; the copy is the one Postgres itself vouches
 * for: it starts at a checkpoint, carries every WAL record written while it was taken, and
 * a `backup_label`, so a server started on it replays to the backup's end and opens a
 * consistent database. Copying the live data directory instead (what a plain file snapshot
 * does) is only crash-consistent — and not even that, since the files are read at different
 * moments without the WAL that ties them together.
 *
 * Canary: just before the copy, the recipe inserts a row into `lifeboat_canary` (a table it
 * keeps in the configured database) and reads back {id, at, rows}. The copy begins after
 * that commit, so the restored database must hold exactly that newest row; the drill
 * checks it does.
 *
 * Open (drills, tests): a server on the restored directory with a private Unix socket and no
 * TCP port; ready when it accepts connections and is out of recovery.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Canary, type DatabasePolicy, RECIPE_TRAITS, type SqlValue } from '../domain/drill-checks.js';
import { OperationFailedError, UsageError } from '../domain/errors.js';
import { asUserArgv, exec, execOk, exists, findBinary, giveTo, isRoot, makeReachable, requireBinary } from './exec.js';
import { CANARY_TABLE, canaryFrom, type OpenContext, type OpenDatabase, type Recipe, type StageContext, type Staged } from './recipe.js';

/** The system user Postgres runs as when we are root. */
export const PG_SYSTEM_USER = 'postgres';

export interface PgConnection {
  /** Socket directory (or host name). */
  host: string;
  port: number;
  user: string;
  database: string;
}

/** Where the live server is: the policy's database settings, else the libpq environment, else Debian's defaults. */
export function liveConnection(database: DatabasePolicy, env: NodeJS.ProcessEnv = process.env): PgConnection {
  return {
    host: env.PGHOST ?? '/var/run/postgresql',
    port: Number(env.PGPORT ?? 5432),
    user: database.user ?? env.PGUSER ?? 'postgres',
    database: database.name ?? env.PGDATABASE ?? 'postgres',
  };
}

function psqlArgv(c: PgConnection, sql: string, database = c.database): string[] {
  const psql = requireBinary('psql', 'postgres', 'postgresql-client');
  return [psql, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', c.host, '-p', String(c.port), '-U', c.user, '-d', database, '-c', sql];
}

/** Runs SQL through psql and returns its last output line (psql prints one result per statement). */
export async function psql(c: PgConnection, sql: string, o: { database?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await execOk(psqlArgv(c, sql, o.database), 'psql', { timeoutMs: o.timeoutMs ?? 60_000, env: { PGCONNECT_TIMEOUT: '10' } });
  return r.stdout.trim().split('\n').pop() ?? '';
}

/** A query's rows as arrays of JSON values (column order kept, even for duplicate column names). */
export async function queryRows(c: PgConnection, sql: string, database?: string, timeoutMs?: number): Promise<SqlValue[][]> {
  const inner = sql.trim().replace(/;\s*$/, '');
  const wrapped = `select coalesce(json_agg(r), '[]') from (select (select json_agg(e.value) from json_each(row_to_json(q)) e) r from (${inner}\n) q) s`;
  const out = await psql(c, wrapped, { database, timeoutMs });
  return JSON.parse(out || '[]') as SqlValue[][];
}

const CANARY_READ = `select json_build_object('id', max(id), 'at', (select taken_at from ${CANARY_TABLE} order by id desc limit 1), 'rows', count(*)) from ${CANARY_TABLE}`;

/** Writes a canary row on the live server and returns the fact. */
export async function writeCanary(c: PgConnection): Promise<Canary> {
  const out = await psql(
    c,
    `create table if not exists ${CANARY_TABLE} (id bigint generated always as identity primary key, taken_at timestamptz not null default clock_timestamp()); ` +
      `insert into ${CANARY_TABLE} default values; ${CANARY_READ}`,
  );
  const canary = canaryFrom(JSON.parse(out) as { id: unknown; at: unknown; rows: unknown });
  if (!canary) throw new OperationFailedError(`the canary row in ${c.database}.${CANARY_TABLE} could not be read back`);
  return canary;
}

export async function readCanary(c: PgConnection): Promise<Canary | undefined> {
  const exists = await psql(c, `select to_regclass('${CANARY_TABLE}') is not null`);
  if (exists !== 't') return undefined;
  return canaryFrom(JSON.parse(await psql(c, CANARY_READ)) as { id: unknown; at: unknown; rows: unknown });
}

// ---------------------------------------------------------------------------------------
// A server process

export interface PgServerOptions {
  dataDir: string;
  /** Directory for the Unix socket; created and handed to the postgres user if missing. */
  socketDir: string;
  /** Port number (also names the socket file); 0 listens on no TCP port. */
  port?: number;
  /** Listen on TCP too (127.0.0.1) at `port`. Default: socket only. */
  tcp?: boolean;
  /** `-c name=value` settings. */
  settings?: Record<string, string>;
  onLog?: (line: string) => void;
}

export interface PgServer {
  readonly pid: number;
  readonly connection: PgConnection;
  readonly exited: Promise<number | null>;
  /** The last lines the server logged. */
  log(): string;
  /** Waits until it accepts connections (and, unless `standby`, is out of recovery). */
  ready(timeoutMs: number, o?: { standby?: boolean }): Promise<number>;
  /** Fast shutdown (SIGINT), immediate (SIGQUIT) after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** initdb as the postgres user (trust auth on the socket, superuser `postgres`). */
export async function initCluster(dataDir: string, o: { noSync?: boolean } = {}): Promise<void> {
  const initdb = requireBinary('initdb', 'postgres', 'postgresql');
  await makeReachable(dataDir);
  await execOk([initdb, '-D', dataDir, '-A', 'trust', '-U', 'postgres', '--encoding=UTF8', '--locale=C', ...(o.noSync ? ['-N'] : [])], 'initdb', {
    asUser: PG_SYSTEM_USER,
    timeoutMs: 120_000,
  });
}

/** Starts `postgres` in the foreground as a child (same process group: a killed task takes it along). */
export async function startServer(o: PgServerOptions): Promise<PgServer> {
  const postgres = requireBinary('postgres', 'postgres', 'postgresql');
  if (!exists(o.socketDir)) {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(o.socketDir, { recursive: true });
  }
  await giveTo(o.socketDir, isRoot() ? PG_SYSTEM_USER : undefined, 0o700);
  await makeReachable(o.socketDir);
  await makeReachable(o.dataDir);
  const port = o.port || 5432;
  const settings: Record<string, string> = {
    listen_addresses: o.tcp ? '127.0.0.1' : '',
    unix_socket_directories: o.socketDir,
    port: String(port),
    logging_collector: 'off',
    ...o.settings,
  };
  const argv = asUserArgv([postgres, '-D', o.dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])], PG_SYSTEM_USER);
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail: string[] = [];
  const keep = (b: Buffer) => {
    for (const line of b.toString('utf8').split('\n')) {
      if (!line) continue;
      o.onLog?.(line);
      tail.push(line);
    }
    if (tail.length > 40) tail = tail.slice(-40);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      tail.push(`cannot start postgres: ${err.message}`);
      exitCode = 127;
      resolve(127);
    });
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? 128 : null);
      resolve(exitCode);
    });
  });
  const connection: PgConnection = { host: o.socketDir, port, user: 'postgres', database: 'postgres' };
  const server: PgServer = {
    pid: child.pid ?? -1,
    connection,
    exited,
    log: () => tail.join('\n'),
    async ready(timeoutMs, r = {}) {
      const started = Date.now();
      for (;;) {
        if (exitCode !== undefined) throw new OperationFailedError(`postgres exited (${exitCode}) before accepting connections: ${lastLines(tail)}`);
        const probe = await exec(psqlArgv(connection, 'select pg_is_in_recovery()'), { timeoutMs: 10_000, env: { PGCONNECT_TIMEOUT: '5' } }).catch(
          () => undefined,
        );
        const out = probe?.stdout.trim();
        if (probe?.code === 0 && (r.standby || out === 'f')) return Date.now() - started;
        if (Date.now() - started > timeoutMs) {
          throw new OperationFailedError(
            `postgres did not ${probe?.code === 0 ? 'finish recovery' : 'accept connections'} within ${Math.round(timeoutMs / 1000)} s: ${lastLines(tail)}`,
          );
        }
        await new Promise((res) => setTimeout(res, 100));
      }
    },
    async stop(graceMs = 10_000) {
      if (exitCode !== undefined) return;
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGQUIT'), graceMs);
      const hard = setTimeout(() => child.kill('SIGKILL'), graceMs * 2);
      await exited;
      clearTimeout(timer);
      clearTimeout(hard);
    },
  };
  return server;
}

function lastLines(lines: string[]): string {
  return lines.slice(-4).join(' | ').slice(0, 800) || '(no output)';
}

// ---------------------------------------------------------------------------------------
// The recipe

export const postgresRecipe: Recipe = {
  name: 'postgres',

  missing(env = process.env) {
    return RECIPE_TRAITS.postgres.binaries
      .filter((b) => !findBinary(b, env))
      .map((b) => `${b} (install the postgresql package in the image: apt-get install -y postgresql, or set PG_BINDIR)`);
  },

  async stage(ctx: StageContext): Promise<Staged> {
    const pgBasebackup = requireBinary('pg_basebackup', 'postgres', 'postgresql');
    const conn = liveConnection(ctx.database, ctx.env);
    const canary = ctx.database.canary === false ? undefined : await writeCanary(conn);
    const parent = await mkdtemp(join(ctx.env?.LIFEBOAT_STAGING_DIR ?? tmpdir(), 'lifeboat-pg-'));
    const runAs = isRoot() ? PG_SYSTEM_USER : undefined;
    await giveTo(parent, runAs, 0o700);
    await makeReachable(parent);
    const dir = join(parent, 'pgdata');
    const cleanup = () => rm(parent, { recursive: true, force: true });
    try {
      // --no-sync: the copy is read straight back by the snapshot and deleted; durability is the store's.
      const r = await execOk(
        [pgBasebackup, '-D', dir, '-X', 'stream', '-c', 'fast', '--no-sync', '--no-password', '-h', conn.host, '-p', String(conn.port), '-U', conn.user],
        'pg_basebackup',
        { asUser: runAs, signal: ctx.signal, timeoutMs: 6 * 3600_000 },
      );
      return { dir, ...(canary ? { canary } : {}), note: `pg_basebackup -X stream in ${(r.durationMs / 1000).toFixed(1)} s`, cleanup };
    } catch (err) {
      await cleanup();
      throw err;
    }
  },

  async open(ctx: OpenContext): Promise<OpenDatabase> {
    for (const stale of ['postmaster.pid', 'standby.signal', 'recovery.signal']) await unlink(join(ctx.dir, stale)).catch(() => undefined);
    if (!exists(join(ctx.dir, 'PG_VERSION'))) {
      throw new UsageError(`${ctx.dir} holds no Postgres data directory (no PG_VERSION)`, {
        hint: "was the snapshot taken by the postgres recipe? check the policy's dataDir and recipe",
      });
    }
    const socketDir = await mkdtemp(join('/tmp', 'lbpg-'));
    const started = Date.now();
    const server = await startServer({ dataDir: ctx.dir, socketDir, settings: { archive_mode: 'off' } });
    const close = async () => {
      await server.stop();
      await rm(socketDir, { recursive: true, force: true });
    };
    try {
      await server.ready(ctx.timeoutMs);
    } catch (err) {
      await close();
      throw err;
    }
    const base: PgConnection = { ...server.connection, user: ctx.database.user ?? 'postgres', database: ctx.database.name ?? 'postgres' };
    const amcheck = findBinary('pg_amcheck');
    return {
      message: `postgres opened the restored data directory: recovery completed, accepting connections after ${((Date.now() - started) / 1000).toFixed(1)} s`,
      env: { PGHOST: socketDir, PGPORT: String(base.port), PGUSER: base.user, PGDATABASE: base.database },
      query: (sql, database) => queryRows(base, sql, database),
      readCanary: () => readCanary(base),
      async integrity() {
        if (!amcheck) return { ok: false, message: 'pg_amcheck is not installed (postgresql package)', output: '' };
        // --install-missing: amcheck is an extension; the restored copy is thrown away after the drill.
        const r = await exec([amcheck, '-h', socketDir, '-p', String(base.port), '-U', base.user, '--all', '--install-missing', '--heapallindexed'], {
          timeoutMs: 3600_000,
        });
        const output = (r.stdout + r.stderr).trim();
        return r.code === 0
          ? { ok: true, message: 'pg_amcheck --all --heapallindexed: no corruption found', output }
          : { ok: false, message: `pg_amcheck exited ${r.code}: ${output.split('\n').slice(0, 2).join(' | ').slice(0, 300)}`, output };
      },
      close,
    };
  },
};

/** Writes `standby.signal` (the server then stays read-only, replaying nothing) or removes it. */
export async function setStandby(dataDir: string, standby: boolean): Promise<void> {
  const path = join(dataDir, 'standby.signal');
  if (standby) {
    await writeFile(path, '');
    await giveTo(path, isRoot() ? PG_SYSTEM_USER : undefined, 0o600);
  } else await unlink(path).catch(() => undefined);
}
