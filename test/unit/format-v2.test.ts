/** Snapshot format v2, pure parts: chunker, pack trailer, index and manifest validation. */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isManifestV2Key, manifestV2ObjectKey, packObjectKey, parsePackObjectKey } from '../../lambdas/contract/keys.js';
import { BlobIndex, INDEX_FORMAT, indexPack, validateIndex } from '../../lambdas/domain/blob-index.js';
import { CHUNK_MAX, CHUNK_MIN, chunkLengths, gearTable } from '../../lambdas/domain/chunker.js';
import { IntegrityError } from '../../lambdas/domain/errors.js';
import { EMPTY_SHA256, fileSha256, MANIFEST_V2_FORMAT, type ManifestV2, validateManifestV2 } from '../../lambdas/domain/manifest-v2.js';
import { decodePackTrailer, encodePackTrailer, PACK_HEADER_BYTES, PACK_MAGIC, type PackedBlob, packTailBytes } from '../../lambdas/domain/pack.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function chunks(buf: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  for (const len of chunkLengths(buf)) {
    out.push(sha(buf.subarray(at, at + len)));
    at += len;
  }
  return out;
}

describe('chunker (FastCDC)', () => {
  const data = randomBytes(24 * 1024 * 1024);

  it('cuts random data into chunks between the minimum and the maximum, about 1 MiB on average', () => {
    const lens = chunkLengths(data);
    expect(lens.reduce((a, b) => a + b, 0)).toBe(data.length);
    for (const l of lens.slice(0, -1)) {
      expect(l).toBeGreaterThanOrEqual(CHUNK_MIN);
      expect(l).toBeLessThanOrEqual(CHUNK_MAX);
    }
    const avg = data.length / lens.length;
    expect(avg).toBeGreaterThan(700 * 1024);
    expect(avg).toBeLessThan(1600 * 1024);
  });

  it('an insertion changes only the chunks around it; every later chunk keeps its id', () => {
    const before = chunks(data);
    const at = 10 * 1024 * 1024 + 12345;
    const edited = Buffer.concat([data.subarray(0, at), Buffer.from('a few inserted bytes'), data.subarray(at)]);
    const after = chunks(edited);
    const kept = after.filter((id) => before.includes(id)).length;
    // One or two chunks around the edit are new; everything else is shared.
    expect(after.length - kept).toBeLessThanOrEqual(2);
    expect(before.length - kept).toBeLessThanOrEqual(2);
    // The tail after the edit is identical chunk for chunk.
    expect(after.slice(-5)).toEqual(before.slice(-5));
  });

  it('cuts uniform data (zeros) at the maximum, so a big zero file is one repeated blob', () => {
    const lens = chunkLengths(Buffer.alloc(20 * 1024 * 1024));
    expect(lens).toEqual([CHUNK_MAX, CHUNK_MAX, 20 * 1024 * 1024 - 2 * CHUNK_MAX]);
  });

  it('keeps a small file whole and its gear table fixed (part of the format)', () => {
    expect(chunkLengths(Buffer.alloc(CHUNK_MIN, 7))).toEqual([CHUNK_MIN]);
    expect(chunkLengths(Buffer.alloc(0))).toEqual([]);
    // Changing the table re-chunks every file and defeats dedup against older snapshots.
    expect(createHash('sha256').update(Buffer.from(gearTable().buffer)).digest('hex').slice(0, 16)).toBe('bedd0799f4eec03e');
  });
});

describe('pack trailer', () => {
  const blobs: PackedBlob[] = [
    { id: sha(Buffer.from('a')), offset: PACK_HEADER_BYTES, length: 10, rawLength: 10, compression: 'none' },
    { id: sha(Buffer.from('b')), offset: PACK_HEADER_BYTES + 10, length: 5, rawLength: 1000, compression: 'zstd' },
  ];
  const pack = Buffer.concat([PACK_MAGIC, Buffer.alloc(15, 1), encodePackTrailer(blobs)]);

  it('round-trips the blob list, read from the pack alone', () => {
    expect(decodePackTrailer('p', pack, pack.length)).toEqual(blobs);
    expect(decodePackTrailer('p', pack.subarray(pack.length - packTailBytes(2)), pack.length)).toEqual(blobs);
  });

  it('rejects a damaged trailer, footer or layout', () => {
    const flipped = Buffer.from(pack);
    flipped[pack.length - packTailBytes(2) + 3]! ^= 1;
    expect(() => decodePackTrailer('p', flipped, pack.length)).toThrow(/trailer checksum/);
    expect(() => decodePackTrailer('p', pack.subarray(0, pack.length - 1), pack.length - 1)).toThrow(IntegrityError);
    expect(() => decodePackTrailer('p', pack, pack.length + 1)).toThrow(/data area/);
  });
});

