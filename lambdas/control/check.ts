/**
 * `lifeboat check`: are the complete (and expiring) snapshots of a service still restorable
 * from what is in the store? restic's `check`, for both snapshot formats.
 *
 * Without reading data (cheap: one LIST of the packs, one per v1 snapshot, the manifests
 * and the index files):
 * - v1: every part the manifest names exists with the manifest's size;
 * - v2: every blob the manifest names is in the index (and not only in a pack GC condemned),
 *   and the pack the index places it in exists with the indexed size.
 *
 * Reading data (`readData: all`, or a subset of the objects): each needed pack is read
 * once, as one stream, never held whole: its trailer (a ranged read of the tail) must decode
 * and agree with the index, its header must be right, every blob is decompressed into at most
 * its declared raw length and must hash to its id, and the whole pack must hash to its name.
 * A v1 part is streamed and its SHA-256 compared with the manifest.
 *
 * Damage is attributed to the snapshots it breaks: a missing or truncated pack to every
 * snapshot that needs a blob from it, a bad blob only to the snapshots whose files use it.
 * Store or catalog errors (unreachable, no permission) are not damage: they end the check
 * (UnavailableError, exit 3).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import pLimit from 'p-limit';
import type { SnapshotCatalog } from '../adapters/catalog.js';
import { ObjectNotFoundError, type ObjectStore, ShortObjectError } from '../adapters/stores/store.js';
import { isManifestV2Key, packObjectKey, parsePackObjectKey, serviceIndexPrefix, servicePacksPrefix, snapshotPrefix } from '../contract/keys.js';
import { BlobIndex, type IndexBlobRow, MAX_BLOB_BYTES, validateIndex } from '../domain/blob-index.js';
import { buildCheckReport, type CheckReport, type PackProblem, ProblemList, type ReadDataMode, type SnapshotCheck, selectSubset } from '../domain/check.js';
import { AbortedError, IntegrityError } from '../domain/errors.js';
import type { ManifestV2 } from '../domain/manifest-v2.js';
import { compressionCode, decodePackFooter, decodePackTrailer, PACK_FOOTER_BYTES, PACK_MAGIC, type PackedBlob, packTailBytes } from '../domain/pack.js';
import type { SnapshotRecord } from '../domain/snapshot.js';
import { fetchManifest } from '../engine/restore.js';
import { fetchManifestV2, loadCondemned, MAX_INDEX_JSON_BYTES, readGzipJson } from '../engine/v2/repo.js';

const zstd = createRequire(import.meta.url)('zstd-napi/binding') as { decompress(dst: Uint8Array, src: Uint8Array): number };

export const DEFAULT_CHECK_CONCURRENCY = 4;
/** The first read of a pack's tail: enough for the trailer of ~1,400 blobs in one request. */
const TAIL_GUESS = 64 * 1024;

export interface CheckOptions {
  catalog: SnapshotCatalog;
  store: ObjectStore;
  services: readonly string[];
  /** Default: existence and sizes only. */
  readData?: ReadDataMode;
  /** Packs or parts read at once (default 4). Each holds at most one blob in memory. */
  concurrency?: number;
  signal?: AbortSignal;
  /** A line per service and phase, for the user's terminal. */
  onNotice?: (line: string) => void;
}

/** A random seed for `--read-data-subset` without `--seed` (printed, so the run can be repeated). */
export const randomSeed = (): string => randomBytes(4).toString('hex');

/** A damaged object, or something the store says is not there, becomes a problem line; anything else ends the check. */
function problemOf(err: unknown): string {
  if (err instanceof IntegrityError || err instanceof ObjectNotFoundError || err instanceof ShortObjectError) return err.message;
  throw err;
}

interface Counters {
  packsChecked: number;
  partsChecked: number;
  packsRead: number;
  partsRead: number;
  bytesRead: number;
}

