/**
 * The snapshot engine: data directory → zstd-compressed tar parts + manifest in the object
 * store → `complete` catalog entry.
 *
 * Order of writes (the crash story):
 *   1. catalog entry `uploading`     — a crash from here on leaves an inert entry to reap;
 *   2. archive parts, concurrently   — each object appears atomically or not at all;
 *   3. manifest, last                — its presence means every part is stored;
 *   4. catalog entry `complete`      — the commit point; only now can restore pick it.
 * A failure or abort in 1–3 deletes what was stored and the `uploading` entry.
 *
 * Memory is bounded: files are streamed through tar → zstd → store, small files are read
 * ahead within a byte budget, and the S3 store uploads fixed-size multipart chunks.
 */

import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants, type Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough, pipeline, Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import * as tarStream from 'tar-stream';

type TarHeader = Parameters<tarStream.Pack['entry']>[0];
type TarSink = ReturnType<tarStream.Pack['entry']>;

import { CompressStream } from 'zstd-napi';
import type { SnapshotCatalog } from '../adapters/catalog.js';
import type { ObjectStore } from '../adapters/stores/store.js';
import { manifestObjectKey, partObjectKey, snapshotPrefix } from '../contract/keys.js';
import type { Canary } from '../domain/drill-checks.js';
import { AbortedError, HookFailedError, OperationFailedError } from '../domain/errors.js';
import { assertServiceName, makeSnapshotId } from '../domain/ids.js';
import { MANIFEST_FORMAT, type Manifest, type ManifestEntry, type ManifestPart, type ManifestWarning } from '../domain/manifest.js';
import type { SnapshotRecord } from '../domain/snapshot.js';
import { hashTap } from './hash-tap.js';
import { type HookResult, runHook } from './hooks.js';
import { findIncompressible, type PartCompression, planParts } from './part-plan.js';
import { type SnapshotV2Stats, uploadSnapshotV2 } from './v2/snapshot-v2.js';
import { assertReadableDirectory, type WalkedNode, walkTree } from './walk.js';

const gzipAsync = promisify(gzip);

export interface SnapshotProgress {
  phase: 'hook' | 'walk' | 'upload' | 'commit';
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
}

export interface SnapshotOptions {
  catalog: SnapshotCatalog;
  store: ObjectStore;
  service: string;
  dir: string;
  reason?: string;
  /** Writer's fencing term (the primary's lease term). */
  term?: number;
  /** ECS task ARN (or local task id) of the writer. */
  sourceTask?: string;
  /** Shell commands run before and after (e.g. a database checkpoint, then resume). */
  pre?: string;
  post?: string;
  hookTimeoutMs?: number;
  /** zstd level; 1–3 keeps a snapshot faster than the disk on most machines. */
  compressionLevel?: number;
  /** Target uncompressed bytes per archive part; parts upload and restore in parallel. */
  partBytes?: number;
  /** Parts produced at once. */
  concurrency?: number;
  /**
   * Snapshot format: 'v2' (default; deduplicated packs, engine/v2/) or 'v1' (full tar
   * parts; kept to write fixtures that prove old snapshots still restore).
   */
  format?: 'v1' | 'v2';
  /** v2: read every file, even those unchanged since the parent snapshot. */
  readAll?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: SnapshotProgress) => void;
  /** One-line notices (warnings, hook output) for the user. */
  onNotice?: (line: string) => void;
  now?: () => Date;
  /** A database recipe's canary fact, recorded in the catalog entry and the manifest. */
  canary?: Canary;
}

export interface SnapshotResult {
  record: SnapshotRecord;
  warnings: ManifestWarning[];
  durationMs: number;
  preHook?: HookResult;
  postHook?: HookResult;
  /** The snapshot is complete, but the post hook failed: callers should exit non-zero. */
  postHookError?: HookFailedError;
  /** v2: files read vs reused unread, and what the snapshot added to the store. */
  stats?: SnapshotV2Stats;
}

export const DEFAULT_PART_BYTES = 128 * 1024 * 1024;
export const DEFAULT_SNAPSHOT_CONCURRENCY = 2;
export const DEFAULT_COMPRESSION_LEVEL = 1;

/** Files up to this size are read whole, ahead of the packer; larger ones are streamed. */
const SMALL_FILE = 1024 * 1024;
const READ_AHEAD_FILES = 64;
const READ_AHEAD_BYTES = 32 * 1024 * 1024;
const CHUNK = 1024 * 1024;

