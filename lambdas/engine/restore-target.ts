/**
 * The target side of a restore, shared by every snapshot format: who may restore into a
 * directory (a lock), what a crashed restore left behind (finished or rolled back by the next
 * run), whether the directory counts as empty, where the new tree is built (staging), and how
 * it is put in place so that a kill at any instant leaves either the old tree or the new one.
 *
 * API (everything else here is internal):
 *
 *   inspectTarget(dir)            read-only: exists? empty? leftovers of a crashed restore?
 *   prepareTarget(dir, options)   lock, recover leftovers, decide; then either
 *                                   { status: 'skipped', reason: 'not-empty', ... }  (lock released)
 *                                   or throws UsageError (not empty, no --force)     (lock released)
 *                                   or { status: 'ready', staging, method, existed, place(), abandon() }
 *                                 `staging` is an empty 0700 directory on the target's file
 *                                 system; fill it, then call exactly one of:
 *                                   place()    puts it in place crash-atomically, releases the lock
 *                                   abandon()  removes it, releases the lock; the target is untouched
 *   recoverTarget(dir, options)   lock, finish or roll back a crashed restore, release; for
 *                                 callers that will not restore (e.g. --if-empty with no snapshot)
 *   lockTarget(dir, options)      just the lock ({ path, release() }), for callers that change
 *                                 the target themselves (a delta restore), followed by
 *   recoverHeldTarget(dir, lock)  the recovery of recoverTarget, under a lock the caller holds.
 *
 * Two placements:
 * - swap: staging is a hidden sibling (`.<name>.lifeboat-staging-<token>`). A journal
 *   (`.<name>.lifeboat-journal`) naming staging and the aside name is written before the
 *   two renames (target → `.<name>.lifeboat-replaced-<token>`, staging → target). After a
 *   crash, recovery reads the journal: target missing → staging forward (it was complete
 *   before the journal was written) or, failing that, the old tree back; then both
 *   leftovers and the journal go.
 * - in-place (a mount point, or a parent we may not write): staging lives inside the target
 *   (`.lifeboat-staging-<token>`). A marker (`.lifeboat-restore-in-progress`, JSON with the
 *   token, the phase and the root's metadata) is written before the old entries are
 *   touched; phase `clearing` removes them, phase `moving` renames the new ones in. Recovery
 *   trusts a marker only when it parses and, in `clearing`, its staging directory exists,
 *   so a user file with that name is never mistaken for one; it then finishes the move.
 *
 * The lock is a file created with O_EXCL (`.<name>.lifeboat-lock` beside the target, or
 * `.lifeboat-restore-lock` inside it when the parent is not writable) holding the pid, host,
 * pid namespace, boot id and process start time of its holder, who touches it every 10 s.
 * A lock whose holder is provably gone (same host and pid namespace, and the pid is dead,
 * reused or from an earlier boot) is broken at once; one whose holder cannot be checked
 * from here (another host, or a restarted container's new pid namespace) once it has not
 * been touched for a minute. Any other is reported with its holder (TargetBusyError).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { chmod, chown, link, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { environmentCodeOf, TargetBusyError, UsageError } from '../domain/errors.js';
import { isStagingName, RESERVED_NAMES } from '../domain/manifest.js';

export type PlacementMethod = 'swap' | 'in-place';

/**
 * Points where a crash leaves a distinct state on disk; `onStep` is awaited at each (tests
 * kill the process there to prove recovery).
 */
export type PlacementStep =
  | 'locked'
  | 'staging-created'
  /** swap: journal on disk, target untouched. */
  | 'journal-written'
  /** swap: target renamed aside, new tree not yet in place (the target path is missing). */
  | 'target-aside'
  /** swap: new tree in place, old one still aside. */
  | 'staging-placed'
  /** in-place: marker (phase clearing) on disk, nothing removed yet. */
  | 'marker-written'
  /** in-place: some old entries removed. */
  | 'clearing'
  /** in-place: old entries gone, marker in phase moving. */
  | 'cleared'
  /** in-place: some new entries moved in. */
  | 'moving'
  /** in-place: every entry moved and staging removed; the marker is still there. */
  | 'moved';