interface V2Snapshot {
  record: SnapshotRecord;
  check: SnapshotCheck;
  problems: ProblemList;
  /** Pack → how many of this snapshot's blobs it holds. */
  packs: Map<string, number>;
  /** Expiring and its manifest is gone: retention is deleting it. */
  deleting: boolean;
}

/** The service's index as restore sees it, plus what check needs to explain a miss. */
interface LoadedIndex {
  index: BlobIndex;
  /** Blob → a condemned pack that holds it (only for blobs no live pack holds). */
  condemnedBlobs: Map<string, string>;
  /** Pack → the index rows that place blobs in it (to compare with the pack's trailer). */
  rows: Map<string, IndexBlobRow[]>;
  /** Index files or condemned lists that could not be read: every v2 restore of the service fails on them. */
  problems: string[];
}

async function loadIndexForCheck(store: ObjectStore, service: string, counters: Counters, signal?: AbortSignal): Promise<LoadedIndex> {
  const problems: string[] = [];
  let condemned = new Set<string>();
  try {
    condemned = await loadCondemned(store, service, signal);
  } catch (err) {
    problems.push(`a condemned list of GC is unreadable: ${problemOf(err)}`);
  }
  const keys: string[] = [];
  for await (const o of store.list(serviceIndexPrefix(service))) keys.push(o.key);
  const limit = pLimit(8);
  const docs = await Promise.all(
    keys.map((key) =>
      limit(async () => {
        try {
          const { doc, size } = await readGzipJson(store, key, MAX_INDEX_JSON_BYTES, signal);
          counters.bytesRead += size;
          return validateIndex(doc, key, service);
        } catch (err) {
          problems.push(`index file ${key} is unreadable: ${problemOf(err)}`);
          return undefined;
        }
      }),
    ),
  );
  const index = new BlobIndex();
  const condemnedBlobs = new Map<string, string>();
  const rows = new Map<string, IndexBlobRow[]>();
  for (const d of docs) {
    if (!d) continue;
    index.add(d, condemned);
    for (const p of d.packs) {
      if (condemned.has(p.id)) for (const r of p.blobs) condemnedBlobs.set(r[0], p.id);
      else if (!rows.has(p.id)) rows.set(p.id, p.blobs);
    }
  }
  for (const b of [...condemnedBlobs.keys()]) if (index.has(b)) condemnedBlobs.delete(b);
  return { index, condemnedBlobs, rows, problems };
}

/** The blobs of a v2 manifest, each with the first file that uses it (for messages). */
function blobsOf(manifest: ManifestV2): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of manifest.entries) if (e.type === 'file') for (const b of e.blobs) if (!out.has(b)) out.set(b, e.path);
  return out;
}

const isGone = (err: unknown) => err instanceof ObjectNotFoundError;

/**
 * Reads one pack whole, as a stream, verifying it against its trailer, the index and its
 * name. Holds at most one blob (≤ MAX_BLOB_BYTES stored, the same raw) at a time.
 * Returns problems of the pack as a whole and of single blobs.
 */
