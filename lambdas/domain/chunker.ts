/**
 * Content-defined chunking (FastCDC: gear rolling hash, normalised chunking with two
 * masks; Xia et al., USENIX ATC '16). Cut points depend only on the bytes near them, so an
 * insertion moves only the chunks around it and every later chunk keeps its id.
 *
 * Part of snapshot format v2 (docs/FORMAT-V2.md): the gear table and the parameters decide
 * where chunks are cut; changing either re-chunks every file and defeats dedup against
 * older snapshots.
 *
 * `gearTable` and `fastCdcCut` are self-contained (no imports, no outer names) because the
 * chunk workers run their source text (engine/v2/chunk-worker.ts).
 *
 * Pure: no I/O here.
 */

export const CHUNK_MIN = 256 * 1024;
export const CHUNK_AVG = 1024 * 1024;
export const CHUNK_MAX = 8 * 1024 * 1024;

/** 256 pseudo-random 32-bit values from a fixed SplitMix32 stream (part of the format). */
export function gearTable(): Int32Array {
  // Int32: the hot loop below then stays in 32-bit integer registers (uint32 values above
  // 2^31 would be boxed as doubles, several times slower).
  const table = new Int32Array(256);
  let state = 0x4c424f41; // "LBOA"
  for (let i = 0; i < 256; i++) {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    table[i] = z ^ (z >>> 16);
  }
  return table;
}

/**
 * Length of the next chunk of `buf[start, end)`: FastCDC with normalisation level 2.
 * `end - start` must be at least `max` unless the data ends at `end`. The hash is 32 bits
 * and the masks test its high bits, which depend on the last 32 bytes.
 */
export function fastCdcCut(gear: Int32Array, buf: Uint8Array, start: number, end: number, min: number, avg: number, max: number): number {
  let n = end - start;
  if (n <= min) return n;
  if (n > max) n = max;
  let normal = avg;
  if (n < normal) normal = n;
  // avg = 2^bits. Small mask: bits+2 high bits (harder to hit) before the average,
  // large mask: bits-2 high bits after it, which pulls chunk sizes towards the average.
  const bits = 31 - Math.clz32(avg);
  const maskS = -1 << (32 - (bits + 2));
  const maskL = -1 << (32 - (bits - 2));
  let fp = 0;
  let i = start + min;
  const stopS = start + normal;
  const stopL = start + n;
  for (; i < stopS; i++) {
    fp = ((fp << 1) + gear[buf[i]!]!) | 0;
    if ((fp & maskS) === 0) return i + 1 - start;
  }
  for (; i < stopL; i++) {
    fp = ((fp << 1) + gear[buf[i]!]!) | 0;
    if ((fp & maskL) === 0) return i + 1 - start;
  }
  return n;
}

export interface ChunkParams {
  min: number;
  avg: number;
  max: number;
}

export const DEFAULT_CHUNK_PARAMS: ChunkParams = { min: CHUNK_MIN, avg: CHUNK_AVG, max: CHUNK_MAX };

/** Chunk lengths of a whole buffer (tests and small inputs; the workers stream). */
export function chunkLengths(buf: Uint8Array, params: ChunkParams = DEFAULT_CHUNK_PARAMS): number[] {
  const gear = gearTable();
  const out: number[] = [];
  for (let at = 0; at < buf.length; ) {
    const len = fastCdcCut(gear, buf, at, buf.length, params.min, params.avg, params.max);
    out.push(len);
    at += len;
  }
  return out;
}
