import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../lambdas/domain/errors.js';
import { isSafeRelativePath, MANIFEST_FORMAT, type Manifest, validateManifest } from '../../lambdas/domain/manifest.js';

const H = 'ab'.repeat(32);
const base = (): Manifest => ({
  format: MANIFEST_FORMAT,
  service: 'svc',
  id: '20261127T081735.123Z-9f3c2a1b',
  createdAt: '2026-11-27T08:17:35.123Z',
  completedAt: '2026-11-27T08:17:36.000Z',
  source: { host: 'h', dir: '/data' },
  reason: 'manual',
  parts: [{ key: 'svc/snapshots/x/part-0000.tar.zst', size: 10, sha256: H, entries: 3, compression: 'zstd' }],
  entries: [
    { type: 'dir', path: '.', mode: 0o755, mtimeMs: 1, uid: 0, gid: 0 },
    { type: 'dir', path: 'a', mode: 0o755, mtimeMs: 1, uid: 0, gid: 0 },
    { type: 'file', path: 'a/f', mode: 0o644, mtimeMs: 1, uid: 0, gid: 0, size: 3, sha256: H, part: 0 },
    { type: 'symlink', path: 'a/l', mode: 0o777, mtimeMs: 1, uid: 0, gid: 0, target: '/etc/passwd', part: 0 },
    { type: 'hardlink', path: 'h', mode: 0o644, mtimeMs: 1, uid: 0, gid: 0, target: 'a/f', part: 0 },
  ],
  totals: { files: 1, dirs: 2, symlinks: 1, hardlinks: 1, dataBytes: 3, storedBytes: 10 },
  warnings: [],
});

describe('validateManifest', () => {
  it('accepts a sound manifest', () => {
    expect(validateManifest(base()).entries).toHaveLength(5);
  });

  it.each([
    ['an absolute path', (m: Manifest) => (m.entries[2]!.path = '/etc/shadow'), /unsafe path "\/etc\/shadow"/],
    ['a path with ..', (m: Manifest) => (m.entries[2]!.path = 'a/../../x'), /unsafe path/],
    ['a path through a symlink', (m: Manifest) => m.entries.push({ ...m.entries[2]!, path: 'a/l/evil' }), /parent of "a\/l\/evil" is not a directory/],
    ['a child listed before its parent', (m: Manifest) => m.entries.splice(1, 1), /parent of "a\/f" is not a directory/],
    ['a duplicate path', (m: Manifest) => m.entries.push(m.entries[2]!), /duplicate path "a\/f"/],
    ['a hard link to a symlink', (m: Manifest) => ((m.entries[4] as { target: string }).target = 'a/l'), /hard link "h" does not point at an earlier file/],
    ['a bad checksum', (m: Manifest) => ((m.entries[2] as { sha256: string }).sha256 = 'xyz'), /bad size or sha256/],
    ['a part that does not exist', (m: Manifest) => ((m.entries[2] as { part: number }).part = 4), /bad part for "a\/f"/],
    ['an unknown format', (m: Manifest) => ((m as { format: string }).format = 'other/v9'), /format is "other\/v9"/],
    ['a missing root', (m: Manifest) => m.entries.shift(), /parent of "a" is not a directory/],
    ['a mode out of range', (m: Manifest) => (m.entries[2]!.mode = 0o170000), /bad mode or mtime/],
  ])('rejects %s', (_name, mutate, message) => {
    const m = base();
    mutate(m);
    expect(() => validateManifest(JSON.parse(JSON.stringify(m)))).toThrow(IntegrityError);
    expect(() => validateManifest(JSON.parse(JSON.stringify(m)))).toThrow(message);
  });

  it('rejects documents that are not manifests at all', () => {
    expect(() => validateManifest(null)).toThrow(/not a JSON object/);
    expect(() => validateManifest([])).toThrow(IntegrityError);
  });
});

describe('isSafeRelativePath', () => {
  it.each(['.', 'a', 'a/b', 'ünï/日本', 'a..b', '...'])('accepts %j', (p) => expect(isSafeRelativePath(p)).toBe(true));
  it.each(['', '/a', 'a/', 'a//b', './a', 'a/./b', '..', 'a/..', 'a\0b'])('rejects %j', (p) => expect(isSafeRelativePath(p)).toBe(false));
});
