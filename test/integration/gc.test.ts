/**
 * Garbage collection (control/gc.ts) on DynamoDB Local and both store backends: condemn
 * then sweep, the grace period, dry runs, the lease, a concurrent snapshot that reused a
 * condemned pack (rescued, never left pointing at nothing), leftovers of dead writers, and a
 * crash before every destructive step followed by runs that converge with every complete
 * snapshot restoring bit-exact.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../lambdas/adapters/aws.js';
import type { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import type { DirectoryStore } from '../../lambdas/adapters/stores/directory-store.js';
import type { ObjectStore } from '../../lambdas/adapters/stores/store.js';
import { isManifestV2Key, packObjectKey, partObjectKey, servicePacksPrefix, snapshotPrefix } from '../../lambdas/contract/keys.js';
import type { GcStep } from '../../lambdas/control/gc.js';
import { sweepServiceRetention } from '../../lambdas/control/retention.js';
import { cli } from '../support/cli.js';
import { freshBucket, freshCatalog, freshDirectoryStore, tempDir, uniqueName } from '../support/fixtures.js';
import { GcWorld, keysUnder } from '../support/gc.js';
import { TrackedUploadsS3Store } from '../support/retention.js';
import { STORE_CASES } from '../support/stores.js';

/** `count` random files of `size` bytes named f0..f<count-1> (existing ones are overwritten). */
async function writeFiles(dir: string, names: number[], size: number): Promise<void> {
  await Promise.all(names.map((i) => writeFile(join(dir, `f${i}`), randomBytes(size))));
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

class Crash extends Error {}

describe.each(STORE_CASES)('garbage collection on the $name', ({ name, make }) => {
  let catalog: DynamoSnapshotCatalog;
  let store: ObjectStore;
  let cleanupStore: () => Promise<void>;
  let work: { path: string; cleanup: () => Promise<void> };

  beforeAll(async () => {
    catalog = await freshCatalog();
    ({ store, cleanup: cleanupStore } = await make());
    work = await tempDir('lifeboat-gc');
  });
  afterAll(async () => {
    await work.cleanup();
    await cleanupStore();
  });

  const world = () => new GcWorld(catalog, store, uniqueName('gc'), work.path);

  /** Snapshots A (32 files) and B (24 of them rewritten); A deleted: its packs are mostly garbage, some sparse. */
  async function scenario(w: GcWorld): Promise<{ dir: string; a: string; b: string }> {
    const dir = await w.freshDir();
    await writeFiles(dir, range(32), 8 * 1024);
    const a = await w.snapshot(dir);
    await writeFiles(dir, range(24), 8 * 1024);
    const b = await w.snapshot(dir);
    await w.expire(a);
    return { dir, a, b };
  }

  it('condemns what no snapshot uses, deletes it one run later, and converges with every snapshot restoring', async () => {
    const w = world();
    await scenario(w);
    const before = await w.state();
    const first = await w.gc();
    expect(first.condemnedPacks.objects).toBeGreaterThan(0);
    expect(first.repacked.packs).toBeGreaterThan(0);
    expect(first.deleted.objects).toBe(0);
    // Condemned packs are still there until the sweep: every snapshot restores meanwhile.
    expect((await w.state()).packs.length).toBeGreaterThanOrEqual(before.packs.length);
    await w.assertAllRestore();
    const second = await w.gc();
    expect(second.sweptLists).toBe(1);
    expect(second.sweptPacks.objects).toBe(first.condemnedPacks.objects);
    expect(second.rescuedPacks).toBe(0);
    const after = await w.state();
    expect(after.lists).toEqual([]);
    expect(after.packs.length).toBeLessThan(before.packs.length);
    expect(new Set(after.packs)).toEqual(after.indexedPacks);
    await w.assertAllRestore();
    // Nothing more to do: a converged store.
    const third = await w.gc();
    expect([third.condemnedPacks.objects, third.deleted.objects, third.sweptLists]).toEqual([0, 0, 0]);
  });

  it('leaves everything younger than the grace period alone, and a dry run changes nothing', async () => {
    const w = world();
    await scenario(w);
    const before = await w.state();
    const graced = await w.gc({ graceMs: undefined });
    expect([graced.condemnedPacks.objects, graced.deleted.objects]).toEqual([0, 0]);
    const dry = await w.gc({ dryRun: true });
    expect(dry.condemnedPacks.objects).toBeGreaterThan(0);
    expect(await w.state()).toEqual(before);
  });

  it('skips a run while another GC of the service holds the lease', async () => {
    const w = world();
    await scenario(w);
    expect(await w.lease.acquire(w.service, 'someone-else', 60)).toBe(true);
    const r = await w.gc();
    expect(r.skipped).toMatch(/lease/);
    expect(r.condemnedPacks.objects).toBe(0);
    await w.lease.release(w.service, 'someone-else');
    expect((await w.gc()).condemnedPacks.objects).toBeGreaterThan(0);
  });

  it('rescues a condemned pack that a snapshot which began before the condemnation reused', async () => {
    const w = world();
    const dir = await w.freshDir();
    await writeFiles(dir, range(10), 8 * 1024);
    const a = await w.snapshot(dir);
    await w.expire(a); // A's packs are now unreferenced

    // S reads the index (finding A's packs) and stops before its manifest until released.
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let reached!: () => void;
    const atManifest = new Promise<void>((r) => {
      reached = r;
    });
    const gated: ObjectStore = Object.create(store);
    gated.put = async (key: string, body: Readable, options?: { signal?: AbortSignal }) => {
      if (isManifestV2Key(key)) {
        reached();
        await gate;
      }
      return store.put(key, body, options);
    };
    const running = w.snapshot(dir, gated);
    await atManifest;

    const mark = await w.gc();
    expect(mark.condemnedPacks.objects).toBeGreaterThan(0);
    const waiting = await w.gc();
    expect(waiting.sweptLists).toBe(0);
    expect(waiting.waiting.join()).toMatch(/still uploading/);

    release();
    const s = await running;
    // S uses only condemned packs (it added none) and restores before the sweep decides.
    expect((await catalog.get(w.service, s))?.partCount).toBe(0);
    await w.assertAllRestore('before the sweep: ');
    const sweep = await w.gc();
    expect(sweep.sweptLists).toBe(1);
    expect(sweep.rescuedPacks).toBe(mark.condemnedPacks.objects);
    expect(sweep.sweptPacks.objects).toBe(0);
    await w.assertAllRestore('after the sweep: ');
  });

  it('a snapshot taken after the condemnation stores the data again instead of using condemned packs', async () => {
    const w = world();
    const dir = await w.freshDir();
    await writeFiles(dir, range(10), 8 * 1024);
    const a = await w.snapshot(dir);
    await w.expire(a);
    expect((await w.gc()).condemnedPacks.objects).toBeGreaterThan(0);
    const s = await w.snapshot(dir);
    expect((await catalog.get(w.service, s))?.partCount).toBeGreaterThan(0);
    const sweep = await w.gc();
    expect(sweep.sweptPacks.objects).toBeGreaterThan(0);
    expect(sweep.rescuedPacks).toBe(0);
    await w.assertAllRestore();
  });

  it('removes leftovers of dead writers: unindexed packs, uncatalogued snapshot objects, temp files', async () => {
    const w = world();
    const dir = await w.freshDir();
    await writeFiles(dir, range(5), 4 * 1024);
    await w.snapshot(dir);
    const stray = 'ab'.repeat(32);
    await store.put(packObjectKey(w.service, stray), Readable.from([Buffer.from('a pack whose writer died before its index')]));
    const orphan = `${snapshotPrefix(w.service, '20261201T000000.000Z-deadbeef')}part-0000.tar.zst`;
    await store.put(orphan, Readable.from([Buffer.from('a part whose catalog entry is gone')]));
    if (name === 'directory store') {
      const root = new URL((store as DirectoryStore).url).pathname;
      await mkdir(join(root, w.service, 'packs', 'cd'), { recursive: true });
      await writeFile(join(root, w.service, 'packs', 'cd', `${'cd'.repeat(32)}.lifeboat-tmp-0a0b0c0d`), randomBytes(1000));
    }
    const young = await w.gc({ graceMs: 3_600_000 });
    expect(young.deleted.objects).toBe(0);
    const r = await w.gc();
    expect(r.leftovers.unindexedPacks.objects).toBe(1);
    expect(r.leftovers.orphanObjects.objects).toBe(1);
    expect(r.leftovers.tempFiles.objects).toBe(name === 'directory store' ? 1 : 0);
    expect(await store.head(packObjectKey(w.service, stray))).toBeUndefined();
    expect(await store.head(orphan)).toBeUndefined();
    if (name === 'directory store') expect(await keysUnder(store, `${w.service}/`)).not.toContain(expect.stringContaining('lifeboat-tmp'));
    await w.assertAllRestore();
  });

  it('refuses to collect when the catalog has no snapshot but the store holds manifests (a lost table)', async () => {
    const w = world();
    const dir = await w.freshDir();
    await writeFiles(dir, range(3), 4 * 1024);
    const id = await w.snapshot(dir);
    const other = new GcWorld(await freshCatalog(), store, w.service, work.path);
    const r = await other.gc();
    expect(r.skipped).toMatch(/catalog rebuild/);
    expect(await store.head(packObjectKey(w.service, (await w.state()).packs[0]!))).toBeDefined();
    expect(id).toBeTruthy();
  });

  it('runs after the retention sweep and reports what it did', async () => {
    const w = world();
    const dir = await w.freshDir();
    await writeFiles(dir, range(20), 8 * 1024);
    await w.snapshot(dir);
    await writeFiles(dir, range(20), 8 * 1024);
    await w.snapshot(dir);
    const ctx = { catalog, objects: store, holds: { live: async () => [] } as never, gcLease: w.lease };
    const first = await sweepServiceRetention(ctx, { service: w.service, policy: { last: 1 }, gc: { graceMs: 0 } });
    expect(first.deleted).toBe(1);
    expect(first.gc?.condemnedPacks.objects).toBeGreaterThan(0);
    const second = await sweepServiceRetention(ctx, { service: w.service, policy: { last: 1 }, gc: { graceMs: 0 } });
    expect(second.gc?.sweptPacks.objects).toBe(first.gc?.condemnedPacks.objects);
    w.expected.clear();
    await w.assertAllRestore();
  });

  const STEPS: GcStep[] = [
    'sweep-index-write',
    'sweep-index-delete',
    'sweep-packs',
    'sweep-list',
    'repack-packs',
    'repack-index',
    'condemn',
    'unindexed',
    'orphans',
  ];
  // Every step on the directory store; two representative ones on S3 (the same code, a slower server).
  it.each(name === 'S3 store' ? (['sweep-packs', 'repack-index'] as GcStep[]) : STEPS)(
    'a crash before %s loses nothing, and the next runs converge',
    async (crashAt) => {
      const w = world();
      const { dir, b } = await scenario(w);
      await w.gc(); // a condemned list for the crashing run to sweep
      // More garbage and sparse packs for the crashing run's mark, and leftovers.
      await writeFiles(dir, range(22, 10), 8 * 1024);
      await w.snapshot(dir);
      await w.expire(b); // f0..f9 of B live on: its packs are partly garbage, partly sparse
      await store.put(packObjectKey(w.service, 'ef'.repeat(32)), Readable.from([Buffer.from('stray')]));
      await store.put(partObjectKey(w.service, '20261201T000000.000Z-0badf00d', 0), Readable.from([Buffer.from('orphan')]));

      let crashed = false;
      await expect(
        w.gc({
          fault: (step) => {
            if (step === crashAt) {
              crashed = true;
              throw new Crash(`crash before ${step}`);
            }
          },
        }),
      ).rejects.toBeInstanceOf(Crash);
      expect(crashed).toBe(true);
      await w.assertAllRestore(`after a crash before ${crashAt}: `);
      // The lease of the crashed run was released; re-runs finish the work.
      for (let i = 0; i < 3; i++) await w.gc();
      const s = await w.state();
      expect(s.lists).toEqual([]);
      expect(new Set(s.packs)).toEqual(s.indexedPacks);
      expect(await keysUnder(store, snapshotPrefix(w.service, '20261201T000000.000Z-0badf00d'))).toEqual([]);
      const settled = await w.gc();
      expect([settled.condemnedPacks.objects, settled.deleted.objects]).toEqual([0, 0]);
      await w.assertAllRestore(`after re-runs following a crash before ${crashAt}: `);
    },
  );
});

describe('garbage collection of incomplete multipart uploads (S3)', () => {
  it('aborts uploads under the service prefix older than the grace, and only those', async () => {
    const catalog = await freshCatalog();
    const store = new TrackedUploadsS3Store({ client: createS3Client(), bucket: await freshBucket(), prefix: 'p/' });
    const work = await tempDir('lifeboat-gc');
    try {
      const w = new GcWorld(catalog, store, uniqueName('gc'), work.path);
      const old = await store.startUpload(`${servicePacksPrefix(w.service)}aa/${'aa'.repeat(32)}`, new Date(Date.now() - 2 * 3_600_000));
      const young = await store.startUpload(`${servicePacksPrefix(w.service)}bb/${'bb'.repeat(32)}`, new Date());
      const r = await w.gc({ graceMs: 3_600_000 });
      expect(r.leftovers.uploadsAborted).toBe(1);
      expect(store.aborted.has(old.uploadId)).toBe(true);
      expect(store.aborted.has(young.uploadId)).toBe(false);
    } finally {
      await rm(work.path, { recursive: true, force: true });
    }
  });
});

describe('lifeboat gc', () => {
  it('prints what a dry run would delete, with bytes and store requests, and changes nothing', async () => {
    const catalog = await freshCatalog();
    const { store, cleanup } = await freshDirectoryStore();
    const work = await tempDir('lifeboat-gc-cli');
    try {
      const w = new GcWorld(catalog, store, uniqueName('gc'), work.path);
      const dir = await w.freshDir();
      await writeFiles(dir, range(4), 4 * 1024);
      await w.snapshot(dir);
      const stray = `${snapshotPrefix(w.service, '20200101T000000.000Z-00000000')}manifest.json.gz`;
      await store.put(stray, Readable.from([Buffer.from('an orphaned manifest')]));
      const root = new URL(store.url).pathname;
      await utimes(join(root, ...stray.split('/')), new Date('2020-01-02'), new Date('2020-01-02'));
      const args = ['gc', '--service', w.service, '--table', catalog.name, '--store', store.url];
      const dry = await cli([...args, '--dry-run']);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toMatch(
        new RegExp(`^${w.service}: would delete 1 object\\(s\\), 0\\.0 MiB; \\d+ store request\\(s\\) \\(dry run, nothing changed\\)`),
      );
      expect(dry.stdout).toContain('1 uncatalogued snapshot object(s)');
      expect(await store.head(stray)).toBeDefined();
      const real = await cli(args);
      expect(real.code).toBe(0);
      expect(real.stdout).toMatch(/: deleted 1 object\(s\)/);
      expect(await store.head(stray)).toBeUndefined();
    } finally {
      await work.cleanup();
      await cleanup();
    }
  });
});
