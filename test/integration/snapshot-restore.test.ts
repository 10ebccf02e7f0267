/**
 * The snapshot/restore engine end to end, on real DynamoDB Local and on both store
 * backends (S3 over HTTP to the local S3 server, and a directory).
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, rmSync } from 'node:fs';
import { appendFile, link, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compress, decompress } from 'zstd-napi';
import type { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import type { ObjectStore } from '../../lambdas/adapters/stores/store.js';
import { snapshotPrefix } from '../../lambdas/contract/keys.js';
import { AbortedError, HookFailedError, IntegrityError, OperationFailedError, SnapshotNotFoundError, UsageError } from '../../lambdas/domain/errors.js';
import { IN_PROGRESS_MARKER, restoreSnapshot } from '../../lambdas/engine/restore.js';
import { type SnapshotOptions, takeSnapshot as takeAnySnapshot } from '../../lambdas/engine/snapshot.js';
import { freshCatalog, setLeaseTerm, tempDir } from '../support/fixtures.js';
import { flipByteAt, readObject, STORE_CASES, tamper } from '../support/stores.js';
import { buildRichTree, describeTree, type TreeHandle } from '../support/tree.js';

// This suite covers the v1 format (tar parts), which stays restorable; new snapshots are
// v2 (snapshot-v2.test.ts), so every snapshot here is written with the v1 code path.
const takeSnapshot = (options: SnapshotOptions) => takeAnySnapshot({ format: 'v1', ...options });

async function listKeys(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list(prefix)) keys.push(o.key);
  return keys;
}

async function catalogIds(catalog: DynamoSnapshotCatalog, service: string) {
  const out: { id: string; status: string }[] = [];
  for await (const r of catalog.list(service)) out.push({ id: r.id, status: r.status });
  return out;
}

describe.each(STORE_CASES)('v1 snapshot and restore through the $name', ({ make }) => {
  let catalog: DynamoSnapshotCatalog;
  let store: ObjectStore;
  let cleanupStore: () => Promise<void>;
  let work: { path: string; cleanup: () => Promise<void> };
  let source: string;
  let tree: TreeHandle;
  let n = 0;
  const newDir = () => join(work.path, `out-${++n}`);

  beforeAll(async () => {
    catalog = await freshCatalog();
    ({ store, cleanup: cleanupStore } = await make());
    work = await tempDir();
    source = join(work.path, 'source');
    await mkdir(source);
    tree = await buildRichTree(source);
  });
  afterAll(async () => {
    await tree.close();
    await work.cleanup();
    await cleanupStore();
  });

  it('restores every kind of entry exactly: content, type, mode, mtime, link targets, hard links', async () => {
    const snap = await takeSnapshot({ catalog, store, service: 'fidelity', dir: source, reason: 'test' });
    expect(snap.record.status).toBe('complete');
    expect(snap.warnings.map((w) => [w.path, w.kind]).sort()).toEqual([
      ['a-fifo', 'skipped-special'],
      ['a-socket', 'skipped-special'],
    ]);
    const target = newDir();
    const restored = await restoreSnapshot({ catalog, store, service: 'fidelity', dir: target });
    expect(restored.status).toBe('restored');
    const want = await describeTree(source);
    delete want['a-fifo'];
    delete want['a-socket'];
    expect(await describeTree(target)).toEqual(want);
    // Nothing of the restore's own machinery is left beside or inside the target.
    expect((await readdir(work.path)).filter((n) => n.includes('lifeboat'))).toEqual([]);
  });

  it('records the catalog entry with sizes, counts and the manifest checksum', async () => {
    await setLeaseTerm(catalog, 'entry', 7, 'task-1');
    const snap = await takeSnapshot({ catalog, store, service: 'entry', dir: source, reason: 'schedule', term: 7, sourceTask: 'task-1' });
    const record = await catalog.get('entry', snap.record.id);
    expect(record).toMatchObject({
      service: 'entry',
      status: 'complete',
      reason: 'schedule',
      term: 7,
      sourceTask: 'task-1',
      fileCount: 14,
      partCount: 1,
      manifestKey: `entry/snapshots/${snap.record.id}/manifest.json.gz`,
    });
    expect(record!.manifestSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(record!.dataSize).toBeGreaterThan(3 * 1024 * 1024);
    expect(record!.size).toBeLessThan(record!.dataSize! + 64 * 1024);
    expect(await listKeys(store, snapshotPrefix('entry', snap.record.id))).toEqual([
      `entry/snapshots/${snap.record.id}/manifest.json.gz`,
      `entry/snapshots/${snap.record.id}/part-0000.tar.zst`,
    ]);
  });

  it('refuses to register the snapshot of a deposed primary and removes what it uploaded', async () => {
    await setLeaseTerm(catalog, 'fenced', 3, 'task-old');
    // Deposed while uploading: the lease moves to term 4 right before the commit.
    const deposing = Object.create(catalog) as DynamoSnapshotCatalog;
    deposing.commit = async (...args) => {
      await setLeaseTerm(catalog, 'fenced', 4, 'task-new');
      return catalog.commit(...args);
    };
    const err = await takeSnapshot({ catalog: deposing, store, service: 'fenced', dir: source, term: 3, sourceTask: 'task-old' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationFailedError);
    expect((err as OperationFailedError).message).toMatch(/taken under term 3, but the lease is at term 4, held by task-new: this task is no longer primary/);
    expect((err as OperationFailedError).hint).toMatch(/only the current primary registers snapshots/);
    expect(await catalogIds(catalog, 'fenced')).toEqual([]);
    expect(await listKeys(store, 'fenced/')).toEqual([]);
    // The current primary's snapshot goes through.
    const ok = await takeSnapshot({ catalog, store, service: 'fenced', dir: source, term: 4, sourceTask: 'task-new' });
    expect(ok.record).toMatchObject({ status: 'complete', term: 4 });
  });

  it('splits large trees into parts that upload and restore in parallel', async () => {
    const snap = await takeSnapshot({ catalog, store, service: 'parts', dir: source, partBytes: 64 * 1024, concurrency: 3 });
    expect(snap.record.partCount).toBeGreaterThan(2);
    const target = newDir();
    await restoreSnapshot({ catalog, store, service: 'parts', dir: target, concurrency: 3 });
    const want = await describeTree(source);
    delete want['a-fifo'];
    delete want['a-socket'];
    expect(await describeTree(target)).toEqual(want);
  });

  it('stores data that does not compress without zstd, and each part unpacks with plain tar', async () => {
    const dir = join(work.path, 'mixed');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await writeFile(join(dir, 'sub/random.bin'), randomBytes(5 * 1024 * 1024));
    await writeFile(join(dir, 'text.log'), 'the same line again\n'.repeat(300_000));
    await link(join(dir, 'sub/random.bin'), join(dir, 'random-link'));
    const snap = await takeSnapshot({ catalog, store, service: 'mixed', dir });
    const keys = await listKeys(store, snapshotPrefix('mixed', snap.record.id));
    expect(keys.map((k) => k.slice(k.lastIndexOf('/') + 1))).toEqual(['manifest.json.gz', 'part-0000.tar.zst', 'part-0001.tar']);
    expect(snap.record.size).toBeLessThan(5 * 1024 * 1024 + 200 * 1024);

    const target = newDir();
    await restoreSnapshot({ catalog, store, service: 'mixed', dir: target });
    expect(await describeTree(target)).toEqual(await describeTree(dir));

    // Interoperability: GNU tar unpacks every part (the zstd one after decompression).
    const plain = newDir();
    await mkdir(plain);
    for (const key of keys.filter((k) => k.includes('part-'))) {
      const bytes = await readObject(store, key);
      execFileSync('tar', ['-x', '-C', plain], { input: key.endsWith('.zst') ? decompress(bytes) : bytes });
    }
    const sha = async (p: string) =>
      createHash('sha256')
        .update(await readFile(p))
        .digest('hex');
    expect(await sha(join(plain, 'sub/random.bin'))).toBe(await sha(join(dir, 'sub/random.bin')));
    expect(await readFile(join(plain, 'text.log'), 'utf8')).toBe(await readFile(join(dir, 'text.log'), 'utf8'));
  });

  it('picks latest, a given id, or latest-verified', async () => {
    const dir = join(work.path, 'versions');
    await mkdir(dir);
    await writeFile(join(dir, 'v'), 'one');
    const first = await takeSnapshot({ catalog, store, service: 'versions', dir });
    await writeFile(join(dir, 'v'), 'two');
    const second = await takeSnapshot({ catalog, store, service: 'versions', dir });
    expect(second.record.id > first.record.id).toBe(true);

    const a = newDir();
    await restoreSnapshot({ catalog, store, service: 'versions', dir: a });
    expect(await readFile(join(a, 'v'), 'utf8')).toBe('two');
    const b = newDir();
    await restoreSnapshot({ catalog, store, service: 'versions', dir: b, snapshot: first.record.id });
    expect(await readFile(join(b, 'v'), 'utf8')).toBe('one');

    await expect(restoreSnapshot({ catalog, store, service: 'versions', dir: newDir(), snapshot: 'latest-verified' })).rejects.toThrow(
      /no verified complete snapshot/,
    );
    await catalog.markVerified('versions', first.record.id, new Date().toISOString());
    const c = newDir();
    const r = await restoreSnapshot({ catalog, store, service: 'versions', dir: c, snapshot: 'latest-verified' });
    expect(r.status === 'restored' && r.snapshot.id).toBe(first.record.id);
    expect(await readFile(join(c, 'v'), 'utf8')).toBe('one');

    await expect(restoreSnapshot({ catalog, store, service: 'versions', dir: newDir(), snapshot: '20990101T000000.000Z-00000000' })).rejects.toBeInstanceOf(
      SnapshotNotFoundError,
    );
    await expect(restoreSnapshot({ catalog, store, service: 'versions', dir: newDir(), snapshot: 'yesterday' })).rejects.toBeInstanceOf(UsageError);
  });

  it('never restores an entry that is still uploading', async () => {
    const dir = join(work.path, 'uploading');
    await mkdir(dir);
    await writeFile(join(dir, 'f'), 'complete');
    const done = await takeSnapshot({ catalog, store, service: 'uploading', dir });
    // A newer entry whose upload never finished (a crashed writer).
    const stuck = '20990101T000000.000Z-deadbeef';
    await catalog.begin({ service: 'uploading', id: stuck, createdAt: new Date().toISOString(), manifestKey: 'nowhere', reason: 'crash' });
    const r = await restoreSnapshot({ catalog, store, service: 'uploading', dir: newDir() });
    expect(r.status === 'restored' && r.snapshot.id).toBe(done.record.id);
    await expect(restoreSnapshot({ catalog, store, service: 'uploading', dir: newDir(), snapshot: stuck })).rejects.toThrow(/is uploading, not complete/);
  });

  it('--if-empty restores into missing, empty or lost+found-only directories and skips anything else', async () => {
    const dir = join(work.path, 'ifempty-src');
    await mkdir(dir);
    await writeFile(join(dir, 'data'), 'restored');
    await takeSnapshot({ catalog, store, service: 'ifempty', dir });

    const missing = newDir();
    expect((await restoreSnapshot({ catalog, store, service: 'ifempty', dir: missing, ifEmpty: true })).status).toBe('restored');
    const empty = newDir();
    await mkdir(join(empty, 'lost+found'), { recursive: true });
    expect((await restoreSnapshot({ catalog, store, service: 'ifempty', dir: empty, ifEmpty: true })).status).toBe('restored');
    expect(await readFile(join(empty, 'data'), 'utf8')).toBe('restored');

    const busy = newDir();
    await mkdir(busy);
    await writeFile(join(busy, 'mine'), 'keep me');
    const skipped = await restoreSnapshot({ catalog, store, service: 'ifempty', dir: busy, ifEmpty: true });
    expect(skipped).toMatchObject({ status: 'skipped', reason: 'not-empty' });
    expect(await readdir(busy)).toEqual(['mine']);

    const first = await restoreSnapshot({ catalog, store, service: 'never-snapshotted', dir: newDir(), ifEmpty: true });
    expect(first).toMatchObject({ status: 'skipped', reason: 'no-snapshot' });
    await expect(restoreSnapshot({ catalog, store, service: 'never-snapshotted', dir: newDir() })).rejects.toBeInstanceOf(OperationFailedError);
  });

  it('refuses a non-empty directory without --force, and replaces it exactly with --force', async () => {
    const dir = join(work.path, 'force-src');
    await mkdir(dir);
    await writeFile(join(dir, 'new'), 'from snapshot');
    await takeSnapshot({ catalog, store, service: 'force', dir });
    const target = newDir();
    await mkdir(join(target, 'old-sub'), { recursive: true });
    await writeFile(join(target, 'old'), 'precious');
    await expect(restoreSnapshot({ catalog, store, service: 'force', dir: target })).rejects.toThrow(/is not empty/);
    expect((await readdir(target)).sort()).toEqual(['old', 'old-sub']);
    await restoreSnapshot({ catalog, store, service: 'force', dir: target, force: true });
    expect(await readdir(target)).toEqual(['new']);
    expect((await readdir(work.path)).filter((x) => x.includes('lifeboat'))).toEqual([]);
  });

  it('restores in place (mount points) and finishes an interrupted in-place restore', async () => {
    const target = newDir();
    await mkdir(target);
    await writeFile(join(target, 'stale'), 'x');
    await restoreSnapshot({ catalog, store, service: 'fidelity', dir: target, force: true, placement: 'in-place' });
    const want = await describeTree(source);
    delete want['a-fifo'];
    delete want['a-socket'];
    expect(await describeTree(target)).toEqual(want);

    // A crash halfway through moving entries into place (and a stray staging directory of
    // an older crash): the next restore, even an --if-empty one that then skips, finishes it.
    const crashed = newDir();
    await mkdir(crashed);
    await writeFile(join(crashed, 'old'), 'replaced');
    const crash = (at: string) => (step: string) => {
      if (step === at) throw new Error(`crash at ${at}`);
    };
    await expect(
      restoreSnapshot({ catalog, store, service: 'fidelity', dir: crashed, force: true, placement: 'in-place', onStep: crash('moving') }),
    ).rejects.toThrow('crash at moving');
    expect(await readdir(crashed)).toContain(IN_PROGRESS_MARKER);
    await mkdir(join(crashed, '.lifeboat-staging-0badf00d'));
    const notices: string[] = [];
    const redo = await restoreSnapshot({
      catalog,
      store,
      service: 'fidelity',
      dir: crashed,
      ifEmpty: true,
      placement: 'in-place',
      onNotice: (l) => notices.push(l),
    });
    expect(redo.status).toBe('skipped');
    expect(notices.join('\n')).toMatch(/finished an interrupted in-place restore/);
    expect(await describeTree(crashed)).toEqual(want);
  });

  describe('corruption', () => {
    let id: string;
    const target = () => join(work.path, 'corruption-target');

    beforeAll(async () => {
      id = (await takeSnapshot({ catalog, store, service: 'corrupt', dir: source })).record.id;
      await mkdir(target());
      await writeFile(join(target(), 'existing'), 'must survive');
    });

    async function expectUntouched() {
      expect(await readdir(target())).toEqual(['existing']);
      expect(await readFile(join(target(), 'existing'), 'utf8')).toBe('must survive');
      expect((await readdir(work.path)).filter((x) => x.includes('lifeboat'))).toEqual([]);
    }

    it('detects a flipped byte in an archive part and leaves the target untouched', async () => {
      const key = `corrupt/snapshots/${id}/part-0000.tar.zst`;
      const original = await readObject(store, key);
      await tamper(
        store,
        key,
        flipByteAt((len) => Math.floor(len / 2)),
      );
      const err = await restoreSnapshot({ catalog, store, service: 'corrupt', dir: target(), force: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IntegrityError);
      expect((err as Error).message).toMatch(/corrupt/);
      expect((err as Error).message).toContain(id);
      await expectUntouched();
      await tamper(store, key, () => original);
    });

    it('detects a truncated archive part', async () => {
      const key = `corrupt/snapshots/${id}/part-0000.tar.zst`;
      const original = await readObject(store, key);
      await tamper(store, key, (b) => b.subarray(0, Math.floor(b.length * 0.6)));
      const err = await restoreSnapshot({ catalog, store, service: 'corrupt', dir: target(), force: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IntegrityError);
      expect((err as Error).message).toMatch(/part .*part-0000\.tar\.zst.* (corrupted|truncated)/);
      await expectUntouched();
      await tamper(store, key, () => original);
    });

    it('detects a corrupted manifest before using it', async () => {
      const key = `corrupt/snapshots/${id}/manifest.json.gz`;
      const original = await readObject(store, key);
      await tamper(
        store,
        key,
        flipByteAt((len) => len - 10),
      );
      await expect(restoreSnapshot({ catalog, store, service: 'corrupt', dir: target(), force: true })).rejects.toThrow(
        /manifest .* is corrupted: its SHA-256 does not match the catalog/,
      );
      await expectUntouched();
      await tamper(store, key, () => original);
    });

    it('names the file whose content does not match its checksum', async () => {
      // Re-pack the part with one file's bytes changed but a valid zstd frame, as a bad
      // disk or a buggy writer could: only the per-file SHA-256 can catch this.
      const key = `corrupt/snapshots/${id}/part-0000.tar.zst`;
      const original = await readObject(store, key);
      const tarBytes = decompress(original);
      const at = tarBytes.indexOf(Buffer.from('sealed\n'));
      expect(at).toBeGreaterThan(0);
      tarBytes[at] = 'S'.charCodeAt(0);
      await tamper(store, key, () => compress(tarBytes, { checksumFlag: true }));
      await expect(restoreSnapshot({ catalog, store, service: 'corrupt', dir: target(), force: true })).rejects.toThrow(
        /file "sealed\/inside\.txt" in snapshot .* is corrupted: content SHA-256 does not match/,
      );
      await expectUntouched();
      await tamper(store, key, () => original);
      // And after repair the same restore succeeds.
      await restoreSnapshot({ catalog, store, service: 'corrupt', dir: join(work.path, 'repaired') });
    });
  });

  it('flags a file that changes while it is being read', async () => {
    const dir = join(work.path, 'changing');
    await mkdir(dir);
    const growing = join(dir, 'growing.log');
    await writeFile(growing, Buffer.alloc(4 * 1024 * 1024, 'a'));
    await writeFile(join(dir, 'steady'), 'still');
    // Deterministic: append while the engine is between its first and last read of the
    // file (the first progress report comes after the first 1 MiB chunk of it).
    let appended = false;
    const snap = await takeSnapshot({
      catalog,
      store,
      service: 'changing',
      dir,
      onProgress: (p) => {
        if (!appended && p.phase === 'upload' && p.bytesDone > 0) {
          appendFileSync(growing, 'x');
          appended = true;
        }
      },
    });
    expect(appended).toBe(true);
    expect(snap.warnings).toContainEqual(expect.objectContaining({ path: 'growing.log', kind: 'changed' }));
    expect(snap.warnings.find((w) => w.path === 'steady')).toBeUndefined();
    expect(snap.record.warningCount).toBe(1);
  });

  it('a file that cannot be read fails the snapshot cleanly instead of hanging it', async () => {
    const dir = join(work.path, 'unreadable');
    await mkdir(dir);
    await writeFile(join(dir, 'a-large'), Buffer.alloc(3 * 1024 * 1024, 'a'));
    await writeFile(join(dir, 'b-small'), 'will become a socket');
    // After the first chunk of the large file (part 0), swap the small file (part 1) for a
    // socket: opening it fails (ENXIO), which must end its part's upload too.
    let server: Server | undefined;
    const err = await takeSnapshot({
      catalog,
      store,
      service: 'unreadable',
      dir,
      partBytes: 1024 * 1024,
      concurrency: 1,
      onProgress: (p) => {
        if (server || p.phase !== 'upload' || p.bytesDone === 0) return;
        rmSync(join(dir, 'b-small'));
        server = createServer().listen(join(dir, 'b-small'));
      },
    }).catch((e: unknown) => e);
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
    expect(snap.record).toMatchObject({ fileCount: 0, entryCount: 1, partCount: 1 });
    const target = newDir();
    await restoreSnapshot({ catalog, store, service: 'nothing', dir: target });
    expect(await readdir(target)).toEqual([]);
  });

  describe('hooks', () => {
    it('runs the pre hook before reading the directory and the post hook after, with the outcome', async () => {
      const dir = join(work.path, 'hooks');
      await mkdir(dir);
      const log = join(work.path, 'hook.log');
      const snap = await takeSnapshot({
        catalog,
        store,
        service: 'hooks',
        dir,
        pre: `echo checkpoint > "$LIFEBOAT_DIR/checkpoint" && echo "pre $LIFEBOAT_SERVICE" >> ${log}`,
        post: `echo "post $LIFEBOAT_SNAPSHOT_STATUS $LIFEBOAT_SNAPSHOT_ID" >> ${log}`,
      });
      const target = newDir();
      await restoreSnapshot({ catalog, store, service: 'hooks', dir: target });
      expect(await readFile(join(target, 'checkpoint'), 'utf8')).toBe('checkpoint\n');
      expect(await readFile(log, 'utf8')).toBe(`pre hooks\npost complete ${snap.record.id}\n`);
    });

    it('aborts on a failing pre hook, shows its output, and writes nothing', async () => {
      const dir = join(work.path, 'hooks-fail');
      await mkdir(dir);
      const log = join(work.path, 'hook-fail.log');
      const err = await takeSnapshot({
        catalog,
        store,
        service: 'hooksfail',
        dir,
        pre: 'echo "database is not ready" >&2; exit 3',
        post: `echo "post $LIFEBOAT_SNAPSHOT_STATUS" >> ${log}`,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HookFailedError);
      expect((err as Error).message).toMatch(/pre-snapshot hook .* failed with exit code 3; its output:\n {2}\| database is not ready/);
      expect(await catalogIds(catalog, 'hooksfail')).toEqual([]);
      expect(await listKeys(store, 'hooksfail/')).toEqual([]);
      await expect(readFile(log, 'utf8')).rejects.toThrow(/ENOENT/);
    });

    it('reports a failing post hook without losing the complete snapshot', async () => {
      const dir = join(work.path, 'hooks-post');
      await mkdir(dir);
      const snap = await takeSnapshot({ catalog, store, service: 'hookspost', dir, post: 'echo unlock failed; exit 1' });
      expect(snap.record.status).toBe('complete');
      expect(snap.postHookError?.message).toMatch(/post-snapshot hook .* failed with exit code 1; its output:\n {2}\| unlock failed/);
    });
  });

  it('cleans up everything when aborted mid-upload', async () => {
    const dir = join(work.path, 'abort');
    await mkdir(dir);
    for (let i = 0; i < 40; i++) await writeFile(join(dir, `f${i}`), Buffer.alloc(256 * 1024, i));
    const controller = new AbortController();
    let aborted = false;
    const err = await takeSnapshot({
      catalog,
      store,
      service: 'aborted',
      dir,
      partBytes: 1024 * 1024,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'upload' && p.filesDone > 5 && !aborted) {
          aborted = true;
          controller.abort();
        }
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect(await catalogIds(catalog, 'aborted')).toEqual([]);
    expect(await listKeys(store, 'aborted/')).toEqual([]);
  });

  it('fails clearly on a missing or non-directory --dir', async () => {
    await expect(takeSnapshot({ catalog, store, service: 'bad', dir: join(work.path, 'nope') })).rejects.toThrow(/data directory .*nope does not exist/);
    const file = join(work.path, 'a-file');
    await appendFile(file, 'x');
    await expect(takeSnapshot({ catalog, store, service: 'bad', dir: file })).rejects.toThrow(/is not a directory/);
    await expect(takeSnapshot({ catalog, store, service: 'bad#name', dir: source })).rejects.toThrow(/service name "bad#name" is not valid/);
  });
});
