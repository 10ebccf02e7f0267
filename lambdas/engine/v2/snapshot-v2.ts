/**
 * Snapshot format v2: data directory → deduplicated blobs in shared packs + an index file +
 * a v2 manifest → `complete` catalog entry (docs/FORMAT-V2.md §6).
 *
 * Order of writes (the crash story; the commit protocol of v1 is unchanged):
 *   1. catalog entry `uploading`     — before the index is read (GC's safety argument);
 *   2. packs, concurrently           — each object appears atomically or not at all;
 *   3. the index file of those packs — from here on another snapshot may reuse them;
 *   4. the manifest, last            — its presence means every blob it names is stored;
 *   5. catalog entry `complete` (term-fenced) — the commit point.
 * On failure before 3 the packs are deleted; after 3 they are left to GC (another snapshot
 * may already use them); the manifest and the `uploading` entry are removed.
 *
 * Change detection: a file whose size, mtime (ns), ctime (ns) and inode equal its entry in
 * the parent snapshot (the latest complete one) reuses that entry's blob list unread, if
 * every blob is still in the index (`readAll` turns this off).
 */

import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, hostname } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { SnapshotCatalog } from '../../adapters/catalog.js';
import type { ObjectStore } from '../../adapters/stores/store.js';
import { isManifestV2Key, manifestV2ObjectKey, packObjectKey, snapshotPrefix } from '../../contract/keys.js';
import type { BlobIndex } from '../../domain/blob-index.js';
import { type ChunkParams, DEFAULT_CHUNK_PARAMS } from '../../domain/chunker.js';
import type { Canary } from '../../domain/drill-checks.js';
import { AbortedError, IntegrityError, OperationFailedError } from '../../domain/errors.js';
import type { ManifestWarning } from '../../domain/manifest.js';
import { type FileEntryV2, MANIFEST_V2_FORMAT, type ManifestEntryV2, type ManifestV2 } from '../../domain/manifest-v2.js';
import type { SnapshotRecord } from '../../domain/snapshot.js';
import { type WalkedNode, walkTree } from '../walk.js';
import { type ChunkJobFile, ChunkPool, JobError, type WorkerItem } from './chunk-worker.js';
import { DEFAULT_PACK_BYTES, fetchManifestV2, loadIndex, type NativeZstdDecoder, PackWriter, registerNativeZstd, writeIndex } from './repo.js';

export { DEFAULT_PACK_BYTES };

const zstd = createRequire(import.meta.url)('zstd-napi/binding') as NativeZstdDecoder & {
  compress(dst: Uint8Array, src: Uint8Array, level: number): number;
  compressBound(n: number): number;
};
registerNativeZstd(zstd);

