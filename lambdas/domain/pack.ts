/**
 * Pack objects of snapshot format v2 (docs/FORMAT-V2.md §3): blobs concatenated after an
 * 8-byte header, then a trailer that lists them, then a fixed-size footer. A pack describes
 * itself, so `check` and an index rebuild can read packs alone.
 *
 * Pure: byte layouts only, no I/O.
 */
import { createHash } from 'node:crypto';
import { IntegrityError } from './errors.js';

export const PACK_MAGIC = Buffer.from('LBPACK\x00\x01', 'latin1');
export const PACK_HEADER_BYTES = PACK_MAGIC.length;
const FOOTER_MAGIC = Buffer.from('LBPACK-INDEX', 'latin1');
export const PACK_FOOTER_BYTES = 4 + 32 + FOOTER_MAGIC.length;
export const PACK_ENTRY_BYTES = 32 + 1 + 4 + 4 + 4;

export type BlobCompression = 'none' | 'zstd';
const COMPRESSION_CODE: Record<BlobCompression, number> = { none: 0, zstd: 1 };
const COMPRESSION_OF = ['none', 'zstd'] as const;

/** Where one blob sits in a pack and how it is stored. */
export interface PackedBlob {
  /** Hex SHA-256 of the plaintext. */
  id: string;
  offset: number;
  /** Stored bytes in the pack. */
  length: number;
  /** Plaintext bytes. */
  rawLength: number;
  compression: BlobCompression;
}

export const compressionCode = (c: BlobCompression): number => COMPRESSION_CODE[c];
export function compressionOf(code: number): BlobCompression {
  const c = COMPRESSION_OF[code];
  if (c === undefined) throw new IntegrityError(`unknown blob compression code ${code}`);
  return c;
}

/** Trailer + footer for blobs laid out (in order) after the header. */
export function encodePackTrailer(blobs: readonly PackedBlob[]): Buffer {
  const trailer = Buffer.alloc(blobs.length * PACK_ENTRY_BYTES);
  blobs.forEach((b, i) => {
    const at = i * PACK_ENTRY_BYTES;
    trailer.write(b.id, at, 32, 'hex');
    trailer.writeUInt8(COMPRESSION_CODE[b.compression], at + 32);
    trailer.writeUInt32BE(b.offset, at + 33);
    trailer.writeUInt32BE(b.length, at + 37);
    trailer.writeUInt32BE(b.rawLength, at + 41);
  });
  const footer = Buffer.alloc(PACK_FOOTER_BYTES);
  footer.writeUInt32BE(blobs.length, 0);
  createHash('sha256').update(trailer).digest().copy(footer, 4);
  FOOTER_MAGIC.copy(footer, 36);
  return Buffer.concat([trailer, footer]);
}

function bad(packId: string, what: string): never {
  throw new IntegrityError(`pack ${packId} is damaged: ${what}`, { hint: 'run `lifeboat check --read-data` to find the snapshots that use it' });
}

/** Reads the footer (the last PACK_FOOTER_BYTES of a pack): how many entries precede it. */
export function decodePackFooter(packId: string, footer: Buffer): { entries: number; trailerSha256: Buffer } {
  if (footer.length !== PACK_FOOTER_BYTES || !footer.subarray(36).equals(FOOTER_MAGIC)) bad(packId, 'no pack footer');
  return { entries: footer.readUInt32BE(0), trailerSha256: footer.subarray(4, 36) };
}

/** Decodes and checks a whole pack's blob list; `pack` may be the full object or its tail. */
export function decodePackTrailer(packId: string, tail: Buffer, packSize: number): PackedBlob[] {
  if (tail.length < PACK_FOOTER_BYTES) bad(packId, 'shorter than its footer');
  const { entries, trailerSha256 } = decodePackFooter(packId, tail.subarray(tail.length - PACK_FOOTER_BYTES));
  const trailerBytes = entries * PACK_ENTRY_BYTES;
  if (trailerBytes + PACK_FOOTER_BYTES > tail.length) bad(packId, `footer lists ${entries} blobs, more than the pack can hold`);
  const trailer = tail.subarray(tail.length - PACK_FOOTER_BYTES - trailerBytes, tail.length - PACK_FOOTER_BYTES);
  if (!createHash('sha256').update(trailer).digest().equals(trailerSha256)) bad(packId, 'trailer checksum does not match');
  const dataEnd = packSize - PACK_FOOTER_BYTES - trailerBytes;
  const blobs: PackedBlob[] = [];
  let expect = PACK_HEADER_BYTES;
  for (let i = 0; i < entries; i++) {
    const at = i * PACK_ENTRY_BYTES;
    const b: PackedBlob = {
      id: trailer.toString('hex', at, at + 32),
      compression: compressionOf(trailer.readUInt8(at + 32)),
      offset: trailer.readUInt32BE(at + 33),
      length: trailer.readUInt32BE(at + 37),
      rawLength: trailer.readUInt32BE(at + 41),
    };
    if (b.offset !== expect || b.offset + b.length > dataEnd) bad(packId, `blob ${i} lies outside the data area`);
    expect = b.offset + b.length;
    blobs.push(b);
  }
  if (expect !== dataEnd) bad(packId, 'blob list does not cover the data area');
  return blobs;
}

/** The trailer size of a pack with `entries` blobs (to ask for the right tail). */
export const packTailBytes = (entries: number): number => entries * PACK_ENTRY_BYTES + PACK_FOOTER_BYTES;
