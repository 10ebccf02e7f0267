/**
 * The blob index of snapshot format v2 (docs/FORMAT-V2.md §4): which pack holds each blob,
 * where, and how it is stored. One index file per snapshot that added packs; readers take
 * the union of all of a service's index files.
 *
 * Pure: no I/O here.
 */
import { IntegrityError } from './errors.js';
import { type BlobCompression, compressionCode, compressionOf, type PackedBlob } from './pack.js';

export const INDEX_FORMAT = 'lifeboat.index/v1';

/** [id, offset, length, rawLength, compression code] */
export type IndexBlobRow = [string, number, number, number, number];

export interface IndexPack {
  id: string;
  size: number;
  blobs: IndexBlobRow[];
}

export interface IndexDocument {
  format: typeof INDEX_FORMAT;
  service: string;
  id: string;
  packs: IndexPack[];
}

export interface BlobLocation {
  pack: string;
  offset: number;
  length: number;
  rawLength: number;
  compression: BlobCompression;
}

const HEX64 = /^[0-9a-f]{64}$/;
/** No blob is larger than the chunker's maximum; a bigger declared size is corruption. */
export const MAX_BLOB_BYTES = 16 * 1024 * 1024;

export function indexPack(id: string, size: number, blobs: readonly PackedBlob[]): IndexPack {
  return { id, size, blobs: blobs.map((b) => [b.id, b.offset, b.length, b.rawLength, compressionCode(b.compression)]) };
}

function fail(name: string, what: string): never {
  throw new IntegrityError(`index ${name} is invalid: ${what}`, { hint: 'run `lifeboat check`; index files can be rebuilt from the packs' });
}

const isNonNegInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export function validateIndex(doc: unknown, name: string, service: string): IndexDocument {
  if (typeof doc !== 'object' || doc === null) fail(name, 'not a JSON object');
  const d = doc as Partial<IndexDocument>;
  if (d.format !== INDEX_FORMAT) fail(name, `format is ${JSON.stringify(d.format)}, expected ${INDEX_FORMAT}`);
  if (d.service !== service) fail(name, `belongs to service ${JSON.stringify(d.service)}, not ${service}`);
  if (!Array.isArray(d.packs)) fail(name, 'packs missing');
  for (const p of d.packs) {
    if (typeof p?.id !== 'string' || !HEX64.test(p.id) || !isNonNegInt(p.size) || !Array.isArray(p.blobs)) fail(name, 'a pack is malformed');
    for (const r of p.blobs) {
      if (!Array.isArray(r) || typeof r[0] !== 'string' || !HEX64.test(r[0]) || !isNonNegInt(r[1]) || !isNonNegInt(r[2]) || !isNonNegInt(r[3])) {
        fail(name, `a blob of pack ${p.id} is malformed`);
      }
      if (r[1] + r[2] > p.size || r[3] > MAX_BLOB_BYTES || (r[4] !== 0 && r[4] !== 1) || (r[4] === 0 && r[2] !== r[3])) {
        fail(name, `blob ${r[0]} of pack ${p.id} has impossible sizes`);
      }
    }
  }
  return d as IndexDocument;
}

/** The union of index files: blob id → one location (the first seen that is not excluded). */
export class BlobIndex {
  private readonly blobs = new Map<string, BlobLocation>();
  readonly packs = new Map<string, number>();

  /** Adds an index document; packs in `exclude` (condemned by GC) are left out. */
  add(doc: Pick<IndexDocument, 'packs'>, exclude: ReadonlySet<string> = new Set()): void {
    for (const p of doc.packs) {
      if (exclude.has(p.id)) continue;
      this.packs.set(p.id, p.size);
      for (const [id, offset, length, rawLength, c] of p.blobs) {
        if (!this.blobs.has(id)) this.blobs.set(id, { pack: p.id, offset, length, rawLength, compression: compressionOf(c) });
      }
    }
  }

  get(id: string): BlobLocation | undefined {
    return this.blobs.get(id);
  }

  has(id: string): boolean {
    return this.blobs.has(id);
  }

  get size(): number {
    return this.blobs.size;
  }
}
