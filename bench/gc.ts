/**
 * `npm run bench:gc [-- --snapshots N] [-- --files N]`
 *
 * Garbage collection of 100 snapshots (issue 11: "GC of 100 snapshots: state the time and
 * requests"). On DynamoDB Local and each store (the local S3 server, a directory): a tree
 * of N files (16 KiB each) is snapshotted 100 times in format v2, each time after 5 % of its
 * files changed; then retention deletes 90 of them (keep the last 10) and GC runs three
 * times with grace 0: mark (condemn and repack), sweep (delete), and a steady-state run with
 * nothing to do. Each run's wall time and store requests (counted by wrapping the store,
 * adapters/stores/counting-store.ts) are reported, with what it condemned and deleted.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoClient, createS3Client } from '../lambdas/adapters/aws.js';
import { DynamoSnapshotCatalog, ensureCatalogTable } from '../lambdas/adapters/catalog.js';
import { DynamoGcLease } from '../lambdas/adapters/gc-lease.js';
import { countingStore } from '../lambdas/adapters/stores/counting-store.js';
import { DirectoryStore } from '../lambdas/adapters/stores/directory-store.js';
import { S3Store } from '../lambdas/adapters/stores/s3-store.js';
import type { ObjectStore } from '../lambdas/adapters/stores/store.js';
import { snapshotPrefix } from '../lambdas/contract/keys.js';
import { collectGarbage } from '../lambdas/control/gc.js';
import { makeSnapshotId } from '../lambdas/domain/ids.js';
import { uploadSnapshotV2 } from '../lambdas/engine/v2/snapshot-v2.js';
import { startEmbeddedServices } from '../lambdas/local/embedded-services.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const SNAPSHOTS = flag('--snapshots', 100);
const FILES = flag('--files', 400);
const KEEP = Math.max(1, Math.round(SNAPSHOTS / 10));

async function stored(store: ObjectStore, prefix: string): Promise<{ objects: number; bytes: number }> {
  let objects = 0;
  let bytes = 0;
  for await (const o of store.list(prefix)) {
    objects++;
    bytes += o.size;
  }
  return { objects, bytes };
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

async function run(label: string, store: ObjectStore, catalog: DynamoSnapshotCatalog, lease: DynamoGcLease, work: string): Promise<string[]> {
  const service = `bench-gc-${randomBytes(3).toString('hex')}`;
  const dir = join(work, `${service}-data`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < FILES; i++) await writeFile(join(dir, `f${i}`), randomBytes(16 * 1024));
  const ids: string[] = [];
  const t0 = Date.now();
  for (let s = 0; s < SNAPSHOTS; s++) {
    if (s > 0) for (let j = 0; j < Math.ceil(FILES / 20); j++) await writeFile(join(dir, `f${Math.floor(Math.random() * FILES)}`), randomBytes(16 * 1024));
    const createdAt = new Date();
    const id = makeSnapshotId(createdAt, randomBytes(4));
    await uploadSnapshotV2({ catalog, store, service, id, root: dir, createdAt, now: () => new Date(), signal: new AbortController().signal, workers: 1 });
    ids.push(id);
  }
  const snapTime = (Date.now() - t0) / 1000;
  // Retention's deletion of all but the last KEEP: mark expiring, delete the manifest prefix, delete the entry.
  for (const id of ids.slice(0, SNAPSHOTS - KEEP)) {
    await catalog.markExpiring(service, id, { status: 'complete' }, new Date().toISOString());
    const keys: string[] = [];
    for await (const o of store.list(snapshotPrefix(service, id))) keys.push(o.key);
    await store.delete(keys);
    await catalog.deleteExpiring(service, id);
  }
  const before = await stored(store, `${service}/`);
  const lines = [
    `${label}: ${SNAPSHOTS} snapshots of ${FILES} × 16 KiB files (5 % changed each time) in ${snapTime.toFixed(1)} s; ${SNAPSHOTS - KEEP} deleted by retention; store holds ${before.objects} objects, ${mib(before.bytes)}`,
  ];
  for (const phase of ['mark', 'sweep', 'steady']) {
    const { store: counted, counts, total } = countingStore(store);
    const t = process.hrtime.bigint();
    const r = await collectGarbage({ catalog, objects: counted, gcLease: lease }, { service, graceMs: 0 });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    lines.push(
      `  ${phase.padEnd(6)} ${(ms / 1000).toFixed(2).padStart(6)} s  ${String(total()).padStart(5)} requests (get ${counts.get}, put ${counts.put}, list ${counts.list}, delete ${counts.delete}, other ${counts.other})  condemned ${r.condemnedPacks.objects} packs ${mib(r.condemnedPacks.bytes)}, repacked ${r.repacked.packs}, deleted ${r.deleted.objects} objects ${mib(r.deleted.bytes)}`,
    );
  }
  const after = await stored(store, `${service}/`);
  lines.push(`  store after: ${after.objects} objects, ${mib(after.bytes)}`);
  await rm(dir, { recursive: true, force: true });
  return lines;
}

async function main(): Promise<void> {
  const services = await startEmbeddedServices();
  Object.assign(process.env, services.env);
  const work = await mkdtemp(join(tmpdir(), 'lifeboat-bench-gc-'));
  try {
    const table = 'lifeboat-bench-gc';
    await ensureCatalogTable(new DynamoDBClient({}), table);
    const catalog = new DynamoSnapshotCatalog(createDynamoClient(), table);
    const lease = new DynamoGcLease(createDynamoClient(), table);
    const s3 = new S3Store({ client: createS3Client(), bucket: 'lifeboat-bench-gc', prefix: 'p/' });
    await s3.ensure();
    const dirStore = new DirectoryStore(join(work, 'store'));
    await dirStore.ensure();
    const out = [
      `GC benchmark ${new Date().toISOString()} on ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}, Node ${process.version}`,
      ...(await run('directory store', dirStore, catalog, lease, work)),
      ...(await run('S3 (fauxqs, loopback)', s3, catalog, lease, work)),
    ];
    console.log(out.join('\n'));
  } finally {
    await rm(work, { recursive: true, force: true });
    await services.stop();
  }
}

await main();
