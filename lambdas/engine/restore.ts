/**
 * The restore engine: catalog entry → verified manifest → archive parts → a directory that
 * appears in place all at once.
 *
 * Everything is extracted into a staging directory first and every byte is checked on the
 * way (manifest SHA-256 against the catalog, each part's SHA-256 and zstd frame checksums,
 * each file's SHA-256 and size against the manifest). Only a fully verified tree is moved
 * into place, so on any error the target is left exactly as it was. The target side (lock,
 * recovery after a crash, staging, crash-atomic placement) is restore-target.ts.
 *
 * Bounded whatever the input: the manifest is size-limited before it is parsed, each part
 * is decompressed a buffer at a time with backpressure and may never produce more bytes than
 * its manifest entries account for (so a tiny part cannot expand to gigabytes, and nothing
 * may follow the end of its archive), and system errors such as a full disk are reported as
 * what they are (EnvironmentError), not as corruption.
 */
import { createHash } from 'node:crypto';
import { chmod, chown, type FileHandle, lchown, link, lutimes, mkdir, open, symlink, utimes } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { gunzip } from 'node:zlib';
import * as tarStream from 'tar-stream';
import type { SnapshotCatalog } from '../adapters/catalog.js';
import { DEFAULT_USE_TTL_SECONDS, holdSnapshot, type SnapshotHoldPurpose, type SnapshotHolds } from '../adapters/snapshot-holds.js';
import { type ObjectStore, wrongStoreError } from '../adapters/stores/store.js';
import { isManifestV2Key, MANIFEST_NAME, manifestObjectKey, parseSnapshotObjectKey, partObjectKey } from '../contract/keys.js';
import {
  AbortedError,
  asEnvironmentError,
  environmentCodeOf,
  IntegrityError,
  LifeboatError,
  OperationFailedError,
  SnapshotNotFoundError,
  UsageError,
} from '../domain/errors.js';
import { assertServiceName, isSnapshotId } from '../domain/ids.js';
import {
  DEFAULT_MANIFEST_LIMITS,
  type Manifest,
  type ManifestEntry,
  type ManifestLimits,
  type ManifestPart,
  RESERVED_NAMES,
  validateManifest,
} from '../domain/manifest.js';
import type { SnapshotRecord } from '../domain/snapshot.js';
import { SmallFileWriter } from './file-writer.js';
import { inspectTarget, type PlacementStep, prepareTarget, recoverTarget } from './restore-target.js';
import { deltaRestoreInto, extractV2Into } from './v2/restore-v2.js';

// The low-level context (documented as zstd-napi's `binding` module) lets us pull output one
// buffer at a time; its DecompressStream pushes a whole input chunk's output synchronously.
const zstd = createRequire(import.meta.url)('zstd-napi/binding.js') as typeof import('zstd-napi/binding.js');

const gunzipAsync = promisify(gunzip);

export type SnapshotSelector = 'latest' | 'latest-verified' | string;

export interface RestoreOptions {
  catalog: SnapshotCatalog;
  store: ObjectStore;
  service: string;
  dir: string;
  /** A snapshot id, 'latest' (default) or 'latest-verified'. */
  snapshot?: SnapshotSelector;
  /** Restore only into a missing or empty directory; otherwise do nothing (restore-on-start). */
  ifEmpty?: boolean;
  /** Replace the contents of a non-empty directory. */
  force?: boolean;
  /** Parts downloaded and extracted at once. */
  concurrency?: number;
  /**
   * How the tree is put into place (see the module comment). 'auto' picks in-place for
   * mount points and unwritable parents; the others force a method (tests, odd setups).
   */
  placement?: 'auto' | 'swap' | 'in-place';
  /**
   * v2 snapshots: update a directory holding an older version in place, rewriting only the
   * files that differ (engine/v2/delta.ts). An empty or missing target gets a full restore.
   */
  delta?: boolean;
  /** With `delta`: compare existing files by SHA-256 instead of size and mtime. */
  checksum?: boolean;
  signal?: AbortSignal;
  /** Limits on the manifest (defaults: DEFAULT_MANIFEST_LIMITS and manifestByteLimit()). */
  manifestLimits?: Partial<ManifestReadLimits>;
  /** Test hook: awaited at each step of placing the tree (restore-target.ts). */
  onStep?: (step: PlacementStep) => void | Promise<void>;
  onProgress?: (p: { bytesDone: number; bytesTotal: number; filesDone: number; filesTotal: number }) => void;
  onNotice?: (line: string) => void;
  /**
   * Hold a snapshot hold on the snapshot while restoring, so retention does not delete it
   * mid-restore (adapters/snapshot-holds.ts). Without it, nothing is leased.
   */
  use?: { holds: SnapshotHolds; holder: string; purpose?: SnapshotHoldPurpose; ttlSeconds?: number };
}

