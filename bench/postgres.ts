/**
 * `npm run bench:postgres`: the postgres recipe on a ~1 GiB database (pgbench scale 70 by
 * default; LIFEBOAT_BENCH_PG_SCALE changes it).
 *
 *   1. pgbench write throughput (simple-update, 2 clients, a progress line per second) for
 *      LIFEBOAT_BENCH_SECONDS without a snapshot, before and after step 2 (the load drifts);
 *   2. the same while a recipe snapshot runs (pg_basebackup -X stream → staging → engine →
 *      directory store), read off the seconds inside the snapshot's window, with the
 *      snapshot's own time and its pg_basebackup part;
 *   3. restore-to-serving: restore into an empty directory, start Postgres on it, until it
 *      accepts connections out of recovery;
 *   4. the drill's RTO: restore + the recipe's open + canary + integrity (pg_amcheck) + a SQL check.
 *
 * Catalog: DynamoDB Local (started here); store: a directory. Prints a Markdown table for
 * docs/PERFORMANCE.md. The machine's load matters: the numbers are one run, say so.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDynamoClient } from '../lambdas/adapters/aws.js';
import { DynamoSnapshotCatalog, ensureCatalogTable } from '../lambdas/adapters/catalog.js';
import { DirectoryStore } from '../lambdas/adapters/stores/directory-store.js';
import { runDatabaseChecks } from '../lambdas/agent/checks.js';
import { restoreSnapshot } from '../lambdas/engine/restore.js';
import { DEFAULT_SNAPSHOT_CONCURRENCY } from '../lambdas/engine/snapshot.js';
import { startEmbeddedServices } from '../lambdas/local/embedded-services.js';
import { execOk, giveTo, isRoot, requireBinary } from '../lambdas/recipes/exec.js';
import { initCluster, PG_SYSTEM_USER, startServer } from '../lambdas/recipes/postgres.js';
import { takeRecipeSnapshot } from '../lambdas/recipes/snapshot.js';

const scale = Number(process.env.LIFEBOAT_BENCH_PG_SCALE ?? 70);
const seconds = Number(process.env.LIFEBOAT_BENCH_SECONDS ?? 30);
// Parts the engine compresses and stores at once (LIFEBOAT_BENCH_CONCURRENCY; default the engine's): on 2 cores it competes with the database.
const concurrency = Number(process.env.LIFEBOAT_BENCH_CONCURRENCY ?? DEFAULT_SNAPSHOT_CONCURRENCY);
const service = 'pgbench';
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

interface Progress {
  at: number;
  tps: number;
}

/**
 * pgbench -N (2 clients) with a progress line every second, timestamped here, so the
 * throughput of any window (the snapshot's) can be read off; `stop()` ends it early.
 */
function pgbench(conn: { host: string; port: number }, duration: number) {
  const bin = requireBinary('pgbench', 'postgres', 'postgresql');
  const child = spawn(
    bin,
    ['-h', conn.host, '-p', String(conn.port), '-U', 'postgres', '-N', '-c', '2', '-j', '2', '-P', '1', '-T', String(duration), 'postgres'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const progress: Progress[] = [];
  let tail = '';
  let buffered = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^progress: [\d.]+ s, ([\d.]+) tps/.exec(line);
      if (m) progress.push({ at: Date.now(), tps: Number(m[1]) });
      else tail = line;
    }
  });
  const done = new Promise<void>((resolve, reject) =>
    child.once('close', (code, signal) => {
      if (code === 0 || signal === 'SIGINT' || signal === 'SIGTERM') resolve();
      else reject(new Error(`pgbench exited ${code ?? signal}: ${tail}`));
    }),
  );
  return {
    progress,
    done,
    stop: () => {
      child.kill('SIGTERM');
      return done;
    },
  };
}

