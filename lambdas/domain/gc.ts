/**
 * Garbage collection decisions (docs/FORMAT-V2.md §7, docs/ARCHITECTURE.md "Garbage
 * collection"): which packs are garbage, which are sparse enough to repack, when a
 * condemned list may be swept and which of its packs must be rescued, which leftovers of
 * dead writers may go. Pure: plain data in, plain data out; control/gc.ts does the I/O.
 */
import type { IndexPack } from './blob-index.js';

/** Default grace period: nothing younger than this is condemned or removed. */
export const DEFAULT_GC_GRACE_SECONDS = 24 * 3600;
/** The smallest grace a policy may set (it must exceed the longest snapshot and restore). */
export const MIN_GC_GRACE_SECONDS = 3600;
/** Uploading entries created up to this long after a condemned list still count as "before" it. */
export const CLOCK_SKEW_MS = 5 * 60_000;
/** A pack with less than this share of its blob bytes referenced is repacked. */
export const SPARSE_RATIO = 0.5;

export interface StoredPack {
  id: string;
  size: number;
  /** Epoch ms the pack object was written; undefined counts as "now" (never old). */
  lastModified?: number;
}

export interface PackVerdict {
  id: string;
  size: number;
  /** Bytes of blobs this pack is the home of (the copy GC keeps). */
  liveBytes: number;
  blobBytes: number;
  state: 'live' | 'sparse' | 'garbage' | 'young' | 'condemned';
}

export interface MarkPlan {
  packs: PackVerdict[];
  /** No referenced blob is homed here, and the pack is older than the grace. */
  garbage: string[];
  /** Referenced, but less than SPARSE_RATIO of its blob bytes: copy the live blobs out, then condemn. */
  sparse: string[];
  /** Referenced blobs (blob id → home pack) to copy out of sparse packs. */
  homes: Map<string, string>;
  /** Referenced blobs found in no pack that is not condemned (a pending rescue, or damage for `check`). */
  unhomed: string[];
}

export const isOld = (lastModified: number | undefined, now: number, graceMs: number): boolean => lastModified !== undefined && lastModified <= now - graceMs;

/**
 * The mark decision. Each referenced blob gets one home: the first pack (in id order) that
 * holds it, is stored, and is not condemned, so duplicate copies (left by an interrupted
 * repack) become dead bytes. Packs already condemned are left to their sweep.
 */
export function planMark(input: {
  indexPacks: readonly IndexPack[];
  stored: ReadonlyMap<string, StoredPack>;
  referenced: ReadonlySet<string>;
  condemned: ReadonlySet<string>;
  now: number;
  graceMs: number;
  sparseRatio?: number;
}): MarkPlan {
  const { stored, referenced, condemned, now, graceMs } = input;
  const ratio = input.sparseRatio ?? SPARSE_RATIO;
  const byId = new Map<string, IndexPack>();
  for (const p of input.indexPacks) if (!byId.has(p.id)) byId.set(p.id, p);
  const ids = [...byId.keys()].sort();
  const homes = new Map<string, string>();
  for (const id of ids) {
    if (condemned.has(id) || !stored.has(id)) continue;
    for (const [blob] of byId.get(id)!.blobs) if (referenced.has(blob) && !homes.has(blob)) homes.set(blob, id);
  }
  const packs: PackVerdict[] = [];
  const garbage: string[] = [];
  const sparse: string[] = [];
  for (const id of ids) {
    const s = stored.get(id);
    if (!s) continue; // indexed but missing: `check` reports it; nothing to collect
    let liveBytes = 0;
    let blobBytes = 0;
    for (const [blob, , length] of byId.get(id)!.blobs) {
      blobBytes += length;
      if (homes.get(blob) === id) liveBytes += length;
    }
    let state: PackVerdict['state'];
    if (condemned.has(id)) state = 'condemned';
    else if (!isOld(s.lastModified, now, graceMs)) state = 'young';
    else if (liveBytes === 0) state = 'garbage';
    else if (liveBytes < blobBytes * ratio) state = 'sparse';
    else state = 'live';
    if (state === 'garbage') garbage.push(id);
    if (state === 'sparse') sparse.push(id);
    packs.push({ id, size: s.size, liveBytes, blobBytes, state });
  }
  const unhomed = [...referenced].filter((b) => !homes.has(b)).sort();
  const sparseSet = new Set(sparse);
  const moves = new Map<string, string>();
  for (const [blob, pack] of homes) if (sparseSet.has(pack)) moves.set(blob, pack);
  return { packs, garbage, sparse, homes: moves, unhomed };
}

