/**
 * Delta restore (`lifeboat restore --delta`): bring a directory that holds an older version
 * of the service's data to a v2 snapshot by rewriting only what differs — the fast path for
 * a replica's promote.
 *
 * A file is kept when it is a regular file of the same size and the same mtime (to the
 * microsecond restore can set; rsync's quick check) — or, with `checksum`, the same
 * SHA-256. Everything else is written to a temporary name beside its final path, verified,
 * then renamed over it, so each file is at any moment either its old or its new version.
 * Extras are deleted; directories, symlinks, hard links, owners, modes and times are fixed.
 *
 * Crash story: the delta marker (RESERVED_NAMES.deltaMarker) is written first and removed
 * last. A crash leaves a mix of old and new files (never a half-written one under a real
 * name) plus the marker, so the next restore redoes the work: `--delta` again converges
 * (temporary files are extras and are removed), and any other restore treats the contents
 * as an incomplete restore of ours and replaces them (restore-target.ts), never skipping.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { createReadStream } from 'node:fs';
import { chmod, chown, link, mkdir, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isReservedName, parentPath, RESERVED_NAMES } from '../../domain/manifest.js';
import { type FileEntryV2, fileSha256, type ManifestEntryV2, type ManifestV2, nsToSeconds } from '../../domain/manifest-v2.js';
import { type WalkedNode, walkTree } from '../walk.js';
import { type ContentJob, writeContent } from './content.js';
import { applyMetaV2, type ExtractV2Options, progressReporter } from './restore-v2.js';

/** Temporary names of files being replaced; never snapshot content of ours to keep. */
export const DELTA_TEMP_MARK = '.lifeboat-delta-';

export interface DeltaOptions extends ExtractV2Options {
  /** Compare existing files by SHA-256 instead of size + mtime. */
  checksum: boolean;
  onNotice?: (line: string) => void;
}

export interface DeltaStats {
  kept: number;
  written: number;
  removed: number;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** restore sets times through a double in seconds: equal within 2 µs is "the same mtime". */
function sameMtime(ns: bigint, manifestNs: string): boolean {
  const d = ns - BigInt(manifestNs);
  return d <= 2000n && d >= -2000n;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), hash);
  return hash.digest('hex');
}

type Existing = WalkedNode<BigIntStats>;

