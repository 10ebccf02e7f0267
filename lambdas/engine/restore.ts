/**
 * The restore engine: catalog entry → verified manifest → archive parts → a directory that
 * appears in place all at once.
 *
 * Everything is extracted into a staging directory first and every byte is checked on the
 * way (manifest SHA-256 against the catalog, each part's SHA-256 and zstd frame checksums,
 * each file's SHA-256 and size against the manifest). Only a fully verified tree is moved
 * into place, so on any error the target is left exactly as it was.
 *
 * Two ways into place:
 * - swap: staging is a hidden sibling of the target and is renamed over it (the target's
 *   old contents are moved aside first and removed after). Used when the parent directory
 *   is writable and the target is not a mount point.
 * - in-place: for a target that is a mount point (an EBS/EFS volume) or whose parent is
 *   not writable. Staging lives inside the target; a marker file is written before the
 *   old contents are touched and removed after the new ones are in place, so an
 *   interrupted restore is recognised (and redone) by the next one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import {
  access,
  chmod,
  chown,
  type FileHandle,
  lchown,
  link,
  lutimes,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import * as tarStream from 'tar-stream';
import { DecompressStream } from 'zstd-napi';
import type { SnapshotCatalog } from '../adapters/catalog.js';
import { DEFAULT_USE_TTL_SECONDS, holdSnapshot, type SnapshotHoldPurpose, type SnapshotHolds } from '../adapters/snapshot-holds.js';
import type { ObjectStore } from '../adapters/stores/store.js';
import { AbortedError, IntegrityError, LifeboatError, OperationFailedError, SnapshotNotFoundError, UsageError } from '../domain/errors.js';
import { assertServiceName, isSnapshotId } from '../domain/ids.js';
import { type Manifest, type ManifestEntry, type ManifestPart, validateManifest } from '../domain/manifest.js';
import type { SnapshotRecord } from '../domain/snapshot.js';
import { SmallFileWriter } from './file-writer.js';
import { hashTap } from './hash-tap.js';

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
  signal?: AbortSignal;
  onProgress?: (p: { bytesDone: number; bytesTotal: number; filesDone: number; filesTotal: number }) => void;
  onNotice?: (line: string) => void;
  /**
   * Hold a snapshot hold on the snapshot while restoring, so retention does not delete it
   * mid-restore (adapters/snapshot-holds.ts). Without it, nothing is leased.
   */
  use?: { holds: SnapshotHolds; holder: string; purpose?: SnapshotHoldPurpose; ttlSeconds?: number };
}

export type RestoreResult =
  | {
      status: 'restored';
      dir: string;
      snapshot: SnapshotRecord;
      files: number;
      bytes: number;
      entries: number;
      method: 'swap' | 'in-place';
      durationMs: number;
    }
  | { status: 'skipped'; dir: string; reason: 'not-empty' | 'no-snapshot'; message: string; durationMs: number };

export const DEFAULT_RESTORE_CONCURRENCY = 4;

/** Inside the target: present only while an in-place restore moves entries around. */
export const IN_PROGRESS_MARKER = '.lifeboat-restore-in-progress';
const STAGING_MARK = '.lifeboat-staging-';
const REPLACED_MARK = '.lifeboat-replaced-';
/** Files up to this size are buffered, verified, then written in batches by the file writer. */
const SMALL_FILE = 1024 * 1024;
/** Symlinks and other small async jobs in flight at once. */
const WRITERS = 32;

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

interface TargetState {
  exists: boolean;
  /** Nothing but our own leftovers and an empty lost+found. */
  empty: boolean;
  /** An in-place restore was interrupted: the contents are ours and incomplete. */
  interrupted: boolean;
}

async function inspectTarget(dir: string): Promise<TargetState> {
  const s = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!s) return { exists: false, empty: true, interrupted: false };
  if (!s.isDirectory()) throw new UsageError(`${dir} exists and is not a directory`, { hint: 'pass the data directory with --dir' });
  const names = await readdir(dir);
  const interrupted = names.includes(IN_PROGRESS_MARKER);
  let empty = true;
  for (const name of names) {
    if (name === IN_PROGRESS_MARKER || name.startsWith(STAGING_MARK)) continue;
    // A fresh ext4 volume comes with an empty lost+found; that is still an empty volume.
    if (name === 'lost+found' && (await readdir(join(dir, name)).catch(() => ['?'])).length === 0) continue;
    empty = false;
  }
  return { exists: true, empty, interrupted };
}

