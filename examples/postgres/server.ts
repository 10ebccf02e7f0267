/**
 * `pg-example`: the Postgres example service — a real PostgreSQL 15 server plus the small
 * HTTP key-value API of examples/shared/sql-service.ts over it (table `kv`), in one task.
 *
 *   pg-example serve      the service (the agent's wrapped application)
 *   pg-example-ctl promote|demote|health|ready   the hooks: examples/shared/ctl.mjs (plain JS: fast)
 *
 * The server runs in the foreground as a child (as the `postgres` user when we are root),
 * listening only on a Unix socket in $PGHOST: no TCP port, so any number of tasks share a
 * machine. A replica runs as a hot standby of its restored snapshot (read-only; it has no
 * primary to stream from); promotion is `pg_promote()`, or a restore of a newer snapshot
 * first. The agent snapshots it through the postgres recipe (pg_basebackup over $PGHOST).
 *
 * Environment: PGDATA (else LIFEBOAT_DIR), PGHOST (socket directory), PGPORT (socket
 * number, default 5432), KV_PORT (HTTP), KV_ROLE_FILE (default `<PGDATA>.role`).
 */
import { existsSync } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { giveTo, isRoot } from '../../lambdas/recipes/exec.js';
import {
  initCluster,
  PG_SYSTEM_USER,
  type PgConnection,
  type PgServer,
  psql,
  queryRows,
  readCanary,
  setStandby,
  startServer,
} from '../../lambdas/recipes/postgres.js';
import { roleFileOf } from '../kv/role.js';
import { runSqlService, type SqlEngine } from '../shared/sql-service.js';

const env = process.env;
const dataDir = env.PGDATA ?? env.LIFEBOAT_DIR;
const port = Number(env.KV_PORT ?? 8080);
const roleFile = env.KV_ROLE_FILE ?? (dataDir ? roleFileOf(dataDir) : '');
const command = process.argv[2];

if (command !== 'serve') {
  console.error('usage: pg-example serve (the hooks are pg-example-ctl promote|demote|health|ready)');
  process.exit(2);
}
if (!dataDir || !env.PGHOST) {
  console.error('pg-example: set PGDATA (or LIFEBOAT_DIR) and PGHOST (the socket directory)');
  process.exit(2);
}

const log = (line: string) => console.error(`pg-example: ${line}`);
const conn: PgConnection = { host: env.PGHOST, port: Number(env.PGPORT ?? 5432), user: 'postgres', database: 'postgres' };
const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
let server: PgServer | undefined;

async function ensureSchema(): Promise<void> {
  await psql(conn, 'create table if not exists kv (k text primary key, v text not null)');
}

const engine: SqlEngine = {
  name: 'postgres',
  async start(primary) {
    if (!existsSync(join(dataDir, 'PG_VERSION'))) {
      log(`no database in ${dataDir} (no snapshot yet): initdb`);
      await mkdir(dataDir, { recursive: true });
      await giveTo(dataDir, isRoot() ? PG_SYSTEM_USER : undefined, 0o700);
      await initCluster(dataDir, { noSync: true }); // a fresh, empty cluster: nothing to lose if it is torn
    }
    await unlink(join(dataDir, 'postmaster.pid')).catch(() => undefined);
    await setStandby(dataDir, !primary);
    server = await startServer({
      dataDir,
      socketDir: conn.host,
      port: conn.port,
      // Small: three of these share a laptop in local mode. syncfs: a restored directory is synced in one call.
      settings: { shared_buffers: '32MB', recovery_init_sync_method: 'syncfs', ...(env.PG_FSYNC ? { fsync: env.PG_FSYNC } : {}) },
      onLog: (line) => console.error(`postgres: ${line}`),
    });
    const ms = await server.ready(300_000, { standby: !primary });
    log(`postgres ${primary ? 'accepting writes' : 'serving read-only (hot standby)'} on ${conn.host} after ${(ms / 1000).toFixed(1)} s`);
    if (primary) await ensureSchema();
  },
  async stop() {
    await server?.stop();
    server = undefined;
  },
  async promote() {
    await psql(conn, 'select pg_promote(true, 60)');
    await ensureSchema();
  },
  async demote() {
    await engine.stop();
    await engine.start(false);
  },
  canary: () => readCanary(conn),
  async get(key) {
    const rows = await queryRows(conn, `select v from kv where k = ${q(key)}`);
    return rows[0]?.[0] === undefined ? undefined : String(rows[0][0]);
  },
  async put(key, value) {
    await psql(conn, `insert into kv (k, v) values (${q(key)}, ${q(value)}) on conflict (k) do update set v = excluded.v`);
  },
  async all() {
    const rows = await queryRows(conn, 'select k, v from kv order by k');
    return Object.fromEntries(rows.map((r) => [String(r[0]), String(r[1])]));
  },
  async count() {
    return Number((await queryRows(conn, 'select count(*) from kv'))[0]?.[0] ?? 0);
  },
};

await runSqlService({ engine, service: env.LIFEBOAT_SERVICE ?? 'postgres', dataDir, roleFile, port, log });
