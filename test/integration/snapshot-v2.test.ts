/**
 * Snapshot format v2 end to end, on DynamoDB Local and both store backends: content-
 * addressed packs, dedup across snapshots, change detection from the parent, ranged and
 * verified restore, delta restore, and v1 snapshots still restoring.
 */

import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { appendFile, mkdir, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compress } from 'zstd-napi';
import type { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import type { ObjectStore } from '../../lambdas/adapters/stores/store.js';
import { manifestV2ObjectKey, packObjectKey, serviceIndexPrefix, servicePacksPrefix, snapshotPrefix } from '../../lambdas/contract/keys.js';
import { indexPack } from '../../lambdas/domain/blob-index.js';
import { IntegrityError, OperationFailedError } from '../../lambdas/domain/errors.js';
import { RESERVED_NAMES } from '../../lambdas/domain/manifest.js';
import { encodePackTrailer, PACK_HEADER_BYTES, PACK_MAGIC } from '../../lambdas/domain/pack.js';
import { restoreSnapshot } from '../../lambdas/engine/restore.js';
import { takeSnapshot } from '../../lambdas/engine/snapshot.js';
import { writeIndex } from '../../lambdas/engine/v2/repo.js';
import { freshCatalog, setLeaseTerm, tempDir } from '../support/fixtures.js';
import { flipByteAt, readObject, STORE_CASES, tamper } from '../support/stores.js';
import { buildRichTree, describeTree, type TreeHandle } from '../support/tree.js';

async function listKeys(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list(prefix)) keys.push(o.key);
  return keys;
}

async function storedBytes(store: ObjectStore, prefix: string): Promise<number> {
  let n = 0;
  for await (const o of store.list(prefix)) n += o.size;
  return n;
}

async function catalogIds(catalog: DynamoSnapshotCatalog, service: string) {
  const out: { id: string; status: string }[] = [];
  for await (const r of catalog.list(service)) out.push({ id: r.id, status: r.status });
  return out;
}

/** Some files of each shape: big random, big repetitive, many small ones. */
async function buildMixedTree(root: string): Promise<void> {
  await mkdir(join(root, 'small'), { recursive: true });
  await writeFile(join(root, 'random.bin'), randomBytes(6 * 1024 * 1024));
  await writeFile(join(root, 'text.log'), Buffer.from('the quick brown fox jumps over the lazy dog\n'.repeat(150_000)));
  await Promise.all(Array.from({ length: 300 }, (_, i) => writeFile(join(root, 'small', `f${i}`), randomBytes(2000 + i))));
  await writeFile(join(root, 'empty'), '');
  await symlink('random.bin', join(root, 'link'));
}