export interface CondemnedList {
  key: string;
  createdAt: number;
  packs: string[];
}

export interface UploadingEntry {
  id: string;
  /** Epoch ms the entry was created (its createdAt). */
  createdAt: number;
}

export type SweepDecision =
  | { action: 'wait'; reason: string }
  | {
      action: 'sweep';
      /** Packs to drop from the index files and delete. */
      doomed: string[];
      /** Packs of the list kept: a snapshot references a blob only they hold. */
      rescued: string[];
    };

/**
 * Whether condemned list `list` may be swept now, and what it deletes. It waits for the
 * grace to pass and for every snapshot that began before the list (up to clock skew) to
 * finish; then a pack is rescued when some live manifest references a blob that no pack
 * outside the list holds.
 *
 * `surviving` is blob id → true for every blob held by a stored pack that is in an index
 * file and not condemned by any list.
 */
export function planSweep(input: {
  list: CondemnedList;
  now: number;
  graceMs: number;
  uploading: readonly UploadingEntry[];
  referenced: ReadonlySet<string>;
  surviving: ReadonlySet<string>;
  /** Blobs of each condemned pack that is still in an index file. */
  packBlobs: ReadonlyMap<string, readonly string[]>;
  skewMs?: number;
}): SweepDecision {
  const { list, now, graceMs } = input;
  if (list.createdAt > now - graceMs) {
    return { action: 'wait', reason: `condemned ${new Date(list.createdAt).toISOString()}, grace not over` };
  }
  const before = list.createdAt + (input.skewMs ?? CLOCK_SKEW_MS);
  const running = input.uploading.filter((u) => u.createdAt <= before);
  if (running.length > 0) {
    return { action: 'wait', reason: `snapshot(s) ${running.map((u) => u.id).join(', ')} began before the list and are still uploading` };
  }
  const doomed: string[] = [];
  const rescued: string[] = [];
  for (const pack of list.packs) {
    const blobs = input.packBlobs.get(pack) ?? [];
    const needed = blobs.some((b) => input.referenced.has(b) && !input.surviving.has(b));
    (needed ? rescued : doomed).push(pack);
  }
  return { action: 'sweep', doomed, rescued };
}

/**
 * Index files after removing `doomed` packs: which files to replace, and the packs the
 * replacement keeps (written before the old files are deleted).
 */
export function planIndexRewrite(
  files: readonly { key: string; packs: readonly IndexPack[] }[],
  doomed: ReadonlySet<string>,
): { replace: string[]; keep: IndexPack[] } {
  const replace: string[] = [];
  const keep = new Map<string, IndexPack>();
  for (const f of files) {
    if (!f.packs.some((p) => doomed.has(p.id))) continue;
    replace.push(f.key);
    for (const p of f.packs) if (!doomed.has(p.id) && !keep.has(p.id)) keep.set(p.id, p);
  }
  return { replace, keep: [...keep.values()] };
}

/**
 * Pack objects no index file lists (a writer that died before its index, or a sweep that
 * stopped between index rewrite and deletion): removable once older than the grace and
 * older than every snapshot still uploading (the writer of a young index may be alive).
 */
export function unindexedPacks(input: {
  stored: readonly StoredPack[];
  indexed: ReadonlySet<string>;
  uploading: readonly UploadingEntry[];
  now: number;
  graceMs: number;
  skewMs?: number;
}): string[] {
  const oldestUpload = Math.min(...input.uploading.map((u) => u.createdAt));
  const skew = input.skewMs ?? CLOCK_SKEW_MS;
  return input.stored
    .filter((p) => !input.indexed.has(p.id) && isOld(p.lastModified, input.now, input.graceMs) && !(p.lastModified! >= oldestUpload - skew))
    .map((p) => p.id);
}

/**
 * Objects under `<service>/snapshots/` whose snapshot has no catalog entry (any status):
 * parts of a failed snapshot whose cleanup failed, orphaned manifests. Removable once older
 * than the grace.
 */
export function orphanSnapshotObjects(
  objects: readonly { key: string; snapshotId: string; lastModified?: number }[],
  catalogued: ReadonlySet<string>,
  now: number,
  graceMs: number,
): string[] {
  return objects.filter((o) => !catalogued.has(o.snapshotId) && isOld(o.lastModified, now, graceMs)).map((o) => o.key);
}

/** The GC section of a policy: checks the grace, returning it in ms. */
export function gcGraceMs(seconds: number | undefined): number {
  return (seconds ?? DEFAULT_GC_GRACE_SECONDS) * 1000;
}
