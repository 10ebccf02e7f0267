/**
 * Walks a data directory into the entry list a snapshot is made of.
 *
 * Never follows a symlink (lstat everywhere; symlinks are recorded as links), groups hard
 * links by inode, skips sockets/FIFOs/devices with a warning, and fails loudly on a
 * directory it cannot read: a backup that silently leaves data out is worse than none.
 */

import type { BigIntStats, Stats } from 'node:fs';
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { OperationFailedError, UsageError } from '../domain/errors.js';
import { compareNames, type ManifestWarning } from '../domain/manifest.js';

export interface WalkedNode<S extends Stats | BigIntStats = Stats> {
  path: string;
  type: 'dir' | 'file' | 'symlink' | 'hardlink';
  stats: S;
  /** symlink: the link text; hardlink: the path of the first file with the same inode. */
  target?: string;
}

export interface WalkResult<S extends Stats | BigIntStats = Stats> {
  nodes: WalkedNode<S>[];
  warnings: ManifestWarning[];
}

/** Bounded fan-out: enough to keep the disk queue busy, not so many that fds run out. */
const FS_CONCURRENCY = 64;

function specialKind(s: Stats | BigIntStats): string {
  if (s.isSocket()) return 'socket';
  if (s.isFIFO()) return 'FIFO';
  if (s.isCharacterDevice()) return 'character device';
  if (s.isBlockDevice()) return 'block device';
  return 'special file';
}

export async function assertReadableDirectory(dir: string): Promise<Stats> {
  const s = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT')
      throw new UsageError(`data directory ${dir} does not exist`, { hint: 'pass the directory your service keeps its data in with --dir' });
    if (err.code === 'EACCES')
      throw new UsageError(`data directory ${dir} is not accessible (permission denied)`, { hint: 'run lifeboat as the user that owns the data' });
    throw err;
  });
  if (!s.isDirectory()) throw new UsageError(`${dir} is not a directory`, { hint: 'pass the data directory itself with --dir' });
  return s;
}

/** `bigint: true` gives nanosecond times and exact inode numbers (v2 change detection). */
export async function walkTree(root: string): Promise<WalkResult>;
export async function walkTree(root: string, options: { bigint: true }): Promise<WalkResult<BigIntStats>>;
export async function walkTree(root: string, options: { bigint?: boolean } = {}): Promise<WalkResult<Stats | BigIntStats>> {
  type S = Stats | BigIntStats;
  type Node = WalkedNode<S>;
  const bigint = options.bigint === true;
  await assertReadableDirectory(root);
  const rootStats: S = bigint ? await stat(root, { bigint: true }) : await stat(root);
  const limit = pLimit(FS_CONCURRENCY);
  const warnings: ManifestWarning[] = [];

  const walkDir = async (rel: string, abs: string): Promise<Node[]> => {
    const names = await limit(() => readdir(abs)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' && rel !== '.') return undefined; // removed while we walked
      throw new OperationFailedError(`cannot read directory ${abs}: ${err.code ?? err.message}`, {
        hint: 'run lifeboat as the user that owns the data, or fix the permissions',
      });
    });
    if (names === undefined) {
      warnings.push({ path: rel, kind: 'vanished', detail: 'directory removed during the snapshot' });
      return [];
    }
    names.sort(compareNames);
    const children = await Promise.all(
      names.map(async (name) => {
        const childRel = rel === '.' ? name : `${rel}/${name}`;
        const childAbs = join(abs, name);
        const s = await limit((): Promise<S> => (bigint ? lstat(childAbs, { bigint: true }) : lstat(childAbs))).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return undefined;
          throw err;
        });
        if (!s) {
          warnings.push({ path: childRel, kind: 'vanished', detail: 'removed during the snapshot' });
          return [];
        }
        if (s.isDirectory()) {
          return [{ path: childRel, type: 'dir' as const, stats: s } as Node, ...(await walkDir(childRel, childAbs))];
        }
        if (s.isSymbolicLink()) {
          const target = await limit(() => readlink(childAbs));
          return [{ path: childRel, type: 'symlink' as const, stats: s, target } as Node];
        }
        if (s.isFile()) return [{ path: childRel, type: 'file' as const, stats: s } as Node];
        warnings.push({ path: childRel, kind: 'skipped-special', detail: `${specialKind(s)} skipped (cannot be archived)` });
        return [];
      }),
    );
    return children.flat();
  };

  const nodes: Node[] = [{ path: '.', type: 'dir', stats: rootStats }, ...(await walkDir('.', root))];

  // The first path of an inode (in walk order) keeps the content; later ones link to it.
  const firstPathOfInode = new Map<string, string>();
  for (const node of nodes) {
    if (node.type !== 'file' || Number(node.stats.nlink) < 2) continue;
    const inode = `${node.stats.dev}:${node.stats.ino}`;
    const first = firstPathOfInode.get(inode);
    if (first === undefined) firstPathOfInode.set(inode, node.path);
    else {
      node.type = 'hardlink';
      node.target = first;
    }
  }
  return { nodes, warnings };
}
