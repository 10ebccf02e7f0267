/**
 * Looking inside snapshots: `lifeboat ls`, `diff` and `find`, over manifests only (no
 * archive is read). Pure.
 *
 * Every manifest version is read through `ManifestView`: an iterator of entries in manifest
 * order ({path, type, mode, size, mtime, sha256?}), so a later manifest format plugs in with
 * one adapter: `fromManifestV1` for `lifeboat.manifest/v1`, `fromManifestV2` for v2.
 */

import { UsageError } from './errors.js';
import type { Manifest } from './manifest.js';
import { fileSha256, type ManifestV2 } from './manifest-v2.js';
import { compilePattern, type PathPattern } from './path-glob.js';

export type ListingType = 'dir' | 'file' | 'symlink' | 'hardlink';

export interface ListingEntry {
  path: string;
  type: ListingType;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  /** Content bytes (files; 0 otherwise). */
  size: number;
  /** Epoch milliseconds. */
  mtimeMs: number;
  /** Hex SHA-256 of a file's content, when the format records it per file. */
  sha256?: string;
  /** A symlink's or hard link's target. */
  target?: string;
  uid?: number;
  gid?: number;
}

/** A snapshot's entries, whatever the manifest format. */
export interface ManifestView {
  service: string;
  id: string;
  createdAt: string;
  /** How many entries, when known without iterating. */
  size?: number;
  /** In manifest order: a directory before its contents. */
  entries(): Iterable<ListingEntry>;
}

export function fromManifestV1(m: Manifest): ManifestView {
  return {
    service: m.service,
    id: m.id,
    createdAt: m.createdAt,
    size: m.entries.length,
    *entries() {
      for (const e of m.entries) {
        yield {
          path: e.path,
          type: e.type,
          mode: e.mode,
          size: e.type === 'file' ? e.size : 0,
          mtimeMs: e.mtimeMs,
          uid: e.uid,
          gid: e.gid,
          ...(e.type === 'file' ? { sha256: e.sha256 } : {}),
          ...(e.type === 'symlink' || e.type === 'hardlink' ? { target: e.target } : {}),
        };
      }
    },
  };
}

/** Nanoseconds since the epoch (decimal text) to milliseconds, exactly. */
function nsToMs(ns: string): number {
  return Number(BigInt(ns) / 1_000_000n);
}

export function fromManifestV2(m: ManifestV2): ManifestView {
  return {
    service: m.service,
    id: m.id,
    createdAt: m.createdAt,
    size: m.entries.length,
    *entries() {
      for (const e of m.entries) {
        yield {
          path: e.path,
          type: e.type,
          mode: e.mode,
          size: e.type === 'file' ? e.size : 0,
          mtimeMs: nsToMs(e.mtimeNs),
          uid: e.uid,
          gid: e.gid,
          ...(e.type === 'file' ? { sha256: fileSha256(e) } : {}),
          ...(e.type === 'symlink' || e.type === 'hardlink' ? { target: e.target } : {}),
        };
      }
    },
  };
}

// ---------------------------------------------------------------------------------------
// ls

/** A path as the user types it: `/db/base/`, `./db`, `db` all mean `db`; `` or `/` the root. */
export function normalizeSnapshotPath(path: string | undefined): string {
  if (path === undefined) return '.';
  const parts = path.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..'))
    throw new UsageError(`path ${JSON.stringify(path)} has a ".." segment`, { hint: 'paths are relative to the snapshot root, like db/base' });
  return parts.length === 0 ? '.' : parts.join('/');
}

/**
 * The entries at and under `path` (the whole snapshot for `.`), in manifest order. Throws a
 * UsageError naming the path when the snapshot has no such entry.
 */
export function listEntries(view: ManifestView, path?: string, options: { recursive?: boolean } = {}): ListingEntry[] {
  const p = normalizeSnapshotPath(path);
  const recursive = options.recursive ?? true;
  const prefix = p === '.' ? '' : `${p}/`;
  const out: ListingEntry[] = [];
  let found = false;
  for (const e of view.entries()) {
    if (e.path === p) {
      found = true;
      out.push(e);
      continue;
    }
    if (p !== '.' && !e.path.startsWith(prefix)) continue;
    if (!recursive && e.path.indexOf('/', prefix.length) !== -1) continue;
    out.push(e);
  }
  if (!found) {
    throw new UsageError(`snapshot ${view.id} of ${view.service} has no path ${JSON.stringify(p)}`, {
      hint: `list its top level with \`lifeboat ls ${view.id} --service ${view.service}\``,
    });
  }
  return out;
}

/** `drwxr-xr-x` style. */
export function modeString(type: ListingType, mode: number): string {
  const t = type === 'dir' ? 'd' : type === 'symlink' ? 'l' : type === 'hardlink' ? 'h' : '-';
  const rwx = (bits: number, special: boolean, ch: string) =>
    `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? 'x' : '-'}`;
  return t + rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') + rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') + rwx(mode & 7, (mode & 0o1000) !== 0, 't');
}