interface LoadedFile {
  stats: Stats;
  buffer?: Buffer;
  sha256?: string;
  changed: boolean;
}

/** Result per node after packing; undefined = left out (vanished). */
type Packed = { entry: ManifestEntry } | undefined;

function sameContentStats(a: Stats, b: Stats): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

async function openForReading(path: string): Promise<FileHandle | undefined> {
  try {
    // NOFOLLOW: a file swapped for a symlink since the walk is not followed out of the tree.
    // NONBLOCK: one swapped for a FIFO does not hang the open (no effect on regular files).
    return await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Removed, or replaced by a symlink, between the walk and now.
    if (code === 'ENOENT' || code === 'ELOOP') return undefined;
    throw new OperationFailedError(`cannot read ${path}: ${code ?? (err as Error).message}`, {
      hint: 'run lifeboat as the user that owns the data, or fix the permissions',
    });
  }
}

/** Reads exactly `size` bytes from the start; a short file is padded and flagged. */
async function readExactly(fh: FileHandle, size: number, onChunk: (chunk: Buffer) => Promise<void> | void): Promise<boolean> {
  let pos = 0;
  let short = false;
  while (pos < size) {
    const len = Math.min(CHUNK, size - pos);
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got < len) {
      // The file shrank under us: keep the archive well-formed and say so.
      buf.fill(0, got);
      short = true;
    }
    await onChunk(buf);
    pos += len;
  }
  return short;
}

/**
 * Reads a whole small file. The walk's lstat is the "before" picture and one fstat after
 * reading the "after": any difference (or a short read) means the file changed while we
 * read it. Returns undefined when the path is gone or no longer a regular file.
 */
async function loadSmallFile(abs: string, walked: Stats): Promise<LoadedFile | undefined> {
  const fh = await openForReading(abs);
  if (!fh) return undefined;
  try {
    const parts: Buffer[] = [];
    const hash = createHash('sha256');
    const short = await readExactly(fh, walked.size, (b) => {
      hash.update(b);
      parts.push(b);
    });
    const after = await fh.stat();
    if (!after.isFile()) return undefined;
    return {
      stats: walked,
      buffer: parts.length === 1 ? parts[0]! : Buffer.concat(parts),
      sha256: hash.digest('hex'),
      changed: short || !sameContentStats(walked, after),
    };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EISDIR' || code === 'EAGAIN') return undefined; // replaced by a directory or a FIFO
    throw new OperationFailedError(`cannot read ${abs}: ${code ?? (err as Error).message}`, {
      hint: 'check the disk and the permissions of the data directory',
    });
  } finally {
    await fh.close();
  }
}

function entryBase(path: string, s: Stats) {
  return { path, mode: s.mode & 0o7777, mtimeMs: s.mtimeMs, uid: s.uid, gid: s.gid };
}

function tarHeader(path: string, s: Stats) {
  return {
    name: path,
    mode: s.mode & 0o7777,
    mtime: new Date(Math.floor(s.mtimeMs)),
    // ustar holds 6 octal digits; larger ids live only in the manifest, which restore uses.
    uid: s.uid <= 0o777777 ? s.uid : 0,
    gid: s.gid <= 0o777777 ? s.gid : 0,
  };
}

class Progress {
  bytesDone = 0;
  filesDone = 0;
  private last = 0;
  constructor(
    private readonly report: ((p: SnapshotProgress) => void) | undefined,
    readonly bytesTotal: number,
    readonly filesTotal: number,
  ) {}
  add(bytes: number, files: number, force = false) {
    this.bytesDone += bytes;
    this.filesDone += files;
    const now = Date.now();
    if (this.report && (force || now - this.last > 100)) {
      this.last = now;
      this.report({ phase: 'upload', bytesDone: this.bytesDone, bytesTotal: this.bytesTotal, filesDone: this.filesDone, filesTotal: this.filesTotal });
    }
  }
}

interface PartContext {
  root: string;
  nodes: readonly WalkedNode[];
  indexOfPath: ReadonlyMap<string, number>;
  packed: Packed[];
  warnings: ManifestWarning[];
  store: ObjectStore;
  key: string;
  compressionLevel: number;
  signal: AbortSignal;
  progress: Progress;
}

