/**
 * Garbage collection of one service's v2 data, against the real catalog and store
 * (docs/ARCHITECTURE.md "Garbage collection" has the safety argument; docs/FORMAT-V2.md §7
 * the object formats). One run, under the service's GC lease:
 *
 *   1. sweep   each condemned list older than the grace whose snapshots-in-flight are done:
 *              rescue packs a live manifest still needs, write index files without the
 *              doomed packs (new first, then delete the old), delete the packs, delete the
 *              list last;
 *   2. mark    repack sparse packs (new packs + their index first), then write one new
 *              condemned list of garbage and repacked packs;
 *   3. leftovers of dead writers older than the grace: packs no index lists, incomplete
 *              multipart uploads, directory-store temp files, snapshot objects no catalog
 *              entry accounts for.
 *
 * Every step writes before it deletes, and the lease is renewed (re-checked) before each
 * destructive step, so a crash anywhere leaves extra objects that the next run removes.
 * The pure decisions are in domain/gc.ts. Called by the retention sweep after it deletes
 * snapshots (handlers/retention.ts, `lifeboat retention apply`) and by `lifeboat gc`.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pLimit from 'p-limit';
import type { SnapshotCatalog } from '../adapters/catalog.js';
import { type GcLease, GcLeaseLostError } from '../adapters/gc-lease.js';
import { canListTempFiles, canReapIncompleteUploads, ObjectNotFoundError, type ObjectStore } from '../adapters/stores/store.js';
import {
  condemnedObjectKey,
  isManifestV2Key,
  packObjectKey,
  parsePackObjectKey,
  parseSnapshotObjectKey,
  serviceCondemnedPrefix,
  serviceIndexPrefix,
  servicePacksPrefix,
  serviceSnapshotsPrefix,
} from '../contract/keys.js';
import { type IndexPack, validateIndex } from '../domain/blob-index.js';
import { IntegrityError } from '../domain/errors.js';
import {
  type CondemnedList,
  gcGraceMs,
  isOld,
  orphanSnapshotObjects,
  planIndexRewrite,
  planMark,
  planSweep,
  type StoredPack,
  type UploadingEntry,
  unindexedPacks,
} from '../domain/gc.js';
import { snapshotIdTime } from '../domain/ids.js';
import { DEFAULT_PACK_BYTES, fetchManifestV2, MAX_INDEX_JSON_BYTES, PackWriter, readGzipJson, writeGzipJson, writeIndex } from '../engine/v2/repo.js';

export interface GcContext {
  catalog: SnapshotCatalog;
  objects: ObjectStore;
  /** Without it (dry runs, tests of a single process) no lease is taken. */
  gcLease?: GcLease;
  now?: () => Date;
}

/** The points before GC's writes and deletions, where tests inject crashes. */
export type GcStep =
  | 'sweep-index-write'
  | 'sweep-index-delete'
  | 'sweep-packs'
  | 'sweep-list'
  | 'repack-packs'
  | 'repack-index'
  | 'condemn'
  | 'unindexed'
  | 'abort-upload'
  | 'temp-files'
  | 'orphans';

export interface GcOptions {
  service: string;
  /** Grace period in seconds (the policy's retention.gcGraceSeconds; default 24 h). */
  graceSeconds?: number;
  /** Grace in ms, overriding graceSeconds (tests: 0 makes condemnation bite at once). */
  graceMs?: number;
  /** Clock skew allowed between writers and GC (ms, default 5 min). */
  skewMs?: number;
  /** Decide and report; write and delete nothing. */
  dryRun?: boolean;
  /** Called before each destructive step; a throw stops the run like a crash would (tests). */
  fault?: (step: GcStep, detail: string) => void | Promise<void>;
  /** Epoch ms: start no new step after this; the next run continues. */
  deadline?: number;
  /** Lease holder name (default host:pid:random). */
  holder?: string;
  /** Target size of repacked packs. */
  packBytes?: number;
}

export interface GcCount {
  objects: number;
  bytes: number;
}