/** The data objects a restore read: distinct packs (v2) or parts (v1), and the bytes fetched from them. */
export interface DataRead {
  packs: number;
  bytes: number;
}

export type RestoreResult =
  | {
      status: 'restored';
      dir: string;
      snapshot: SnapshotRecord;
      files: number;
      bytes: number;
      entries: number;
      method: 'swap' | 'in-place' | 'delta';
      /** What was read from the store's data objects (drills record it). */
      read: DataRead;
      durationMs: number;
    }
  | { status: 'skipped'; dir: string; reason: 'not-empty' | 'no-snapshot'; message: string; durationMs: number };

export const DEFAULT_RESTORE_CONCURRENCY = 4;

/** Inside the target: present only while an in-place restore moves entries around. */
export const IN_PROGRESS_MARKER = RESERVED_NAMES.inProgressMarker;
/** Files up to this size are buffered, verified, then written in batches by the file writer. */
const SMALL_FILE = 1024 * 1024;
/** Symlinks and other small async jobs in flight at once. */
const WRITERS = 32;
/**
 * Largest zstd window accepted (2^25 = 32 MiB): every level up to 20 fits; a hostile frame
 * asking for more is refused instead of making each of the parallel parts allocate 2 GiB.
 */
const ZSTD_WINDOW_LOG_MAX = 25;
/** After the last member: the 1 KiB end-of-archive marker, padded to at most one 10 KiB tar record. */
const TAR_TRAILER_MAX = 10240;

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

async function resolveSnapshot(catalog: SnapshotCatalog, service: string, selector: SnapshotSelector): Promise<SnapshotRecord | undefined> {
  // A snapshot whose last drill failed is passed over; an explicit id still restores it.
  if (selector === 'latest') return catalog.latest(service, { trusted: true });
  if (selector === 'latest-verified') return catalog.latest(service, { verified: true });
  if (!isSnapshotId(selector)) {
    throw new UsageError(`--snapshot ${JSON.stringify(selector)} is not a snapshot id, "latest" or "latest-verified"`, {
      hint: `list the ids with \`lifeboat snapshots --service ${service}\``,
    });
  }
  const record = await catalog.get(service, selector);
  if (!record) {
    throw new SnapshotNotFoundError(`snapshot ${selector} of service ${service} is not in the catalog`, {
      hint: `list the ids with \`lifeboat snapshots --service ${service}\``,
    });
  }
  if (record.status === 'expiring') {
    // Gone for every purpose but the sweep's: like an unknown id (exit 2), not a broken backup.
    throw new SnapshotNotFoundError(`snapshot ${selector} of service ${service} is being deleted by retention; it cannot be restored`, {
      hint: `pick another with \`lifeboat snapshots --service ${service}\``,
    });
  }
  if (record.status !== 'complete') {
    throw new OperationFailedError(`snapshot ${selector} of service ${service} is ${record.status}, not complete; it cannot be restored`, {
      hint: 'pick a complete one from `lifeboat snapshots`',
    });
  }
  return record;
}

/** Manifest limits: the document's size as well as what it may hold. */
export interface ManifestReadLimits extends ManifestLimits {
  /** Largest manifest accepted, compressed or not (bytes of JSON text). */
  jsonBytes: number;
}

/**
 * Default limit on a manifest's JSON: an eighth of this process's V8 heap (parsing needs a
 * few times the text's size; 4 GiB heap → 512 MiB), and never more than V8's longest string.
 * A v1 manifest takes about 200 bytes per entry, so the default allows millions of files.
 */
export function manifestByteLimit(): number {
  return Math.min(2 ** 29 - 24, Math.floor(getHeapStatistics().heap_size_limit / 8));
}

export function manifestReadLimits(overrides: Partial<ManifestReadLimits> = {}): ManifestReadLimits {
  return { ...DEFAULT_MANIFEST_LIMITS, jsonBytes: manifestByteLimit(), ...overrides };
}