/** Streams one part (nodes at `indices`) through tar → zstd (unless raw) → sha256 → store. */
async function producePart(ctx: PartContext, indices: readonly number[], compression: PartCompression): Promise<Omit<ManifestPart, 'key'>> {
  const pack = tarStream.pack();
  const body = new PassThrough({ highWaterMark: CHUNK });
  let streamError: unknown;
  const tap = hashTap();
  const stages: NodeJS.ReadWriteStream[] =
    compression === 'none'
      ? [tap.stream]
      : // Frame checksums on: a corrupted part fails in the decompressor, before its bytes are used.
        [new CompressStream({ compressionLevel: ctx.compressionLevel, checksumFlag: true }), tap.stream];
  // Readable.from: Node's pipeline mishandles a streamx source on premature close (an
  // unhandled rejection on abort); a Node Readable over its async iterator does not.
  pipeline([Readable.from(pack), ...stages, body], (err) => {
    if (err) streamError ??= err;
  });

  const upload = ctx.store.put(ctx.key, body, { signal: ctx.signal, contentType: compression === 'none' ? 'application/x-tar' : 'application/zstd' });
  let members = 0;

  const fill = async () => {
    const pending = new Map<number, Promise<LoadedFile | undefined>>();
    let aheadBytes = 0;
    let next = 0;
    const isSmallFile = (i: number) => ctx.nodes[i]!.type === 'file' && ctx.nodes[i]!.stats.size <= SMALL_FILE;
    const topUp = (from: number) => {
      if (next < from) next = from;
      while (next < indices.length && next - from < READ_AHEAD_FILES && aheadBytes < READ_AHEAD_BYTES) {
        const i = indices[next]!;
        if (isSmallFile(i)) {
          aheadBytes += ctx.nodes[i]!.stats.size;
          const p = loadSmallFile(join(ctx.root, ctx.nodes[i]!.path), ctx.nodes[i]!.stats);
          p.catch(() => undefined); // observed when consumed; avoid unhandled rejections meanwhile
          pending.set(i, p);
        }
        next++;
      }
    };
    const addEntry = (header: TarHeader, buffer?: Buffer) =>
      new Promise<void>((res, rej) => {
        if (buffer) pack.entry(header, buffer, (err) => (err ? rej(err) : res()));
        else pack.entry(header, (err) => (err ? rej(err) : res()));
        members++;
      });

    for (let k = 0; k < indices.length; k++) {
      if (ctx.signal.aborted) throw new AbortedError('snapshot aborted');
      if (streamError) throw streamError;
      topUp(k);
      const i = indices[k]!;
      const node = ctx.nodes[i]!;
      if (node.type === 'dir') {
        ctx.packed[i] = { entry: { type: 'dir', ...entryBase(node.path, node.stats) } };
        if (node.path !== '.') await addEntry({ ...tarHeader(`${node.path}/`, node.stats), type: 'directory' });
        continue;
      }
      if (node.type === 'symlink') {
        ctx.packed[i] = { entry: { type: 'symlink', ...entryBase(node.path, node.stats), target: node.target!, part: -1 } };
        await addEntry({ ...tarHeader(node.path, node.stats), type: 'symlink', linkname: node.target! });
        continue;
      }
      if (node.type === 'hardlink') {
        const target = ctx.packed[ctx.indexOfPath.get(node.target!)!];
        if (target?.entry.type !== 'file') {
          ctx.warnings.push({ path: node.path, kind: 'vanished', detail: `hard link target ${node.target} was removed during the snapshot` });
          continue;
        }
        const t = target.entry;
        ctx.packed[i] = { entry: { type: 'hardlink', path: node.path, mode: t.mode, mtimeMs: t.mtimeMs, uid: t.uid, gid: t.gid, target: t.path, part: -1 } };
        await addEntry({ name: node.path, mode: t.mode, mtime: new Date(Math.floor(t.mtimeMs)), type: 'link', linkname: t.path });
        continue;
      }
      // Regular file.
      const abs = join(ctx.root, node.path);
      let loaded: LoadedFile | undefined;
      const prefetched = pending.get(i);
      if (prefetched) {
        pending.delete(i);
        loaded = await prefetched;
        aheadBytes -= node.stats.size;
        if (loaded) await addEntry({ ...tarHeader(node.path, loaded.stats), type: 'file', size: loaded.stats.size }, loaded.buffer!);
      } else {
        loaded = await streamLargeFile(
          abs,
          node.path,
          node.stats,
          (header) => {
            members++;
            return pack.entry(header);
          },
          ctx.progress,
        );
      }
      if (!loaded) {
        ctx.warnings.push({ path: node.path, kind: 'vanished', detail: 'removed or replaced during the snapshot' });
        continue;
      }
      if (loaded.changed)
        ctx.warnings.push({ path: node.path, kind: 'changed', detail: 'modified while it was being read; the archived copy may be inconsistent' });
      ctx.packed[i] = {
        entry: {
          type: 'file',
          ...entryBase(node.path, loaded.stats),
          size: loaded.stats.size,
          sha256: loaded.sha256!,
          part: -1,
          ...(loaded.changed ? { changed: true as const } : {}),
        },
      };
      ctx.progress.add(prefetched ? loaded.stats.size : 0, 1);
    }
    pack.finalize();
  };

  // A failed read must also end the upload, which otherwise waits for the rest of the part.
  const filling = fill().catch((err: unknown) => {
    pack.destroy(err instanceof Error ? err : new Error(String(err)));
    throw err;
  });
  const results = await Promise.allSettled([filling, upload]);
  const failure = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failure) {
    const err = ctx.signal.aborted ? new AbortedError('snapshot aborted') : (streamError ?? failure.reason);
    pack.destroy(err instanceof Error ? err : new Error(String(err)));
    body.destroy();
    throw err;
  }
  const { size } = (results[1] as PromiseFulfilledResult<{ size: number }>).value;
  const { sha256, stored } = tap.digest();
  if (stored !== size) throw new OperationFailedError(`part ${ctx.key}: ${size} bytes stored but ${stored} produced`);
  return { size, sha256, entries: members, compression };
}