async function readPack(
  store: ObjectStore,
  service: string,
  packId: string,
  size: number,
  rows: readonly IndexBlobRow[],
  counters: Counters,
  signal?: AbortSignal,
): Promise<{ pack: string[]; blobs: Map<string, string> }> {
  const key = packObjectKey(service, packId);
  const pack: string[] = [];
  const blobs = new Map<string, string>();
  counters.packsRead++;
  // 1. The trailer, from the tail: it says where every blob is.
  let trailer: PackedBlob[];
  try {
    if (size < PACK_MAGIC.length + PACK_FOOTER_BYTES) throw new IntegrityError(`pack ${packId} is damaged: ${size} bytes is shorter than a header and footer`);
    let tail = await store.getRange(key, size - Math.min(size, TAIL_GUESS), Math.min(size, TAIL_GUESS), { signal });
    counters.bytesRead += tail.length;
    const { entries } = decodePackFooter(packId, tail.subarray(tail.length - PACK_FOOTER_BYTES));
    const need = packTailBytes(entries);
    if (need + PACK_MAGIC.length > size) throw new IntegrityError(`pack ${packId} is damaged: footer lists ${entries} blobs, more than the pack can hold`);
    if (need > tail.length) {
      tail = await store.getRange(key, size - need, need, { signal });
      counters.bytesRead += tail.length;
    }
    trailer = decodePackTrailer(packId, tail, size);
  } catch (err) {
    pack.push(problemOf(err));
    return { pack, blobs };
  }
  // 2. The trailer and the index must agree on every blob the index places here.
  const byId = new Map(trailer.map((b) => [b.id, b]));
  for (const [id, offset, length, rawLength, c] of rows) {
    const t = byId.get(id);
    if (!t) blobs.set(id, `the index places blob ${id} in pack ${packId}, whose trailer does not list it`);
    else if (t.offset !== offset || t.length !== length || t.rawLength !== rawLength || compressionCode(t.compression) !== c) {
      blobs.set(
        id,
        `the index and the trailer of pack ${packId} disagree on blob ${id} (index: ${length} bytes at ${offset}, pack: ${t.length} bytes at ${t.offset})`,
      );
    }
  }
  // 3. Stream the pack: header, then each blob in trailer order, then the trailer bytes.
  const hash = createHash('sha256');
  let pos = 0;
  let i = 0;
  let cur: Buffer | undefined;
  let filled = 0;
  const header = Buffer.alloc(PACK_MAGIC.length);
  const start = (b: PackedBlob) => {
    // The trailer's sizes are bounded before anything is allocated from them.
    if (b.length > MAX_BLOB_BYTES || b.rawLength > MAX_BLOB_BYTES) {
      blobs.set(b.id, `blob ${b.id} in pack ${packId} claims ${b.length} stored / ${b.rawLength} raw bytes, more than any blob may have`);
      return undefined;
    }
    return Buffer.allocUnsafe(b.length);
  };
  const finish = (b: PackedBlob, stored: Buffer) => {
    const problem = verifyBlob(packId, b, stored);
    if (problem) blobs.set(b.id, problem);
  };
  try {
    const body = await store.get(key, { signal });
    for await (const c of body) {
      const chunk = c as Buffer;
      hash.update(chunk);
      let at = 0;
      while (at < chunk.length) {
        if (pos < PACK_MAGIC.length) {
          const n = Math.min(PACK_MAGIC.length - pos, chunk.length - at);
          chunk.copy(header, pos, at, at + n);
          pos += n;
          at += n;
          continue;
        }
        const b = trailer[i];
        if (!b) {
          pos += chunk.length - at; // the trailer itself: already verified by its own hash
          break;
        }
        if (filled === 0 && !cur) cur = start(b);
        const n = Math.min(b.length - filled, chunk.length - at);
        if (cur) chunk.copy(cur, filled, at, at + n);
        filled += n;
        pos += n;
        at += n;
        if (filled === b.length) {
          if (cur) finish(b, cur);
          cur = undefined;
          filled = 0;
          i++;
        }
      }
    }
  } catch (err) {
    if (err instanceof AbortedError || signal?.aborted) throw err;
    pack.push(`pack ${packId} could not be read to its end: ${problemOf(err)}`);
    return { pack, blobs };
  } finally {
    counters.bytesRead += pos;
  }
  // An empty pack (no blobs) has nothing to finish; a zero-length blob finishes here.
  for (; trailer[i]?.length === 0; i++) finish(trailer[i]!, Buffer.alloc(0));
  if (!header.equals(PACK_MAGIC)) pack.push(`pack ${packId} is damaged: its header is not ${JSON.stringify(PACK_MAGIC.toString('latin1'))}`);
  if (pos !== size) pack.push(`pack ${packId} is ${pos} bytes when read, the index says ${size}`);
  else if (pack.length === 0 && blobs.size === 0 && hash.digest('hex') !== packId) pack.push(`pack ${packId} does not hash to its name`);
  return { pack, blobs };
}