describe.each(STORE_CASES)('v2 snapshot and restore through the $name', ({ make }) => {
  let catalog: DynamoSnapshotCatalog;
  let store: ObjectStore;
  let cleanupStore: () => Promise<void>;
  let work: { path: string; cleanup: () => Promise<void> };
  let rich: string;
  let tree: TreeHandle;
  let n = 0;
  const newDir = () => join(work.path, `out-${++n}`);

  beforeAll(async () => {
    catalog = await freshCatalog();
    ({ store, cleanup: cleanupStore } = await make());
    work = await tempDir();
    rich = join(work.path, 'rich');
    await mkdir(rich);
    tree = await buildRichTree(rich);
  });
  afterAll(async () => {
    await tree.close();
    await work.cleanup();
    await cleanupStore();
  });

  it('restores every kind of entry exactly, from packs shared under the service prefix', async () => {
    const snap = await takeSnapshot({ catalog, store, service: 'fidelity', dir: rich, reason: 'test' });
    expect(snap.record).toMatchObject({ status: 'complete', manifestKey: manifestV2ObjectKey('fidelity', snap.record.id) });
    // The snapshot owns only its manifest; data lives in shared packs and an index file.
    expect(await listKeys(store, snapshotPrefix('fidelity', snap.record.id))).toEqual([manifestV2ObjectKey('fidelity', snap.record.id)]);
    expect((await listKeys(store, servicePacksPrefix('fidelity'))).length).toBe(snap.record.partCount);
    expect(await listKeys(store, serviceIndexPrefix('fidelity'))).toEqual([`fidelity/index/${snap.record.id}.json.gz`]);
    const target = newDir();
    const restored = await restoreSnapshot({ catalog, store, service: 'fidelity', dir: target });
    expect(restored).toMatchObject({ status: 'restored', method: 'swap' });
    const want = await describeTree(rich);
    delete want['a-fifo'];
    delete want['a-socket'];
    expect(await describeTree(target)).toEqual(want);
    expect((await readdir(work.path)).filter((name) => name.includes('lifeboat'))).toEqual([]);
  });

  it('dedups: an unchanged tree adds no pack and well under 1 MiB, and its files are not read', async () => {
    const dir = join(work.path, 'dedup');
    await mkdir(dir);
    await buildMixedTree(dir);
    const first = await takeSnapshot({ catalog, store, service: 'dedup', dir });
    expect(first.stats).toMatchObject({ filesRead: 303, filesReused: 0 });
    const packsBefore = await listKeys(store, servicePacksPrefix('dedup'));
    const before = await storedBytes(store, 'dedup/');
    const second = await takeSnapshot({ catalog, store, service: 'dedup', dir });
    expect(second.stats).toMatchObject({ filesRead: 0, filesReused: 303, newBlobs: 0, newPacks: 0 });
    expect(await listKeys(store, servicePacksPrefix('dedup'))).toEqual(packsBefore);
    expect((await storedBytes(store, 'dedup/')) - before).toBeLessThan(64 * 1024);
    // --read-all reads everything again, and still stores nothing new.
    const third = await takeSnapshot({ catalog, store, service: 'dedup', dir, readAll: true });
    expect(third.stats).toMatchObject({ filesRead: 303, filesReused: 0, newBlobs: 0 });
    const target = newDir();
    await restoreSnapshot({ catalog, store, service: 'dedup', dir: target, snapshot: second.record.id });
    expect(await describeTree(target)).toEqual(await describeTree(dir));
  });

  it('after a small change stores about what changed: the appended tail and the rewritten files', async () => {
    const dir = join(work.path, 'change');
    await mkdir(dir);
    await buildMixedTree(dir);
    await takeSnapshot({ catalog, store, service: 'change', dir });
    const before = await storedBytes(store, 'change/');
    await appendFile(join(dir, 'random.bin'), randomBytes(1024 * 1024));
    for (let i = 0; i < 10; i++) await writeFile(join(dir, 'small', `f${i}`), randomBytes(3000));
    const next = await takeSnapshot({ catalog, store, service: 'change', dir });
    expect(next.stats).toMatchObject({ filesRead: 11, filesReused: 292 });
    const added = (await storedBytes(store, 'change/')) - before;
    // 1 MiB appended + 30 KB rewritten; the last chunk of the old file is re-cut too.
    expect(added).toBeGreaterThan(1024 * 1024);
    expect(added).toBeLessThan(1024 * 1024 + 30_000 + 2.5 * 1024 * 1024);
    const target = newDir();
    await restoreSnapshot({ catalog, store, service: 'change', dir: target });
    expect(await describeTree(target)).toEqual(await describeTree(dir));
  });

  it('a file replaced by one of the same size and mtime is read again (ctime and inode differ)', async () => {
    const dir = join(work.path, 'same-size');
    await mkdir(dir);
    await writeFile(join(dir, 'f'), 'aaaa');
    const t = new Date('2025-01-01T00:00:00Z');
    const { utimes } = await import('node:fs/promises');
    await utimes(join(dir, 'f'), t, t);
    await takeSnapshot({ catalog, store, service: 'same-size', dir });
    await rm(join(dir, 'f'));
    await writeFile(join(dir, 'f'), 'bbbb');
    await utimes(join(dir, 'f'), t, t);
    const next = await takeSnapshot({ catalog, store, service: 'same-size', dir });
    expect(next.stats).toMatchObject({ filesRead: 1 });
    const target = newDir();
    await restoreSnapshot({ catalog, store, service: 'same-size', dir: target });
    expect(await describeTree(target)).toEqual(await describeTree(dir));
  });

  it('a 64 MiB zero file is stored as one blob and restored', async () => {
    const dir = join(work.path, 'zeros');
    await mkdir(dir);
    await writeFile(join(dir, 'zero'), Buffer.alloc(64 * 1024 * 1024));
    const snap = await takeSnapshot({ catalog, store, service: 'zeros', dir });
    expect(snap.stats).toMatchObject({ newBlobs: 1 });
    expect(await storedBytes(store, 'zeros/')).toBeLessThan(64 * 1024);
    const target = newDir();
    await restoreSnapshot({ catalog, store, service: 'zeros', dir: target });
    expect((await stat(join(target, 'zero'))).size).toBe(64 * 1024 * 1024);
    expect(await describeTree(target)).toEqual(await describeTree(dir));
  });

  it('delta restore rewrites only what differs, deletes extras, fixes metadata, and matches a full restore', async () => {
    const dir = join(work.path, 'delta-src');
    await mkdir(dir);
    await buildMixedTree(dir);
    await mkdir(join(dir, 'gone-dir'));
    await writeFile(join(dir, 'gone-dir', 'x'), 'x');
    await takeSnapshot({ catalog, store, service: 'delta', dir });
    const replica = newDir();
    await restoreSnapshot({ catalog, store, service: 'delta', dir: replica });
    // The primary moves on: appends, rewrites, deletes, adds, changes a mode and a type.
    await appendFile(join(dir, 'random.bin'), randomBytes(300_000));
    for (let i = 0; i < 5; i++) await writeFile(join(dir, 'small', `f${i}`), randomBytes(100));
    await rm(join(dir, 'gone-dir'), { recursive: true });
    await rm(join(dir, 'small', 'f299'));
    await writeFile(join(dir, 'new-file'), 'new');
    const { chmod } = await import('node:fs/promises');
    await chmod(join(dir, 'text.log'), 0o600);
    await rm(join(dir, 'link'));
    await mkdir(join(dir, 'link'));
    // The replica has a stray file and leftovers of an earlier crashed delta.
    await writeFile(join(replica, 'stray'), 'stray');
    await writeFile(join(replica, 'small', '.lifeboat-delta-dead-1'), 'half');
    await takeSnapshot({ catalog, store, service: 'delta', dir });
    const notices: string[] = [];
    const result = await restoreSnapshot({ catalog, store, service: 'delta', dir: replica, delta: true, onNotice: (l) => notices.push(l) });
    expect(result).toMatchObject({ status: 'restored', method: 'delta' });
    expect(notices.join('\n')).toMatch(/delta restore: 29[0-9] files kept, [6-9] written, [3-5] entries removed/);
    expect(await describeTree(replica)).toEqual(await describeTree(dir));
    // Once more: nothing to do, and --checksum agrees.
    const again: string[] = [];
    await restoreSnapshot({ catalog, store, service: 'delta', dir: replica, delta: true, checksum: true, onNotice: (l) => again.push(l) });
    expect(again.join('\n')).toMatch(/files kept, 0 written, 0 entries removed/);
    expect(await describeTree(replica)).toEqual(await describeTree(dir));
  });

  it('a crashed delta leaves its marker; the next restore (delta or --if-empty) redoes it and converges', async () => {
    const dir = join(work.path, 'delta-crash');
    await mkdir(dir);
    await buildMixedTree(dir);
    await takeSnapshot({ catalog, store, service: 'delta-crash', dir });
    const replica = newDir();
    await restoreSnapshot({ catalog, store, service: 'delta-crash', dir: replica });
    await writeFile(join(dir, 'small', 'f1'), 'changed');
    await takeSnapshot({ catalog, store, service: 'delta-crash', dir });
    // A delta that dies mid-way: its pack reads fail after the marker is written.
    const failing = Object.create(store) as ObjectStore;
    failing.getRange = async () => {
      throw new Error('network gone');
    };
    await expect(restoreSnapshot({ catalog, store: failing, service: 'delta-crash', dir: replica, delta: true })).rejects.toThrow(/network gone/);
    expect(await readdir(replica)).toContain(RESERVED_NAMES.deltaMarker);
    // --if-empty would skip a live directory; this one is an interrupted restore, so it is redone.
    const redo = await restoreSnapshot({ catalog, store, service: 'delta-crash', dir: replica, ifEmpty: true });
    expect(redo.status).toBe('restored');
    expect(await describeTree(replica)).toEqual(await describeTree(dir));
    // And a crashed delta followed by another delta converges too.
    await writeFile(join(dir, 'small', 'f2'), 'changed again');
    await takeSnapshot({ catalog, store, service: 'delta-crash', dir });
    await expect(restoreSnapshot({ catalog, store: failing, service: 'delta-crash', dir: replica, delta: true })).rejects.toThrow(/network gone/);
    const again = await restoreSnapshot({ catalog, store, service: 'delta-crash', dir: replica, delta: true });
    expect(again).toMatchObject({ status: 'restored', method: 'delta' });
    expect(await describeTree(replica)).toEqual(await describeTree(dir));
  });

  it('v1 snapshots still restore, and a v1 parent is not used for change detection', async () => {
    const dir = join(work.path, 'v1');
    await mkdir(dir);
    await buildMixedTree(dir);
    const old = await takeSnapshot({ catalog, store, service: 'mixed-formats', dir, format: 'v1' });
    expect(old.record.manifestKey).toMatch(/\/manifest\.json\.gz$/);
    const v2 = await takeSnapshot({ catalog, store, service: 'mixed-formats', dir });
    expect(v2.stats).toMatchObject({ filesRead: 303 });
    const target = newDir();
    await restoreSnapshot({ catalog, store, service: 'mixed-formats', dir: target, snapshot: old.record.id });
    expect(await describeTree(target)).toEqual(await describeTree(dir));
    // --delta on a v1 snapshot restores it whole.
    const notices: string[] = [];
    await restoreSnapshot({ catalog, store, service: 'mixed-formats', dir: target, snapshot: old.record.id, delta: true, onNotice: (l) => notices.push(l) });
    expect(notices.join('\n')).toMatch(/v1 snapshot: --delta does not apply/);
  });

  it('refuses the snapshot of a deposed primary: no manifest, no entry; its indexed packs wait for GC', async () => {
    await setLeaseTerm(catalog, 'fenced2', 3, 'task-old');
    const deposing = Object.create(catalog) as DynamoSnapshotCatalog;
    deposing.commit = async (...args) => {
      await setLeaseTerm(catalog, 'fenced2', 4, 'task-new');
      return catalog.commit(...args);
    };
    const err = await takeSnapshot({ catalog: deposing, store, service: 'fenced2', dir: rich, term: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationFailedError);
    expect(await catalogIds(catalog, 'fenced2')).toEqual([]);
    expect(await listKeys(store, 'fenced2/snapshots/')).toEqual([]);
  });

  it('a file that cannot be read fails the snapshot and leaves no entry, manifest or pack', async () => {
    const dir = join(work.path, 'unreadable');
    await mkdir(dir);
    await writeFile(join(dir, 'b-small'), 'will become a socket');
    let server: Server | undefined;
    // Swapped for a socket between the walk and the read: opening it fails (ENXIO).
    const swapping = Object.create(catalog) as DynamoSnapshotCatalog;
    swapping.begin = async (...args) => {
      rmSync(join(dir, 'b-small'));
      server = createServer().listen(join(dir, 'b-small'));
      await new Promise((r) => server!.once('listening', r));
      return catalog.begin(...args);
    };
    const err = await takeSnapshot({ catalog: swapping, store, service: 'unreadable', dir }).catch((e: unknown) => e);
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    expect(err).toBeInstanceOf(OperationFailedError);
    expect((err as Error).message).toMatch(/cannot read .*b-small: ENXIO/);
    expect(await catalogIds(catalog, 'unreadable')).toEqual([]);
    expect(await listKeys(store, 'unreadable/')).toEqual([]);
  });

  it('snapshots an empty directory', async () => {
    const dir = join(work.path, 'nothing');
    await mkdir(dir);
    const snap = await takeSnapshot({ catalog, store, service: 'nothing', dir });
    expect(snap.record).toMatchObject({ fileCount: 0, entryCount: 1, partCount: 0 });
    const target = newDir();
    await restoreSnapshot({ catalog, store, service: 'nothing', dir: target });
    expect(await readdir(target)).toEqual([]);
  });

  describe('corruption', () => {
    let id: string;
    let target: string;
    let packKey: string;
    const service = 'corrupt2';
    beforeAll(async () => {
      const dir = join(work.path, 'corrupt-src');
      await mkdir(dir);
      await writeFile(join(dir, 'a'), randomBytes(100_000));
      await writeFile(join(dir, 'b'), Buffer.from('abc'.repeat(200_000)));
      id = (await takeSnapshot({ catalog, store, service, dir })).record.id;
      packKey = (await listKeys(store, servicePacksPrefix(service)))[0]!;
      target = newDir();
      await mkdir(target);
      await writeFile(join(target, 'keep'), 'precious');
    });
    const untouched = async () => expect(await readdir(target)).toEqual(['keep']);

    it('detects a flipped byte in a pack and leaves the target untouched', async () => {
      const original = await readObject(store, packKey);
      await tamper(
        store,
        packKey,
        flipByteAt(() => PACK_HEADER_BYTES + 10),
      );
      try {
        const err = await restoreSnapshot({ catalog, store, service, dir: target, force: true }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(IntegrityError);
        expect((err as Error).message).toMatch(
          /file "[ab]" in snapshot \S+ is corrupted: (content SHA-256 does not match \(blob [0-9a-f]{64} in pack [0-9a-f]{64}\)|blob [0-9a-f]{64} in pack [0-9a-f]{64} does not decompress)/,
        );
        await untouched();
      } finally {
        await store.put(packKey, Readable.from([original]));
      }
    });

    it('detects a missing pack', async () => {
      const original = await readObject(store, packKey);
      await store.delete([packKey]);
      try {
        await expect(restoreSnapshot({ catalog, store, service, dir: target, force: true })).rejects.toThrow(/does not exist/);
        await untouched();
      } finally {
        await store.put(packKey, Readable.from([original]));
      }
    });

    it('detects a corrupted manifest before using it', async () => {
      const key = manifestV2ObjectKey(service, id);
      const original = await readObject(store, key);
      await tamper(
        store,
        key,
        flipByteAt((len) => len - 3),
      );
      try {
        await expect(restoreSnapshot({ catalog, store, service, dir: target, force: true })).rejects.toThrow(/SHA-256 does not match the catalog/);
        await untouched();
      } finally {
        await store.put(key, Readable.from([original]));
      }
    });

    it('never decompresses more than the index declares (a blob that expands past its size)', async () => {
      // A forged pack and index: a 64-byte "file" whose zstd frame expands to 256 MiB.
      const bomb = compress(Buffer.alloc(256 * 1024 * 1024));
      const claimed = Buffer.alloc(64);
      const blobId = createHash('sha256').update(claimed).digest('hex');
      const blobs = [{ id: blobId, offset: PACK_HEADER_BYTES, length: bomb.length, rawLength: 64, compression: 'zstd' as const }];
      const pack = Buffer.concat([PACK_MAGIC, bomb, encodePackTrailer(blobs)]);
      const packId = createHash('sha256').update(pack).digest('hex');
      await store.put(packObjectKey('bomb', packId), Readable.from([pack]));
      await writeIndex(store, 'bomb', 'forged', [indexPack(packId, pack.length, blobs)]);
      const dir = join(work.path, 'bomb-src');
      await mkdir(dir);
      await writeFile(join(dir, 'f'), claimed);
      // The snapshot dedups against the forged index, so restore reads the bomb.
      const snap = await takeSnapshot({ catalog, store, service: 'bomb', dir });
      expect(snap.stats).toMatchObject({ newBlobs: 0 });
      const rss = process.memoryUsage().rss;
      const err = await restoreSnapshot({ catalog, store, service: 'bomb', dir: newDir() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IntegrityError);
      expect((err as Error).message).toMatch(/does not decompress to its declared 64 bytes/);
      expect(process.memoryUsage().rss - rss).toBeLessThan(128 * 1024 * 1024);
    });
  });
});