// ---------------------------------------------------------------------------------------
// diff

export type ChangeKind = 'added' | 'removed' | 'modified' | 'metadata';

export interface Change {
  kind: ChangeKind;
  path: string;
  type: ListingType;
  /** Size in A (removed, modified, metadata). */
  sizeBefore?: number;
  /** Size in B (added, modified, metadata). */
  sizeAfter?: number;
  /** What differs, for modified and metadata-only: content, type, target, mode, mtime, owner. */
  what?: string[];
}

export interface DiffResult {
  a: { service: string; id: string; createdAt: string };
  b: { service: string; id: string; createdAt: string };
  changes: Change[];
  summary: Record<ChangeKind, { count: number; bytes: number }> & { unchanged: number };
}

function contentDiffers(a: ListingEntry, b: ListingEntry): string[] {
  const what: string[] = [];
  if (a.type !== b.type) what.push('type');
  else if (a.size !== b.size || (a.sha256 !== undefined && b.sha256 !== undefined && a.sha256 !== b.sha256)) what.push('content');
  if ((a.target ?? '') !== (b.target ?? '')) what.push('target');
  return what;
}

function metadataDiffers(a: ListingEntry, b: ListingEntry): string[] {
  const what: string[] = [];
  if (a.mode !== b.mode) what.push('mode');
  // Directories' mtimes change with every file added; only a real change of their own counts.
  if (a.mtimeMs !== b.mtimeMs && a.type !== 'dir') what.push('mtime');
  if ((a.uid ?? 0) !== (b.uid ?? 0) || (a.gid ?? 0) !== (b.gid ?? 0)) what.push('owner');
  return what;
}

/**
 * Changes from A to B: added, removed, modified (content, type or link target) and
 * metadata-only (mode, mtime, owner). Throws a UsageError when A and B belong to different
 * services: their paths mean different things.
 */
export function diffSnapshots(a: ManifestView, b: ManifestView): DiffResult {
  if (a.service !== b.service) {
    throw new UsageError(`snapshot ${a.id} is of service ${a.service} and ${b.id} of ${b.service}; diff compares two snapshots of one service`, {
      hint: 'pick two snapshots of the same service (`lifeboat snapshots --service NAME`)',
    });
  }
  const before = new Map<string, ListingEntry>();
  for (const e of a.entries()) before.set(e.path, e);
  const changes: Change[] = [];
  const summary: DiffResult['summary'] = {
    added: { count: 0, bytes: 0 },
    removed: { count: 0, bytes: 0 },
    modified: { count: 0, bytes: 0 },
    metadata: { count: 0, bytes: 0 },
    unchanged: 0,
  };
  for (const e of b.entries()) {
    const old = before.get(e.path);
    if (!old) {
      changes.push({ kind: 'added', path: e.path, type: e.type, sizeAfter: e.size });
      summary.added.count++;
      summary.added.bytes += e.size;
      continue;
    }
    before.delete(e.path);
    const content = contentDiffers(old, e);
    if (content.length > 0) {
      changes.push({ kind: 'modified', path: e.path, type: e.type, sizeBefore: old.size, sizeAfter: e.size, what: [...content, ...metadataDiffers(old, e)] });
      summary.modified.count++;
      summary.modified.bytes += e.size;
      continue;
    }
    const meta = metadataDiffers(old, e);
    if (meta.length > 0) {
      changes.push({ kind: 'metadata', path: e.path, type: e.type, sizeBefore: old.size, sizeAfter: e.size, what: meta });
      summary.metadata.count++;
      summary.metadata.bytes += e.size;
    } else {
      summary.unchanged++;
    }
  }
  for (const old of before.values()) {
    changes.push({ kind: 'removed', path: old.path, type: old.type, sizeBefore: old.size });
    summary.removed.count++;
    summary.removed.bytes += old.size;
  }
  changes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  const id = (v: ManifestView) => ({ service: v.service, id: v.id, createdAt: v.createdAt });
  return { a: id(a), b: id(b), changes, summary };
}

// ---------------------------------------------------------------------------------------
// find

export interface FindHit {
  service: string;
  snapshotId: string;
  createdAt: string;
  entries: ListingEntry[];
}

/** The entries of one snapshot matching a compiled pattern (see path-glob.ts). */
export function findInSnapshot(view: ManifestView, pattern: PathPattern): FindHit | undefined {
  const entries: ListingEntry[] = [];
  for (const e of view.entries()) if (e.path !== '.' && pattern.matches(e.path, e.type === 'dir')) entries.push(e);
  return entries.length ? { service: view.service, snapshotId: view.id, createdAt: view.createdAt, entries } : undefined;
}

export { compilePattern };