/** Stored bytes → a problem line, or undefined when the blob decompresses to exactly its raw length and hashes to its id. */
function verifyBlob(packId: string, b: PackedBlob, stored: Buffer): string | undefined {
  const where = `blob ${b.id} in pack ${packId}`;
  let raw = stored;
  if (b.compression === 'none') {
    if (b.length !== b.rawLength) return `${where}: stored and raw sizes differ for an uncompressed blob`;
  } else {
    raw = Buffer.allocUnsafe(b.rawLength);
    let n: number;
    try {
      n = zstd.decompress(raw, stored);
    } catch (err) {
      return `${where} does not decompress to its declared ${b.rawLength} bytes (${(err as Error).message})`;
    }
    if (n !== b.rawLength) return `${where} decompresses to ${n} bytes, not its declared ${b.rawLength}`;
  }
  if (createHash('sha256').update(raw).digest('hex') !== b.id) return `${where}: content SHA-256 does not match`;
  return undefined;
}

/** Streams a v1 part: its size and SHA-256 against the manifest. */
async function readPart(store: ObjectStore, part: { key: string; size: number; sha256: string }, counters: Counters, signal?: AbortSignal): Promise<string[]> {
  counters.partsRead++;
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const c of await store.get(part.key, { signal })) {
      hash.update(c as Buffer);
      size += (c as Buffer).length;
    }
  } catch (err) {
    if (signal?.aborted) throw err;
    return [`part ${part.key} could not be read: ${problemOf(err)}`];
  } finally {
    counters.bytesRead += size;
  }
  if (size !== part.size) return [`part ${part.key} is ${size} bytes when read, the manifest says ${part.size}`];
  if (hash.digest('hex') !== part.sha256) return [`part ${part.key}: SHA-256 does not match the manifest`];
  return [];
}

/** Checks every complete and expiring snapshot of `services`. Never throws for damage: that is the report. */
export async function checkSnapshots(o: CheckOptions): Promise<CheckReport> {
  const started = Date.now();
  const readData = o.readData ?? { mode: 'none' };
  const counters: Counters = { packsChecked: 0, partsChecked: 0, packsRead: 0, partsRead: 0, bytesRead: 0 };
  const snapshots: SnapshotCheck[] = [];
  const damagedObjects: PackProblem[] = [];
  for (const service of o.services) {
    if (o.signal?.aborted) throw new AbortedError('check aborted');
    const r = await checkService(service, o, readData, counters);
    snapshots.push(...r.snapshots);
    damagedObjects.push(...r.damagedObjects);
  }
  return buildCheckReport({ readData, services: [...o.services], snapshots, damagedObjects, counts: { ...counters, durationMs: Date.now() - started } });
}

