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
import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import pLimit from 'p-limit';
import type { ObjectStore } from '../../adapters/stores/store.js';
import { packObjectKey } from '../../contract/keys.js';
import type { BlobIndex, BlobLocation } from '../../domain/blob-index.js';
import { AbortedError, IntegrityError } from '../../domain/errors.js';
import { type FileEntryV2, fileSha256, nsToSeconds } from '../../domain/manifest-v2.js';
import { SmallFileWriter } from '../file-writer.js';
import { type NativeZstdDecoder, registerNativeZstd } from './repo.js';

const zstd = createRequire(import.meta.url)('zstd-napi/binding') as NativeZstdDecoder;
registerNativeZstd(zstd);

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

/**
 * Stored bytes → plaintext, bounded by and checked against the index and the blob id.
 * `path` names a file that uses the blob, for the error.
 */
export function decodeBlob(snapshotId: string, path: string, id: string, loc: BlobLocation, stored: Buffer): Buffer {
  const where = `blob ${id} in pack ${loc.pack}`;
  let raw: Buffer;
  if (stored.length !== loc.length) throw corrupted(snapshotId, path, `${where} is ${stored.length} bytes, the index says ${loc.length}`);
  if (loc.compression === 'none') {
    if (loc.length !== loc.rawLength) throw corrupted(snapshotId, path, `${where}: stored and raw sizes differ for an uncompressed blob`);
    raw = stored;
  } else {
    raw = Buffer.allocUnsafe(loc.rawLength);
    let n: number;
    try {
      n = zstd.decompress(raw, stored);
    } catch (err) {
      throw corrupted(snapshotId, path, `${where} does not decompress to its declared ${loc.rawLength} bytes (${(err as Error).message})`);
    }
    if (n !== loc.rawLength) throw corrupted(snapshotId, path, `${where} decompresses to ${n} bytes, the index says ${loc.rawLength}`);
  }
  if (createHash('sha256').update(raw).digest('hex') !== id) throw corrupted(snapshotId, path, `content SHA-256 does not match (${where})`);
  return raw;
}

/** Every blob the jobs need must be in the index: checked before anything is fetched. */
export function assertBlobsIndexed(snapshotId: string, index: BlobIndex, jobs: readonly ContentJob[]): void {
  for (const j of jobs) {
    for (const b of j.entry.blobs) {
      if (!index.has(b)) throw corrupted(snapshotId, j.entry.path, `blob ${b} is in no index (its pack was deleted or never stored)`);
    }
  }
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  for (let at = 0; at < buf.length; ) at += (await fh.write(buf, at, buf.length - at)).bytesWritten;
}

/** Owner (root only, when it differs), mode and times on an open file. */
async function finishFile(fh: FileHandle, e: FileEntryV2): Promise<void> {
  const chown = isRoot && (e.uid !== OWN_UID || e.gid !== OWN_GID);
  if (chown) await fh.chown(e.uid, e.gid);
  if (chown || (e.mode & ~UMASK & 0o777) !== e.mode) await fh.chmod(e.mode);
  const t = nsToSeconds(e.mtimeNs);
  await fh.utimes(t, t);
}

class BlobCache {
  private readonly map = new Map<string, Buffer>();
  private bytes = 0;
  get(id: string): Buffer | undefined {
    const b = this.map.get(id);
    if (b) {
      this.map.delete(id);
      this.map.set(id, b);
    }
    return b;
  }
  set(id: string, b: Buffer): void {
    if (b.length > CACHE_BYTES / 4 || this.map.has(id)) return;
    this.map.set(id, b);
    this.bytes += b.length;
    for (const [k, v] of this.map) {
      if (this.bytes <= CACHE_BYTES) break;
      this.map.delete(k);
      this.bytes -= v.length;
    }
  }
}

