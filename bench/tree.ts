/**
 * Generates the benchmark tree reproducibly (same bytes for the same seed): 4 × 128 MiB
 * of random data (does not compress), 4 × 64 MiB of log-like text (compresses well) and
 * 20,000 files of 10 KiB in 200 directories — 1 GiB of a database-ish mix, the same shape
 * as the peer measurements in ../shared/LOCAL-SERVICES.md.
 *
 * Pseudo-random bytes come from AES-128-CTR over zeros keyed by the seed: fast and
 * deterministic.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface TreeSpec {
  seed: string;
  randomFiles: number;
  randomBytes: number;
  textFiles: number;
  textBytes: number;
  smallFiles: number;
  smallBytes: number;
  smallDirs: number;
}

export const DEFAULT_TREE: TreeSpec = {
  seed: 'lifeboat-bench-v1',
  randomFiles: 4,
  randomBytes: 128 * 1024 * 1024,
  textFiles: 4,
  textBytes: 64 * 1024 * 1024,
  smallFiles: 20_000,
  smallBytes: 10 * 1024,
  smallDirs: 200,
};

export function treeBytes(spec: TreeSpec): number {
  return spec.randomFiles * spec.randomBytes + spec.textFiles * spec.textBytes + spec.smallFiles * spec.smallBytes;
}

function prng(seed: string, label: string) {
  const key = createHash('sha256').update(`${seed}/${label}`).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  return (n: number) => cipher.update(Buffer.alloc(n));
}

const WORDS = 'select insert update commit checkpoint vacuum index page tuple wal segment replica primary lease term snapshot restore'.split(' ');

function textChunk(rand: (n: number) => Buffer, bytes: number, lineNo: { n: number }): Buffer {
  const lines: string[] = [];
  let size = 0;
  while (size < bytes) {
    const r = rand(4);
    const line = `2026-11-27T08:${String(lineNo.n % 60).padStart(2, '0')}:00.000Z INFO [worker-${r[0]! % 8}] ${WORDS[r[1]! % WORDS.length]} ${WORDS[r[2]! % WORDS.length]} id=${lineNo.n} took=${r[3]}ms\n`;
    lines.push(line);
    size += line.length;
    lineNo.n++;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

async function writeStreamed(path: string, total: number, next: (n: number) => Buffer): Promise<void> {
  const out = createWriteStream(path);
  const CHUNK = 4 * 1024 * 1024;
  for (let done = 0; done < total; done += CHUNK) {
    if (!out.write(next(Math.min(CHUNK, total - done)))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
}

/** Builds the tree at `root` unless a tree of the same spec is already there. */
export async function ensureTree(root: string, spec: TreeSpec = DEFAULT_TREE): Promise<{ generated: boolean }> {
  const stamp = `${root}.spec.json`; // beside the tree, so both tools see the same files
  const want = JSON.stringify(spec);
  if ((await readFile(stamp, 'utf8').catch(() => '')) === want) return { generated: false };
  await rm(root, { recursive: true, force: true });
  await mkdir(join(root, 'large'), { recursive: true });
  const mtime = new Date('2026-01-01T00:00:00Z');
  for (let i = 0; i < spec.randomFiles; i++) {
    await writeStreamed(join(root, 'large', `random-${i}.bin`), spec.randomBytes, prng(spec.seed, `random-${i}`));
  }
  for (let i = 0; i < spec.textFiles; i++) {
    const rand = prng(spec.seed, `text-${i}`);
    const lineNo = { n: 0 };
    await writeStreamed(join(root, 'large', `text-${i}.log`), spec.textBytes, (n) => textChunk(rand, n, lineNo));
  }
  const rand = prng(spec.seed, 'small');
  const lineNo = { n: 0 };
  for (let d = 0; d < spec.smallDirs; d++) await mkdir(join(root, 'small', `d${String(d).padStart(3, '0')}`), { recursive: true });
  for (let f = 0; f < spec.smallFiles; f++) {
    const dir = join(root, 'small', `d${String(f % spec.smallDirs).padStart(3, '0')}`);
    // Half text, half random: small database pages are rarely all one or the other.
    const half = Math.floor(spec.smallBytes / 2);
    const body = Buffer.concat([textChunk(rand, half, lineNo), rand(spec.smallBytes - half)]);
    const path = join(dir, `f${String(f).padStart(5, '0')}.dat`);
    await writeFile(path, body);
    await utimes(path, mtime, mtime);
  }
  await writeFile(stamp, want);
  return { generated: true };
}