/**
 * Downloads a gzipped JSON manifest and parses it without trusting its size: the download
 * and the decompressed text are both cut off at `limits.jsonBytes`, before V8 could run out
 * of heap. Returns the document (not yet validated), the SHA-256 and size of the stored bytes.
 * Format-independent: any manifest stored as gzipped JSON can be read through it.
 */
export async function readManifestDocument(
  store: ObjectStore,
  key: string,
  what: string,
  options: { jsonBytes: number; expectedSha256?: string; signal?: AbortSignal },
): Promise<{ doc: unknown; sha256: string; size: number }> {
  const tooLarge = (how: string) =>
    new IntegrityError(`manifest ${key} of ${what} ${how} more than the limit of ${options.jsonBytes} bytes; it is not read`, {
      hint: 'a manifest that large is damaged or hostile: restore another snapshot with --snapshot ID (the limit is manifestLimits.jsonBytes)',
    });
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let size = 0;
  const body = await store.get(key, options.signal ? { signal: options.signal } : undefined);
  for await (const c of body) {
    const chunk = c as Buffer;
    size += chunk.length;
    if (size > options.jsonBytes) {
      body.destroy();
      throw tooLarge('is');
    }
    hash.update(chunk);
    chunks.push(chunk);
  }
  const bytes = Buffer.concat(chunks);
  chunks.length = 0;
  const sha256 = hash.digest('hex');
  if (options.expectedSha256 && sha256 !== options.expectedSha256) {
    throw new IntegrityError(`manifest ${key} of ${what} is corrupted: its SHA-256 does not match the catalog`, {
      hint: 'restore an older snapshot with --snapshot ID',
    });
  }
  let text: Buffer;
  try {
    // maxOutputLength stops inflating at the limit instead of after the bomb went off.
    text = await gunzipAsync(bytes, { maxOutputLength: options.jsonBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw tooLarge('expands to');
    throw new IntegrityError(`manifest ${key} of ${what} is unreadable: ${(err as Error).message}`, { cause: err });
  }
  try {
    return { doc: JSON.parse(text.toString('utf8')) as unknown, sha256, size };
  } catch (err) {
    throw new IntegrityError(`manifest ${key} of ${what} is unreadable: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The catalog entry, the manifest and every object it points at must belong to one
 * snapshot: a manifest that names another service's parts (or another snapshot's) is refused,
 * so a writer to one prefix cannot make a restore read another service's data.
 */
function assertSameSnapshot(manifest: Manifest, snap: { service: string; id: string; manifestKey: string }): void {
  const where = `snapshot ${snap.id} of service ${snap.service}`;
  const hint = 'the catalog entry and the stored objects do not belong together; restore another snapshot with --snapshot ID';
  if (manifest.service !== snap.service || manifest.id !== snap.id) {
    throw new IntegrityError(`manifest ${snap.manifestKey} describes ${manifest.service}/${manifest.id}, not ${snap.service}/${snap.id}`, { hint });
  }
  const key = parseSnapshotObjectKey(snap.manifestKey);
  if (!key || key.service !== snap.service || key.snapshotId !== snap.id || key.name !== MANIFEST_NAME) {
    throw new IntegrityError(`the catalog entry of ${where} points at ${snap.manifestKey}, not at ${manifestObjectKey(snap.service, snap.id)}`, { hint });
  }
  manifest.parts.forEach((p, i) => {
    const want = partObjectKey(snap.service, snap.id, i, p.compression);
    if (p.key !== want) throw new IntegrityError(`manifest of ${where} lists part ${i} as ${p.key}, not ${want}`, { hint });
  });
}

/**
 * Downloads and validates a v1 manifest within `limits`. When the catalog knows the
 * manifest's SHA-256 it is checked before parsing; the computed SHA-256 is returned for
 * catalog rebuilds.
 */
export async function fetchManifest(
  store: ObjectStore,
  snap: { service: string; id: string; manifestKey: string; manifestSha256?: string; store?: string },
  limits: Partial<ManifestReadLimits> = {},
): Promise<{ manifest: Manifest; sha256: string; size: number }> {
  const lim = manifestReadLimits(limits);
  const { doc, sha256, size } = await readManifestDocument(store, snap.manifestKey, `snapshot ${snap.id}`, {
    jsonBytes: lim.jsonBytes,
    ...(snap.manifestSha256 ? { expectedSha256: snap.manifestSha256 } : {}),
  }).catch((err: unknown) => {
    // Missing from this store but recorded in another: name both (and the flag that fixes it).
    throw wrongStoreError(err, snap, store.url);
  });
  const manifest = validateManifest(doc, lim);
  assertSameSnapshot(manifest, snap);
  return { manifest, sha256, size };
}

/** Sets owner (when root), mode and times; ownership first because chown clears setuid. */
async function applyMeta(path: string, e: ManifestEntry): Promise<void> {
  const seconds = e.mtimeMs / 1000;
  if (e.type === 'symlink') {
    if (isRoot) await lchown(path, e.uid, e.gid);
    await lutimes(path, seconds, seconds);
    return;
  }
  if (isRoot) await chown(path, e.uid, e.gid);
  await chmod(path, e.mode);
  await utimes(path, seconds, seconds);
}

const UMASK = process.umask();
const OWN_UID = process.getuid?.();
const OWN_GID = process.getgid?.();

/**
 * Creates a file with its final permission bits (writing through the descriptor works
 * even for read-only modes) and finishes its metadata on the same descriptor. chmod and
 * chown are skipped when they would change nothing: on a 20,000-file restore that is
 * 40,000 system calls fewer.
 */
async function createFile(dest: string, e: ManifestEntry & { type: 'file' }, write: (fh: FileHandle) => Promise<void>): Promise<void> {
  const fh = await open(dest, 'wx', e.mode & 0o777);
  try {
    await write(fh);
    const chown = isRoot && (e.uid !== OWN_UID || e.gid !== OWN_GID);
    if (chown) await fh.chown(e.uid, e.gid);
    // open() applies the umask and ignores setuid/setgid/sticky, and chown clears
    // setuid/setgid: in those cases set the mode explicitly.
    if (chown || (e.mode & ~UMASK & 0o777) !== e.mode) await fh.chmod(e.mode);
    const seconds = e.mtimeMs / 1000;
    await fh.utimes(seconds, seconds);
  } finally {
    await fh.close();
  }
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  for (let at = 0; at < buf.length; ) at += (await fh.write(buf, at, buf.length - at)).bytesWritten;
}

const WRITE_BATCH = 1024 * 1024;

/** writev, finishing with plain writes if the kernel took only part of it. */
async function writeAllv(fh: FileHandle, bufs: Buffer[]): Promise<void> {
  let written = (await fh.writev(bufs)).bytesWritten;
  for (const b of bufs) {
    if (written >= b.length) {
      written -= b.length;
      continue;
    }
    await writeAll(fh, b.subarray(written));
    written = 0;
  }
}

class WriterPool {
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;

  async submit(job: () => Promise<void>): Promise<void> {
    if (this.failure) throw this.failure;
    while (this.inFlight.size >= WRITERS) await Promise.race(this.inFlight);
    const p: Promise<void> = job().then(
      () => void this.inFlight.delete(p),
      (err: unknown) => {
        this.failure ??= err;
        this.inFlight.delete(p);
      },
    );
    this.inFlight.add(p);
  }

  async drain(): Promise<void> {
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
  }
}

interface ExtractContext {
  manifest: Manifest;
  staging: string;
  byPath: Map<string, ManifestEntry>;
  seen: Set<string>;
  writers: WriterPool;
  /** Small files are written in batches from a worker thread (file-writer.ts). */
  smallFiles: SmallFileWriter;
  signal: AbortSignal;
  progress: (bytes: number, files: number) => void;
  /** Per part: the most archive bytes its entries can account for (partArchiveBounds). */
  bounds: number[];
}

const roundUp512 = (n: number) => Math.ceil(n / 512) * 512;

/**
 * An upper bound on each part's decompressed archive, from what the manifest declares: per
 * member a header, room for a pax header carrying its path and link target, and its data
 * padded to 512 bytes; plus the end-of-archive trailer. Directories carry no part number
 * and may sit in any part, so every part allows for all of them.
 */
function partArchiveBounds(manifest: Manifest): number[] {
  const member = (e: ManifestEntry) =>
    512 + 512 + roundUp512(Buffer.byteLength(e.path) + (e.type === 'symlink' || e.type === 'hardlink' ? Buffer.byteLength(e.target) : 0) + 64);
  let dirs = 0;
  const bounds = manifest.parts.map(() => TAR_TRAILER_MAX);
  for (const e of manifest.entries) {
    if (e.type === 'dir') dirs += member(e);
    else bounds[e.part]! += member(e) + (e.type === 'file' ? roundUp512(e.size) : 0);
  }
  return bounds.map((b) => b + dirs);
}

/**
 * Passes the stored bytes through, hashing and counting them. A body far longer than declared
 * (twice, plus 1 MiB) is cut off at once, so an endless one cannot keep a restore busy; any
 * other size mismatch is reported after the part is read, once the per-file checksums have
 * had the chance to name the damaged file.
 */
function storedTap(part: ManifestPart, id: string) {
  const hash = createHash('sha256');
  let stored = 0;
  const cutOff = part.size * 2 + 1024 * 1024;
  async function* tap(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      stored += chunk.length;
      if (stored > cutOff) {
        throw new IntegrityError(`part ${part.key} of snapshot ${id} is corrupted: it holds more than the ${part.size} bytes the manifest declares`, {
          hint: 'restore an older snapshot with --snapshot ID; the target directory was not changed',
        });
      }
      hash.update(chunk);
      yield chunk;
    }
  }
  return { tap, digest: () => ({ sha256: hash.digest('hex'), stored }) };
}

/**
 * Decompresses (or, for plain parts, passes through) one buffer at a time: each yield waits
 * for the archive reader, so memory stays at about one output buffer plus the zstd window
 * however compressible the data. Stops with IntegrityError as soon as the output passes
 * `limit`, the most bytes the part's manifest entries can account for.
 */
function boundedArchive(part: ManifestPart, id: string, limit: number, counted: { bytes: number }) {
  const tooMuch = () =>
    new IntegrityError(`part ${part.key} of snapshot ${id} is corrupted: it expands to more than the ${limit} bytes its manifest entries account for`, {
      hint: 'restore an older snapshot with --snapshot ID; the target directory was not changed',
    });
  const count = (n: number) => {
    counted.bytes += n;
    if (counted.bytes > limit) throw tooMuch();
  };
  if (part.compression === 'none') {
    return async function* plain(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      for await (const chunk of source) {
        count(chunk.length);
        yield chunk;
      }
    };
  }
  return async function* unzstd(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    const dctx = new zstd.DCtx();
    dctx.setParameter(zstd.DParameter.windowLogMax, ZSTD_WINDOW_LOG_MAX);
    const outSize = zstd.dStreamOutSize();
    let inFrame = false;
    for await (const chunk of source) {
      let src: Buffer = chunk;
      for (;;) {
        const out = Buffer.allocUnsafe(outSize);
        const [ret, produced, consumed] = dctx.decompressStream(out, src);
        src = src.subarray(consumed);
        if (produced > 0) {
          count(produced);
          yield out.subarray(0, produced);
        }
        // Done with this input once it is consumed and the context has nothing left to flush.
        if (src.length === 0 && (produced < out.length || ret === 0)) {
          inFrame = ret !== 0;
          break;
        }
      }
    }
    if (inFrame) throw new Error('the part ends in the middle of a zstd frame');
  };
}

function corrupted(ctx: ExtractContext, path: string, what: string): IntegrityError {
  return new IntegrityError(`file "${path}" in snapshot ${ctx.manifest.id} is corrupted: ${what}`, {
    hint: 'restore an older snapshot with --snapshot ID; the target directory was not changed',
  });
}

const TAR_TYPE: Record<ManifestEntry['type'], string> = { dir: 'directory', file: 'file', symlink: 'symlink', hardlink: 'link' };

const RESTORE_HINT = 'restore an older snapshot with --snapshot ID; the target directory was not changed';
const ENV_HINT = 'the snapshot is fine and the target directory was not changed';

async function extractPart(ctx: ExtractContext, store: ObjectStore, part: ManifestPart, index: number): Promise<void> {
  const body = await store.get(part.key, { signal: ctx.signal });
  const tap = storedTap(part, ctx.manifest.id);
  const archive = { bytes: 0 };
  const extract = tarStream.extract();
  const target = extract as unknown as NodeJS.WritableStream;
  const piping = pipeline(body, tap.tap, boundedArchive(part, ctx.manifest.id, ctx.bounds[index]!, archive), target, { signal: ctx.signal });
  const pipeError = piping.then(
    () => undefined,
    (err: unknown) => err,
  );
  let current: string | undefined;
  /** Where the last member's data ends in the archive: only the trailer may follow (undefined: unknown). */
  let end: number | undefined = 0;
  try {
    for await (const member of extract) {
      const h = member.header;
      const path = h.name.endsWith('/') ? h.name.slice(0, -1) : h.name;
      current = path;
      const e = ctx.byPath.get(path);
      if (!e || ctx.seen.has(path) || (e.type !== 'dir' && e.part !== index) || TAR_TYPE[e.type] !== h.type) {
        throw corrupted(ctx, path, `archive member (${h.type}) does not match the manifest`);
      }
      ctx.seen.add(path);
      const offset = (h as { byteOffset?: number }).byteOffset;
      end = typeof offset === 'number' && end !== undefined ? offset + roundUp512(h.size ?? 0) : undefined;
      const dest = join(ctx.staging, path);
      if (e.type === 'file') {
        if (h.size !== e.size) throw corrupted(ctx, path, `archive says ${h.size} bytes, manifest says ${e.size}`);
        await writeFileEntry(ctx, member as AsyncIterable<Buffer>, e, dest);
      } else {
        member.resume();
        if (e.type === 'symlink') {
          if (h.linkname !== e.target) throw corrupted(ctx, path, 'symlink target does not match the manifest');
          await ctx.writers.submit(async () => {
            await symlink(e.target, dest);
            await applyMeta(dest, e);
          });
        } else if (e.type === 'hardlink' && h.linkname !== e.target) {
          throw corrupted(ctx, path, 'hard link target does not match the manifest');
        }
        // Directories were made from the manifest; hard links are made once all files exist.
      }
      current = undefined;
    }
    await piping;
  } catch (err) {
    extract.destroy();
    body.destroy();
    if (ctx.signal.aborted) throw new AbortedError('restore aborted; the target directory was not changed', { cause: err });
    // The stream's own error (a limit, a short part) explains more than the reader's echo of it.
    const cause = [err, await pipeError].find((e) => e instanceof LifeboatError) ?? [err, await pipeError].find((e) => environmentCodeOf(e)) ?? err;
    if (cause instanceof LifeboatError) throw cause;
    const env = asEnvironmentError(cause, `restore of snapshot ${ctx.manifest.id}`, ENV_HINT);
    if (env instanceof LifeboatError) throw env;
    throw new IntegrityError(
      `part ${part.key} of snapshot ${ctx.manifest.id} is corrupted or truncated (${(cause as Error).message})${current ? ` while reading "${current}"` : ''}`,
      { hint: RESTORE_HINT, cause },
    );
  }
  if (end !== undefined && archive.bytes - end > TAR_TRAILER_MAX) {
    throw new IntegrityError(`part ${part.key} of snapshot ${ctx.manifest.id} is corrupted: ${archive.bytes - end} bytes follow the end of its archive`, {
      hint: RESTORE_HINT,
    });
  }
  const { sha256: sha, stored } = tap.digest();
  if (stored !== part.size || sha !== part.sha256) {
    throw new IntegrityError(
      `part ${part.key} of snapshot ${ctx.manifest.id} is corrupted: ${stored !== part.size ? `${stored} bytes stored, ${part.size} expected` : 'SHA-256 does not match the manifest'}`,
      {
        hint: RESTORE_HINT,
      },
    );
  }
}

async function writeFileEntry(ctx: ExtractContext, member: AsyncIterable<Buffer>, e: ManifestEntry & { type: 'file' }, dest: string): Promise<void> {
  const hash = createHash('sha256');
  if (e.size <= SMALL_FILE) {
    // Small files: verify in memory, then hand the write to the pool and read on.
    const chunks: Buffer[] = [];
    for await (const c of member) {
      hash.update(c);
      chunks.push(c);
    }
    if (hash.digest('hex') !== e.sha256) throw corrupted(ctx, e.path, 'content SHA-256 does not match the manifest');
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const chown = isRoot && (e.uid !== OWN_UID || e.gid !== OWN_GID);
    await ctx.smallFiles.add({
      path: dest,
      data,
      mode: e.mode,
      mtimeMs: e.mtimeMs,
      ...(chown ? { chown: { uid: e.uid, gid: e.gid } } : {}),
      // open() applies the umask and ignores setuid/setgid/sticky; chown clears setuid/setgid.
      chmod: chown || (e.mode & ~UMASK & 0o777) !== e.mode,
    });
    return;
  }
  // Large files stream to disk; the whole staging tree is discarded if the hash fails.
  // Archive chunks arrive small (tens of KiB): gathering them into one writev per MiB
  // saves most of the system calls and thread-pool round trips.
  await createFile(dest, e, async (fh) => {
    let batch: Buffer[] = [];
    let batched = 0;
    const flush = async () => {
      await writeAllv(fh, batch);
      ctx.progress(batched, 0);
      batch = [];
      batched = 0;
    };
    for await (const c of member) {
      hash.update(c);
      batch.push(c);
      batched += c.length;
      if (batched >= WRITE_BATCH) await flush();
    }
    if (batched > 0) await flush();
    if (hash.digest('hex') !== e.sha256) throw corrupted(ctx, e.path, 'content SHA-256 does not match the manifest');
  });
  ctx.progress(0, 1);
}

/** Extracts and verifies the whole snapshot into `staging` (an empty directory). */
async function extractAll(manifest: Manifest, store: ObjectStore, staging: string, options: RestoreOptions, signal: AbortSignal): Promise<void> {
  const byPath = new Map(manifest.entries.map((e) => [e.path, e]));
  // Directories first, writable by us whatever their final mode; modes are set at the end.
  for (const e of manifest.entries) {
    if (e.type === 'dir' && e.path !== '.') await mkdir(join(staging, e.path), { mode: 0o700 });
  }
  let bytesDone = 0;
  let filesDone = 0;
  let last = 0;
  const report = options.onProgress;
  const ctx: ExtractContext = {
    manifest,
    staging,
    byPath,
    seen: new Set(['.']),
    writers: new WriterPool(),
    smallFiles: new SmallFileWriter((bytes, files) => ctx.progress(bytes, files), `restore of snapshot ${manifest.id}`),
    signal,
    bounds: partArchiveBounds(manifest),
    progress: (bytes, files) => {
      bytesDone += bytes;
      filesDone += files;
      const now = Date.now();
      if (report && now - last > 100) {
        last = now;
        report({ bytesDone, bytesTotal: manifest.totals.dataBytes, filesDone, filesTotal: manifest.totals.files });
      }
    },
  };
  let next = 0;
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  ctx.signal = stop.signal;
  const worker = async () => {
    while (next < manifest.parts.length) {
      const i = next++;
      await extractPart(ctx, store, manifest.parts[i]!, i);
    }
  };
  const concurrency = Math.max(1, Math.min(options.concurrency ?? DEFAULT_RESTORE_CONCURRENCY, manifest.parts.length));
  const results = await Promise.allSettled(
    Array.from({ length: concurrency }, () =>
      worker().catch((err: unknown) => {
        stop.abort(); // one bad part is enough; stop downloading the others
        throw err;
      }),
    ),
  );
  signal.removeEventListener('abort', onAbort);
  const flushed = await Promise.allSettled([ctx.writers.drain(), ctx.smallFiles.drain()]);
  await ctx.smallFiles.close();
  const writeFailure = flushed.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  // A part's own error explains more than the write error it caused.
  if (writeFailure && !results.some((r) => r.status === 'rejected')) throw writeFailure.reason;
  const failed = results.find((r) => r.status === 'rejected' && !(r.reason instanceof AbortedError)) ?? results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  if (signal.aborted) throw new AbortedError('restore aborted; the target directory was not changed');

  for (const e of manifest.entries) {
    if (e.type !== 'dir' && !ctx.seen.has(e.path)) {
      throw new IntegrityError(`file "${e.path}" of snapshot ${manifest.id} is missing from part ${manifest.parts[e.part]?.key}`, {
        hint: 'restore an older snapshot with --snapshot ID; the target directory was not changed',
      });
    }
  }
  for (const e of manifest.entries) {
    if (e.type === 'hardlink') await link(join(staging, e.target), join(staging, e.path));
  }
  // Deepest first: setting a child's times would otherwise bump its parent's mtime.
  for (let i = manifest.entries.length - 1; i >= 0; i--) {
    const e = manifest.entries[i]!;
    if (e.type === 'dir') await applyMeta(e.path === '.' ? staging : join(staging, e.path), e);
  }
}

export async function restoreSnapshot(options: RestoreOptions): Promise<RestoreResult> {
  const dir = resolve(options.dir);
  try {
    return await restoreInto(dir, options);
  } catch (err) {
    // A full disk or a read-only target is the machine's problem, not the backup's.
    throw asEnvironmentError(err, `restore into ${dir}`, ENV_HINT);
  }
}

async function restoreInto(dir: string, options: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const service = assertServiceName(options.service);
  const notice = options.onNotice ?? (() => undefined);
  const signal = options.signal ?? new AbortController().signal;
  const elapsed = () => Date.now() - started;
  const skipped = (message: string): RestoreResult => ({ status: 'skipped', dir, reason: 'not-empty', message, durationMs: elapsed() });

  // Decide what needs no lock (and no catalog) first: a restore-on-start into a live data
  // directory must skip even when DynamoDB is unreachable. Leftovers of a crashed restore
  // always go through the lock and recovery, even when the answer is to skip.
  const quick = await inspectTarget(dir);
  if (!quick.leftovers && !quick.empty) {
    if (options.ifEmpty) return skipped(`${dir} is not empty; nothing restored`);
    if (!options.force && !options.delta) {
      throw new UsageError(`${dir} is not empty`, {
        hint: 'pass --force to replace its contents with the snapshot, or --if-empty to restore only into an empty directory',
      });
    }
  }

  const selector = options.snapshot ?? 'latest';
  const record = await resolveSnapshot(options.catalog, service, selector);
  if (!record) {
    const message = `service ${service} has no ${selector === 'latest-verified' ? 'verified ' : ''}complete snapshot`;
    if (options.ifEmpty) {
      if (quick.leftovers) await recoverTarget(dir, { onNotice: notice, purpose: 'restore (cleanup)' });
      return { status: 'skipped', dir, reason: 'no-snapshot', message: `${message}; starting empty`, durationMs: elapsed() };
    }
    throw new OperationFailedError(message, { hint: 'take one with `lifeboat snapshot`, or check --service and LIFEBOAT_TABLE' });
  }
  // Leased before the first object is read, released when the tree is in place (or on failure).
  const held = options.use
    ? await holdSnapshot(
        options.use.holds,
        {
          service,
          snapshotId: record.id,
          holder: options.use.holder,
          purpose: options.use.purpose ?? 'restore',
          ttlSeconds: options.use.ttlSeconds ?? DEFAULT_USE_TTL_SECONDS,
        },
        notice,
      )
    : undefined;
  try {
    const v2 = isManifestV2Key(record.manifestKey);
    // A directory holding an older version is brought up to date file by file (v2 only).
    if (v2 && options.delta && !quick.empty) return await deltaRestoreInto(dir, record, options, signal, elapsed);
    if (!v2 && options.delta) notice(`snapshot ${record.id} is a v1 snapshot: --delta does not apply, restoring it whole`);
    const target = await prepareTarget(dir, {
      ...(options.ifEmpty !== undefined ? { ifEmpty: options.ifEmpty } : {}),
      ...(options.force !== undefined || options.delta ? { force: options.force === true || options.delta === true } : {}),
      ...(options.placement ? { placement: options.placement } : {}),
      ...(options.onStep ? { onStep: options.onStep } : {}),
      onNotice: notice,
      purpose: `restore of ${service}/${record.id}`,
    });
    if (target.status === 'skipped') return skipped(target.message);
    let totals: { files: number; bytes: number; entries: number; read: DataRead };
    try {
      if (v2) totals = await extractV2Into(target.staging, record, options, signal);
      else {
        const { manifest } = await fetchManifest(options.store, record, options.manifestLimits);
        await extractAll(manifest, options.store, target.staging, options, signal);
        // v1 reads every part whole.
        const read = { packs: manifest.parts.length, bytes: manifest.parts.reduce((n, p) => n + p.size, 0) };
        totals = { files: manifest.totals.files, bytes: manifest.totals.dataBytes, entries: manifest.entries.length, read };
      }
    } catch (err) {
      await target.abandon();
      // A full disk or a read-only target is the machine's problem, not the backup's.
      throw asEnvironmentError(err, `restore of snapshot ${record.id}`, ENV_HINT);
    }
    await target.place();
    return { status: 'restored', dir, snapshot: record, ...totals, method: target.method, durationMs: elapsed() };
  } finally {
    await held?.release();
  }
}