export interface TargetOptions {
  /** Only a missing or empty target: otherwise skip (restore-on-start). */
  ifEmpty?: boolean;
  /** Replace a non-empty target. */
  force?: boolean;
  /** 'auto' (default): in-place for mount points and unwritable parents, else swap. */
  placement?: 'auto' | 'swap' | 'in-place';
  onNotice?: (line: string) => void;
  /** Test hook, awaited at each PlacementStep. */
  onStep?: (step: PlacementStep) => void | Promise<void>;
  /** Said in the lock file, and so in the error of a restore that finds it held, e.g. "restore of db/2026…". */
  purpose?: string;
}

export interface TargetState {
  exists: boolean;
  /** Nothing but restore bookkeeping and an empty lost+found. */
  empty: boolean;
  /** A crashed or running restore left something here (or beside it) that recovery must look at. */
  leftovers: boolean;
  /** A delta restore was interrupted: the contents are a mix of versions and must be replaced. */
  incomplete: boolean;
}

export interface TargetLock {
  path: string;
  release(): Promise<void>;
}

export interface ReadyTarget {
  status: 'ready';
  dir: string;
  /** An empty directory (mode 0700) on the target's file system; build the new tree here. */
  staging: string;
  method: PlacementMethod;
  /** The target existed before (empty, or replaced because of force). */
  existed: boolean;
  /** Puts staging in place (crash-atomic, see the module comment) and releases the lock. */
  place(): Promise<void>;
  /** Removes staging and releases the lock; the target is left as it was. */
  abandon(): Promise<void>;
}

export type PreparedTarget = ReadyTarget | { status: 'skipped'; dir: string; reason: 'not-empty'; message: string };

const LIFEBOAT = '.lifeboat-';
const newToken = () => randomBytes(8).toString('hex');
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Names of the swap bookkeeping beside a target called `name`. */
function siblingNames(name: string) {
  const base = `.${name}${LIFEBOAT}`;
  return {
    lock: `${base}lock`,
    journal: `${base}journal`,
    journalTmp: `${base}journal.tmp`,
    staging: (token: string) => `${base}staging-${token}`,
    replaced: (token: string) => `${base}replaced-${token}`,
    /** staging-<token> or replaced-<token> of this target (8-32 hex: older versions used 8). */
    leftover: new RegExp(`^${escapeRe(base)}(staging|replaced)-[0-9a-f]{8,32}$`),
  };
}

const MARKER_TMP = RESERVED_NAMES.inProgressMarkerTmp;
const innerStaging = (token: string) => `${RESERVED_NAMES.stagingPrefix}${token}`;

const exists = (path: string) =>
  stat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return false;
      throw err;
    },
  );

const isDir = (path: string) =>
  stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );

const listDir = (dir: string) => readdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? ([] as string[]) : Promise.reject(err)));