async function isMountPoint(dir: string): Promise<boolean> {
  const [self, parent] = await Promise.all([stat(dir), stat(dirname(dir))]);
  if (self.dev !== parent.dev) return true;
  // A bind mount of the same filesystem keeps the device number; mountinfo still lists it.
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const unescapeOctal = (p: string) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return mountinfo.split('\n').some((line) => unescapeOctal(line.split(' ')[4] ?? '') === dir);
}

async function canWrite(dir: string): Promise<boolean> {
  return access(dir, fsConstants.W_OK | fsConstants.X_OK).then(
    () => true,
    () => false,
  );
}

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

/**
 * Downloads and validates a manifest. When the catalog knows the manifest's SHA-256 it is
 * checked before parsing; the computed SHA-256 is returned for catalog rebuilds.
 */
export async function fetchManifest(
  store: ObjectStore,
  snap: { service: string; id: string; manifestKey: string; manifestSha256?: string },
): Promise<{ manifest: Manifest; sha256: string; size: number }> {
  const chunks: Buffer[] = [];
  const body = await store.get(snap.manifestKey);
  for await (const c of body) chunks.push(c as Buffer);
  const bytes = Buffer.concat(chunks);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (snap.manifestSha256 && sha256 !== snap.manifestSha256) {
    throw new IntegrityError(`manifest ${snap.manifestKey} of snapshot ${snap.id} is corrupted: its SHA-256 does not match the catalog`, {
      hint: 'restore an older snapshot with --snapshot ID',
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse((await gunzipAsync(bytes)).toString('utf8'));
  } catch (err) {
    throw new IntegrityError(`manifest ${snap.manifestKey} of snapshot ${snap.id} is unreadable: ${(err as Error).message}`, { cause: err });
  }
  const manifest = validateManifest(doc);
  if (manifest.service !== snap.service || manifest.id !== snap.id) {
    throw new IntegrityError(`manifest ${snap.manifestKey} describes ${manifest.service}/${manifest.id}, not ${snap.service}/${snap.id}`);
  }
  return { manifest, sha256, size: bytes.length };
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
}

function corrupted(ctx: ExtractContext, path: string, what: string): IntegrityError {
  return new IntegrityError(`file "${path}" in snapshot ${ctx.manifest.id} is corrupted: ${what}`, {
    hint: 'restore an older snapshot with --snapshot ID; the target directory was not changed',
  });
}

const TAR_TYPE: Record<ManifestEntry['type'], string> = { dir: 'directory', file: 'file', symlink: 'symlink', hardlink: 'link' };

async function extractPart(ctx: ExtractContext, store: ObjectStore, part: ManifestPart, index: number): Promise<void> {
  const body = await store.get(part.key, { signal: ctx.signal });
  const tap = hashTap();
  const extract = tarStream.extract();
  const target = extract as unknown as NodeJS.WritableStream;
  const piping =
    part.compression === 'none'
      ? pipeline(body, tap.stream, target, { signal: ctx.signal })
      : pipeline(body, tap.stream, new DecompressStream(), target, { signal: ctx.signal });
  piping.catch(() => undefined); // awaited below; this only keeps it from being "unhandled"
  let current: string | undefined;
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
    if (err instanceof LifeboatError) throw err;
    throw new IntegrityError(
      `part ${part.key} of snapshot ${ctx.manifest.id} is corrupted or truncated (${(err as Error).message})${current ? ` while reading "${current}"` : ''}`,
      { hint: 'restore an older snapshot with --snapshot ID; the target directory was not changed', cause: err },
    );
  }
  const { sha256: sha, stored } = tap.digest();
  if (stored !== part.size || sha !== part.sha256) {
    throw new IntegrityError(
      `part ${part.key} of snapshot ${ctx.manifest.id} is corrupted: ${stored !== part.size ? `${stored} bytes stored, ${part.size} expected` : 'SHA-256 does not match the manifest'}`,
      {
        hint: 'restore an older snapshot with --snapshot ID; the target directory was not changed',
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

/** Extracts and verifies the whole snapshot into `staging` (which must not exist). */
async function extractAll(manifest: Manifest, store: ObjectStore, staging: string, options: RestoreOptions, signal: AbortSignal): Promise<void> {
  const byPath = new Map(manifest.entries.map((e) => [e.path, e]));
  await mkdir(staging, { mode: 0o700 });
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
    smallFiles: new SmallFileWriter((bytes, files) => ctx.progress(bytes, files)),
    signal,
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

async function removeLeftoverStaging(parent: string, prefix: string): Promise<void> {
  const names = await readdir(parent).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n.startsWith(prefix)).map((n) => rm(join(parent, n), { recursive: true, force: true })));
}

export async function restoreSnapshot(options: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const service = assertServiceName(options.service);
  const dir = resolve(options.dir);
  const notice = options.onNotice ?? (() => undefined);
  const signal = options.signal ?? new AbortController().signal;
  const elapsed = () => Date.now() - started;

  const state = await inspectTarget(dir);
  if (!state.empty && !state.interrupted) {
    if (options.ifEmpty) {
      return { status: 'skipped', dir, reason: 'not-empty', message: `${dir} is not empty; nothing restored`, durationMs: elapsed() };
    }
    if (!options.force) {
      throw new UsageError(`${dir} is not empty`, {
        hint: 'pass --force to replace its contents with the snapshot, or --if-empty to restore only into an empty directory',
      });
    }
  }
  if (state.interrupted) notice(`${dir} holds an interrupted restore; it will be redone`);

  const selector = options.snapshot ?? 'latest';
  const record = await resolveSnapshot(options.catalog, service, selector);
  if (!record) {
    const message = `service ${service} has no ${selector === 'latest-verified' ? 'verified ' : ''}complete snapshot`;
    if (options.ifEmpty) return { status: 'skipped', dir, reason: 'no-snapshot', message: `${message}; starting empty`, durationMs: elapsed() };
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
    return await placeSnapshot(options, { dir, state, record, signal, elapsed });
  } finally {
    await held?.release();
  }
}

/** Fetches the manifest, extracts and verifies everything into staging, then puts it in place. */
async function placeSnapshot(
  options: RestoreOptions,
  { dir, state, record, signal, elapsed }: { dir: string; state: TargetState; record: SnapshotRecord; signal: AbortSignal; elapsed: () => number },
): Promise<RestoreResult> {
  const { manifest } = await fetchManifest(options.store, record);

  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  const placement = options.placement ?? 'auto';
  const inPlace = state.exists && (placement === 'in-place' || (placement === 'auto' && ((await isMountPoint(dir)) || !(await canWrite(parent)))));
  const tag = randomBytes(4).toString('hex');
  const siblingPrefix = `.${basename(dir)}${STAGING_MARK}`;

  if (!inPlace) {
    await removeLeftoverStaging(parent, siblingPrefix);
    const staging = join(parent, `${siblingPrefix}${tag}`);
    try {
      await extractAll(manifest, options.store, staging, options, signal);
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      throw err;
    }
    if (!state.exists) {
      await rename(staging, dir);
    } else {
      const aside = join(parent, `.${basename(dir)}${REPLACED_MARK}${tag}`);
      await rename(dir, aside);
      try {
        await rename(staging, dir);
      } catch (err) {
        await rename(aside, dir);
        await rm(staging, { recursive: true, force: true });
        throw err;
      }
      await rm(aside, { recursive: true, force: true });
    }
  } else {
    await removeLeftoverStaging(dir, STAGING_MARK);
    const staging = join(dir, `${STAGING_MARK}${tag}`);
    try {
      await extractAll(manifest, options.store, staging, options, signal);
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      throw err;
    }
    // From the marker on, the directory's contents are ours until the marker goes away.
    await writeFile(join(dir, IN_PROGRESS_MARKER), `${record.id}\n`);
    for (const name of await readdir(dir)) {
      if (name === IN_PROGRESS_MARKER || name === basename(staging)) continue;
      await rm(join(dir, name), { recursive: true, force: true });
    }
    for (const name of await readdir(staging)) await rename(join(staging, name), join(dir, name));
    await rmdir(staging);
    await rm(join(dir, IN_PROGRESS_MARKER));
    // The mount point may belong to someone else; its own mode and times are best effort.
    await applyMeta(dir, manifest.entries[0]!).catch(() => undefined);
  }

  return {
    status: 'restored',
    dir,
    snapshot: record,
    files: manifest.totals.files,
    bytes: manifest.totals.dataBytes,
    entries: manifest.entries.length,
    method: inPlace ? 'in-place' : 'swap',
    durationMs: elapsed(),
  };
}