/** The manifest, zstd-compressed by the native module (readers decode it in JS: repo.ts). */
async function writeZstdJson(store: ObjectStore, key: string, doc: unknown, signal?: AbortSignal): Promise<{ size: number; sha256: string }> {
  const json = Buffer.from(JSON.stringify(doc));
  const out = Buffer.allocUnsafe(zstd.compressBound(json.length));
  const bytes = out.subarray(0, zstd.compress(out, json, 3));
  await store.put(key, Readable.from([bytes]), { signal, contentType: 'application/zstd' });
  return { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}
/** Small files go to the workers in batches of about this many bytes (or files). */
const BATCH_BYTES = 2 * 1024 * 1024;
const BATCH_FILES = 256;

export interface SnapshotV2Progress {
  phase: 'walk' | 'upload' | 'commit';
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
}

export interface SnapshotV2Input {
  catalog: SnapshotCatalog;
  store: ObjectStore;
  service: string;
  id: string;
  /** Absolute data directory. */
  root: string;
  createdAt: Date;
  now: () => Date;
  signal: AbortSignal;
  reason?: string;
  term?: number;
  sourceTask?: string;
  /** A database recipe's canary fact, recorded in the catalog entry and the manifest. */
  canary?: Canary;
  /** zstd level (1–3 keeps a snapshot faster than most disks). */
  compressionLevel?: number;
  /** Read every file even when it looks unchanged since the parent snapshot. */
  readAll?: boolean;
  /** Packs uploading at once. */
  concurrency?: number;
  /** Chunk workers (default: the machine's parallelism, at most 4). */
  workers?: number;
  packBytes?: number;
  chunkParams?: ChunkParams;
  onProgress?: (p: SnapshotV2Progress) => void;
  onNotice?: (line: string) => void;
}

export interface SnapshotV2Stats {
  filesRead: number;
  filesReused: number;
  newBlobs: number;
  newPacks: number;
  addedBytes: number;
}

type Node = WalkedNode<BigIntStats>;

function base(path: string, s: BigIntStats) {
  return { path, mode: Number(s.mode) & 0o7777, mtimeNs: s.mtimeNs.toString(), uid: Number(s.uid), gid: Number(s.gid) };
}

/** The parent's file entries by path, when the latest complete snapshot is v2 and readable. */
async function loadParent(input: SnapshotV2Input): Promise<{ id: string; files: Map<string, FileEntryV2> } | undefined> {
  const latest = await input.catalog.latest(input.service);
  if (!latest || !isManifestV2Key(latest.manifestKey)) return undefined;
  try {
    const { manifest } = await fetchManifestV2(input.store, latest, input.signal);
    const files = new Map<string, FileEntryV2>();
    for (const e of manifest.entries) if (e.type === 'file' && !e.changed) files.set(e.path, e);
    return { id: latest.id, files };
  } catch (err) {
    if (!(err instanceof IntegrityError)) throw err;
    input.onNotice?.(`warning: parent snapshot ${latest.id} is unreadable (${err.message}); every file is read`);
    return undefined;
  }
}

function unchanged(prev: FileEntryV2, s: BigIntStats, index: BlobIndex): boolean {
  return (
    BigInt(prev.size) === s.size &&
    prev.mtimeNs === s.mtimeNs.toString() &&
    prev.ctimeNs === s.ctimeNs.toString() &&
    prev.ino === s.ino.toString() &&
    prev.blobs.every((b) => index.has(b))
  );
}

/** Steps 1–5 of the module comment. Throws after removing what it can of a failed attempt. */
export async function uploadSnapshotV2(input: SnapshotV2Input): Promise<{ record: SnapshotRecord; warnings: ManifestWarning[]; stats: SnapshotV2Stats }> {
  const { catalog, store, service, id, root, signal } = input;
  const manifestKey = manifestV2ObjectKey(service, id);
  let began = false;
  let indexWritten = false;
  let packs: PackWriter | undefined;
  try {
    input.onProgress?.({ phase: 'walk', bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0 });
    const { nodes, warnings } = await walkTree(root, { bigint: true });
    await catalog.begin({
      service,
      id,
      createdAt: input.createdAt.toISOString(),
      manifestKey,
      term: input.term,
      sourceTask: input.sourceTask,
      store: store.url,
      sourceHost: hostname(),
      reason: input.reason ?? 'manual',
      ...(input.canary ? { canary: input.canary } : {}),
    });
    began = true;
    const [{ index, condemned }, parent] = await Promise.all([loadIndex(store, service, signal), input.readAll ? undefined : loadParent(input)]);

    // Decide per file: reuse the parent's entry, or read it.
    const entries: (ManifestEntryV2 | undefined)[] = new Array(nodes.length);
    const toRead: number[] = [];
    let filesReused = 0;
    nodes.forEach((n, i) => {
      if (n.type !== 'file') return;
      const prev = parent?.files.get(n.path);
      if (prev && unchanged(prev, n.stats, index)) {
        entries[i] = { ...prev, ...base(n.path, n.stats) };
        filesReused++;
      } else toRead.push(i);
    });

    const bytesTotal = toRead.reduce((s, i) => s + Number(nodes[i]!.stats.size), 0);
    let bytesDone = 0;
    let filesDone = 0;
    let lastReport = 0;
    const report = (force = false) => {
      const t = Date.now();
      if (input.onProgress && (force || t - lastReport > 100)) {
        lastReport = t;
        input.onProgress({ phase: 'upload', bytesDone, bytesTotal, filesDone, filesTotal: toRead.length });
      }
    };

    packs = new PackWriter({
      store,
      service,
      targetBytes: input.packBytes ?? DEFAULT_PACK_BYTES,
      uploads: Math.max(1, input.concurrency ?? 4),
      signal,
      avoid: condemned,
    });
    const writer = packs;
    const onItems = async (items: WorkerItem[]) => {
      for (const it of items) {
        if (it.k === 'c') {
          if (!index.has(it.id)) writer.add(it.id, it.raw, it.c === 1 ? 'zstd' : 'none', it.data);
          continue;
        }
        const node = nodes[it.file]!;
        filesDone++;
        bytesDone += Number(node.stats.size);
        if (it.vanished) {
          warnings.push({ path: node.path, kind: 'vanished', detail: 'removed or replaced during the snapshot' });
          continue;
        }
        if (it.changed) warnings.push({ path: node.path, kind: 'changed', detail: 'modified while it was being read; the stored copy may be inconsistent' });
        entries[it.file] = {
          type: 'file',
          ...base(node.path, node.stats),
          size: it.size,
          blobs: it.blobs,
          ...(it.blobs.length > 1 ? { sha256: it.sha256 } : {}),
          ino: node.stats.ino.toString(),
          ctimeNs: node.stats.ctimeNs.toString(),
          ...(it.changed ? { changed: true as const } : {}),
        };
      }
      report();
      await writer.whenRoom();
    };

    if (toRead.length > 0) await readFiles(input, nodes, toRead, index, parent?.files, onItems);
    await packs.finish();
    report(true);
    if (signal.aborted) throw new AbortedError('snapshot aborted');

    // Index of the new packs, before the manifest that needs them.
    let indexBytes = 0;
    if (packs.written.length > 0) {
      indexBytes = (await writeIndex(store, service, id, packs.written, signal)).size;
      indexWritten = true;
    }

    const manifestEntries: ManifestEntryV2[] = [];
    const entryByPath = new Map<string, ManifestEntryV2>();
    nodes.forEach((n, i) => {
      let e = entries[i];
      if (n.type === 'dir') e = { type: 'dir', ...base(n.path, n.stats) };
      else if (n.type === 'symlink') e = { type: 'symlink', ...base(n.path, n.stats), target: n.target! };
      else if (n.type === 'hardlink') {
        const t = entryByPath.get(n.target!);
        if (t?.type !== 'file') {
          warnings.push({ path: n.path, kind: 'vanished', detail: `hard link target ${n.target} was removed during the snapshot` });
          return;
        }
        e = { type: 'hardlink', path: n.path, mode: t.mode, mtimeNs: t.mtimeNs, uid: t.uid, gid: t.gid, target: t.path };
      }
      if (!e) return;
      entryByPath.set(e.path, e);
      manifestEntries.push(e);
    });
    const files = manifestEntries.filter((e): e is FileEntryV2 => e.type === 'file');
    const distinct = new Set<string>();
    for (const f of files) for (const b of f.blobs) distinct.add(b);
    const addedBytes = packs.storedBytes + indexBytes;
    const completedAt = input.now().toISOString();
    const manifest: ManifestV2 = {
      format: MANIFEST_V2_FORMAT,
      service,
      id,
      createdAt: input.createdAt.toISOString(),
      completedAt,
      ...(input.term !== undefined ? { term: input.term } : {}),
      source: { ...(input.sourceTask ? { task: input.sourceTask } : {}), host: hostname(), dir: root },
      reason: input.reason ?? 'manual',
      ...(input.canary ? { canary: input.canary } : {}),
      ...(parent ? { parent: parent.id } : {}),
      entries: manifestEntries,
      totals: {
        files: files.length,
        dirs: manifestEntries.filter((e) => e.type === 'dir').length,
        symlinks: manifestEntries.filter((e) => e.type === 'symlink').length,
        hardlinks: manifestEntries.filter((e) => e.type === 'hardlink').length,
        dataBytes: files.reduce((s, f) => s + f.size, 0),
        blobs: distinct.size,
        newBlobs: packs.written.reduce((s, p) => s + p.blobs.length, 0),
        newPacks: packs.written.length,
        addedBytes,
      },
      warnings,
    };
    if (signal.aborted) throw new AbortedError('snapshot aborted');
    const written = await writeZstdJson(store, manifestKey, manifest, signal);

    input.onProgress?.({ phase: 'commit', bytesDone, bytesTotal, filesDone, filesTotal: toRead.length });
    const record = await catalog.commit(
      service,
      id,
      {
        completedAt,
        size: addedBytes + written.size,
        dataSize: manifest.totals.dataBytes,
        fileCount: manifest.totals.files,
        entryCount: manifestEntries.length,
        partCount: manifest.totals.newPacks,
        manifestSha256: written.sha256,
        warningCount: warnings.length,
      },
      input.term !== undefined ? { term: input.term } : undefined,
    );
    return {
      record,
      warnings,
      stats: { filesRead: toRead.length, filesReused, newBlobs: manifest.totals.newBlobs, newPacks: manifest.totals.newPacks, addedBytes },
    };
  } catch (err) {
    if (began) {
      await packs?.settle();
      // Best effort, like v1: if this fails too the sweeper reaps the entry and GC the packs.
      const doomed = [manifestKey];
      if (!indexWritten && packs) doomed.push(...packs.written.map((p) => packObjectKey(service, p.id)));
      await store.delete(doomed).catch(() => undefined);
      await deleteRest(store, service, id).catch(() => undefined);
      await catalog.discard(service, id).catch(() => undefined);
    }
    throw err;
  }
}

/** Anything else under the snapshot's own prefix (nothing today; v1 leftovers of the same id). */
async function deleteRest(store: ObjectStore, service: string, id: string): Promise<void> {
  const keys: string[] = [];
  for await (const o of store.list(snapshotPrefix(service, id))) keys.push(o.key);
  if (keys.length) await store.delete(keys);
}

/** Sends the files to the chunk workers: small ones in batches, large ones one per job. */
async function readFiles(
  input: SnapshotV2Input,
  nodes: readonly Node[],
  toRead: readonly number[],
  index: BlobIndex,
  parentFiles: ReadonlyMap<string, FileEntryV2> | undefined,
  onItems: (items: WorkerItem[]) => Promise<void>,
): Promise<void> {
  const params = input.chunkParams ?? DEFAULT_CHUNK_PARAMS;
  const workers = Math.max(1, input.workers ?? Math.min(4, availableParallelism()));
  const pool = new ChunkPool({ workers, level: input.compressionLevel ?? 1, params }, { onItems });
  const job = (i: number): ChunkJobFile => {
    const n = nodes[i]!;
    const prev = parentFiles?.get(n.path);
    const known = prev?.blobs.filter((b) => index.has(b));
    return {
      file: i,
      path: join(input.root, n.path),
      size: Number(n.stats.size),
      mtimeNs: n.stats.mtimeNs.toString(),
      ctimeNs: n.stats.ctimeNs.toString(),
      ino: n.stats.ino.toString(),
      ...(known && known.length > 0 ? { known } : {}),
    };
  };
  const jobs: ChunkJobFile[][] = [];
  let batch: ChunkJobFile[] = [];
  let batchBytes = 0;
  for (const i of toRead) {
    const size = Number(nodes[i]!.stats.size);
    if (size > params.min) {
      jobs.push([job(i)]);
      continue;
    }
    batch.push(job(i));
    batchBytes += size;
    if (batchBytes >= BATCH_BYTES || batch.length >= BATCH_FILES) {
      jobs.push(batch);
      batch = [];
      batchBytes = 0;
    }
  }
  if (batch.length) jobs.push(batch);

  const stop = () => void pool.close();
  input.signal.addEventListener('abort', stop, { once: true });
  try {
    // Two jobs queued per worker: it never waits for the next one.
    let next = 0;
    const running = new Set<Promise<void>>();
    let failure: unknown;
    while (next < jobs.length && failure === undefined) {
      if (input.signal.aborted) throw new AbortedError('snapshot aborted');
      while (running.size >= workers * 2) await Promise.race(running);
      const p: Promise<void> = pool.run(jobs[next++]!).then(
        () => void running.delete(p),
        (err: unknown) => {
          failure ??= err;
          running.delete(p);
        },
      );
      running.add(p);
    }
    await Promise.all(running);
    if (input.signal.aborted) throw new AbortedError('snapshot aborted');
    if (failure !== undefined) {
      if (failure instanceof JobError) {
        throw new OperationFailedError(`cannot read ${failure.path ?? 'a file'}: ${failure.code ?? failure.message}`, {
          hint: 'run lifeboat as the user that owns the data, or fix the permissions',
        });
      }
      throw failure;
    }
  } finally {
    input.signal.removeEventListener('abort', stop);
    await pool.close();
  }
}
