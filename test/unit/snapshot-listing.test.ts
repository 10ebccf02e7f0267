import { describe, expect, it } from 'vitest';
import { UsageError } from '../../lambdas/domain/errors.js';
import { MANIFEST_FORMAT, type Manifest, type ManifestEntry, validateManifest } from '../../lambdas/domain/manifest.js';
import { MANIFEST_V2_FORMAT, type ManifestV2 } from '../../lambdas/domain/manifest-v2.js';
import { compilePattern } from '../../lambdas/domain/path-glob.js';
import {
  diffSnapshots,
  findInSnapshot,
  fromManifestV1,
  fromManifestV2,
  type ListingEntry,
  listEntries,
  type ManifestView,
  modeString,
  normalizeSnapshotPath,
} from '../../lambdas/domain/snapshot-listing.js';

const SHA = (c: string) => c.repeat(64);
const dir = (path: string, mtimeMs = 1000): ManifestEntry => ({ type: 'dir', path, mode: 0o755, mtimeMs, uid: 0, gid: 0 });
const file = (path: string, size: number, sha: string, extra: Partial<ManifestEntry> = {}): ManifestEntry =>
  ({ type: 'file', path, mode: 0o644, mtimeMs: 2000, uid: 0, gid: 0, size, sha256: SHA(sha), part: 0, ...extra }) as ManifestEntry;

function manifest(id: string, entries: ManifestEntry[], service = 'kv'): Manifest {
  return validateManifest({
    format: MANIFEST_FORMAT,
    service,
    id,
    createdAt: '2026-11-26T10:00:00.000Z',
    completedAt: '2026-11-26T10:00:01.000Z',
    source: { host: 'h', dir: '/data' },
    reason: 'test',
    parts: [{ key: 'k', size: 1, sha256: SHA('f'), entries: 1, compression: 'zstd' }],
    entries,
    totals: { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, dataBytes: 0, storedBytes: 0 },
    warnings: [],
  });
}

const A = fromManifestV1(
  manifest('20261126T100000.000Z-aaaaaaaa', [
    dir('.'),
    dir('db'),
    file('db/a', 10, 'a'),
    file('db/b', 20, 'b'),
    file('db/meta', 5, 'c'),
    file('gone', 7, 'd'),
    { type: 'symlink', path: 'link', mode: 0o777, mtimeMs: 1, uid: 0, gid: 0, target: 'db/a', part: 0 },
  ]),
);
const B = fromManifestV1(
  manifest('20261126T110000.000Z-bbbbbbbb', [
    dir('.', 5000),
    dir('db', 5000),
    file('db/a', 10, 'a'),
    file('db/b', 25, 'e'),
    file('db/meta', 5, 'c', { mode: 0o600 }),
    file('db/new', 3, 'f'),
    { type: 'symlink', path: 'link', mode: 0o777, mtimeMs: 1, uid: 0, gid: 0, target: 'db/b', part: 0 },
  ]),
);

describe('ls', () => {
  it('lists a subtree, the whole snapshot, or one level', () => {
    expect(listEntries(A, 'db').map((e) => e.path)).toEqual(['db', 'db/a', 'db/b', 'db/meta']);
    expect(listEntries(A, '/db/').map((e) => e.path)).toEqual(['db', 'db/a', 'db/b', 'db/meta']);
    expect(listEntries(A).length).toBe(7);
    expect(listEntries(A, undefined, { recursive: false }).map((e) => e.path)).toEqual(['.', 'db', 'gone', 'link']);
    expect(listEntries(A, 'db/a')).toEqual([expect.objectContaining({ path: 'db/a', type: 'file', size: 10, sha256: SHA('a') })]);
  });

  it('refuses a path the snapshot does not have, naming it', () => {
    expect(() => listEntries(A, 'nope')).toThrow(UsageError);
    expect(() => listEntries(A, 'nope')).toThrow(/has no path "nope"/);
    expect(() => normalizeSnapshotPath('../x')).toThrow(UsageError);
  });

  it('shows modes the way ls -l does', () => {
    expect(modeString('dir', 0o755)).toBe('drwxr-xr-x');
    expect(modeString('file', 0o4755)).toBe('-rwsr-xr-x');
    expect(modeString('file', 0o1644)).toBe('-rw-r--r-T');
  });
});

