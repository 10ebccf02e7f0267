/**
 * The SQLite recipe (the `sqlite3` command-line shell, 3.40 on Debian 12; no compiled Node
 * module needed).
 *
 * Snapshot: `VACUUM INTO` a staging directory. It reads the whole database inside one read
 * transaction, so the copy is exactly the database as of one commit, while writers carry on
 * (in WAL mode they are not even blocked; in rollback mode they wait for the read). The
 * `.backup` command is the alternative; it restarts from scratch whenever another connection
 * writes mid-copy, so on a busy database it may never finish. Copying the file (and its
 * -wal) as files can tear a transaction in half.
 *
 * Canary: just before the copy, a row goes into `lifeboat_canary`; the fact is read from
 * the staged copy itself, so it is by construction what the snapshot holds.
 *
 * Only the database file is snapshot (the policy's `database.file`, default `data.db`);
 * other files in the data directory are not.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Canary, type DatabasePolicy, RECIPE_TRAITS, type SqlValue } from '../domain/drill-checks.js';
import { UsageError } from '../domain/errors.js';
import { execOk, exists, findBinary, requireBinary } from './exec.js';
import { CANARY_TABLE, canaryFrom, type OpenContext, type OpenDatabase, type Recipe, type StageContext, type Staged } from './recipe.js';

export const DEFAULT_SQLITE_FILE = 'data.db';

export const sqliteFile = (database: DatabasePolicy): string => database.file ?? DEFAULT_SQLITE_FILE;

/** Runs SQL with the sqlite3 shell (busy timeout 10 s, stop at the first error) and returns stdout. */
export async function sqlite(file: string, sql: string, o: { readonly?: boolean; quote?: boolean; timeoutMs?: number } = {}): Promise<string> {
  const bin = requireBinary('sqlite3', 'sqlite', 'sqlite3');
  const r = await execOk(
    [bin, '-bail', '-batch', ...(o.quote ? ['-quote'] : ['-list']), ...(o.readonly ? ['-readonly'] : []), '-cmd', '.timeout 10000', file],
    'sqlite3',
    { input: sql, timeoutMs: o.timeoutMs ?? 60_000 },
  );
  return r.stdout;
}

/** Parses `sqlite3 -quote` output: comma-separated SQL literals, one row per line (quoted strings may span lines). */
export function parseQuoted(out: string): SqlValue[][] {
  const rows: SqlValue[][] = [];
  let row: SqlValue[] = [];
  let i = 0;
  const n = out.length;
  while (i < n) {
    let value: SqlValue;
    if (out[i] === "'") {
      let s = '';
      i++;
      for (;;) {
        const q = out.indexOf("'", i);
        if (q === -1) throw new Error('unterminated string in sqlite3 output');
        s += out.slice(i, q);
        if (out[q + 1] === "'") {
          s += "'";
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      value = s;
    } else {
      let j = i;
      while (j < n && out[j] !== ',' && out[j] !== '\n') j++;
      const token = out.slice(i, j).trim();
      i = j;
      value = token === 'NULL' ? null : /^X'/i.test(token) ? token : Number.isFinite(Number(token)) && token !== '' ? Number(token) : token;
    }
    row.push(value);
    if (out[i] === ',') i++;
    else {
      rows.push(row);
      row = [];
      while (out[i] === '\n' || out[i] === '\r') i++;
    }
  }
  return rows;
}

const CANARY_READ = `select max(id), (select taken_at from ${CANARY_TABLE} order by id desc limit 1), count(*) from ${CANARY_TABLE};`;

async function readCanaryFrom(file: string): Promise<Canary | undefined> {
  const has = parseQuoted(
    await sqlite(file, `select count(*) from sqlite_master where type = 'table' and name = '${CANARY_TABLE}';`, { readonly: true, quote: true }),
  );
  if (Number(has[0]?.[0]) === 0) return undefined;
  const [row] = parseQuoted(await sqlite(file, CANARY_READ, { readonly: true, quote: true }));
  return row ? canaryFrom({ id: row[0], at: row[1], rows: row[2] }) : undefined;
}

export const sqliteRecipe: Recipe = {
  name: 'sqlite',

  missing(env = process.env) {
    return RECIPE_TRAITS.sqlite.binaries
      .filter((b) => !findBinary(b, env))
      .map((b) => `${b} (install the sqlite3 package in the image: apt-get install -y sqlite3)`);
  },

  async stage(ctx: StageContext): Promise<Staged> {
    const name = sqliteFile(ctx.database);
    const live = join(ctx.dataDir, name);
    if (!exists(live))
      throw new UsageError(`the sqlite recipe found no database at ${live}`, {
        hint: 'set database.file in the policy to the database file, relative to the data directory',
      });
    const parent = await mkdtemp(join(ctx.env?.LIFEBOAT_STAGING_DIR ?? tmpdir(), 'lifeboat-sqlite-'));
    const cleanup = () => rm(parent, { recursive: true, force: true });
    try {
      const started = Date.now();
      const target = join(parent, 'data', name);
      const { mkdir } = await import('node:fs/promises');
      await mkdir(join(target, '..'), { recursive: true });
      const canarySql =
        ctx.database.canary === false
          ? ''
          : `create table if not exists ${CANARY_TABLE} (id integer primary key autoincrement, taken_at text not null); ` +
            `insert into ${CANARY_TABLE} (taken_at) values (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); `;
      await sqlite(live, `${canarySql}vacuum into '${target.replace(/'/g, "''")}';`, { timeoutMs: 6 * 3600_000 });
      const canary = ctx.database.canary === false ? undefined : await readCanaryFrom(target);
      return { dir: join(parent, 'data'), ...(canary ? { canary } : {}), note: `VACUUM INTO in ${((Date.now() - started) / 1000).toFixed(1)} s`, cleanup };
    } catch (err) {
      await cleanup();
      throw err;
    }
  },

  async open(ctx: OpenContext): Promise<OpenDatabase> {
    const file = join(ctx.dir, sqliteFile(ctx.database));
    if (!exists(file))
      throw new UsageError(`the restored data directory has no database file ${sqliteFile(ctx.database)}`, { hint: 'check database.file in the policy' });
    // Opening and reading the schema is what the application does first.
    const started = Date.now();
    const tables = parseQuoted(await sqlite(file, `select count(*) from sqlite_master;`, { readonly: true, quote: true }))[0]?.[0];
    return {
      message: `sqlite3 opened ${sqliteFile(ctx.database)} (${tables} schema objects) in ${((Date.now() - started) / 1000).toFixed(2)} s`,
      env: { LIFEBOAT_DB_FILE: file },
      query: async (sql) => parseQuoted(await sqlite(file, sql.trim().endsWith(';') ? sql : `${sql};`, { readonly: true, quote: true })),
      readCanary: () => readCanaryFrom(file),
      async integrity() {
        const out = (await sqlite(file, 'pragma integrity_check;', { readonly: true })).trim();
        return out === 'ok'
          ? { ok: true, message: 'PRAGMA integrity_check: ok', output: out }
          : { ok: false, message: `PRAGMA integrity_check: ${out.split('\n').slice(0, 2).join(' | ').slice(0, 300)}`, output: out };
      },
      close: async () => undefined,
    };
  },
};
