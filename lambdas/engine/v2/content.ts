/**
 * Writes file contents from packs: the shared core of v2 full and delta restore.
 *
 * Only the byte ranges of packs that hold needed blobs are fetched (ranged GETs), a few at
 * a time, each at most RANGE_MAX bytes, so memory stays bounded whatever the snapshot.
 * Every blob is decompressed into a buffer of exactly its declared size (never more) and
 * its SHA-256 checked against its id; every file's size and SHA-256 are checked too.
 *
 * Files of one blob (small files) are fetched pack by pack, neighbours in one request, and
 * written in batches by the small-file writer; files of many blobs are written in order,
 * one request per run of neighbouring blobs.
 */

import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import pLimit from 'p-limit';
import type { ObjectStore } from '../../adapters/stores/store.js';
import { packObjectKey } from '../../contract/keys.js';
import type { BlobIndex, BlobLocation } from '../../domain/blob-index.js';
import { AbortedError, IntegrityError } from '../../domain/errors.js';
import { type FileEntryV2, fileSha256, nsToSeconds } from '../../domain/manifest-v2.js';
import { writeFailure } from '../file-writer.js';
import { type NativeZstdDecoder, registerNativeZstd } from './repo.js';
import { type DestFile, RestorePool, type RestoreResult, RestoreWorkerFailure, type WireBlob } from './restore-worker.js';

// Manifests read on the restore path decode natively (repo.ts).
registerNativeZstd(createRequire(import.meta.url)('zstd-napi/binding') as NativeZstdDecoder);

/** One request reads at most this much of a pack. */
const RANGE_MAX = 16 * 1024 * 1024;
/** Neighbouring blobs this close are read in one request (the gap is read and dropped). */
const RANGE_GAP = 256 * 1024;
/** Decoded blobs that appear more than once are kept (up to this many bytes) for reuse. */
const CACHE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_V2_RESTORE_CONCURRENCY = 6;

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const UMASK = process.umask();
const OWN_UID = process.getuid?.();
const OWN_GID = process.getgid?.();

export interface ContentJob {
  entry: FileEntryV2;
  /** Where to create the file; it must not exist. */
  dest: string;
}

export interface ContentOptions {
  store: ObjectStore;
  service: string;
  snapshotId: string;
  index: BlobIndex;
  signal: AbortSignal;
  concurrency?: number;
  progress: (bytes: number, files: number) => void;
  /** Called for every ranged read of a pack, with the bytes it returned (drills record which packs they read). */
  onRead?: (pack: string, bytes: number) => void;
}

const HINT = 'restore an older snapshot with --snapshot ID; the target directory was not changed';

function corrupted(snapshotId: string, path: string, what: string): IntegrityError {
  return new IntegrityError(`file "${path}" in snapshot ${snapshotId} is corrupted: ${what}`, { hint: HINT });
}

/** Every blob the jobs need must be in the index: checked before anything is fetched. */
export function assertBlobsIndexed(snapshotId: string, index: BlobIndex, jobs: readonly ContentJob[]): void {
  for (const j of jobs) {
    for (const b of j.entry.blobs) {
      if (!index.has(b)) throw corrupted(snapshotId, j.entry.path, `blob ${b} is in no index (its pack was deleted or never stored)`);
    }
  }
}

/** A range buffer as an ArrayBuffer the worker may own (copied when it is a view of more). */
function transferable(buf: Buffer): ArrayBuffer {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer) return buf.buffer;
  const out = new ArrayBuffer(buf.length);
  buf.copy(new Uint8Array(out));
  return out;
}

/** Restore workers: one per core, at most 4 (the main thread fetches, they decode and write). */
const RESTORE_WORKERS = Math.max(1, Math.min(4, availableParallelism()));