/** Mean tps of the one-second intervals that ended inside [from, to]. */
function tpsBetween(progress: Progress[], from: number, to: number): { tps: number; samples: number } {
  const inside = progress.filter((p) => p.at > from && p.at <= to);
  if (inside.length === 0) throw new Error('pgbench reported no progress in the window');
  return { tps: inside.reduce((a, p) => a + p.tps, 0) / inside.length, samples: inside.length };
}

/** Throughput without a snapshot: `seconds` of pgbench, the first 3 s (warm-up) left out. */
async function baselineTps(conn: { host: string; port: number }): Promise<number> {
  const run = pgbench(conn, seconds + 3);
  const from = Date.now() + 3000;
  await run.done;
  return tpsBetween(run.progress, from, Date.now()).tps;
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
  // Without a snapshot before and after (the machine is shared: its load drifts), and during one.
  const before = await baselineTps(conn);
  console.error(`without a snapshot: ${before.toFixed(0)} tps`);

  const during = pgbench(conn, 3600);
  await new Promise((r) => setTimeout(r, 3000));
  const snapStart = Date.now();
  let stagedAt = 0;
  const snap = await takeRecipeSnapshot({
    catalog,
    store,
    service,
    dir: dataDir,
    recipe: 'postgres',
    database: {},
    reason: 'bench',
    concurrency,
    onNotice: (line) => {
      if (line.startsWith('postgres recipe:')) stagedAt = Date.now();
    },
  });
  const snapEnd = Date.now();
  await during.stop();
  const snapshotMs = snapEnd - snapStart;
  const stageMs = stagedAt ? stagedAt - snapStart : Number.NaN;
  const duringAll = tpsBetween(during.progress, snapStart, snapEnd);
  const duringStage = stagedAt ? tpsBetween(during.progress, snapStart, stagedAt) : duringAll;
  const after = await baselineTps(conn);
  const baseline = (before + after) / 2;
  console.error(
    `snapshot ${snap.record.id}: ${s(snapshotMs)} (pg_basebackup ${s(stageMs)}), ${((snap.record.dataSize ?? 0) / 2 ** 30).toFixed(2)} GiB data, ${((snap.record.size ?? 0) / 2 ** 20).toFixed(0)} MiB stored; pgbench meanwhile ${duringAll.tps.toFixed(0)} tps (${duringStage.tps.toFixed(0)} during pg_basebackup); after: ${after.toFixed(0)} tps`,
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

  const cost = (tps: number) => {
    const c = ((baseline - tps) / baseline) * 100;
    return c >= 0 ? `${c.toFixed(1)} % less` : `${(-c).toFixed(1)} % more`;
  };
  console.log(`
Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores (load average ${loadavg()[0]!.toFixed(1)} at the end: a shared machine), pgbench scale ${scale} (${(Number(size) / 2 ** 30).toFixed(2)} GiB):

| measure | value |
| --- | --- |
| snapshot (pg_basebackup -X stream → engine, ${concurrency} part${concurrency === 1 ? '' : 's'} at once → directory store) | ${s(snapshotMs)} (pg_basebackup ${s(stageMs)}; ${((snap.record.dataSize ?? 0) / 2 ** 30).toFixed(2)} GiB → ${((snap.record.size ?? 0) / 2 ** 20).toFixed(0)} MiB stored) |
| restore into an empty directory | ${s(restoredMs)} |
| restore to serving (Postgres out of recovery, accepting connections) | ${s(servingMs)} |
| drill RTO (restore + open + canary + pg_amcheck --heapallindexed + SQL) | ${s(rtoMs)} (open ${by('open')} s, integrity ${by('integrity')} s) |
| pgbench -N, 2 clients, without a snapshot (${seconds} s before and after) | ${before.toFixed(0)} / ${after.toFixed(0)} tps (mean ${baseline.toFixed(0)}) |
| the same while the snapshot runs (${duringAll.samples} s) | ${duringAll.tps.toFixed(0)} tps (${cost(duringAll.tps)}) |
| … of which while pg_basebackup copies (${duringStage.samples} s) | ${duringStage.tps.toFixed(0)} tps (${cost(duringStage.tps)}) |
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
