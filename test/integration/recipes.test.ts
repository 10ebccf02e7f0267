/**
 * The recipes on real engines (PostgreSQL 15 as the postgres user on a private socket; the
 * sqlite3 shell): a consistent staged copy with its canary, opened like a restore, checked.
 * Without the binaries these tests fail saying what to install; nothing is skipped.
 */
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDatabaseChecks } from '../../lambdas/agent/checks.js';
import { giveTo, isRoot } from '../../lambdas/recipes/exec.js';
import { initCluster, PG_SYSTEM_USER, type PgServer, postgresRecipe, psql, startServer } from '../../lambdas/recipes/postgres.js';
import { sqlite, sqliteRecipe } from '../../lambdas/recipes/sqlite.js';

const clock = () => new Date();
let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'lifeboat-recipes-'));
  await giveTo(work, isRoot() ? PG_SYSTEM_USER : undefined, 0o755);
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('the sqlite recipe', () => {
  it('GIVEN a live database WHEN staged THEN the copy holds the canary it recorded, opens, passes its checks; a damaged copy fails integrity', async () => {
    expect(sqliteRecipe.missing(), 'install sqlite3 (apt-get install -y sqlite3)').toEqual([]);
    const data = join(work, 'sqlite');
    await mkdir(data);
    await sqlite(join(data, 'data.db'), "pragma journal_mode=wal; create table kv (k text primary key, v text); insert into kv values ('a', '1'), ('b', '2');");
    const staged = await sqliteRecipe.stage({ dataDir: data, database: {} });
    try {
      expect(staged.canary).toMatchObject({ id: 1, rows: 1 });
      const r = await runDatabaseChecks({
        recipe: 'sqlite',
        checks: [
          { type: 'integrity' },
          { type: 'sql', name: 'rows', query: 'select count(*) from kv', expect: { equals: 2 } },
          { type: 'command', name: 'env', command: 'test -f "$LIFEBOAT_DB_FILE"' },
        ],
        dir: staged.dir,
        expectedCanary: staged.canary,
        drillStartedAt: new Date().toISOString(),
        env: {},
        remainingMs: () => 60_000,
        clock,
      });
      expect(r.failure).toBeUndefined();
      expect(r.canary?.matches).toBe(true);
      expect(r.checks.map((c) => `${c.name}:${c.status}`)).toEqual(['open:passed', 'canary:passed', 'integrity:passed', 'rows:passed', 'env:passed']);
      // A newer canary than the copy holds: the drill must fail.
      const stale = await runDatabaseChecks({
        recipe: 'sqlite',
        checks: [],
        dir: staged.dir,
        expectedCanary: { ...staged.canary!, id: 2 },
        drillStartedAt: new Date().toISOString(),
        env: {},
        remainingMs: () => 60_000,
        clock,
      });
      expect(stale.failure?.reason).toMatch(/check canary failed: the snapshot recorded canary #2/);
      // Damage a page in the middle of the file.
      const fh = await open(join(staged.dir, 'data.db'), 'r+');
      await fh.write(Buffer.alloc(2048, 0xab), 0, 2048, 4096);
      await fh.close();
      const damaged = await runDatabaseChecks({
        recipe: 'sqlite',
        checks: [{ type: 'integrity' }],
        dir: staged.dir,
        drillStartedAt: new Date().toISOString(),
        env: {},
        remainingMs: () => 60_000,
        clock,
      });
      expect(damaged.failure?.status).toBe('failed');
    } finally {
      await staged.cleanup();
    }
  });

  it('GIVEN a drill image without sqlite3 WHEN the checks run THEN open errors naming the binary and the package; no check runs on nothing', async () => {
    const data = join(work, 'sqlite-nobinary');
    await mkdir(data);
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent'; // the drill task's image, without the engine
    try {
      const r = await runDatabaseChecks({
        recipe: 'sqlite',
        checks: [{ type: 'integrity' }],
        dir: data,
        drillStartedAt: new Date().toISOString(),
        env: {},
        remainingMs: () => 60_000,
        clock,
      });
      expect(r.checks.map((c) => `${c.name}:${c.status}`)).toEqual(['open:error']);
      expect(r.failure).toMatchObject({ status: 'error' });
      expect(r.failure?.reason).toMatch(
        /the sqlite recipe needs binaries this drill image lacks: sqlite3 \(install the sqlite3 package in the image: apt-get install -y sqlite3\)/,
      );
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('the postgres recipe', () => {
  let server: PgServer | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it('GIVEN a running server WHEN staged with pg_basebackup THEN the copy opens after recovery and holds exactly the recorded canary', async () => {
    expect(postgresRecipe.missing(), 'install postgresql (apt-get install -y postgresql)').toEqual([]);
    const data = join(work, 'pg');
    await mkdir(data);
    await giveTo(data, isRoot() ? PG_SYSTEM_USER : undefined, 0o700);
    await initCluster(data, { noSync: true });
    server = await startServer({ dataDir: data, socketDir: await mkdtemp('/tmp/lbpgt-'), settings: { fsync: 'off' } });
    await server.ready(60_000);
    const conn = server.connection;
    await psql(conn, 'create table orders (id int primary key); insert into orders select generate_series(1, 100)');
    const env = { ...process.env, PGHOST: conn.host, PGPORT: String(conn.port), PGUSER: 'postgres' };
    const staged = await postgresRecipe.stage({ dataDir: data, database: {}, env });
    // Written after the copy: must not be in it.
    await psql(conn, 'insert into orders values (101)');
    try {
      expect(staged.canary).toMatchObject({ id: 1, rows: 1 });
      const r = await runDatabaseChecks({
        recipe: 'postgres',
        checks: [
          { type: 'integrity' },
          { type: 'sql', name: 'orders', query: 'select count(*) from orders', expect: { equals: 100 } },
          { type: 'command', name: 'psql', command: 'psql -X -A -t -c "select 1"' },
        ],
        dir: staged.dir,
        expectedCanary: staged.canary,
        drillStartedAt: new Date().toISOString(),
        env: {},
        remainingMs: () => 120_000,
        clock,
      });
      expect(r.failure, JSON.stringify(r.checks)).toBeUndefined();
      expect(r.checks.map((c) => `${c.name}:${c.status}`)).toEqual(['open:passed', 'canary:passed', 'integrity:passed', 'orders:passed', 'psql:passed']);
      expect(r.checks[0]!.message).toContain('recovery completed');
    } finally {
      await staged.cleanup();
    }
  }, 180_000);
});
