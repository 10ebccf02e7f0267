/**
 * The snapshot manifest: a self-describing record of everything in a snapshot.
 *
 * It is the authority at restore time (the archives only carry bytes): every entry's
 * type, mode, mtime, owner, link target and content SHA-256 come from here, and any archive
 * member that the manifest does not list is treated as corruption. It also carries the
 * snapshot's identity (service, id, time, term, source) so a lost catalog can be rebuilt
 * from the object store alone.
 *
 * Pure: no I/O here.
 */
import { IntegrityError } from './errors.js';

export const MANIFEST_FORMAT = 'lifeboat.manifest/v1';

export type EntryType = 'dir' | 'file' | 'symlink' | 'hardlink';

interface EntryBase {
  /** POSIX path relative to the snapshot root; '.' is the root itself. */
  path: string;
  /** Permission bits and setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  /** Modification time in milliseconds since the epoch, with sub-millisecond fraction. */
  mtimeMs: number;
  uid: number;
  gid: number;
}

export interface DirEntry extends EntryBase {
  type: 'dir';
}

export interface FileEntry extends EntryBase {
  type: 'file';
  size: number;
  /** Hex SHA-256 of the content as archived. */
  sha256: string;
  /** Index into `parts` of the archive holding the content. */
  part: number;
  /** Set when the file changed while it was being read; the archived content may be torn. */
  changed?: true;
}

export interface SymlinkEntry extends EntryBase {
  type: 'symlink';
  /** Stored verbatim; never followed, may point anywhere. */
  target: string;
  part: number;
}

export interface HardlinkEntry extends EntryBase {
  type: 'hardlink';
  /** Path (relative to the root) of the file entry this one shares an inode with. */
  target: string;
  part: number;
}

export type ManifestEntry = DirEntry | FileEntry | SymlinkEntry | HardlinkEntry;

export interface ManifestPart {
  /** Object key relative to the store root. */
  key: string;
  /** Stored (compressed) size in bytes. */
  size: number;
  /** Hex SHA-256 of the stored bytes. */
  sha256: string;
  /** Number of archive members in the part. */
  entries: number;
  /** `none`: the part holds data that did not compress, stored as plain tar. */
  compression: 'zstd' | 'none';
}