describe('index', () => {
  const p1 = 'a'.repeat(64);
  const p2 = 'b'.repeat(64);
  const blob = 'c'.repeat(64);
  const doc = {
    format: INDEX_FORMAT,
    service: 's',
    id: 'x',
    packs: [indexPack(p1, 100, [{ id: blob, offset: 8, length: 10, rawLength: 20, compression: 'zstd' }])],
  };

  it('validates and merges index files, leaving out condemned packs', () => {
    const index = new BlobIndex();
    index.add(validateIndex(JSON.parse(JSON.stringify(doc)), 'k', 's'), new Set([p1]));
    expect(index.has(blob)).toBe(false);
    index.add({ packs: [{ ...doc.packs[0]!, id: p2 }] });
    expect(index.get(blob)).toEqual({ pack: p2, offset: 8, length: 10, rawLength: 20, compression: 'zstd' });
  });

  it('rejects another service, impossible sizes and oversized blobs', () => {
    expect(() => validateIndex(doc, 'k', 'other')).toThrow(/belongs to service "s", not other/);
    const bad = (row: unknown[]) => ({ ...doc, packs: [{ id: p1, size: 100, blobs: [row] }] });
    expect(() => validateIndex(bad([blob, 95, 10, 20, 1]), 'k', 's')).toThrow(/impossible sizes/);
    expect(() => validateIndex(bad([blob, 8, 10, 64 * 1024 * 1024, 1]), 'k', 's')).toThrow(/impossible sizes/);
    expect(() => validateIndex(bad([blob, 8, 10, 20, 0]), 'k', 's')).toThrow(/impossible sizes/);
  });
});

describe('manifest v2', () => {
  const id = 'd'.repeat(64);
  const base = (entries: unknown[]): ManifestV2 =>
    ({
      format: MANIFEST_V2_FORMAT,
      service: 's',
      id: 'x',
      createdAt: '',
      completedAt: '',
      source: { host: 'h', dir: '/d' },
      reason: 'r',
      entries,
      totals: {},
      warnings: [],
    }) as unknown as ManifestV2;
  const root = { path: '.', type: 'dir', mode: 0o755, mtimeNs: '1', uid: 0, gid: 0 };
  const file = { path: 'f', type: 'file', mode: 0o644, mtimeNs: '1764777600123456789', uid: 0, gid: 0, size: 3, blobs: [id], ino: '12', ctimeNs: '5' };

  it('accepts a sound manifest; a one-blob file’s hash is its blob id', () => {
    const m = validateManifestV2(base([root, file, { ...file, path: 'e', size: 0, blobs: [] }]));
    expect(fileSha256(m.entries[1] as never)).toBe(id);
    expect(fileSha256(m.entries[2] as never)).toBe(EMPTY_SHA256);
  });

  it.each([
    ['an unsafe path', { ...file, path: '../x' }, /unsafe path/],
    ["restore's lock name", { ...file, path: '.lifeboat-restore-lock' }, /reserves for its own bookkeeping/],
    ["a delta restore's marker", { ...file, path: '.lifeboat-delta-in-progress' }, /reserves for its own bookkeeping/],
    ['a negative uid', { ...file, uid: -1 }, /bad uid or gid/],
    ['a non-integer gid', { ...file, gid: 1.5 }, /bad uid or gid/],
    ['a file of two blobs without a hash', { ...file, blobs: [id, id] }, /bad sha256/],
    ['size and blobs that disagree', { ...file, size: 0 }, /disagree/],
    ['a bad blob id', { ...file, blobs: ['zz'] }, /bad size or blobs/],
    ['a number as mtime', { ...file, mtimeNs: 5 }, /bad mtimeNs/],
    ['a hard link to nothing', { ...file, type: 'hardlink', target: 'nope' }, /does not point at an earlier file/],
  ])('rejects %s', (_what, entry, message) => {
    expect(() => validateManifestV2(base([root, entry]))).toThrow(message);
  });
});

describe('v2 keys', () => {
  it('keeps packs, index and manifest under the service prefix; the manifest name tells the format', () => {
    const p = `ab${'c'.repeat(62)}`;
    expect(packObjectKey('db', p)).toBe(`db/packs/ab/${p}`);
    expect(parsePackObjectKey('db', packObjectKey('db', p))).toBe(p);
    expect(parsePackObjectKey('other', packObjectKey('db', p))).toBeUndefined();
    expect(isManifestV2Key(manifestV2ObjectKey('db', 'id1'))).toBe(true);
    expect(isManifestV2Key('db/snapshots/id1/manifest.json.gz')).toBe(false);
  });
});