describe('diff', () => {
  it('sorts changes into added, removed, modified and metadata-only, with sizes', () => {
    const d = diffSnapshots(A, B);
    const by = Object.fromEntries(d.changes.map((c) => [c.path, c]));
    expect(by['db/new']).toMatchObject({ kind: 'added', sizeAfter: 3 });
    expect(by.gone).toMatchObject({ kind: 'removed', sizeBefore: 7 });
    expect(by['db/b']).toMatchObject({ kind: 'modified', sizeBefore: 20, sizeAfter: 25, what: ['content'] });
    expect(by.link).toMatchObject({ kind: 'modified', what: ['target'] });
    expect(by['db/meta']).toMatchObject({ kind: 'metadata', what: ['mode'] });
    // A directory whose mtime moved because files changed in it is not a change of its own.
    expect(by.db).toBeUndefined();
    expect(d.summary).toEqual({
      added: { count: 1, bytes: 3 },
      removed: { count: 1, bytes: 7 },
      modified: { count: 2, bytes: 25 },
      metadata: { count: 1, bytes: 5 },
      unchanged: 3,
    });
    expect(diffSnapshots(A, A).changes).toEqual([]);
  });

  it('refuses snapshots of two services', () => {
    const other: ManifestView = { ...B, service: 'billing' };
    expect(() => diffSnapshots(A, other)).toThrow(/diff compares two snapshots of one service/);
  });
});

describe('find', () => {
  it('returns the matching entries of a snapshot, or nothing', () => {
    expect(findInSnapshot(A, compilePattern('db/*'))?.entries.map((e) => e.path)).toEqual(['db/a', 'db/b', 'db/meta']);
    expect(findInSnapshot(B, compilePattern('new'))?.entries.map((e) => e.path)).toEqual(['db/new']);
    expect(findInSnapshot(A, compilePattern('new'))).toBeUndefined();
  });

  it('works over any view, not only v1 manifests', () => {
    const entries: ListingEntry[] = [
      { path: '.', type: 'dir', mode: 0o755, size: 0, mtimeMs: 0 },
      { path: 'x.log', type: 'file', mode: 0o644, size: 1, mtimeMs: 0 },
    ];
    const view: ManifestView = { service: 's', id: 'i', createdAt: 't', entries: () => entries };
    expect(findInSnapshot(view, compilePattern('*.log'))?.entries).toHaveLength(1);
  });
});

describe('v2 manifests', () => {
  it('read as the same listing: milliseconds from nanoseconds, a one-blob file hashed by its blob', () => {
    const blob = 'c'.repeat(64);
    const m = {
      format: MANIFEST_V2_FORMAT,
      service: 's',
      id: 'i',
      createdAt: 't',
      entries: [
        { type: 'dir', path: '.', mode: 0o755, mtimeNs: '1700000000123456789', uid: 0, gid: 0 },
        { type: 'file', path: 'a', mode: 0o644, mtimeNs: '1700000000999999999', uid: 1, gid: 2, size: 3, blobs: [blob], ino: '1', ctimeNs: '1' },
        { type: 'symlink', path: 'l', mode: 0o777, mtimeNs: '1', uid: 0, gid: 0, target: 'a' },
      ],
    } as unknown as ManifestV2;
    expect([...fromManifestV2(m).entries()]).toEqual([
      { path: '.', type: 'dir', mode: 0o755, size: 0, mtimeMs: 1_700_000_000_123, uid: 0, gid: 0 },
      { path: 'a', type: 'file', mode: 0o644, size: 3, mtimeMs: 1_700_000_000_999, uid: 1, gid: 2, sha256: blob },
      { path: 'l', type: 'symlink', mode: 0o777, size: 0, mtimeMs: 0, uid: 0, gid: 0, target: 'a' },
    ]);
  });
});