export interface GcResult {
  service: string;
  dryRun: boolean;
  /** Why nothing was done (another GC holds the lease; the catalog looks lost). */
  skipped?: string;
  /** Condemned lists swept, and the packs they deleted. */
  sweptLists: number;
  sweptPacks: GcCount;
  rescuedPacks: number;
  /** Condemned lists not yet sweepable, with the reason. */
  waiting: string[];
  /** Packs condemned this run (garbage + repacked). */
  condemnedPacks: GcCount;
  repacked: { packs: number; blobs: number; newPacks: number; newBytes: number };
  indexFilesReplaced: number;
  leftovers: { unindexedPacks: GcCount; uploadsAborted: number; tempFiles: GcCount; orphanObjects: GcCount };
  /** Everything deleted (or, dry run, that would be). */
  deleted: GcCount;
  /** Referenced blobs held only by condemned or missing packs (pending rescue, or damage: run `lifeboat check`). */
  unhomedBlobs: number;
  stoppedEarly: boolean;
}

const LEASE_TTL_SECONDS = 15 * 60;
const MAX_CONDEMNED_JSON_BYTES = 64 * 1024 * 1024;
const CONDEMNED_FORMAT = 'lifeboat.condemned/v1';

const compactTime = (d: Date) => d.toISOString().replace(/[-:]/g, '');