/** Creates every job's file with verified content, owner, mode and mtime. */
export async function writeContent(jobs: readonly ContentJob[], o: ContentOptions): Promise<void> {
  assertBlobsIndexed(o.snapshotId, o.index, jobs);
  const uses = new Map<string, number>();
  for (const j of jobs) for (const b of j.entry.blobs) uses.set(b, (uses.get(b) ?? 0) + 1);
  const limit = pLimit(Math.max(1, o.concurrency ?? DEFAULT_V2_RESTORE_CONCURRENCY));
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  o.signal.addEventListener('abort', onAbort, { once: true });
  const signal = stop.signal;
  const pool = new RestorePool(RESTORE_WORKERS, CACHE_BYTES / RESTORE_WORKERS);
  const action = `restore of snapshot ${o.snapshotId}`;
  // Worker errors name the destination; users need the snapshot's own path.
  const pathOf = new Map<string, string>(jobs.map((j) => [j.dest, j.entry.path]));
  const range = async (loc: BlobLocation, length: number) => {
    const buf = await o.store.getRange(packObjectKey(o.service, loc.pack), loc.offset, length, { signal });
    o.onRead?.(loc.pack, buf.length);
    return buf;
  };
  const send = async (slot: number, m: Parameters<RestorePool['send']>[1]) => {
    let r: RestoreResult;
    try {
      r = await pool.send(slot, m);
    } catch (err) {
      if (!(err instanceof RestoreWorkerFailure)) throw err;
      const d = err.detail;
      if (d.kind === 'corrupt') throw corrupted(o.snapshotId, pathOf.get(d.path ?? '') ?? d.path ?? '?', d.message);
      throw writeFailure({ message: d.message, code: d.code, path: d.path }, action);
    }
    o.progress(r.bytes, r.files);
  };
  const dest = (j: ContentJob): DestFile => {
    const e = j.entry;
    const chown = isRoot && (e.uid !== OWN_UID || e.gid !== OWN_GID);
    return {
      path: j.dest,
      size: e.size,
      mode: e.mode,
      mtimeS: nsToSeconds(e.mtimeNs),
      ...(chown ? { uid: e.uid, gid: e.gid } : {}),
      // open() applies the umask and ignores setuid/setgid/sticky; chown clears setuid/setgid.
      chmod: chown || (e.mode & ~UMASK & 0o777) !== e.mode,
    };
  };
  const wire = (id: string, loc: BlobLocation, off: number): WireBlob => ({
    id,
    pack: loc.pack,
    off,
    len: loc.length,
    raw: loc.rawLength,
    c: loc.compression === 'zstd' ? 1 : 0,
    ...((uses.get(id) ?? 0) > 1 ? { keep: true } : {}),
  });

  // Files of one blob, by blob; blobs by pack, in pack order; neighbours in one request.
  const singles = new Map<string, ContentJob[]>();
  const multis: ContentJob[] = [];
  const empties: ContentJob[] = [];
  for (const j of jobs) {
    if (j.entry.blobs.length === 0) empties.push(j);
    else if (j.entry.blobs.length === 1) {
      const list = singles.get(j.entry.blobs[0]!);
      if (list) list.push(j);
      else singles.set(j.entry.blobs[0]!, [j]);
    } else multis.push(j);
  }
  const byPack = new Map<string, { id: string; loc: BlobLocation }[]>();
  for (const id of singles.keys()) {
    const loc = o.index.get(id)!;
    const list = byPack.get(loc.pack);
    if (list) list.push({ id, loc });
    else byPack.set(loc.pack, [{ id, loc }]);
  }
  const rangeTasks: { id: string; loc: BlobLocation }[][] = [];
  for (const list of byPack.values()) {
    list.sort((a, b) => a.loc.offset - b.loc.offset);
    let cur: { id: string; loc: BlobLocation }[] = [];
    for (const b of list) {
      const first = cur[0]?.loc;
      const last = cur[cur.length - 1]?.loc;
      if (first && last && (b.loc.offset > last.offset + last.length + RANGE_GAP || b.loc.offset + b.loc.length - first.offset > RANGE_MAX)) {
        rangeTasks.push(cur);
        cur = [];
      }
      cur.push(b);
    }
    if (cur.length) rangeTasks.push(cur);
  }

  const singleTask = async (blobs: { id: string; loc: BlobLocation }[]) => {
    const first = blobs[0]!.loc;
    const last = blobs[blobs.length - 1]!.loc;
    const buf = await range(first, last.offset + last.length - first.offset);
    if (signal.aborted) throw new AbortedError('restore aborted');
    await send(pool.pick(), {
      t: 'smalls',
      buf: transferable(buf),
      blobs: blobs.map(({ id, loc }) => ({ ...wire(id, loc, loc.offset - first.offset), files: singles.get(id)!.map(dest) })),
    });
  };

  let nextFile = 0;
  const multiTask = async (j: ContentJob) => {
    const e = j.entry;
    const slot = pool.pick();
    const file = nextFile++;
    await send(slot, { t: 'open', file, path: j.dest, mode: e.mode });
    // Two requests of the file in flight: the next range is fetched while one is written.
    const inFlight: Promise<void>[] = [];
    let closed = false;
    try {
      for (let i = 0; i < e.blobs.length; ) {
        if (inFlight.length >= 2) await inFlight.shift();
        if (signal.aborted) throw new AbortedError('restore aborted');
        const id = e.blobs[i]!;
        const loc = o.index.get(id)!;
        let message: Parameters<RestorePool['send']>[1];
        if (pool.holds(slot, id)) {
          // A repeated blob (a zero-filled file is one blob many times): no fetch, no copy.
          message = { t: 'data', file, buf: new ArrayBuffer(0), blobs: [{ id, pack: loc.pack, off: 0, len: loc.length, raw: loc.rawLength, c: 3 }] };
          i++;
        } else {
          // One request for this blob and the file's next ones that sit right after it.
          let end = loc.offset + loc.length;
          let k = i + 1;
          for (; k < e.blobs.length; k++) {
            const next = o.index.get(e.blobs[k]!)!;
            if (next.pack !== loc.pack || next.offset < end || next.offset > end + RANGE_GAP || next.offset + next.length - loc.offset > RANGE_MAX) break;
            end = next.offset + next.length;
          }
          const buf = await range(loc, end - loc.offset);
          const blobs = e.blobs.slice(i, k).map((b) => {
            const l = o.index.get(b)!;
            return wire(b, l, l.offset - loc.offset);
          });
          message = { t: 'data', file, buf: transferable(buf), blobs };
          i = k;
        }
        const p = send(slot, message);
        p.catch(() => undefined); // awaited below (or the file is dropped)
        inFlight.push(p);
      }
      await Promise.all(inFlight);
      closed = true;
      await send(slot, { t: 'close', file, sha256: fileSha256(e), dest: dest(j) });
    } finally {
      if (!closed) {
        await Promise.allSettled(inFlight);
        await pool.send(slot, { t: 'drop', file }).catch(() => undefined);
      }
    }
  };

  const tasks: Promise<void>[] = [];
  // The first failure is the cause; the reads it cancels fail after it (as aborted
  // requests, which a store may report as unavailable) and must not be what is reported.
  let firstFailure: { reason: unknown } | undefined;
  const run = (f: () => Promise<void>) => {
    const p = limit(async () => {
      if (signal.aborted) return;
      await f();
    });
    p.catch((reason: unknown) => {
      if (!signal.aborted) firstFailure ??= { reason };
      stop.abort(); // one failure stops the others
    });
    tasks.push(p);
  };
  for (let i = 0; i < empties.length; i += 512) {
    const batch = empties.slice(i, i + 512);
    run(() => send(pool.pick(), { t: 'empties', files: batch.map(dest) }));
  }
  // Large files first: they take longest, small-file ranges fill the gaps.
  for (const j of multis) run(() => multiTask(j));
  for (const t of rangeTasks) run(() => singleTask(t));
  const results = await Promise.allSettled(tasks);
  o.signal.removeEventListener('abort', onAbort);
  await pool.close();
  if (firstFailure) throw firstFailure.reason;
  const failed = results.find((r) => r.status === 'rejected' && !(r.reason instanceof AbortedError)) ?? results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  if (o.signal.aborted) throw new AbortedError('restore aborted; the target directory was not changed');
}
