/**
 * Which archive part each walked entry goes into, and whether a part is compressed.
 *
 * Parts fill in walk order up to a target size, so they upload and restore in parallel
 * and each stays a self-contained tar. Large files whose samples do not compress (random
 * or already-compressed data: encrypted pages, media, archives) go into parts stored
 * without zstd: compressing them costs CPU and saves nothing.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { compress } from 'zstd-napi';
import type { WalkedNode } from './walk.js';

export type PartCompression = 'zstd' | 'none';

export interface PartPlan {
  /** Part index of every node (a directory's part is where its tar header goes). */
  partOf: number[];
  /** Per part: its compression and its nodes in walk order. */
  parts: { compression: PartCompression; indices: number[] }[];
}

/**
 * Pure: nodes in walk order → parts. A hard link goes into its target's part, after it,
 * so plain `tar -x` of that part recreates the link.
 */
export function planParts(nodes: readonly WalkedNode[], partBytes: number, isRaw: (index: number) => boolean = () => false): PartPlan {
  const partOf = new Array<number>(nodes.length);
  const indexOf = new Map<string, number>();
  const parts: PartPlan['parts'] = [];
  const open: Record<PartCompression, { part: number; filled: number } | undefined> = { zstd: undefined, none: undefined };
  nodes.forEach((node, i) => {
    indexOf.set(node.path, i);
    if (node.type === 'hardlink') {
      const p = partOf[indexOf.get(node.target!)!]!;
      partOf[i] = p;
      parts[p]!.indices.push(i);
      return;
    }
    const size = node.type === 'file' ? node.stats.size : 0;
    const kind: PartCompression = node.type === 'file' && isRaw(i) ? 'none' : 'zstd';
    let cursor = open[kind];
    if (!cursor || (cursor.filled > 0 && cursor.filled + size > partBytes)) {
      cursor = open[kind] = { part: parts.length, filled: 0 };
      parts.push({ compression: kind, indices: [] });
    }
    partOf[i] = cursor.part;
    parts[cursor.part]!.indices.push(i);
    cursor.filled += size;
  });
  return { partOf, parts };
}

/** Files at least this large are sampled; smaller ones are always compressed. */
export const SAMPLE_MIN_FILE = 4 * 1024 * 1024;
const SAMPLE = 64 * 1024;
/** Store raw when zstd saves less than 5% on the samples. */
const RAW_RATIO = 0.95;

/**
 * Indices of large files whose samples (start, middle, end) do not compress. A file that
 * cannot be read here is simply compressed; the packer reports read errors properly.
 */
export async function findIncompressible(root: string, nodes: readonly WalkedNode[], level: number): Promise<Set<number>> {
  const limit = pLimit(8);
  const raw = new Set<number>();
  await Promise.all(
    nodes.map((node, i) =>
      node.type === 'file' && node.stats.size >= SAMPLE_MIN_FILE
        ? limit(async () => {
            const fh = await open(join(root, node.path), 'r').catch(() => undefined);
            if (!fh) return;
            try {
              const size = node.stats.size;
              let sampled = 0;
              let packed = 0;
              for (const at of [0, Math.floor(size / 2), size - SAMPLE]) {
                const buf = Buffer.allocUnsafe(SAMPLE);
                const { bytesRead } = await fh.read(buf, 0, SAMPLE, at);
                sampled += bytesRead;
                packed += compress(buf.subarray(0, bytesRead), { compressionLevel: level }).length;
              }
              if (sampled > 0 && packed / sampled > RAW_RATIO) raw.add(i);
            } finally {
              await fh.close();
            }
          })
        : undefined,
    ),
  );
  return raw;
}