export async function deltaRestore(manifest: ManifestV2, dir: string, o: DeltaOptions): Promise<DeltaStats> {
  const stats: DeltaStats = { kept: 0, written: 0, removed: 0 };
  const marker = join(dir, RESERVED_NAMES.deltaMarker);
  await writeFile(marker, `${manifest.id}\n`);
  const tag = randomBytes(4).toString('hex');
  const wanted = new Map<string, ManifestEntryV2>(manifest.entries.map((e) => [e.path, e]));

  // What is there now (never following symlinks); our own leftovers count as extras.
  const { nodes } = await walkTree(dir, { bigint: true });
  const existing = new Map<string, Existing>();
  // Restore's own bookkeeping at the top (the lock, this marker) is never content.
  const ours = (path: string) => !path.includes('/') && isReservedName(path);
  for (const n of nodes) {
    if (ours(n.path)) continue;
    existing.set(n.path, n);
  }
  const kindOf = (n: Existing) => (n.type === 'hardlink' ? 'file' : n.type);

  // 1. Remove extras and entries whose kind changes (file ↔ dir ↔ symlink), parents first.
  const removed = new Set<string>();
  const underRemoved = (p: string) => {
    for (let q = parentPath(p); q !== '.'; q = parentPath(q)) if (removed.has(q)) return true;
    return false;
  };
  for (const n of nodes) {
    if (n.path === '.' || underRemoved(n.path)) continue;
    if (ours(n.path)) {
      if (n.path.startsWith(RESERVED_NAMES.stagingPrefix)) await rm(join(dir, n.path), { recursive: true, force: true });
      continue;
    }
    const w = wanted.get(n.path);
    const kind = kindOf(n);
    const keepKind = w && (w.type === 'dir' ? kind === 'dir' : kind !== 'dir');
    if (!keepKind || n.path.split('/').pop()!.startsWith(DELTA_TEMP_MARK)) {
      await rm(join(dir, n.path), { recursive: true, force: true });
      removed.add(n.path);
      existing.delete(n.path);
      stats.removed++;
    }
  }

  // 2. Directories: create the missing ones; make every one writable for us until the end.
  for (const e of manifest.entries) {
    if (e.type !== 'dir') continue;
    const p = join(dir, e.path);
    const had = existing.get(e.path);
    if (!had) await mkdir(p, { mode: 0o700 });
    else if (!isRoot && (Number(had.stats.mode) & 0o700) !== 0o700) await chmod(p, 0o700);
  }

  // 3. Files: keep, or write beside and rename over.
  const jobs: (ContentJob & { final: string })[] = [];
  const keptFiles: { e: FileEntryV2; s: BigIntStats }[] = [];
  let n = 0;
  for (const e of manifest.entries) {
    if (e.type !== 'file') continue;
    const had = existing.get(e.path);
    let keep = false;
    if (had?.stats.isFile() && had.stats.size === BigInt(e.size)) {
      keep = o.checksum ? (await sha256Of(join(dir, e.path))) === fileSha256(e) : sameMtime(had.stats.mtimeNs, e.mtimeNs);
    }
    if (keep) keptFiles.push({ e, s: had!.stats });
    else {
      const final = join(dir, e.path);
      jobs.push({ entry: e, dest: join(dirname(final), `${DELTA_TEMP_MARK}${tag}-${n++}`), final });
    }
  }
  const report = progressReporter(manifest, o.onProgress);
  await writeContent(jobs, {
    store: o.store,
    service: manifest.service,
    snapshotId: manifest.id,
    index: o.index,
    signal: o.signal,
    concurrency: o.concurrency,
    progress: report,
    onRead: o.onRead,
  });
  for (const j of jobs) await rename(j.dest, j.final);
  stats.written = jobs.length;
  stats.kept = keptFiles.length;

  // Only what differs is changed (chown clears setuid/setgid, so the mode follows it): a
  // kept file usually costs no system call at all.
  for (const { e, s } of keptFiles) {
    const p = join(dir, e.path);
    const chowned = isRoot && (Number(s.uid) !== e.uid || Number(s.gid) !== e.gid);
    if (chowned) await chown(p, e.uid, e.gid);
    if (chowned || (Number(s.mode) & 0o7777) !== e.mode) await chmod(p, e.mode);
    if (!sameMtime(s.mtimeNs, e.mtimeNs)) await utimes(p, nsToSeconds(e.mtimeNs), nsToSeconds(e.mtimeNs));
  }

  // 4. Symlinks and hard links: replace unless already right, through a temporary name.
  for (const e of manifest.entries) {
    if (e.type !== 'symlink' && e.type !== 'hardlink') continue;
    const p = join(dir, e.path);
    const had = existing.get(e.path);
    if (e.type === 'symlink') {
      if (had?.type !== 'symlink' || had.target !== e.target) {
        const temp = join(dirname(p), `${DELTA_TEMP_MARK}${tag}-${n++}`);
        await symlink(e.target, temp);
        await rename(temp, p);
        stats.written++;
      }
      await applyMetaV2(p, e);
    } else {
      const temp = join(dirname(p), `${DELTA_TEMP_MARK}${tag}-${n++}`);
      await link(join(dir, e.target), temp);
      await rename(temp, p);
    }
  }

  // 5. Directory metadata deepest first; the marker goes before the root's own times are set.
  await rm(marker, { force: true });
  for (let i = manifest.entries.length - 1; i >= 0; i--) {
    const e = manifest.entries[i]!;
    if (e.type === 'dir')
      await applyMetaV2(e.path === '.' ? dir : join(dir, e.path), e).catch((err: unknown) => {
        if (e.path !== '.') throw err;
        // The root may be a mount point owned by someone else: its own metadata is best effort.
      });
  }
  o.onNotice?.(`delta restore: ${stats.kept} files kept, ${stats.written} written, ${stats.removed} entries removed`);
  return stats;
}