/** Creates every job's file with verified content, owner, mode and mtime. */
export async function writeContent(jobs: readonly ContentJob[], o: ContentOptions): Promise<void> {
  assertBlobsIndexed(o.snapshotId, o.index, jobs);
  const uses = new Map<string, number>();
  for (const j of jobs) for (const b of j.entry.blobs) uses.set(b, (uses.get(b) ?? 0) + 1);
  const cache = new BlobCache();
  const smallFiles = new SmallFileWriter(o.progress, `restore of snapshot ${o.snapshotId}`);
  const limit = pLimit(Math.max(1, o.concurrency ?? DEFAULT_V2_RESTORE_CONCURRENCY));
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  o.signal.addEventListener('abort', onAbort, { once: true });
  const signal = stop.signal;
  const range = async (loc: BlobLocation, length: number) => {
    const buf = await o.store.getRange(packObjectKey(o.service, loc.pack), loc.offset, length, { signal });
    o.onRead?.(loc.pack, buf.length);
    return buf;
  };

  const addSmall = (j: ContentJob, data: Buffer) => {
    const e = j.entry;
    const chown = isRoot && (e.uid !== OWN_UID || e.gid !== OWN_GID);
    return smallFiles.add({
      path: j.dest,
      data,
      mode: e.mode,
      mtimeMs: nsToSeconds(e.mtimeNs) * 1000,
      ...(chown ? { chown: { uid: e.uid, gid: e.gid } } : {}),
      // open() applies the umask and ignores setuid/setgid/sticky; chown clears setuid/setgid.
      chmod: chown || (e.mode & ~UMASK & 0o777) !== e.mode,
    });
  };

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
    for (const { id, loc } of blobs) {
      if (signal.aborted) throw new AbortedError('restore aborted');
      const raw = decodeBlob(
        o.snapshotId,
        singles.get(id)![0]!.entry.path,
        id,
        loc,
        buf.subarray(loc.offset - first.offset, loc.offset - first.offset + loc.length),
      );
      for (const j of singles.get(id)!) {
        if (raw.length !== j.entry.size) throw corrupted(o.snapshotId, j.entry.path, `${raw.length} bytes, the manifest says ${j.entry.size}`);
        await addSmall(j, raw);
      }
    }
  };

  const multiTask = async (j: ContentJob) => {
    const e = j.entry;
    const fh = await open(j.dest, 'wx', e.mode & 0o777);
    try {
      const hash = createHash('sha256');
      let written = 0;
      let held: { pack: string; start: number; buf: Buffer } | undefined;
      for (let i = 0; i < e.blobs.length; i++) {
        if (signal.aborted) throw new AbortedError('restore aborted');
        const id = e.blobs[i]!;
        let raw = cache.get(id);
        if (!raw) {
          const loc = o.index.get(id)!;
          if (!held || held.pack !== loc.pack || loc.offset < held.start || loc.offset + loc.length > held.start + held.buf.length) {
            // One request for this blob and the file's next ones that sit right after it.
            let end = loc.offset + loc.length;
            for (let k = i + 1; k < e.blobs.length; k++) {
              const next = o.index.get(e.blobs[k]!)!;
              if (next.pack !== loc.pack || next.offset < end || next.offset > end + RANGE_GAP || next.offset + next.length - loc.offset > RANGE_MAX) break;
              end = next.offset + next.length;
            }
            held = { pack: loc.pack, start: loc.offset, buf: await range(loc, end - loc.offset) };
          }
          raw = decodeBlob(o.snapshotId, e.path, id, loc, held.buf.subarray(loc.offset - held.start, loc.offset - held.start + loc.length));
          if ((uses.get(id) ?? 0) > 1) cache.set(id, raw);
        }
        hash.update(raw);
        await writeAll(fh, raw);
        written += raw.length;
        o.progress(raw.length, 0);
      }
      if (written !== e.size) throw corrupted(o.snapshotId, e.path, `${written} bytes, the manifest says ${e.size}`);
      if (hash.digest('hex') !== fileSha256(e)) throw corrupted(o.snapshotId, e.path, 'whole-file SHA-256 does not match the manifest');
      await finishFile(fh, e);
    } finally {
      await fh.close();
    }
    o.progress(0, 1);
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
  for (const j of empties) run(() => addSmall(j, Buffer.alloc(0)));
  // Large files first: they take longest, small-file ranges fill the gaps.
  for (const j of multis) run(() => multiTask(j));
  for (const t of rangeTasks) run(() => singleTask(t));
  const results = await Promise.allSettled(tasks);
  o.signal.removeEventListener('abort', onAbort);
  const flushed = await Promise.allSettled([smallFiles.drain()]);
  await smallFiles.close();
  if (firstFailure) throw firstFailure.reason;
  const failed = results.find((r) => r.status === 'rejected' && !(r.reason instanceof AbortedError)) ?? results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  if (o.signal.aborted) throw new AbortedError('restore aborted; the target directory was not changed');
  if (flushed[0]!.status === 'rejected') throw flushed[0]!.reason;
}
