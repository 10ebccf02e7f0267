/**
 * A data directory with every kind of entry the engine must preserve, and a description of
 * a tree that two trees can be compared by (content, type, mode, mtime, link targets,
 * hard-link groups).
 */

import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, chown, lchown, link, lstat, mkdir, readdir, readFile, readlink, symlink, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface TreeHandle {
  /** Close the socket that was created inside the tree. */
  close(): Promise<void>;
}

const T = (iso: string) => new Date(iso);

/** Builds the tree inside `root` (which must exist and be empty). */
export async function buildRichTree(root: string, options: { bigFileBytes?: number } = {}): Promise<TreeHandle> {
  const w = async (rel: string, data: string | Buffer, mode = 0o644, mtime = T('2025-03-04T05:06:07.891Z')) => {
    const p = join(root, rel);
    await writeFile(p, data);
    await chmod(p, mode);
    await utimes(p, mtime, mtime);
  };
  await mkdir(join(root, 'db/base/16384'), { recursive: true });
  await mkdir(join(root, 'empty-dir'));
  await mkdir(join(root, 'empty-dir-2/nested-empty'), { recursive: true });
  await w('db/PG_VERSION', '16\n');
  await w('db/base/16384/1259', randomBytes(8192 * 3), 0o600);
  await w('db/empty-file', '', 0o640);
  await w('db/big.bin', randomBytes(options.bigFileBytes ?? 3 * 1024 * 1024 + 17), 0o600, T('2024-12-31T23:59:59.5Z'));
  await w('db/readonly.conf', 'ro = true\n', 0o444);
  await w('bin-tool.sh', '#!/bin/sh\necho hi\n', 0o755);
  await w('setgid-file', 'g\n', 0o2755);
  // Long and Unicode names: > 100 bytes (PAX territory), a 255-byte name, several scripts.
  const longDir = 'a-directory-name-that-is-rather-long-on-purpose/'.repeat(3).slice(0, -1);
  await mkdir(join(root, longDir), { recursive: true });
  await w(`${longDir}/and-a-long-file-name-too-${'x'.repeat(60)}.txt`, 'deep\n');
  await w('n'.repeat(255), 'max-length name\n');
  await mkdir(join(root, 'ünïcødé/日本語'), { recursive: true });
  await w('ünïcødé/日本語/ファイル.txt', 'こんにちは\n');
  await w('ünïcødé/emoji-🚣.md', '# lifeboat\n');
  await w('name with spaces & $ymbols.txt', 'quoted\n');
  // Symlinks: relative inside, absolute outside (must stay a link, never followed),
  // dangling, to a directory, and a long target.
  await symlink('PG_VERSION', join(root, 'db/version-link'));
  await symlink('/etc/hostname', join(root, 'outside-link'));
  await symlink('does/not/exist', join(root, 'dangling-link'));
  await symlink('db/base', join(root, 'dir-link'));
  await symlink(`../${'t'.repeat(150)}`, join(root, 'long-target-link'));
  // Hard links: same directory and across directories.
  await w('db/hard-a', 'shared inode\n', 0o640);
  await link(join(root, 'db/hard-a'), join(root, 'db/hard-b'));
  await link(join(root, 'db/hard-a'), join(root, 'empty-dir-2/hard-c'));
  // A read-only directory with content, and a private one.
  await mkdir(join(root, 'sealed'));
  await w('sealed/inside.txt', 'sealed\n');
  await chmod(join(root, 'sealed'), 0o555);
  await chmod(join(root, 'db'), 0o700);
  // Ownership other than ours, where we may set it (tests usually run as root in CI).
  if (process.getuid?.() === 0) {
    await chown(join(root, 'db/PG_VERSION'), 999, 998);
    await chown(join(root, 'setgid-file'), 1000, 1000);
    await chmod(join(root, 'setgid-file'), 0o2755); // chown cleared the setgid bit
    await lchown(join(root, 'db/version-link'), 997, 996);
    await chown(join(root, 'sealed'), 4242, 4243);
  }
  // Special files: skipped with a warning.
  execFileSync('mkfifo', [join(root, 'a-fifo')]);
  const server = createServer();
  await new Promise<void>((res) => server.listen(join(root, 'a-socket'), res));
  // Directory times last (creating entries bumps them).
  for (const d of ['empty-dir', 'empty-dir-2/nested-empty', 'db/base/16384', 'ünïcødé']) {
    await utimes(join(root, d), T('2023-01-02T03:04:05.678Z'), T('2023-01-02T03:04:05.678Z'));
  }
  return { close: () => new Promise((res) => server.close(() => res())) };
}

export interface Described {
  type: 'dir' | 'file' | 'symlink' | 'other';
  mode?: number;
  uid?: number;
  gid?: number;
  mtimeMs?: number;
  size?: number;
  sha256?: string;
  target?: string;
  /** Paths sharing this entry's inode (hard links), sorted; only when nlink > 1. */
  links?: string[];
}

/** Describes every entry under `root` by relative path. Special files are left out. */
export async function describeTree(root: string, options: { mtimes?: boolean } = {}): Promise<Record<string, Described>> {
  const out: Record<string, Described> = {};
  const inodes = new Map<number, string[]>();
  const walk = async (rel: string) => {
    const abs = rel === '.' ? root : join(root, rel);
    const s = await lstat(abs);
    // Millisecond precision: what every filesystem and utimes() round-trips.
    const mtimeMs = options.mtimes === false ? undefined : Math.floor(s.mtimeMs);
    if (s.isDirectory()) {
      out[rel] = { type: 'dir', mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, mtimeMs };
      for (const name of await readdir(abs)) await walk(rel === '.' ? name : `${rel}/${name}`);
    } else if (s.isSymbolicLink()) {
      out[rel] = { type: 'symlink', target: await readlink(abs), uid: s.uid, gid: s.gid };
    } else if (s.isFile()) {
      out[rel] = {
        type: 'file',
        mode: s.mode & 0o7777,
        uid: s.uid,
        gid: s.gid,
        mtimeMs,
        size: s.size,
        sha256: createHash('sha256')
          .update(await readFile(abs))
          .digest('hex'),
      };
      if (s.nlink > 1) inodes.set(s.ino, [...(inodes.get(s.ino) ?? []), rel]);
    }
  };
  await walk('.');
  for (const paths of inodes.values()) for (const p of paths) out[p]!.links = [...paths].sort();
  return out;
}
