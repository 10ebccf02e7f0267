/**
 * The v2 snapshot manifest (docs/FORMAT-V2.md §5): like v1 it is self-describing (identity,
 * times, term, source, every entry's metadata), but files list their content as blob ids
 * (content-addressed, deduplicated across the service's snapshots) instead of pointing into
 * a tar part. It also keeps each file's inode and ctime so the next snapshot can skip
 * unchanged files without reading them.
 *
 * Pure: no I/O here.
 */
import type { Canary } from './drill-checks.js';
import { IntegrityError } from './errors.js';
import { isReservedName, isSafeRelativePath, type ManifestWarning, parentPath } from './manifest.js';

export const MANIFEST_V2_FORMAT = 'lifeboat.manifest/v2';

/** SHA-256 of no bytes: the content hash of an empty file. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

interface EntryBaseV2 {
  path: string;
  mode: number;
  /** Nanoseconds since the epoch, decimal (a JSON number cannot hold it exactly). */
  mtimeNs: string;
  uid: number;
  gid: number;
}

export interface DirEntryV2 extends EntryBaseV2 {
  type: 'dir';
}

export interface FileEntryV2 extends EntryBaseV2 {
  type: 'file';
  size: number;
  /** Content in order; empty for an empty file. */
  blobs: string[];
  /** SHA-256 of the whole content; omitted when the file is one blob (it is that blob's id). */
  sha256?: string;
  /** Change detection key, with size and mtimeNs (decimal: 64-bit inode numbers exist). */
  ino: string;
  ctimeNs: string;
  /** Set when the file changed while it was being read. */
  changed?: true;
}

export interface SymlinkEntryV2 extends EntryBaseV2 {
  type: 'symlink';
  target: string;
}

export interface HardlinkEntryV2 extends EntryBaseV2 {
  type: 'hardlink';
  /** Path of the earlier file entry this one shares an inode with. */
  target: string;
}

export type ManifestEntryV2 = DirEntryV2 | FileEntryV2 | SymlinkEntryV2 | HardlinkEntryV2;

export interface ManifestV2Totals {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  /** Bytes of file content in the snapshot. */
  dataBytes: number;
  /** Distinct blobs the snapshot references. */
  blobs: number;
  /** Blobs this snapshot stored (not found in the index). */
  newBlobs: number;
  newPacks: number;
  /** Bytes this snapshot added to the store: new packs, its index file (manifest excluded). */
  addedBytes: number;
}

export interface ManifestV2 {
  format: typeof MANIFEST_V2_FORMAT;
  service: string;
  id: string;
  createdAt: string;
  completedAt: string;
  term?: number;
  source: { task?: string; host: string; dir: string };
  reason: string;
  /** The snapshot whose manifest was used for change detection. */
  parent?: string;
  /** A database recipe's canary fact (domain/drill-checks.ts), as in the catalog entry. */
  canary?: Canary;
  /** Depth-first pre-order, siblings in byte order of their names. */
  entries: ManifestEntryV2[];
  totals: ManifestV2Totals;
  warnings: ManifestWarning[];
}

/** The whole-file SHA-256 of a file entry. */
export function fileSha256(e: FileEntryV2): string {
  if (e.sha256 !== undefined) return e.sha256;
  if (e.blobs.length === 0) return EMPTY_SHA256;
  return e.blobs[0]!;
}

/** Nanosecond string → seconds for utimes (sub-microsecond precision is lost there anyway). */
export const nsToSeconds = (ns: string): number => Number(BigInt(ns) / 1000n) / 1e6;

const HEX64 = /^[0-9a-f]{64}$/;
const NS = /^-?[0-9]{1,20}$/;
/** Upper bounds on what a reader accepts before it allocates (stated, so a bad manifest fails clearly). */
export const MAX_MANIFEST_V2_ENTRIES = 5_000_000;

function fail(what: string): never {
  throw new IntegrityError(`manifest is invalid: ${what}`, {
    hint: 'the snapshot cannot be trusted; restore an older snapshot with --snapshot ID',
  });
}

const isNonNegInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
/** Linux ids are 32-bit; (uid_t)-1 means "no change" and is never an owner. */
const isId = (v: unknown): v is number => isNonNegInt(v) && v < 0xffffffff;

/**
 * Checks an untrusted document: well-formed, safe unique paths whose parents are directory
 * entries listed earlier, sane owners and modes, hard links to earlier files, blob ids that
 * are SHA-256 hex, a whole-file hash wherever a file has more than one blob.
 */
export function validateManifestV2(doc: unknown): ManifestV2 {
  if (typeof doc !== 'object' || doc === null) fail('not a JSON object');
  const m = doc as Partial<ManifestV2>;
  if (m.format !== MANIFEST_V2_FORMAT) fail(`format is ${JSON.stringify(m.format)}, expected ${MANIFEST_V2_FORMAT}`);
  if (typeof m.service !== 'string' || typeof m.id !== 'string') fail('service or id missing');
  if (!Array.isArray(m.entries)) fail('entries missing');
  if (m.entries.length > MAX_MANIFEST_V2_ENTRIES) fail(`${m.entries.length} entries, more than the ${MAX_MANIFEST_V2_ENTRIES} a manifest may hold`);
  if (typeof m.totals !== 'object' || m.totals === null) fail('totals missing');
  if (!Array.isArray(m.warnings)) fail('warnings missing');
  const types = new Map<string, ManifestEntryV2['type']>();
  for (const e of m.entries) {
    if (typeof e?.path !== 'string' || !isSafeRelativePath(e.path)) fail(`unsafe path ${JSON.stringify(e?.path)}`);
    const where = JSON.stringify(e.path);
    if (isReservedName(e.path)) fail(`${where} is a name restore reserves for its own bookkeeping and cannot come from a snapshot`);
    if (types.has(e.path)) fail(`duplicate path ${where}`);
    if (!isNonNegInt(e.mode) || e.mode > 0o7777) fail(`bad mode for ${where}`);
    if (typeof e.mtimeNs !== 'string' || !NS.test(e.mtimeNs)) fail(`bad mtimeNs for ${where}`);
    if (!isId(e.uid) || !isId(e.gid)) fail(`bad uid or gid for ${where}`);
    if (e.path === '.' ? e.type !== 'dir' : types.get(parentPath(e.path)) !== 'dir') {
      fail(`parent of ${where} is not a directory listed before it`);
    }
    switch (e.type) {
      case 'dir':
        break;
      case 'file': {
        if (!isNonNegInt(e.size) || !Array.isArray(e.blobs) || !e.blobs.every((b) => typeof b === 'string' && HEX64.test(b)))
          fail(`bad size or blobs for ${where}`);
        if ((e.size === 0) !== (e.blobs.length === 0)) fail(`size and blob list of ${where} disagree`);
        if (e.sha256 !== undefined ? typeof e.sha256 !== 'string' || !HEX64.test(e.sha256) : e.blobs.length > 1) fail(`bad sha256 for ${where}`);
        if (typeof e.ino !== 'string' || !/^[0-9]{1,20}$/.test(e.ino) || typeof e.ctimeNs !== 'string' || !NS.test(e.ctimeNs))
          fail(`bad ino or ctimeNs for ${where}`);
        break;
      }
      case 'symlink':
        if (typeof e.target !== 'string' || e.target.length === 0 || e.target.includes('\0')) fail(`bad link target for ${where}`);
        break;
      case 'hardlink':
        if (typeof e.target !== 'string' || types.get(e.target) !== 'file') fail(`hard link ${where} does not point at an earlier file`);
        break;
      default:
        fail(`unknown entry type ${JSON.stringify((e as { type?: unknown }).type)}`);
    }
    types.set(e.path, e.type);
  }
  if (types.get('.') !== 'dir') fail('root entry "." missing');
  return m as ManifestV2;
}
