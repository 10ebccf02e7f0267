/**
 * `sqlite-example`: the SQLite example service — the HTTP key-value API of
 * examples/shared/sql-service.ts over a SQLite database (`data.db`, WAL mode) in the data
 * directory, through the `sqlite3` shell (each statement its own process: no compiled Node
 * module needed).
 *
 *   sqlite-example serve      the service (the agent's wrapped application)
 *   sqlite-example-ctl promote|demote|health|ready   the hooks: examples/shared/ctl.mjs (plain JS: fast)
 *
 * SQLite has no server and no replication: a replica serves reads of the snapshot it
 * restored; promotion restores a newer snapshot first when there is one. The agent
 * snapshots it through the sqlite recipe (VACUUM INTO a staging directory).
 *
 * Environment: SQLITE_DIR (else LIFEBOAT_DIR), KV_PORT (HTTP), KV_ROLE_FILE (default
 * `<SQLITE_DIR>.role`).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CANARY_TABLE, canaryFrom } from '../../lambdas/recipes/recipe.js';
import { DEFAULT_SQLITE_FILE, parseQuoted, sqlite } from '../../lambdas/recipes/sqlite.js';
import { roleFileOf } from '../kv/role.js';
import { runSqlService, type SqlEngine } from '../shared/sql-service.js';

const env = process.env;
const dataDir = env.SQLITE_DIR ?? env.LIFEBOAT_DIR;
const port = Number(env.KV_PORT ?? 8080);
const roleFile = env.KV_ROLE_FILE ?? (dataDir ? roleFileOf(dataDir) : '');
const command = process.argv[2];

if (command !== 'serve') {
  console.error('usage: sqlite-example serve (the hooks are sqlite-example-ctl promote|demote|health|ready)');
  process.exit(2);
}
if (!dataDir) {
  console.error('sqlite-example: set SQLITE_DIR (or LIFEBOAT_DIR) to the data directory');
  process.exit(2);
}
const file = join(dataDir, DEFAULT_SQLITE_FILE);
const log = (line: string) => console.error(`sqlite-example: ${line}`);
const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
const read = async (sql: string) => parseQuoted(await sqlite(file, sql, { quote: true, readonly: true }));

const engine: SqlEngine = {
  name: 'sqlite',
  async start(primary) {
    if (!existsSync(file)) {
      log(`no database in ${dataDir} (no snapshot yet): creating ${DEFAULT_SQLITE_FILE}`);
      await mkdir(dataDir, { recursive: true });
    }
    // WAL: readers (and the recipe's VACUUM INTO) never block the writer.
    await sqlite(file, 'pragma journal_mode = wal; create table if not exists kv (k text primary key, v text not null);');
    const [row] = await read('pragma integrity_check;');
    if (row?.[0] !== 'ok') throw new Error(`${file} failed its integrity check: ${String(row?.[0])}`);
    log(`${file} open (${primary ? 'taking writes' : 'read-only replica'})`);
  },
  stop: async () => undefined,
  promote: async () => undefined,
  demote: async () => undefined,
  async canary() {
    const has = await read(`select count(*) from sqlite_master where name = '${CANARY_TABLE}';`);
    if (Number(has[0]?.[0]) === 0) return undefined;
    const [r] = await read(`select max(id), (select taken_at from ${CANARY_TABLE} order by id desc limit 1), count(*) from ${CANARY_TABLE};`);
    return r ? canaryFrom({ id: r[0], at: r[1], rows: r[2] }) : undefined;
  },
  async get(key) {
    const rows = await read(`select v from kv where k = ${q(key)};`);
    return rows[0]?.[0] === undefined ? undefined : String(rows[0][0]);
  },
  async put(key, value) {
    await sqlite(file, `insert into kv (k, v) values (${q(key)}, ${q(value)}) on conflict (k) do update set v = excluded.v;`);
  },
  async all() {
    return Object.fromEntries((await read('select k, v from kv order by k;')).map((r) => [String(r[0]), String(r[1])]));
  },
  async count() {
    return Number((await read('select count(*) from kv;'))[0]?.[0] ?? 0);
  },
};

await runSqlService({ engine, service: env.LIFEBOAT_SERVICE ?? 'sqlite', dataDir, roleFile, port, log });