async function checkService(
  service: string,
  o: CheckOptions,
  readData: ReadDataMode,
  counters: Counters,
): Promise<{ snapshots: SnapshotCheck[]; damagedObjects: PackProblem[] }> {
  const notice = o.onNotice ?? (() => undefined);
  const signal = o.signal;
  const records: SnapshotRecord[] = [];
  for await (const r of o.catalog.list(service)) if (r.status === 'complete' || r.status === 'expiring') records.push(r);
  records.reverse(); // oldest first: the order they were taken
  const damagedObjects: PackProblem[] = [];
  const damagedObject = (object: string, problems: string[]) => {
    if (problems.length) damagedObjects.push({ service, object, problems });
  };
  const newCheck = (record: SnapshotRecord, format: 'v1' | 'v2'): SnapshotCheck => ({
    service,
    id: record.id,
    status: record.status as 'complete' | 'expiring',
    format,
    result: 'ok',
    problems: [],
    problemCount: 0,
    objects: 0,
  });
  const finishCheck = (c: SnapshotCheck, problems: ProblemList, deleting = false) => {
    c.problems = problems.items;
    c.problemCount = problems.count;
    c.result = deleting ? 'deleting' : problems.count > 0 ? 'damaged' : 'ok';
  };
  const manifests = pLimit(2);
  const reads = pLimit(Math.max(1, o.concurrency ?? 4));
  notice(`checking ${records.length} snapshot(s) of ${service}`);

  // ---- v1: parts exist with their sizes; with read-data, their SHA-256.
  const v1 = records.filter((r) => !isManifestV2Key(r.manifestKey));
  const v1Reads: { check: SnapshotCheck; problems: ProblemList; part: { key: string; size: number; sha256: string } }[] = [];
  const v1Checks = await Promise.all(
    v1.map((record) =>
      manifests(async () => {
        const check = newCheck(record, 'v1');
        const problems = new ProblemList();
        let manifest: Awaited<ReturnType<typeof fetchManifest>>['manifest'];
        try {
          const got = await fetchManifest(o.store, record);
          counters.bytesRead += got.size;
          manifest = got.manifest;
        } catch (err) {
          const gone = isGone(err);
          problems.add(`manifest: ${problemOf(err)}`);
          return { check, problems, deleting: gone && record.status === 'expiring' };
        }
        check.objects = manifest.parts.length;
        const stored = new Map<string, number>();
        for await (const obj of o.store.list(snapshotPrefix(service, record.id))) stored.set(obj.key, obj.size);
        let missing = 0;
        for (const part of manifest.parts) {
          counters.partsChecked++;
          const size = stored.get(part.key);
          if (size === undefined) {
            missing++;
            problems.add(`part ${part.key} is missing`);
          } else if (size !== part.size) problems.add(`part ${part.key} is ${size} bytes, the manifest says ${part.size}`);
          else v1Reads.push({ check, problems, part });
        }
        return { check, problems, deleting: record.status === 'expiring' && missing > 0 };
      }),
    ),
  );

  // ---- v2: every blob indexed (not condemned); its pack exists with the indexed size.
  const v2Records = records.filter((r) => isManifestV2Key(r.manifestKey));
  const v2: V2Snapshot[] = [];
  let loaded: LoadedIndex | undefined;
  const present = new Map<string, number>();
  if (v2Records.length > 0) {
    loaded = await loadIndexForCheck(o.store, service, counters, signal);
    for await (const obj of o.store.list(servicePacksPrefix(service))) {
      const id = parsePackObjectKey(service, obj.key);
      if (id) present.set(id, obj.size);
    }
    const { index, condemnedBlobs } = loaded;
    await Promise.all(
      v2Records.map((record) =>
        manifests(async () => {
          const s: V2Snapshot = { record, check: newCheck(record, 'v2'), problems: new ProblemList(), packs: new Map(), deleting: false };
          v2.push(s);
          for (const p of loaded!.problems) s.problems.add(p);
          let manifest: ManifestV2;
          try {
            const got = await fetchManifestV2(o.store, record, signal);
            counters.bytesRead += got.size;
            manifest = got.manifest;
          } catch (err) {
            s.problems.add(`manifest: ${problemOf(err)}`);
            s.deleting = isGone(err) && record.status === 'expiring';
            return;
          }
          for (const [blob, path] of blobsOf(manifest)) {
            const loc = index.get(blob);
            if (!loc) {
              const condemned = condemnedBlobs.get(blob);
              s.problems.add(
                condemned
                  ? `blob ${blob} (file "${path}") is only in pack ${condemned}, which GC condemned`
                  : `blob ${blob} (file "${path}") is in no index (its pack was deleted or never indexed)`,
              );
            } else s.packs.set(loc.pack, (s.packs.get(loc.pack) ?? 0) + 1);
          }
          s.check.objects = s.packs.size;
        }),
      ),
    );
  }

  // Every needed pack exists with the size the index gives it.
  const packProblems = new Map<string, string[]>();
  const needed = new Set<string>();
  for (const s of v2) for (const p of s.packs.keys()) needed.add(p);
  for (const p of needed) {
    counters.packsChecked++;
    const want = loaded!.index.packs.get(p)!;
    const got = present.get(p);
    if (got === undefined) packProblems.set(p, [`pack ${p} is missing`]);
    else if (got !== want) packProblems.set(p, [`pack ${p} is ${got} bytes, the index says ${want} (truncated or replaced)`]);
  }

  // ---- Read data: every sound pack and part, or the chosen subset of them.
  const readable = [...needed].filter((p) => !packProblems.has(p)).map((p) => `pack:${p}`);
  const partKeys = v1Reads.map((r) => `part:${r.part.key}`);
  const chosen =
    readData.mode === 'all'
      ? new Set([...readable, ...partKeys])
      : readData.mode === 'subset'
        ? selectSubset([...readable, ...partKeys], readData.percent, `${readData.seed}`)
        : new Set<string>();
  if (chosen.size > 0) notice(`${service}: reading ${chosen.size} of ${readable.length + partKeys.length} pack(s) and part(s)`);
  /** `<pack> <blob>` → what is wrong with that copy of the blob. */
  const badBlobs = new Map<string, string>();
  const blobPacks = new Set<string>();
  const jobs: Promise<void>[] = [];
  for (const key of readable) {
    if (!chosen.has(key)) continue;
    const p = key.slice('pack:'.length);
    jobs.push(
      reads(async () => {
        const r = await readPack(o.store, service, p, present.get(p)!, loaded!.rows.get(p) ?? [], counters, signal);
        if (r.pack.length) packProblems.set(p, r.pack);
        for (const [b, what] of r.blobs) badBlobs.set(`${p} ${b}`, what);
        if (r.blobs.size) blobPacks.add(p);
        damagedObject(p, [...r.pack, ...r.blobs.values()]);
      }),
    );
  }
  const readParts = v1Reads.filter((r) => chosen.has(`part:${r.part.key}`));
  for (const r of readParts) {
    jobs.push(
      reads(async () => {
        const problems = await readPart(o.store, r.part, counters, signal);
        for (const p of problems) r.problems.add(p);
        damagedObject(r.part.key, problems);
      }),
    );
  }
  await Promise.all(jobs);
  for (const [p, problems] of packProblems) if (!damagedObjects.some((d) => d.object === p)) damagedObject(p, problems);

  // Attribute pack damage to every snapshot that needs the pack; blob damage only to the
  // snapshots whose files use the blob (their manifest is read again: damage is rare).
  const out: SnapshotCheck[] = [];
  for (const r of v1Checks) {
    finishCheck(r.check, r.problems, r.deleting);
    out.push(r.check);
  }
  await Promise.all(
    v2.map((s) =>
      manifests(async () => {
        for (const [p, n] of s.packs) for (const what of packProblems.get(p) ?? []) s.problems.add(`${what} (it holds ${n} blob(s) of this snapshot)`);
        if (![...s.packs.keys()].some((p) => blobPacks.has(p))) return;
        let manifest: ManifestV2;
        try {
          const got = await fetchManifestV2(o.store, s.record, signal);
          counters.bytesRead += got.size;
          manifest = got.manifest;
        } catch (err) {
          s.problems.add(`manifest: ${problemOf(err)}`);
          return;
        }
        // Only the copy restore would read counts: the one the index locates.
        for (const [blob, path] of blobsOf(manifest)) {
          const what = badBlobs.get(`${loaded!.index.get(blob)?.pack} ${blob}`);
          if (what) s.problems.add(`${what} (file "${path}")`);
        }
      }),
    ),
  );
  for (const s of v2) {
    finishCheck(s.check, s.problems, s.deleting);
    out.push(s.check);
  }
  const order = new Map(records.map((r, i) => [r.id, i]));
  out.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  for (const c of out) if (c.result === 'damaged') notice(`${service}/${c.id}: damaged (${c.problemCount} problem(s))`);
  return { snapshots: out, damagedObjects };
}
