/**
 * Restore of a v2 snapshot: manifest + index → verified tree in staging → put in place
 * (placement.ts), with today's guarantees: on any error the target is left as it was.
 * `delta` instead updates a directory that holds an older version in place (delta.ts).
 */
import { chmod, chown, lchown, link, lutimes, mkdir, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { AbortedError } from '../../domain/errors.js';
import { nsToSeconds, type ManifestEntryV2, type ManifestV2, type FileEntryV2 } from '../../domain/manifest-v2.js';
import type { BlobIndex } from '../../domain/blob-index.js';
import type { SnapshotRecord } from '../../domain/snapshot.js';
import type { ObjectStore } from '../../adapters/stores/store.js';
import type { RestoreOptions, RestoreResult, TargetState } from '../restore.js';
import { writeContent } from './content.js';
import { deltaRestore } from './delta.js';
import { placeTree } from './placement.js';
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
  await mkdir(staging, { mode: 0o700 });
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

/**
 * Dispatch target of restore.ts for v2 manifests (after the snapshot is chosen and held).
 * `delta` into a non-empty directory updates it in place; otherwise a full restore.
 */
export async function restoreV2(
  options: RestoreOptions,
  ctx: { dir: string; state: TargetState; record: SnapshotRecord; signal: AbortSignal; elapsed: () => number },
): Promise<RestoreResult> {
  const { dir, state, record, signal } = ctx;
  const [{ manifest }, { index }] = await Promise.all([fetchManifestV2(options.store, record, signal), loadIndex(options.store, record.service, signal)]);
  const common = { store: options.store, index, signal, concurrency: options.concurrency, onProgress: options.onProgress };
  let method: 'swap' | 'in-place' | 'delta';
  if (options.delta && state.exists && !state.empty) {
    await deltaRestore(manifest, dir, { ...common, checksum: options.checksum === true, onNotice: options.onNotice });
    method = 'delta';
  } else {
    method = await placeTree({
      dir,
      state,
      placement: options.placement ?? 'auto',
      snapshotId: record.id,
      fill: (staging) => extractV2(manifest, staging, common),
      rootMeta: () => applyMetaV2(dir, manifest.entries[0]!),
    });
  }
  return {
    status: 'restored',
    dir,
    snapshot: record,
    files: manifest.totals.files,
    bytes: manifest.totals.dataBytes,
    entries: manifest.entries.length,
    method,
    durationMs: ctx.elapsed(),
  };
}