export interface ManifestWarning {
  path: string;
  kind: 'changed' | 'vanished' | 'skipped-special' | 'unreadable';
  detail: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  service: string;
  id: string;
  createdAt: string;
  completedAt: string;
  term?: number;
  source: { task?: string; host: string; dir: string };
  reason: string;
  parts: ManifestPart[];
  /** Depth-first pre-order, siblings in byte order of their names: a directory precedes its contents. */
  entries: ManifestEntry[];
  totals: { files: number; dirs: number; symlinks: number; hardlinks: number; dataBytes: number; storedBytes: number };
  warnings: ManifestWarning[];
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Names a restore creates at the top of the target (in-place placement) and that therefore
 * can never come from snapshot content: a snapshot holding a file named like the marker
 * would otherwise make a later restore treat a live directory as an interrupted restore.
 * Only these exact shapes are reserved; `.lifeboat-staging-notes` is an ordinary name.
 */
export const RESERVED_NAMES = {
  /** Present while an in-place restore moves entries; its JSON names the staging directory. */
  inProgressMarker: '.lifeboat-restore-in-progress',
  /** The marker's next version, renamed over it (a phase change is atomic). */
  inProgressMarkerTmp: '.lifeboat-restore-in-progress.tmp',
  /** The restore lock, inside the target only when its parent is not writable. */
  lock: '.lifeboat-restore-lock',
  /** In-place staging: this prefix followed by a hex token. */
  stagingPrefix: '.lifeboat-staging-',
  /** Present while a delta restore rewrites files in place: the contents are a mix until it goes. */
  deltaMarker: '.lifeboat-delta-in-progress',
} as const;

const STAGING_NAME = /^\.lifeboat-staging-[0-9a-f]{8,32}$/;

export const isStagingName = (name: string): boolean => STAGING_NAME.test(name);

/** True for a top-level name that only a restore may create (see RESERVED_NAMES). */
export function isReservedName(name: string): boolean {
  return (
    name === RESERVED_NAMES.inProgressMarker ||
    name === RESERVED_NAMES.inProgressMarkerTmp ||
    name === RESERVED_NAMES.lock ||
    name === RESERVED_NAMES.deltaMarker ||
    isStagingName(name)
  );
}

/** Upper bounds on what a manifest may hold, so a hostile one cannot exhaust memory. */
export interface ManifestLimits {
  entries: number;
  parts: number;
  /** UTF-8 bytes of one path or link target (Linux PATH_MAX is 4096). */
  pathBytes: number;
  warnings: number;
}

export const DEFAULT_MANIFEST_LIMITS: Readonly<ManifestLimits> = {
  entries: 10_000_000,
  parts: 100_000,
  pathBytes: 4096,
  warnings: 1_000_000,
};

export function isSafeRelativePath(path: string): boolean {
  if (path === '.') return true;
  if (path.length === 0 || path.includes('\0') || path.startsWith('/')) return false;
  return path.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i === -1 ? '.' : path.slice(0, i);
}

/** Byte-wise (not locale) order of names, so the same tree always yields the same manifest. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function fail(what: string): never {
  throw new IntegrityError(`manifest is invalid: ${what}`, {
    hint: 'the snapshot cannot be trusted; restore an older snapshot with --snapshot ID',
  });
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isTime = (v: unknown): v is string => isString(v) && Number.isFinite(Date.parse(v));
/** uid/gid: what chown accepts (32-bit, and -1 means "leave unchanged", so never that). */
const isId = (v: unknown): v is number => isNonNegInt(v) && v < 2 ** 32 - 1;

/**
 * Checks that an untrusted document is a well-formed manifest and that its tree is sound:
 * safe unique paths within the limits, no reserved top-level names, every parent is a
 * directory entry (so no path can go through a symlink), hard links point at earlier file
 * entries, parts exist, and every field restore or a catalog rebuild reads has its type.
 */
export function validateManifest(doc: unknown, limits: ManifestLimits = DEFAULT_MANIFEST_LIMITS): Manifest {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail('not a JSON object');
  const m = doc as Partial<Manifest>;
  if (m.format !== MANIFEST_FORMAT) fail(`format is ${JSON.stringify(m.format)}, expected ${MANIFEST_FORMAT}`);
  if (!isString(m.service) || !isString(m.id)) fail('service or id missing');
  if (!isTime(m.createdAt) || !isTime(m.completedAt)) fail('createdAt or completedAt is not a time');
  if (m.term !== undefined && !isNonNegInt(m.term)) fail(`term ${JSON.stringify(m.term)} is not a non-negative integer`);
  const src = m.source;
  if (typeof src !== 'object' || src === null || !isString(src.host) || !isString(src.dir) || (src.task !== undefined && !isString(src.task))) {
    fail('source must have host and dir (and optionally task) as strings');
  }
  if (!isString(m.reason)) fail('reason missing');
  const t = m.totals;
  if (
    typeof t !== 'object' ||
    t === null ||
    !(['files', 'dirs', 'symlinks', 'hardlinks', 'dataBytes', 'storedBytes'] as const).every((k) => isNonNegInt(t[k]))
  ) {
    fail('totals must be non-negative integers');
  }
  if (!Array.isArray(m.warnings)) fail('warnings missing');
  if (m.warnings.length > limits.warnings) fail(`${m.warnings.length} warnings, more than the limit of ${limits.warnings}`);
  if (!Array.isArray(m.parts) || !Array.isArray(m.entries)) fail('parts or entries missing');
  if (m.parts.length > limits.parts) fail(`${m.parts.length} parts, more than the limit of ${limits.parts}`);
  if (m.entries.length > limits.entries) fail(`${m.entries.length} entries, more than the limit of ${limits.entries}`);
  m.parts.forEach((p, i) => {
    if (
      !isString(p?.key) ||
      !isNonNegInt(p.size) ||
      !isString(p.sha256) ||
      !HEX64.test(p.sha256) ||
      !isNonNegInt(p.entries) ||
      (p.compression !== 'zstd' && p.compression !== 'none')
    ) {
      fail(`part ${i} is malformed`);
    }
  });
  const tooLong = (s: string) => s.length > limits.pathBytes || Buffer.byteLength(s) > limits.pathBytes;
  const types = new Map<string, EntryType>();
  for (const e of m.entries) {
    if (typeof e?.path !== 'string' || !isSafeRelativePath(e.path)) fail(`unsafe path ${JSON.stringify(e?.path)}`);
    if (tooLong(e.path)) fail(`path ${JSON.stringify(e.path.slice(0, 80))}... is longer than ${limits.pathBytes} bytes`);
    if (isReservedName(e.path)) {
      fail(`${JSON.stringify(e.path)} is a name restore reserves for its own bookkeeping and cannot come from a snapshot`);
    }
    if (types.has(e.path)) fail(`duplicate path ${JSON.stringify(e.path)}`);
    if (!isNonNegInt(e.mode) || e.mode > 0o7777 || typeof e.mtimeMs !== 'number' || !Number.isFinite(e.mtimeMs)) {
      fail(`bad mode or mtime for ${JSON.stringify(e.path)}`);
    }
    if (!isId(e.uid) || !isId(e.gid)) fail(`bad uid or gid for ${JSON.stringify(e.path)}: ${JSON.stringify(e.uid)}/${JSON.stringify(e.gid)}`);
    if (e.path === '.' ? e.type !== 'dir' : types.get(parentPath(e.path)) !== 'dir') {
      fail(`parent of ${JSON.stringify(e.path)} is not a directory listed before it`);
    }
    switch (e.type) {
      case 'dir':
        break;
      case 'file':
        if (!isNonNegInt(e.size) || typeof e.sha256 !== 'string' || !HEX64.test(e.sha256)) fail(`bad size or sha256 for ${JSON.stringify(e.path)}`);
        if (!isNonNegInt(e.part) || e.part >= m.parts.length) fail(`bad part for ${JSON.stringify(e.path)}`);
        break;
      case 'symlink':
        if (typeof e.target !== 'string' || e.target.length === 0 || e.target.includes('\0')) fail(`bad link target for ${JSON.stringify(e.path)}`);
        if (tooLong(e.target)) fail(`link target of ${JSON.stringify(e.path)} is longer than ${limits.pathBytes} bytes`);
        if (!isNonNegInt(e.part) || e.part >= m.parts.length) fail(`bad part for ${JSON.stringify(e.path)}`);
        break;
      case 'hardlink':
        if (types.get(e.target) !== 'file') fail(`hard link ${JSON.stringify(e.path)} does not point at an earlier file`);
        if (!isNonNegInt(e.part) || e.part >= m.parts.length) fail(`bad part for ${JSON.stringify(e.path)}`);
        break;
      default:
        fail(`unknown entry type ${JSON.stringify((e as { type?: unknown }).type)}`);
    }
    types.set(e.path, e.type);
  }
  if (types.get('.') !== 'dir') fail('root entry "." missing');
  return m as Manifest;
}