/** Writes `data` to `path` through `tmp` and a rename, so a reader sees all of it or nothing. */
async function writeAtomic(path: string, tmp: string, data: string): Promise<void> {
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

// ---------------------------------------------------------------------------------------
// The lock

interface LockInfo {
  lifeboat: 'restore-lock';
  token: string;
  pid: number;
  host: string;
  /** /proc/self/ns/pid: pids are only comparable inside one namespace. */
  pidNs?: string;
  bootId?: string;
  /** Start time of the holder (clock ticks since boot, /proc/<pid>/stat field 22). */
  procStart?: string;
  startedAt: string;
  purpose?: string;
}

const readSync = (path: string) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

function procStartOf(pid: number): string | undefined {
  const stat = readSync(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function pidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

const BOOT_ID = readSync('/proc/sys/kernel/random/boot_id')?.trim();

function ourIdentity(): Omit<LockInfo, 'token' | 'startedAt' | 'purpose'> {
  return {
    lifeboat: 'restore-lock',
    pid: process.pid,
    host: hostname(),
    ...(pidNamespace() ? { pidNs: pidNamespace()! } : {}),
    ...(BOOT_ID ? { bootId: BOOT_ID } : {}),
    ...(procStartOf(process.pid) ? { procStart: procStartOf(process.pid)! } : {}),
  };
}

function parseLock(raw: string): LockInfo | undefined {
  try {
    const v = JSON.parse(raw) as Partial<LockInfo>;
    return v?.lifeboat === 'restore-lock' && typeof v.token === 'string' && typeof v.pid === 'number' && typeof v.host === 'string'
      ? (v as LockInfo)
      : undefined;
  } catch {
    return undefined;
  }
}

/** True only when the holder is provably gone; a holder we cannot see (another host) is alive. */
function holderIsGone(info: LockInfo): boolean {
  const me = ourIdentity();
  if (info.host !== me.host || info.pidNs !== me.pidNs) return false;
  if (info.bootId && me.bootId && info.bootId !== me.bootId) return true;
  try {
    process.kill(info.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true;
  }
  const start = procStartOf(info.pid);
  return info.procStart !== undefined && start !== undefined && start !== info.procStart;
}

/** The holder touches its lock this often... */
const LOCK_HEARTBEAT_MS = 10_000;
/**
 * ...so one untouched this long has no live holder, wherever it ran. This also covers a lock
 * file left empty or half-written by a writer that died while creating it.
 */
export const LOCK_STALE_MS = 60_000;

/** Moves a stale lock out of the way without ever removing a live one that replaced it meanwhile. */
async function breakLock(path: string, staleRaw: string): Promise<void> {
  const aside = `${path}.stale-${newToken()}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else broke it
    throw err;
  }
  const moved = await readFile(aside, 'utf8').catch(() => staleRaw);
  if (moved !== staleRaw) {
    // A contender broke the stale lock and took a new one before our rename: put it back.
    await link(aside, path).catch(() => undefined);
  }
  await rm(aside, { force: true });
}

async function tryCreateLock(path: string, info: LockInfo): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await fh.writeFile(`${JSON.stringify(info)}\n`);
  } finally {
    await fh.close();
  }
  return true;
}

async function acquireAt(path: string, dir: string, purpose: string | undefined): Promise<TargetLock> {
  const info: LockInfo = { ...ourIdentity(), token: newToken(), startedAt: new Date().toISOString(), ...(purpose ? { purpose } : {}) };
  for (let attempt = 0; ; attempt++) {
    if (await tryCreateLock(path, info)) break;
    const raw = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
    if (raw === undefined) continue; // released between our attempt and the read
    const held = parseLock(raw);
    const age =
      Date.now() -
      (await stat(path).then(
        (s) => s.mtimeMs,
        () => Date.now(),
      ));
    const gone = age > LOCK_STALE_MS || (held !== undefined && holderIsGone(held));
    if (gone && attempt < 5) {
      await breakLock(path, raw);
      continue;
    }
    const who = held
      ? `pid ${held.pid} on host ${held.host} since ${held.startedAt}${held.purpose ? ` (${held.purpose})` : ''}`
      : 'a process that is still writing its lock file';
    throw new TargetBusyError(`another restore into ${dir} is running: ${who}`, {
      hint: `wait for it to finish; a lock whose holder is gone is taken over once it is ${LOCK_STALE_MS / 1000} s old (${path})`,
    });
  }
  // Proof of life for contenders that cannot check our pid (another host or pid namespace).
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => undefined);
  }, LOCK_HEARTBEAT_MS);
  heartbeat.unref();
  let released = false;
  return {
    path,
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      // Only our own lock: a broken-and-retaken one belongs to someone else now.
      const raw = await readFile(path, 'utf8').catch(() => undefined);
      if (raw !== undefined && parseLock(raw)?.token === info.token) await unlink(path).catch(() => undefined);
    },
  };
}

/**
 * Takes the restore lock of `dir`: beside it when the parent is writable, else inside it.
 * Throws TargetBusyError naming the holder when another live restore has it.
 */
export async function lockTarget(dir: string, options: Pick<TargetOptions, 'purpose'> = {}): Promise<TargetLock> {
  const target = resolve(dir);
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  try {
    return await acquireAt(join(parent, siblingNames(basename(target)).lock), target, options.purpose);
  } catch (err) {
    const code = environmentCodeOf(err);
    if ((code === 'EACCES' || code === 'EPERM' || code === 'EROFS') && (await isDir(target))) {
      return acquireAt(join(target, RESERVED_NAMES.lock), target, options.purpose);
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------
// Inspection

/**
 * What is at `dir`, without changing anything. `empty` ignores only what restore itself puts
 * there (lock, staging, a valid marker) and an empty lost+found (a fresh ext4 volume).
 */
export async function inspectTarget(dir: string): Promise<TargetState> {
  const target = resolve(dir);
  const names = siblingNames(basename(target));
  const beside = await listDir(dirname(target)).catch(() => [] as string[]);
  let leftovers = beside.some((n) => n === names.lock || n === names.journal || n === names.journalTmp || names.leftover.test(n));
  const s = await stat(target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!s) return { exists: false, empty: true, leftovers, incomplete: false };
  if (!s.isDirectory()) throw new UsageError(`${target} exists and is not a directory`, { hint: 'pass the data directory with --dir' });
  let empty = true;
  let incomplete = false;
  for (const name of await readdir(target)) {
    if (name === RESERVED_NAMES.deltaMarker) {
      leftovers = true;
      incomplete = true;
      continue;
    }
    if (name === RESERVED_NAMES.lock || name === MARKER_TMP) {
      leftovers = true;
      continue;
    }
    if (name === RESERVED_NAMES.inProgressMarker && (await readMarker(target)) !== undefined) {
      leftovers = true;
      continue;
    }
    if (isStagingName(name) && (await isDir(join(target, name)))) {
      leftovers = true;
      continue;
    }
    if (name === 'lost+found' && (await readdir(join(target, name)).catch(() => ['?'])).length === 0) continue;
    empty = false;
  }
  return { exists: true, empty, leftovers, incomplete };
}

// ---------------------------------------------------------------------------------------
// Recovery

interface Journal {
  lifeboat: 'restore-journal';
  token: string;
}

interface RootMeta {
  mode: number;
  mtimeMs: number;
  uid: number;
  gid: number;
}

interface Marker {
  lifeboat: 'restore-in-progress';
  token: string;
  phase: 'clearing' | 'moving';
  root: RootMeta;
  snapshot?: string;
}

const TOKEN = /^[0-9a-f]{16}$/;

async function readJson(path: string): Promise<unknown> {
  const raw = await readFile(path, 'utf8').catch(() => undefined);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return null;
  }
}

/** The marker of a real in-place restore, or undefined (missing, or a file that only has its name). */
async function readMarker(target: string): Promise<Marker | undefined> {
  const m = (await readJson(join(target, RESERVED_NAMES.inProgressMarker))) as Partial<Marker> | null | undefined;
  if (m?.lifeboat !== 'restore-in-progress' || typeof m.token !== 'string' || !TOKEN.test(m.token)) return undefined;
  if (m.phase !== 'clearing' && m.phase !== 'moving') return undefined;
  const r = m.root;
  if (!r || ![r.mode, r.mtimeMs, r.uid, r.gid].every((v) => typeof v === 'number' && Number.isFinite(v))) return undefined;
  // Clearing removes the old entries only because staging holds the complete new tree.
  if (m.phase === 'clearing' && !(await isDir(join(target, innerStaging(m.token))))) return undefined;
  return m as Marker;
}

async function applyRootMeta(target: string, root: RootMeta): Promise<void> {
  // The mount point may belong to someone else: best effort.
  if (process.getuid?.() === 0) await chown(target, root.uid, root.gid).catch(() => undefined);
  await chmod(target, root.mode).catch(() => undefined);
  await utimes(target, root.mtimeMs / 1000, root.mtimeMs / 1000).catch(() => undefined);
}

type Step = (step: PlacementStep) => Promise<void>;

/** In-place: removes every old entry, then moves staging's entries in, as the marker's phase says. */
async function finishInPlace(target: string, marker: Marker, keep: ReadonlySet<string>, step: Step): Promise<void> {
  const markerPath = join(target, RESERVED_NAMES.inProgressMarker);
  const staging = join(target, innerStaging(marker.token));
  if (marker.phase === 'clearing') {
    let first = true;
    for (const name of await readdir(target)) {
      if (name === RESERVED_NAMES.inProgressMarker || name === innerStaging(marker.token) || keep.has(name)) continue;
      await rm(join(target, name), { recursive: true, force: true });
      if (first) await step('clearing');
      first = false;
    }
    await writeAtomic(markerPath, join(target, MARKER_TMP), JSON.stringify({ ...marker, phase: 'moving' }));
    await step('cleared');
  }
  if (await isDir(staging)) {
    let first = true;
    for (const name of await readdir(staging)) {
      await rename(join(staging, name), join(target, name));
      if (first) await step('moving');
      first = false;
    }
    await rmdir(staging);
  }
  await step('moved');
  await rm(markerPath, { force: true });
  // Last: removing the marker would change the root's mtime again.
  await applyRootMeta(target, marker.root);
}

/** Finishes or rolls back whatever a crashed restore left; assumes the lock is held. */
async function recoverLocked(target: string, notice: (line: string) => void, keep: ReadonlySet<string>): Promise<void> {
  const parent = dirname(target);
  const names = siblingNames(basename(target));
  const targetExists = () => exists(target);

  // Swap: the journal says which two siblings belong to the interrupted swap.
  const journalPath = join(parent, names.journal);
  const journal = (await readJson(journalPath)) as Partial<Journal> | null | undefined;
  if (journal !== undefined) {
    if (journal && journal.lifeboat === 'restore-journal' && typeof journal.token === 'string' && TOKEN.test(journal.token)) {
      const staging = join(parent, names.staging(journal.token));
      const aside = join(parent, names.replaced(journal.token));
      if (!(await targetExists())) {
        if (await isDir(staging)) {
          await rename(staging, target);
          notice(`${target}: finished an interrupted restore (the verified new tree was not yet in place)`);
        } else if (await isDir(aside)) {
          await rename(aside, target);
          notice(`${target}: rolled back an interrupted restore (the previous contents are back)`);
        }
      } else if (await isDir(aside)) {
        notice(`${target}: finished an interrupted restore (removing the replaced tree)`);
      }
    }
    await rm(journalPath, { force: true });
  }
  await rm(join(parent, names.journalTmp), { force: true });

  // Siblings without a journal: staging of an unfinished extraction, or (older versions) a
  // tree moved aside. Without a journal a staging tree may be incomplete: never move it in.
  const leftovers = (await listDir(parent)).filter((n) => names.leftover.test(n));
  if (!(await targetExists())) {
    const aside = leftovers.filter((n) => n.includes('lifeboat-replaced-'));
    if (aside.length === 1) {
      await rename(join(parent, aside[0]!), target);
      notice(`${target}: rolled back an interrupted restore (the previous contents are back)`);
      leftovers.splice(leftovers.indexOf(aside[0]!), 1);
    }
  }
  for (const n of leftovers) await rm(join(parent, n), { recursive: true, force: true });
  if (leftovers.length) notice(`${target}: removed ${leftovers.length} leftover(s) of an interrupted restore beside it`);

  // In place: a real marker means the old entries are (partly) gone; finish the move. Other
  // staging directories are from crashes before any entry was touched: remove them (first,
  // so the root's restored mtime is not disturbed afterwards).
  if (!(await isDir(target))) return;
  const marker = await readMarker(target);
  await rm(join(target, MARKER_TMP), { force: true });
  for (const name of await readdir(target)) {
    if (isStagingName(name) && name !== (marker && innerStaging(marker.token)) && (await isDir(join(target, name)))) {
      await rm(join(target, name), { recursive: true, force: true });
      notice(`${target}: removed the staging directory ${name} of an interrupted restore`);
    }
  }
  if (marker) {
    await finishInPlace(target, marker, keep, async () => undefined);
    notice(`${target}: finished an interrupted in-place restore${marker.snapshot ? ` of snapshot ${marker.snapshot}` : ''}`);
  }
}

/**
 * Finishes or rolls back a crashed restore while the caller holds `lock` (from lockTarget):
 * for a caller that then changes the target itself (a delta restore) before releasing.
 */
export async function recoverHeldTarget(dir: string, lock: TargetLock, options: Pick<TargetOptions, 'onNotice'> = {}): Promise<void> {
  await recoverLocked(resolve(dir), options.onNotice ?? (() => undefined), new Set([basename(lock.path)]));
}

/** Lock, finish or roll back a crashed restore, release. Safe to call when there is nothing to do. */
export async function recoverTarget(dir: string, options: Pick<TargetOptions, 'onNotice' | 'purpose'> = {}): Promise<void> {
  const target = resolve(dir);
  const lock = await lockTarget(target, options);
  try {
    await recoverLocked(target, options.onNotice ?? (() => undefined), new Set([basename(lock.path)]));
  } finally {
    await lock.release();
  }
}

// ---------------------------------------------------------------------------------------
// Placement

async function isMountPoint(dir: string): Promise<boolean> {
  const [self, parent] = await Promise.all([stat(dir), stat(dirname(dir))]);
  if (self.dev !== parent.dev) return true;
  // A bind mount of the same filesystem keeps the device number; mountinfo still lists it.
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const unescapeOctal = (p: string) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return mountinfo.split('\n').some((line) => unescapeOctal(line.split(' ')[4] ?? '') === dir);
}

/**
 * Locks the target, recovers what a crashed restore left, and decides: skip (--if-empty on a
 * non-empty target), refuse (non-empty without force), or hand out a staging directory.
 */
export async function prepareTarget(dir: string, options: TargetOptions = {}): Promise<PreparedTarget> {
  const target = resolve(dir);
  const notice = options.onNotice ?? (() => undefined);
  const step: Step = async (s) => {
    await options.onStep?.(s);
  };
  const lock = await lockTarget(target, options);
  const keep = new Set([basename(lock.path)]);
  try {
    await step('locked');
    await recoverLocked(target, notice, keep);
    const state = await inspectTarget(target);
    if (state.incomplete) notice(`${target}: a delta restore was interrupted there; replacing its mixed contents`);
    if (!state.empty && !state.incomplete && options.ifEmpty) {
      await lock.release();
      return { status: 'skipped', dir: target, reason: 'not-empty', message: `${target} is not empty; nothing restored` };
    }
    if (!state.empty && !state.incomplete && !options.force) {
      throw new UsageError(`${target} is not empty`, {
        hint: 'pass --force to replace its contents with the snapshot, or --if-empty to restore only into an empty directory',
      });
    }
    const placement = options.placement ?? 'auto';
    const inPlace =
      state.exists && (placement === 'in-place' || (placement === 'auto' && (basename(lock.path) === RESERVED_NAMES.lock || (await isMountPoint(target)))));
    const token = newToken();
    const parent = dirname(target);
    const names = siblingNames(basename(target));
    const staging = inPlace ? join(target, innerStaging(token)) : join(parent, names.staging(token));
    await mkdir(staging, { mode: 0o700 });
    await step('staging-created');

    let settled = false;
    const once = () => {
      if (settled) throw new Error('place() or abandon() was already called');
      settled = true;
    };
    const abandon = async () => {
      once();
      try {
        await rm(staging, { recursive: true, force: true });
      } finally {
        await lock.release();
      }
    };
    const place = async () => {
      once();
      try {
        if (inPlace) await placeInPlace(target, staging, token, keep, step);
        else if (!state.exists) {
          await rename(staging, target);
          await step('staging-placed');
        } else await placeBySwap(target, staging, token, step);
      } catch (err) {
        // The journal or marker lets the next restore finish or roll back; staging that never
        // got that far is just removed.
        if (!inPlace && (await isDir(staging)) && !(await exists(join(parent, names.journal)))) await rm(staging, { recursive: true, force: true });
        throw err;
      } finally {
        await lock.release();
      }
    };
    return { status: 'ready', dir: target, staging, method: inPlace ? 'in-place' : 'swap', existed: state.exists, place, abandon };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

async function placeBySwap(target: string, staging: string, token: string, step: Step): Promise<void> {
  const parent = dirname(target);
  const names = siblingNames(basename(target));
  const journal = join(parent, names.journal);
  const aside = join(parent, names.replaced(token));
  await writeAtomic(journal, join(parent, names.journalTmp), JSON.stringify({ lifeboat: 'restore-journal', token } satisfies Journal));
  await step('journal-written');
  try {
    await rename(target, aside);
  } catch (err) {
    await rm(journal, { force: true });
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  await step('target-aside');
  try {
    await rename(staging, target);
  } catch (err) {
    await rename(aside, target);
    await rm(staging, { recursive: true, force: true });
    await rm(journal, { force: true });
    throw err;
  }
  await step('staging-placed');
  await rm(aside, { recursive: true, force: true });
  await rm(journal, { force: true });
}

async function placeInPlace(target: string, staging: string, token: string, keep: ReadonlySet<string>, step: Step): Promise<void> {
  // The staging root carries the snapshot's root metadata; the target gets it at the end.
  const s = await stat(staging);
  const root: RootMeta = { mode: s.mode & 0o7777, mtimeMs: s.mtimeMs, uid: s.uid, gid: s.gid };
  await chmod(staging, 0o700); // entries must be movable out of it whatever its final mode
  const marker: Marker = { lifeboat: 'restore-in-progress', token, phase: 'clearing', root };
  await writeAtomic(join(target, RESERVED_NAMES.inProgressMarker), join(target, MARKER_TMP), JSON.stringify(marker));
  await step('marker-written');
  await finishInPlace(target, marker, keep, step);
}
