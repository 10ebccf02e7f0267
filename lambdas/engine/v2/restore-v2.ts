/**
 * Restore of a v2 snapshot: manifest + index → verified tree in staging → put in place
 * (restore-target.ts), with today's guarantees: on any error the target is left as it was.
 * `delta` instead updates a directory that holds an older version in place (delta.ts).
 */
import { chmod, chown, lchown, link, lutimes, mkdir, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectStore } from '../../adapters/stores/store.js';
import type { BlobIndex } from '../../domain/blob-index.js';
import { AbortedError } from '../../domain/errors.js';
import { type FileEntryV2, type ManifestEntryV2, type ManifestV2, nsToSeconds } from '../../domain/manifest-v2.js';
import type { SnapshotRecord } from '../../domain/snapshot.js';
import type { RestoreOptions, RestoreResult } from '../restore.js';
import { lockTarget, recoverHeldTarget } from '../restore-target.js';
import { writeContent } from './content.js';
import { deltaRestore } from './delta.js';
import { fetchManifestV2, loadIndex } from './repo.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Owner (root only), mode and times of a directory or symlink. */
export async function applyMetaV2(path: string, e: ManifestEntryV2): Promise<void> {
  const t = nsToSeconds(e.mtimeNs);
  if (e.type === 'symlink') {
    if (isRoot) await lchown(path, e.uid, e.gid);
    await lutimes(path, t, t);
    return;
  }
  if (isRoot) await chown(path, e.uid, e.gid);
  await chmod(path, e.mode);
  await utimes(path, t, t);
}

export interface ExtractV2Options {
  store: ObjectStore;
  index: BlobIndex;
  signal: AbortSignal;
  concurrency?: number;
  onProgress?: RestoreOptions['onProgress'];
}

export function progressReporter(manifest: ManifestV2, report: RestoreOptions['onProgress']): (bytes: number, files: number) => void {
  let bytesDone = 0;
  let filesDone = 0;
  let last = 0;
  return (bytes, files) => {
    bytesDone += bytes;
    filesDone += files;
    const now = Date.now();
    if (report && now - last > 100) {
      last = now;
      report({ bytesDone, bytesTotal: manifest.totals.dataBytes, filesDone, filesTotal: manifest.totals.files });
    }
  };
}

/** Builds and verifies the whole snapshot in `staging` (which must not exist). */
export async function extractV2(manifest: ManifestV2, staging: string, o: ExtractV2Options): Promise<void> {
  // Staging exists already when it comes from prepareTarget.
  await mkdir(staging, { recursive: true, mode: 0o700 });
  // Directories first, writable by us whatever their final mode; modes are set at the end.
  for (const e of manifest.entries) {
    if (e.type === 'dir' && e.path !== '.') await mkdir(join(staging, e.path), { mode: 0o700 });
  }
  const files = manifest.entries.filter((e): e is FileEntryV2 => e.type === 'file');
  await writeContent(
    files.map((entry) => ({ entry, dest: join(staging, entry.path) })),
    {
      store: o.store,
      service: manifest.service,
      snapshotId: manifest.id,
      index: o.index,
      signal: o.signal,
      concurrency: o.concurrency,
      progress: progressReporter(manifest, o.onProgress),
    },
  );
  if (o.signal.aborted) throw new AbortedError('restore aborted; the target directory was not changed');
  for (const e of manifest.entries) {
    if (e.type === 'symlink') {
      const p = join(staging, e.path);
      await symlink(e.target, p);
      await applyMetaV2(p, e);
    } else if (e.type === 'hardlink') await link(join(staging, e.target), join(staging, e.path));
  }
  // Deepest first: setting a child's times would otherwise bump its parent's mtime.
  for (let i = manifest.entries.length - 1; i >= 0; i--) {
    const e = manifest.entries[i]!;
    if (e.type === 'dir') await applyMetaV2(e.path === '.' ? staging : join(staging, e.path), e);
  }
}

/** Fetches what a v2 restore needs: the verified manifest and the service's blob index. */
async function loadSnapshotV2(options: RestoreOptions, record: SnapshotRecord, signal: AbortSignal) {
  const [{ manifest }, { index }] = await Promise.all([fetchManifestV2(options.store, record, signal), loadIndex(options.store, record.service, signal)]);
  return { manifest, common: { store: options.store, index, signal, concurrency: options.concurrency, onProgress: options.onProgress } };
}

/** Builds and verifies a v2 snapshot in `staging` (from restore-target.ts prepareTarget). */
export async function extractV2Into(
  staging: string,
  record: SnapshotRecord,
  options: RestoreOptions,
  signal: AbortSignal,
): Promise<{ files: number; bytes: number; entries: number }> {
  const { manifest, common } = await loadSnapshotV2(options, record, signal);
  await extractV2(manifest, staging, common);
  return { files: manifest.totals.files, bytes: manifest.totals.dataBytes, entries: manifest.entries.length };
}

/**
 * `--delta` into a directory that holds something: under the target's restore lock, after
 * finishing or rolling back whatever a crashed restore left, rewrite only what differs.
 */
export async function deltaRestoreInto(
  dir: string,
  record: SnapshotRecord,
  options: RestoreOptions,
  signal: AbortSignal,
  elapsed: () => number,
): Promise<RestoreResult> {
  const { manifest, common } = await loadSnapshotV2(options, record, signal);
  const notice = options.onNotice ?? (() => undefined);
  const lock = await lockTarget(dir, { purpose: `delta restore of ${record.service}/${record.id}` });
  try {
    await recoverHeldTarget(dir, lock, { onNotice: notice });
    await deltaRestore(manifest, dir, { ...common, checksum: options.checksum === true, onNotice: notice });
  } finally {
    await lock.release();
  }
  return {
    status: 'restored',
    dir,
    snapshot: record,
    files: manifest.totals.files,
    bytes: manifest.totals.dataBytes,
    entries: manifest.entries.length,
    method: 'delta',
    durationMs: elapsed(),
  };
}