interface IndexFile {
  key: string;
  packs: IndexPack[];
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function emptyResult(service: string, dryRun: boolean): GcResult {
  return {
    service,
    dryRun,
    sweptLists: 0,
    sweptPacks: { objects: 0, bytes: 0 },
    rescuedPacks: 0,
    waiting: [],
    condemnedPacks: { objects: 0, bytes: 0 },
    repacked: { packs: 0, blobs: 0, newPacks: 0, newBytes: 0 },
    indexFilesReplaced: 0,
    leftovers: { unindexedPacks: { objects: 0, bytes: 0 }, uploadsAborted: 0, tempFiles: { objects: 0, bytes: 0 }, orphanObjects: { objects: 0, bytes: 0 } },
    deleted: { objects: 0, bytes: 0 },
    unhomedBlobs: 0,
    stoppedEarly: false,
  };
}

/** One GC run for one service. Throws on store/catalog trouble; a re-run continues. */
export async function collectGarbage(ctx: GcContext, options: GcOptions): Promise<GcResult> {
  const { service } = options;
  const store = ctx.objects;
  const dryRun = options.dryRun ?? false;
  const clock = ctx.now ?? (() => new Date());
  const graceMs = options.graceMs ?? gcGraceMs(options.graceSeconds);
  const result = emptyResult(service, dryRun);
  const holder = options.holder ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const lease = dryRun ? undefined : ctx.gcLease;

  if (lease && !(await lease.acquire(service, holder, LEASE_TTL_SECONDS))) {
    result.skipped = 'another GC of this service holds the GC lease';
    return result;
  }
  /** Before each destructive step: the test hook, then the lease must still be ours. */
  const step = async (name: GcStep, detail: string) => {
    await options.fault?.(name, detail);
    if (lease && !(await lease.acquire(service, holder, LEASE_TTL_SECONDS))) {
      throw new GcLeaseLostError(`GC of service ${service} lost its lease before ${name}; another GC took over`);
    }
  };
  const pastDeadline = () => {
    if (options.deadline !== undefined && Date.now() > options.deadline) result.stoppedEarly = true;
    return result.stoppedEarly;
  };
  const deleted = (count: GcCount, keys: number, bytes: number) => {
    count.objects += keys;
    count.bytes += bytes;
    result.deleted.objects += keys;
    result.deleted.bytes += bytes;
  };

  try {
    const now = clock().getTime();
    // What the catalog says: live manifests and snapshots in flight.
    const summaries = await collect(ctx.catalog.summaries(service));
    const uploading: UploadingEntry[] = summaries
      .filter((s) => s.status === 'uploading')
      .map((s) => {
        const t = Date.parse(s.createdAt);
        return { id: s.id, createdAt: Number.isNaN(t) ? snapshotIdTime(s.id).getTime() : t };
      });

    // What the store holds.
    const [packObjects, indexKeys, condemnedKeys, snapshotObjects] = await Promise.all([
      collect(store.list(servicePacksPrefix(service))),
      collect(store.list(serviceIndexPrefix(service))),
      collect(store.list(serviceCondemnedPrefix(service))),
      collect(store.list(serviceSnapshotsPrefix(service))),
    ]);

    // A table that lost its catalog would make every pack look garbage: refuse instead.
    const hasManifests = snapshotObjects.some((o) => /\/manifest(-v2)?\.json\.(gz|zst)$/.test(o.key));
    if (summaries.length === 0 && hasManifests) {
      result.skipped = `the catalog has no snapshot of ${service} but the store holds manifests; run \`lifeboat catalog rebuild --service ${service}\` first`;
      return result;
    }

    const referenced = new Set<string>();
    const limit = pLimit(8);
    await Promise.all(
      summaries
        .filter((s) => (s.status === 'complete' || s.status === 'expiring') && isManifestV2Key(s.manifestKey))
        .map((s) =>
          limit(async () => {
            try {
              const { manifest } = await fetchManifestV2(store, s);
              for (const e of manifest.entries) if (e.type === 'file') for (const b of e.blobs) referenced.add(b);
            } catch (err) {
              // An expiring snapshot's manifest may already be gone (retention deletes it first).
              if (s.status === 'expiring' && err instanceof ObjectNotFoundError) return;
              throw new IntegrityError(`GC of ${service} stopped: the manifest of snapshot ${s.id} cannot be read (${(err as Error).message})`, {
                hint: `without it GC cannot know which data the snapshot uses; run \`lifeboat check --service ${service}\`, and delete the snapshot if it is damaged`,
                cause: err,
              });
            }
          }),
        ),
    );

    const stored = new Map<string, StoredPack>();
    for (const o of packObjects) {
      const id = parsePackObjectKey(service, o.key);
      if (id) stored.set(id, { id, size: o.size, ...(o.lastModified ? { lastModified: o.lastModified.getTime() } : {}) });
    }
    let indexFiles: IndexFile[] = await Promise.all(
      indexKeys.map((o) =>
        limit(async () => {
          const { doc } = await readGzipJson(store, o.key, MAX_INDEX_JSON_BYTES);
          return { key: o.key, packs: validateIndex(doc, o.key, service).packs };
        }),
      ),
    );
    const lists: CondemnedList[] = await Promise.all(
      condemnedKeys.map((o) =>
        limit(async () => {
          const { doc } = await readGzipJson(store, o.key, MAX_CONDEMNED_JSON_BYTES);
          const d = doc as { createdAt?: unknown; packs?: unknown };
          const createdAt = typeof d.createdAt === 'string' ? Date.parse(d.createdAt) : Number.NaN;
          if (!Array.isArray(d.packs) || Number.isNaN(createdAt)) throw new IntegrityError(`condemned list ${o.key} is malformed`);
          return { key: o.key, createdAt, packs: d.packs.filter((p): p is string => typeof p === 'string') };
        }),
      ),
    );
    const swept = new Set<string>();
    let condemned = new Set(lists.flatMap((l) => l.packs));

    // 1. Sweep.
    for (const list of lists) {
      if (pastDeadline()) break;
      const indexedPacks = new Map<string, IndexPack>();
      for (const f of indexFiles) for (const p of f.packs) if (!indexedPacks.has(p.id)) indexedPacks.set(p.id, p);
      const surviving = new Set<string>();
      for (const [id, p] of indexedPacks) if (!condemned.has(id) && stored.has(id)) for (const [b] of p.blobs) surviving.add(b);
      const packBlobs = new Map<string, string[]>();
      for (const id of list.packs) {
        const p = indexedPacks.get(id);
        if (p)
          packBlobs.set(
            id,
            p.blobs.map(([b]) => b),
          );
      }
      const decision = planSweep({
        list,
        now,
        graceMs,
        uploading,
        referenced,
        surviving,
        packBlobs,
        ...(options.skewMs !== undefined ? { skewMs: options.skewMs } : {}),
      });
      if (decision.action === 'wait') {
        result.waiting.push(`${list.key}: ${decision.reason}`);
        continue;
      }
      const doomed = new Set(decision.doomed);
      const rewrite = planIndexRewrite(indexFiles, doomed);
      const doomedKeys = decision.doomed.filter((id) => stored.has(id)).map((id) => packObjectKey(service, id));
      const doomedBytes = decision.doomed.reduce((s, id) => s + (stored.get(id)?.size ?? 0), 0);
      if (!dryRun) {
        if (rewrite.replace.length > 0) {
          if (rewrite.keep.length > 0) {
            await step('sweep-index-write', list.key);
            const id = `gc-${compactTime(clock())}-${randomBytes(4).toString('hex')}`;
            const { key } = await writeIndex(store, service, id, rewrite.keep);
            indexFiles.push({ key, packs: rewrite.keep });
          }
          await step('sweep-index-delete', list.key);
          await store.delete(rewrite.replace);
        }
        if (doomedKeys.length > 0) {
          await step('sweep-packs', list.key);
          await store.delete(doomedKeys);
        }
        await step('sweep-list', list.key);
        await store.delete([list.key]);
      }
      const replaced = new Set(rewrite.replace);
      indexFiles = indexFiles.filter((f) => !replaced.has(f.key));
      result.indexFilesReplaced += rewrite.replace.length;
      for (const id of decision.doomed) stored.delete(id);
      deleted(result.sweptPacks, doomedKeys.length, doomedBytes);
      result.deleted.objects += rewrite.replace.length + 1;
      result.sweptLists++;
      result.rescuedPacks += decision.rescued.length;
      // Rescued packs are free again; packs of lists not swept stay condemned.
      swept.add(list.key);
      condemned = new Set(lists.filter((l) => !swept.has(l.key)).flatMap((l) => l.packs));
    }

    // 2. Mark: repack sparse packs, then condemn them with the garbage.
    const allIndexPacks = indexFiles.flatMap((f) => f.packs);
    const mark = planMark({ indexPacks: allIndexPacks, stored, referenced, condemned, now, graceMs });
    result.unhomedBlobs = mark.unhomed.length;
    if (!pastDeadline() && (mark.garbage.length > 0 || mark.sparse.length > 0)) {
      let toCondemn = [...mark.garbage];
      if (mark.sparse.length > 0) {
        const avoid = new Set([...condemned, ...mark.garbage, ...mark.sparse]);
        const repacked = dryRun
          ? { ok: mark.sparse, blobs: mark.homes.size, newPacks: 0, newBytes: 0 }
          : await repack(store, service, mark, options, step, clock, indexFiles, avoid);
        result.repacked = { packs: repacked.ok.length, blobs: repacked.blobs, newPacks: repacked.newPacks, newBytes: repacked.newBytes };
        toCondemn = [...toCondemn, ...repacked.ok];
      }
      const bytes = toCondemn.reduce((s, id) => s + (stored.get(id)?.size ?? 0), 0);
      result.condemnedPacks = { objects: toCondemn.length, bytes };
      if (!dryRun && toCondemn.length > 0) {
        await step('condemn', `${toCondemn.length} packs`);
        const at = clock();
        const key = condemnedObjectKey(service, `${compactTime(at)}-${randomBytes(4).toString('hex')}`);
        await writeGzipJson(store, key, { format: CONDEMNED_FORMAT, service, createdAt: at.toISOString(), packs: toCondemn.sort() });
      }
    }

    // 3. Leftovers of dead writers.
    if (!pastDeadline()) {
      const indexed = new Set(indexFiles.flatMap((f) => f.packs.map((p) => p.id)));
      const loose = unindexedPacks({
        stored: [...stored.values()],
        indexed,
        uploading,
        now,
        graceMs,
        ...(options.skewMs !== undefined ? { skewMs: options.skewMs } : {}),
      });
      if (loose.length > 0) {
        const bytes = loose.reduce((s, id) => s + stored.get(id)!.size, 0);
        if (!dryRun) {
          await step('unindexed', `${loose.length} packs`);
          await store.delete(loose.map((id) => packObjectKey(service, id)));
        }
        deleted(result.leftovers.unindexedPacks, loose.length, bytes);
      }
    }
    if (!pastDeadline() && canReapIncompleteUploads(store)) {
      for await (const u of store.listIncompleteUploads(`${service}/`)) {
        if (!isOld(u.initiated?.getTime(), now, graceMs)) continue;
        if (!dryRun) {
          await step('abort-upload', u.key);
          await store.abortIncompleteUpload(u);
        }
        result.leftovers.uploadsAborted++;
      }
    }
    if (!pastDeadline() && canListTempFiles(store)) {
      const temps = (await collect(store.listTempFiles(`${service}/`))).filter((o) => isOld(o.lastModified?.getTime(), now, graceMs));
      if (temps.length > 0) {
        if (!dryRun) {
          await step('temp-files', `${temps.length} files`);
          await store.delete(temps.map((t) => t.key));
        }
        deleted(
          result.leftovers.tempFiles,
          temps.length,
          temps.reduce((s, t) => s + t.size, 0),
        );
      }
    }
    if (!pastDeadline()) {
      const catalogued = new Set(summaries.map((s) => s.id));
      const objects = snapshotObjects.flatMap((o) => {
        const p = parseSnapshotObjectKey(o.key);
        return p ? [{ key: o.key, snapshotId: p.snapshotId, size: o.size, ...(o.lastModified ? { lastModified: o.lastModified.getTime() } : {}) }] : [];
      });
      const orphans = new Set(orphanSnapshotObjects(objects, catalogued, now, graceMs));
      if (orphans.size > 0) {
        // Re-read the catalog: a snapshot that began after the first read has objects but was not in it.
        const again = new Set<string>();
        for await (const s of ctx.catalog.summaries(service)) again.add(s.id);
        const doomed = objects.filter((o) => orphans.has(o.key) && !again.has(o.snapshotId));
        if (doomed.length > 0) {
          if (!dryRun) {
            await step('orphans', `${doomed.length} objects`);
            await store.delete(doomed.map((o) => o.key));
          }
          deleted(
            result.leftovers.orphanObjects,
            doomed.length,
            doomed.reduce((s, o) => s + o.size, 0),
          );
        }
      }
    }
    return result;
  } finally {
    if (lease) await lease.release(service, holder).catch(() => undefined);
  }
}

/**
 * Copies the referenced blobs of sparse packs into new packs and writes their index file.
 * Returns the sparse packs whose blobs are now safely elsewhere (all of them, or none if a
 * pack could not be read).
 */
async function repack(
  store: ObjectStore,
  service: string,
  mark: ReturnType<typeof planMark>,
  options: GcOptions,
  step: (name: GcStep, detail: string) => Promise<void>,
  clock: () => Date,
  indexFiles: IndexFile[],
  avoid: ReadonlySet<string>,
): Promise<{ ok: string[]; blobs: number; newPacks: number; newBytes: number }> {
  const controller = new AbortController();
  const writer = new PackWriter({ store, service, targetBytes: options.packBytes ?? DEFAULT_PACK_BYTES, uploads: 2, signal: controller.signal, avoid });
  const byPack = new Map<string, string[]>();
  for (const [blob, pack] of mark.homes) byPack.set(pack, [...(byPack.get(pack) ?? []), blob]);
  const indexByPack = new Map<string, IndexPack>();
  for (const f of indexFiles) for (const p of f.packs) if (!indexByPack.has(p.id)) indexByPack.set(p.id, p);
  await step('repack-packs', `${mark.sparse.length} packs`);
  let blobs = 0;
  try {
    for (const id of mark.sparse) {
      const pack = indexByPack.get(id)!;
      const wanted = new Set(byPack.get(id) ?? []);
      const bytes = await store.getRange(packObjectKey(service, id), 0, pack.size);
      for (const [blob, offset, length, rawLength, c] of pack.blobs) {
        if (!wanted.has(blob)) continue;
        wanted.delete(blob);
        writer.add(blob, rawLength, c === 1 ? 'zstd' : 'none', Buffer.from(bytes.subarray(offset, offset + length)));
        blobs++;
      }
      await writer.whenRoom();
    }
    await writer.finish();
  } catch (err) {
    controller.abort();
    await writer.settle();
    // New packs without an index are unindexed leftovers; the next run removes them.
    throw err;
  }
  if (writer.written.length > 0) {
    await step('repack-index', `${writer.written.length} packs`);
    const id = `gc-${compactTime(clock())}-${randomBytes(4).toString('hex')}`;
    const { key } = await writeIndex(store, service, id, writer.written);
    indexFiles.push({ key, packs: [...writer.written] });
  }
  return { ok: mark.sparse, blobs, newPacks: writer.written.length, newBytes: writer.storedBytes };
}
