/**
 * `npm run bench:postgres`: the postgres recipe on a ~1 GiB database (pgbench scale 70 by
 * default; LIFEBOAT_BENCH_PG_SCALE changes it).
 *
 *   1. pgbench write throughput (simple-update, 2 clients) for BENCH_SECONDS without a snapshot;
 *   2. the same while a recipe snapshot runs (pg_basebackup -X stream → staging → engine →
 *      directory store), with the snapshot's own time;
 *   3. restore-to-serving: restore into an empty directory, start Postgres on it, until it
 *      accepts connections out of recovery;
 *   4. the drill's RTO: restore + the recipe's open + canary + integrity (pg_amcheck) + a SQL check.
 *
 * Catalog: DynamoDB Local (started here); store: a directory. Prints a Markdown table for
 * docs/PERFORMANCE.md. The machine's load matters: the numbers are one run, say so.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDynamoClient } from '../lambdas/adapters/aws.js';
import { DynamoSnapshotCatalog, ensureCatalogTable } from '../lambdas/adapters/catalog.js';
import { DirectoryStore } from '../lambdas/adapters/stores/directory-store.js';
import { runDatabaseChecks } from '../lambdas/agent/checks.js';
import { restoreSnapshot } from '../lambdas/engine/restore.js';
import { startEmbeddedServices } from '../lambdas/local/embedded-services.js';
import { execOk, giveTo, isRoot, requireBinary } from '../lambdas/recipes/exec.js';
import { initCluster, PG_SYSTEM_USER, startServer } from '../lambdas/recipes/postgres.js';
import { takeRecipeSnapshot } from '../lambdas/recipes/snapshot.js';

const scale = Number(process.env.LIFEBOAT_BENCH_PG_SCALE ?? 70);
const seconds = Number(process.env.LIFEBOAT_BENCH_SECONDS ?? 30);
const service = 'pgbench';
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function pgbench(conn: { host: string; port: number }, duration: number): Promise<number> {
  const bin = requireBinary('pgbench', 'postgres', 'postgresql');
  const r = await execOk(
    [bin, '-h', conn.host, '-p', String(conn.port), '-U', 'postgres', '-N', '-c', '2', '-j', '2', '-T', String(duration), 'postgres'],
    'pgbench',
    { timeoutMs: (duration + 120) * 1000 },
  );
  const m = /tps = ([\d.]+)/.exec(r.stdout);
  if (!m) throw new Error(`pgbench printed no tps: ${r.stdout.slice(-300)}`);
  return Number(m[1]);
}

const work = await mkdtemp(join(tmpdir(), 'lifeboat-bench-pg-'));
await giveTo(work, isRoot() ? PG_SYSTEM_USER : undefined, 0o755);
// DynamoDB Local (java) may miss its start deadline on a loaded machine: try again.
const services = await (async () => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEmbeddedServices();
    } catch (err) {
      if (attempt >= 3) throw err;
      console.error(`embedded services did not start (${(err as Error).message.split('\n')[0]}); again`);
    }
  }
})();
const server: { stop(): Promise<void> }[] = [];
try {
  Object.assign(process.env, services.env, { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
  const dynamo = createDynamoClient(process.env);
  const table = `bench-pg-${randomBytes(3).toString('hex')}`;
  await ensureCatalogTable(dynamo, table);
  const catalog = new DynamoSnapshotCatalog(dynamo, table);
  const store = new DirectoryStore(join(work, 'store'));
  await store.ensure();

  const dataDir = join(work, 'data');
  await mkdir(dataDir);
  await giveTo(dataDir, isRoot() ? PG_SYSTEM_USER : undefined, 0o700);
  await initCluster(dataDir);
  const live = await startServer({ dataDir, socketDir: join(work, 'sock'), settings: { shared_buffers: '256MB', max_wal_size: '2GB' } });
  server.push(live);
  await live.ready(120_000);
  const conn = live.connection;
  const t0 = Date.now();
  await execOk(
    [
      requireBinary('pgbench', 'postgres', 'postgresql'),
      '-i',
      '-q',
      '-s',
      String(scale),
      '-h',
      conn.host,
      '-p',
      String(conn.port),
      '-U',
      'postgres',
      'postgres',
    ],
    'pgbench -i',
    { timeoutMs: 3600_000 },
  );
  const size = (
    await execOk(
      [
        requireBinary('psql', 'postgres', 'postgresql-client'),
        '-X',
        '-A',
        '-t',
        '-h',
        conn.host,
        '-U',
        'postgres',
        '-c',
        "select pg_database_size('postgres')",
      ],
      'size',
    )
  ).stdout.trim();
  console.error(`pgbench -i -s ${scale}: ${(Number(size) / 2 ** 30).toFixed(2)} GiB in ${s(Date.now() - t0)}`);

  const env = { ...process.env, PGHOST: conn.host, PGPORT: String(conn.port), PGUSER: 'postgres' };
  Object.assign(process.env, env);
  const baseline = await pgbench(conn, seconds);
  console.error(`baseline: ${baseline.toFixed(0)} tps`);

  // pgbench runs for the whole snapshot (it is started first and outlasts it).
  const during = pgbench(conn, seconds);
  await new Promise((r) => setTimeout(r, 2000));
  const snapStart = Date.now();
  const snap = await takeRecipeSnapshot({ catalog, store, service, dir: dataDir, recipe: 'postgres', database: {}, reason: 'bench' });
  const snapshotMs = Date.now() - snapStart;
  const duringTps = await during;
  console.error(
    `snapshot ${snap.record.id}: ${s(snapshotMs)}, ${((snap.record.dataSize ?? 0) / 2 ** 30).toFixed(2)} GiB; pgbench meanwhile ${duringTps.toFixed(0)} tps`,
  );

  // Restore to serving.
  const restoreDir = join(work, 'restored');
  const r0 = Date.now();
  await restoreSnapshot({ catalog, store, service, dir: restoreDir, snapshot: snap.record.id });
  const restoredMs = Date.now() - r0;
  await makeOwned(restoreDir);
  const restored = await startServer({ dataDir: restoreDir, socketDir: join(work, 'sock2'), settings: { shared_buffers: '128MB' } });
  server.push(restored);
  await restored.ready(600_000);
  const servingMs = Date.now() - r0;
  await restored.stop();
  console.error(`restore ${s(restoredMs)}, serving after ${s(servingMs)}`);

  // The drill: restore + open + canary + integrity + SQL.
  const drillDir = join(work, 'drill');
  const d0 = Date.now();
  const drillRestore = await restoreSnapshot({ catalog, store, service, dir: drillDir, snapshot: snap.record.id });
  if (drillRestore.status !== 'restored') throw new Error('drill restore did not run');
  const checks = await runDatabaseChecks({
    recipe: 'postgres',
    database: {},
    checks: [{ type: 'integrity' }, { type: 'sql', name: 'accounts', query: 'select count(*) from pgbench_accounts', expect: { equals: scale * 100_000 } }],
    dir: drillDir,
    expectedCanary: drillRestore.snapshot.canary,
    drillStartedAt: new Date(d0).toISOString(),
    env: {},
    remainingMs: () => 3600_000,
    clock: () => new Date(),
  });
  const rtoMs = Date.now() - d0;
  if (checks.failure) throw new Error(`drill checks failed: ${checks.failure.reason}`);
  const by = (name: string) => checks.checks.find((c) => c.name === name)?.durationSeconds ?? 0;
  console.error(`drill RTO ${s(rtoMs)} (open ${by('open')} s, integrity ${by('integrity')} s, canary ${checks.canary?.matches ? 'matches' : 'MISMATCH'})`);

  const cost = ((baseline - duringTps) / baseline) * 100;
  console.log(`
Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores (load average ${loadavg()[0]!.toFixed(1)} at the end: a shared machine), pgbench scale ${scale} (${(Number(size) / 2 ** 30).toFixed(2)} GiB):

| measure | value |
| --- | --- |
| snapshot (pg_basebackup -X stream → engine → directory store) | ${s(snapshotMs)} |
| restore into an empty directory | ${s(restoredMs)} |
| restore to serving (Postgres out of recovery, accepting connections) | ${s(servingMs)} |
| drill RTO (restore + open + canary + pg_amcheck --heapallindexed + SQL) | ${s(rtoMs)} (open ${by('open')} s, integrity ${by('integrity')} s) |
| pgbench -N, 2 clients, ${seconds} s, without a snapshot | ${baseline.toFixed(0)} tps |
| the same while a snapshot runs | ${duringTps.toFixed(0)} tps (${cost >= 0 ? `${cost.toFixed(1)} % less` : `${(-cost).toFixed(1)} % more`}) |
`);
} finally {
  for (const x of server) await x.stop().catch(() => undefined);
  await services.stop();
  await rm(work, { recursive: true, force: true });
}

/** A restore as root keeps the manifest's owner (postgres); make sure of it for the directory itself. */
async function makeOwned(dir: string): Promise<void> {
  await giveTo(dir, isRoot() ? PG_SYSTEM_USER : undefined, 0o700);
}