/**
 * Waits for a tar entry to accept more data. A destroyed entry (the archive was torn down
 * because the upload failed or was aborted) never drains, so 'close' and 'error' end the
 * wait too instead of hanging the snapshot.
 */
function drained(sink: TarSink): Promise<void> {
  if (sink.destroyed) return Promise.reject(new AbortedError('archive stream closed'));
  return new Promise((resolve, reject) => {
    const settle = (err?: unknown) => {
      sink.off('drain', onDrain);
      sink.off('close', onClose);
      sink.off('error', settle);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => settle();
    const onClose = () => settle(new AbortedError('archive stream closed'));
    sink.on('drain', onDrain);
    sink.on('close', onClose);
    sink.on('error', settle);
  });
}

/** Streams a large file into the archive in 1 MiB chunks; same change check as above. */
async function streamLargeFile(
  abs: string,
  path: string,
  walked: Stats,
  openEntry: (header: TarHeader) => TarSink,
  progress: Progress,
): Promise<LoadedFile | undefined> {
  const fh = await openForReading(abs);
  if (!fh) return undefined;
  try {
    const first = await fh.stat();
    // Not a regular file any more: leave it out before a tar header promises its bytes.
    if (!first.isFile()) return undefined;
    const sink = openEntry({ ...tarHeader(path, walked), type: 'file', size: walked.size });
    const finished = new Promise<void>((res, rej) => {
      sink.on('close', res);
      sink.on('error', rej);
    });
    // If reading fails first, nobody awaits `finished`; its rejection must not go unhandled.
    finished.catch(() => undefined);
    const hash = createHash('sha256');
    const short = await readExactly(fh, walked.size, async (chunk) => {
      hash.update(chunk);
      progress.add(chunk.length, 0);
      if (!sink.write(chunk)) await drained(sink);
    });
    sink.end(undefined);
    await finished;
    const after = await fh.stat();
    return { stats: walked, sha256: hash.digest('hex'), changed: short || !sameContentStats(walked, after) };
  } catch (err) {
    // Half an entry is in the archive already: a read error here fails the part.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined || err instanceof AbortedError) throw err;
    throw new OperationFailedError(`cannot read ${abs}: ${code}`, { hint: 'check the disk and the permissions of the data directory' });
  } finally {
    await fh.close();
  }
}

async function deleteSnapshotObjects(store: ObjectStore, service: string, id: string): Promise<void> {
  const keys: string[] = [];
  for await (const o of store.list(snapshotPrefix(service, id))) keys.push(o.key);
  if (keys.length) await store.delete(keys);
}

/** Takes a snapshot of `dir` for `service`. See the module comment for the write order. */
export async function takeSnapshot(options: SnapshotOptions): Promise<SnapshotResult> {
  const started = Date.now();
  const now = options.now ?? (() => new Date());
  const service = assertServiceName(options.service);
  const root = resolve(options.dir);
  const notice = options.onNotice ?? (() => undefined);
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const signal = controller.signal;

  // Fail on a bad directory, table or bucket before running any hook.
  await assertReadableDirectory(root);
  await Promise.all([options.catalog.check(), options.store.check()]);

  const createdAt = now();
  const id = makeSnapshotId(createdAt, randomBytes(4));
  const hookEnv = { LIFEBOAT_SERVICE: service, LIFEBOAT_DIR: root, LIFEBOAT_SNAPSHOT_ID: id };
  let preHook: HookResult | undefined;
  if (options.pre) {
    options.onProgress?.({ phase: 'hook', bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0 });
    preHook = await runHook(options.pre, {
      name: 'pre-snapshot hook',
      env: { ...hookEnv, LIFEBOAT_HOOK: 'pre' },
      timeoutMs: options.hookTimeoutMs,
      signal,
    });
  }

  let record: SnapshotRecord | undefined;
  let warnings: ManifestWarning[] = [];
  let stats: SnapshotV2Stats | undefined;
  let failure: unknown;
  try {
    // Format dispatch: new snapshots are v2; v1 stays for old-format fixtures.
    ({ record, warnings, stats } =
      options.format === 'v1'
        ? await uploadSnapshot(options, { service, id, root, createdAt, now, signal })
        : await uploadSnapshotV2({
            catalog: options.catalog,
            store: options.store,
            service,
            id,
            root,
            createdAt,
            now,
            signal,
            reason: options.reason,
            term: options.term,
            sourceTask: options.sourceTask,
            ...(options.canary ? { canary: options.canary } : {}),
            compressionLevel: options.compressionLevel,
            readAll: options.readAll,
            concurrency: options.concurrency,
            onProgress: options.onProgress,
            onNotice: notice,
          }));
  } catch (err) {
    failure = signal.aborted ? new AbortedError('snapshot aborted; nothing was kept', { cause: err }) : err;
  } finally {
    options.signal?.removeEventListener('abort', onOuterAbort);
  }
  // The post hook runs whatever happened (it typically undoes what the pre hook did).
  let postHook: HookResult | undefined;
  let postHookError: HookFailedError | undefined;
  if (options.post) {
    try {
      postHook = await runHook(options.post, {
        name: 'post-snapshot hook',
        env: { ...hookEnv, LIFEBOAT_HOOK: 'post', LIFEBOAT_SNAPSHOT_STATUS: record ? 'complete' : 'failed' },
        timeoutMs: options.hookTimeoutMs,
      });
    } catch (err) {
      if (!(err instanceof HookFailedError)) throw err;
      postHookError = err;
      if (failure) notice(err.message);
    }
  }
  if (failure) throw failure;
  for (const w of warnings) notice(`warning: ${w.path}: ${w.detail}`);
  return {
    record: record!,
    warnings,
    durationMs: Date.now() - started,
    ...(stats ? { stats } : {}),
    ...(preHook ? { preHook } : {}),
    ...(postHook ? { postHook } : {}),
    ...(postHookError ? { postHookError } : {}),
  };
}

interface SnapshotIdentity {
  service: string;
  id: string;
  root: string;
  createdAt: Date;
  now: () => Date;
  signal: AbortSignal;
}

/** Steps 1–4 of the module comment; on failure removes what it stored, then rethrows. */
async function uploadSnapshot(
  options: SnapshotOptions,
  snap: SnapshotIdentity,
): Promise<{ record: SnapshotRecord; warnings: ManifestWarning[]; stats?: undefined }> {
  const { service, id, root, createdAt, now, signal } = snap;
  let began = false;
  try {
    options.onProgress?.({ phase: 'walk', bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0 });
    const { nodes, warnings } = await walkTree(root);
    const level = options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL;
    const raw = await findIncompressible(root, nodes, level);
    const plan = planParts(nodes, options.partBytes ?? DEFAULT_PART_BYTES, (i) => raw.has(i));
    const { partOf } = plan;
    const partCount = plan.parts.length;

    const manifestKey = manifestObjectKey(service, id);
    await options.catalog.begin({
      service,
      id,
      createdAt: createdAt.toISOString(),
      manifestKey,
      store: options.store.url,
      term: options.term,
      sourceTask: options.sourceTask,
      sourceHost: hostname(),
      reason: options.reason ?? 'manual',
      ...(options.canary ? { canary: options.canary } : {}),
    });
    began = true;

    const files = nodes.filter((n) => n.type === 'file');
    const progress = new Progress(
      options.onProgress,
      files.reduce((s, n) => s + n.stats.size, 0),
      files.length,
    );
    const packed: Packed[] = new Array(nodes.length);
    const indexOfPath = new Map(nodes.map((n, i) => [n.path, i]));
    const parts: ManifestPart[] = new Array(partCount);
    const concurrency = Math.max(1, options.concurrency ?? DEFAULT_SNAPSHOT_CONCURRENCY);
    // One failing part stops its siblings; kept apart from the caller's signal so the
    // caller sees the part's error, not an "aborted".
    const stopParts = new AbortController();
    const stopOnAbort = () => stopParts.abort();
    signal.addEventListener('abort', stopOnAbort, { once: true });
    let nextPart = 0;
    const worker = async () => {
      while (nextPart < partCount) {
        const p = nextPart++;
        const { compression, indices } = plan.parts[p]!;
        const key = partObjectKey(service, id, p, compression);
        const done = await producePart(
          { root, nodes, indexOfPath, packed, warnings, store: options.store, key, compressionLevel: level, signal: stopParts.signal, progress },
          indices,
          compression,
        );
        parts[p] = { key, ...done };
      }
    };
    const workers = Array.from({ length: Math.min(concurrency, partCount) }, () =>
      worker().catch((err: unknown) => {
        stopParts.abort();
        throw err;
      }),
    );
    const settled = await Promise.allSettled(workers);
    signal.removeEventListener('abort', stopOnAbort);
    // The first failure is the cause; the others are mostly "aborted" echoes of it.
    const failed = settled.find((s) => s.status === 'rejected' && !(s.reason instanceof AbortedError)) ?? settled.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    progress.add(0, 0, true);

    const entries: ManifestEntry[] = [];
    packed.forEach((p, i) => {
      if (!p) return;
      if (p.entry.type !== 'dir') p.entry.part = partOf[i]!;
      entries.push(p.entry);
    });
    const totals = {
      files: entries.filter((e) => e.type === 'file').length,
      dirs: entries.filter((e) => e.type === 'dir').length,
      symlinks: entries.filter((e) => e.type === 'symlink').length,
      hardlinks: entries.filter((e) => e.type === 'hardlink').length,
      dataBytes: entries.reduce((s, e) => s + (e.type === 'file' ? e.size : 0), 0),
      storedBytes: parts.reduce((s, p) => s + p.size, 0),
    };
    const completedAt = now().toISOString();
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      service,
      id,
      createdAt: createdAt.toISOString(),
      completedAt,
      ...(options.term !== undefined ? { term: options.term } : {}),
      source: { ...(options.sourceTask ? { task: options.sourceTask } : {}), host: hostname(), dir: root },
      reason: options.reason ?? 'manual',
      parts,
      entries,
      totals,
      warnings,
      ...(options.canary ? { canary: options.canary } : {}),
    };
    const manifestBytes = await gzipAsync(Buffer.from(JSON.stringify(manifest)));
    const manifestSha256 = createHash('sha256').update(manifestBytes).digest('hex');
    if (signal.aborted) throw new AbortedError('snapshot aborted');
    await options.store.put(manifestKey, Readable.from([manifestBytes]), { signal, contentType: 'application/gzip' });

    options.onProgress?.({
      phase: 'commit',
      bytesDone: progress.bytesDone,
      bytesTotal: progress.bytesTotal,
      filesDone: progress.filesDone,
      filesTotal: progress.filesTotal,
    });
    const record = await options.catalog.commit(
      service,
      id,
      {
        completedAt,
        size: totals.storedBytes + manifestBytes.length,
        dataSize: totals.dataBytes,
        fileCount: totals.files,
        entryCount: entries.length,
        partCount,
        manifestSha256,
        warningCount: warnings.length,
      },
      options.term !== undefined ? { term: options.term } : undefined,
    );
    return { record, warnings };
  } catch (err) {
    if (began) {
      // Best effort: leave neither objects nor an `uploading` entry behind. If this fails
      // too (store gone), the sweeper reaps both later; the original error is what matters.
      await deleteSnapshotObjects(options.store, service, id).catch(() => undefined);
      await options.catalog.discard(service, id).catch(() => undefined);
    }
    throw err;
  }
}
