/**
 * Walks a data directory into the entry list a snapshot is made of.
 *
 * Never follows a symlink (lstat everywhere; symlinks are recorded as links), groups hard
 * links by inode, skips sockets/FIFOs/devices with a warning, and fails loudly on a
 * directory it cannot read: a backup that silently leaves data out is worse than none.
 */

import type { BigIntStats, Stats } from 'node:fs';
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
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

/**
 * The walk makes synchronous calls (a thread-pool hop per lstat costs more than the lstat on
 * a local disk: 20,000 files took 0.5 s async, 0.05 s sync) and yields to the event loop at
 * least this often, so an agent's lease renewals and heartbeats still run during a long walk.
 */
const YIELD_EVERY_MS = 20;

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
  const warnings: ManifestWarning[] = [];
  const nodes: Node[] = [{ path: '.', type: 'dir', stats: rootStats }];
  let lastYield = performance.now();

  const walkDir = async (rel: string, abs: string): Promise<void> => {
    let names: string[];
    try {
      names = readdirSync(abs);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT' && rel !== '.') {
        warnings.push({ path: rel, kind: 'vanished', detail: 'directory removed during the snapshot' });
        return;
      }
      throw new OperationFailedError(`cannot read directory ${abs}: ${err.code ?? err.message}`, {
        hint: 'run lifeboat as the user that owns the data, or fix the permissions',
      });
    }
    names.sort(compareNames);
    for (const name of names) {
      if (performance.now() - lastYield > YIELD_EVERY_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
      const childRel = rel === '.' ? name : `${rel}/${name}`;
      const childAbs = join(abs, name);
      let s: S;
      try {
        s = bigint ? lstatSync(childAbs, { bigint: true }) : lstatSync(childAbs);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        warnings.push({ path: childRel, kind: 'vanished', detail: 'removed during the snapshot' });
        continue;
      }
      if (s.isDirectory()) {
        nodes.push({ path: childRel, type: 'dir', stats: s });
        await walkDir(childRel, childAbs);
      } else if (s.isSymbolicLink()) {
        nodes.push({ path: childRel, type: 'symlink', stats: s, target: readlinkSync(childAbs) });
      } else if (s.isFile()) {
        nodes.push({ path: childRel, type: 'file', stats: s });
      } else {
        warnings.push({ path: childRel, kind: 'skipped-special', detail: `${specialKind(s)} skipped (cannot be archived)` });
      }
    }
  };

  await walkDir('.', root);

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
