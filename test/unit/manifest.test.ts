import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../lambdas/domain/errors.js';
import {
  DEFAULT_MANIFEST_LIMITS,
  isReservedName,
  isSafeRelativePath,
  MANIFEST_FORMAT,
  type Manifest,
  validateManifest,
} from '../../lambdas/domain/manifest.js';

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
    ['a negative uid', (m: Manifest) => (m.entries[2]!.uid = -1), /bad uid or gid for "a\/f": -1\/0/],
    ['a fractional gid', (m: Manifest) => (m.entries[1]!.gid = 1.5), /bad uid or gid for "a": 0\/1.5/],
    ['a uid as a string', (m: Manifest) => ((m.entries[3] as { uid: unknown }).uid = '0'), /bad uid or gid for "a\/l"/],
    ['a missing gid on a directory', (m: Manifest) => delete (m.entries[0] as { gid?: number }).gid, /bad uid or gid for "."/],
    ['a uid of 2^32-1 (chown: unchanged)', (m: Manifest) => (m.entries[2]!.uid = 2 ** 32 - 1), /bad uid or gid/],
    [
      'the in-progress marker from a snapshot',
      (m: Manifest) => m.entries.push({ ...m.entries[1]!, path: '.lifeboat-restore-in-progress' }),
      /reserves for its own bookkeeping/,
    ],
    ['a staging directory from a snapshot', (m: Manifest) => m.entries.push({ ...m.entries[1]!, path: '.lifeboat-staging-0123456789abcdef' }), /reserves/],
    ['a bad createdAt', (m: Manifest) => (m.createdAt = 'yesterday'), /createdAt or completedAt is not a time/],
    ['a source without host', (m: Manifest) => delete (m.source as { host?: string }).host, /source must have host and dir/],
    ['a source dir that is not a string', (m: Manifest) => ((m.source as { dir: unknown }).dir = 7), /source must have host and dir/],
    ['negative totals', (m: Manifest) => (m.totals.files = -1), /totals must be non-negative integers/],
    ['a term that is not an integer', (m: Manifest) => ((m as { term?: unknown }).term = 'x'), /term "x"/],
    ['missing warnings', (m: Manifest) => delete (m as { warnings?: unknown }).warnings, /warnings missing/],
    ['a part without an entry count', (m: Manifest) => delete (m.parts[0] as { entries?: number }).entries, /part 0 is malformed/],
    ['a NUL in a link target', (m: Manifest) => ((m.entries[3] as { target: string }).target = 'a\0b'), /bad link target/],
  ])('rejects %s', (_name, mutate, message) => {
    const m = base();
    mutate(m);
    expect(() => validateManifest(JSON.parse(JSON.stringify(m)))).toThrow(IntegrityError);
    expect(() => validateManifest(JSON.parse(JSON.stringify(m)))).toThrow(message);
  });

  it('keeps reserved names to the exact shapes restore creates, at the top level only', () => {
    const m = base();
    for (const path of ['.lifeboat-staging-notes', '.lifeboat-staging-', 'a/.lifeboat-restore-in-progress', '.lifeboat-restore-in-progress2']) {
      m.entries.push({ type: 'dir', path, mode: 0o755, mtimeMs: 1, uid: 0, gid: 0 });
      if (path.startsWith('a/')) continue;
      expect(isReservedName(path)).toBe(false);
    }
    expect(() => validateManifest(JSON.parse(JSON.stringify(m)))).not.toThrow();
    expect(isReservedName('.lifeboat-staging-0badf00d')).toBe(true);
  });

  it('enforces entry, part and path limits (real ones by default)', () => {
    expect(DEFAULT_MANIFEST_LIMITS).toMatchObject({ entries: expect.any(Number), parts: expect.any(Number), pathBytes: 4096 });
    const limits = { ...DEFAULT_MANIFEST_LIMITS, entries: 4 };
    expect(() => validateManifest(base(), limits)).toThrow(/5 entries, more than the limit of 4/);
    expect(() => validateManifest(base(), { ...DEFAULT_MANIFEST_LIMITS, parts: 0 })).toThrow(/1 parts, more than the limit of 0/);
    const long = base();
    (long.entries[3] as { target: string }).target = 'ü'.repeat(2049); // 4098 bytes
    expect(() => validateManifest(long)).toThrow(/link target of "a\/l" is longer than 4096 bytes/);
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
