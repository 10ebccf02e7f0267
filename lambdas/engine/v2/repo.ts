/**
 * Reading and writing the shared objects of format v2 (docs/FORMAT-V2.md): index files,
 * condemned lists, v2 manifests, packs. Every read has a stated bound, so a damaged or
 * hostile object fails with a clear error instead of exhausting memory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import pLimit from 'p-limit';
import { type ObjectStore, wrongStoreError } from '../../adapters/stores/store.js';
import { indexObjectKey, packObjectKey, serviceCondemnedPrefix, serviceIndexPrefix } from '../../contract/keys.js';
import { BlobIndex, INDEX_FORMAT, type IndexDocument, type IndexPack, indexPack, validateIndex } from '../../domain/blob-index.js';
import { IntegrityError } from '../../domain/errors.js';
import { type ManifestV2, validateManifestV2 } from '../../domain/manifest-v2.js';
import { type BlobCompression, encodePackTrailer, PACK_HEADER_BYTES, PACK_MAGIC, type PackedBlob } from '../../domain/pack.js';

const gunzipAsync = promisify(gunzip);

/** Target size of a pack (shared by snapshots and GC's repack). */
export const DEFAULT_PACK_BYTES = 16 * 1024 * 1024;

/** The parts of zstd-napi's native binding used to decode a whole frame. */
export interface NativeZstdDecoder {
  decompress(dst: Uint8Array, src: Uint8Array): number;
  getFrameContentSize(frame: Uint8Array): number | null;
}

let nativeZstd: NativeZstdDecoder | undefined;

/**
 * Engine modules that carry the native module (the snapshot and restore paths of the agent
 * and the CLI) register it here: a 1,000,000-file manifest then decodes natively, about ten
 * times faster. The control plane's Lambda bundles carry no native module and keep fzstd.
 */
export function registerNativeZstd(decoder: NativeZstdDecoder): void {
  nativeZstd = decoder;
}

/**
 * zstd frames are decoded block by block, stopping as soon as the output passes `maxBytes`:
 * natively when a frame that declares its size is registered (see above), else in pure
 * JavaScript (fzstd). Writers compress with the native module (snapshot-v2.ts).
 */
function inflateZstd(key: string, bytes: Uint8Array, maxBytes: number): Buffer {
  const tooLarge = new IntegrityError(`${key} expands to more than the ${maxBytes} bytes allowed; refusing to read it`);
  const declared = nativeZstd?.getFrameContentSize(bytes);
  if (nativeZstd && typeof declared === 'number') {
    if (declared > maxBytes) throw tooLarge;
    const out = Buffer.allocUnsafe(declared);
    try {
      if (nativeZstd.decompress(out, bytes) === declared) return out;
    } catch {
      // Several frames, or damage: the bounded decoder below says which.
    }
  }
  const parts: Buffer[] = [];
  let total = 0;
  const stream = new Decompress((chunk) => {
    total += chunk.length;
    if (total > maxBytes) throw tooLarge;
    parts.push(Buffer.from(chunk));
  });
  stream.push(bytes, true);
  return Buffer.concat(parts, total);
}
const gzipAsync = promisify(gzip);

/** Decompressed size limits: a manifest of ~1.5M files, an index of ~2M blobs. */
export const MAX_MANIFEST_V2_JSON_BYTES = 400 * 1024 * 1024;
export const MAX_INDEX_JSON_BYTES = 256 * 1024 * 1024;
const MAX_CONDEMNED_JSON_BYTES = 64 * 1024 * 1024;

async function readAll(store: ObjectStore, key: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const body = await store.get(key, { signal });
  for await (const c of body) {
    size += (c as Buffer).length;
    if (size > maxBytes) {
      body.destroy();
      throw new IntegrityError(`object ${key} is larger than ${maxBytes} bytes; refusing to read it`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Reads a compressed JSON object whose text may be at most `maxJsonBytes`: `check` sees the
 * stored bytes' SHA-256 before anything is decompressed, `inflate` must stop at the limit.
 */
async function readCompressedJson(
  store: ObjectStore,
  key: string,
  maxJsonBytes: number,
  inflate: (bytes: Buffer) => Promise<Buffer> | Buffer,
  signal?: AbortSignal,
  check?: (sha256: string) => void,
): Promise<{ doc: unknown; sha256: string; size: number }> {
  const bytes = await readAll(store, key, maxJsonBytes, signal);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  check?.(sha256);
  const text = await inflate(bytes);
  try {
    return { doc: JSON.parse(text.toString('utf8')), sha256, size: bytes.length };
  } catch (err) {
    throw new IntegrityError(`${key} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** A gzip'd JSON object (index files, condemned lists). */
export function readGzipJson(
  store: ObjectStore,
  key: string,
  maxJsonBytes: number,
  signal?: AbortSignal,
  check?: (sha256: string) => void,
): Promise<{ doc: unknown; sha256: string; size: number }> {
  const inflate = async (bytes: Buffer) => {
    try {
      return await gunzipAsync(bytes, { maxOutputLength: maxJsonBytes });
    } catch (err) {
      const tooBig = err instanceof RangeError || (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      throw new IntegrityError(
        tooBig ? `${key} expands to more than ${maxJsonBytes} bytes; refusing to read it` : `${key} is not readable gzip: ${(err as Error).message}`,
        { cause: err },
      );
    }
  };
  return readCompressedJson(store, key, maxJsonBytes, inflate, signal, check);
}

export async function writeGzipJson(store: ObjectStore, key: string, doc: unknown, signal?: AbortSignal): Promise<{ size: number; sha256: string }> {
  const bytes = await gzipAsync(Buffer.from(JSON.stringify(doc)));
  await store.put(key, Readable.from([bytes]), { signal, contentType: 'application/gzip' });
  return { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * zstd'd JSON (the v2 manifest: ~10 % smaller than gzip on lists of hashes, which keeps a
 * 20,000-file manifest under 1 MiB), decoded block by block up to `maxJsonBytes`.
 */
export function readZstdJson(
  store: ObjectStore,
  key: string,
  maxJsonBytes: number,
  signal?: AbortSignal,
  check?: (sha256: string) => void,
): Promise<{ doc: unknown; sha256: string; size: number }> {
  const inflate = (bytes: Buffer) => {
    try {
      return inflateZstd(key, bytes, maxJsonBytes);
    } catch (err) {
      if (err instanceof IntegrityError) throw err;
      throw new IntegrityError(`${key} is not readable zstd: ${(err as Error).message}`, { cause: err });
    }
  };
  return readCompressedJson(store, key, maxJsonBytes, inflate, signal, check);
}

/** A v2 manifest, checked against what the catalog says of it (hash, service, id). */
export async function fetchManifestV2(
  store: ObjectStore,
  snap: { service: string; id: string; manifestKey: string; manifestSha256?: string; store?: string },
  signal?: AbortSignal,
): Promise<{ manifest: ManifestV2; sha256: string; size: number }> {
  const { doc, sha256, size } = await readZstdJson(store, snap.manifestKey, MAX_MANIFEST_V2_JSON_BYTES, signal, (sha256) => {
    if (snap.manifestSha256 && sha256 !== snap.manifestSha256) {
      throw new IntegrityError(`manifest ${snap.manifestKey} of snapshot ${snap.id} is corrupted: its SHA-256 does not match the catalog`, {
        hint: 'restore an older snapshot with --snapshot ID',
      });
    }
  }).catch((err: unknown) => {
    // Missing from this store but recorded in another: name both (and the flag that fixes it).
    throw wrongStoreError(err, snap, store.url);
  });
  const manifest = validateManifestV2(doc);
  if (manifest.service !== snap.service || manifest.id !== snap.id) {
    throw new IntegrityError(`manifest ${snap.manifestKey} describes ${manifest.service}/${manifest.id}, not ${snap.service}/${snap.id}`);
  }
  return { manifest, sha256, size };
}

/** Pack ids GC has condemned (docs/FORMAT-V2.md §7): treated as absent by every reader. */
export async function loadCondemned(store: ObjectStore, service: string, signal?: AbortSignal): Promise<Set<string>> {
  const condemned = new Set<string>();
  for await (const o of store.list(serviceCondemnedPrefix(service))) {
    const { doc } = await readGzipJson(store, o.key, MAX_CONDEMNED_JSON_BYTES, signal);
    const packs = (doc as { packs?: unknown }).packs;
    if (!Array.isArray(packs)) throw new IntegrityError(`condemned list ${o.key} is malformed`);
    for (const p of packs) if (typeof p === 'string') condemned.add(p);
  }
  return condemned;
}

/**
 * The union of every index file of the service, without condemned packs. With
 * `fallbackToCondemned` (restore), a blob found only in a condemned pack is still located
 * there: a snapshot that began before the pack was condemned may use it until GC's sweep
 * rescues the pack (docs/ARCHITECTURE.md "Garbage collection").
 */
export async function loadIndex(
  store: ObjectStore,
  service: string,
  signal?: AbortSignal,
  options: { fallbackToCondemned?: boolean } = {},
): Promise<{ index: BlobIndex; condemned: Set<string>; files: number }> {
  const [condemned, keys] = await Promise.all([
    loadCondemned(store, service, signal),
    (async () => {
      const out: string[] = [];
      for await (const o of store.list(serviceIndexPrefix(service))) out.push(o.key);
      return out;
    })(),
  ]);
  const index = new BlobIndex();
  const limit = pLimit(8);
  const docs = await Promise.all(
    keys.map((key) =>
      limit(async () => {
        const { doc } = await readGzipJson(store, key, MAX_INDEX_JSON_BYTES, signal);
        return validateIndex(doc, key, service);
      }),
    ),
  );
  for (const d of docs) index.add(d, condemned);
  if (options.fallbackToCondemned) for (const d of docs) index.add(d);
  return { index, condemned, files: keys.length };
}

export async function writeIndex(
  store: ObjectStore,
  service: string,
  id: string,
  packs: IndexPack[],
  signal?: AbortSignal,
): Promise<{ key: string; size: number }> {
  const doc: IndexDocument = { format: INDEX_FORMAT, service, id, packs };
  const key = indexObjectKey(service, id);
  const { size } = await writeGzipJson(store, key, doc, signal);
  return { key, size };
}

export interface PackWriterOptions {
  store: ObjectStore;
  service: string;
  /** A pack is sealed and uploaded once it holds at least this many bytes. */
  targetBytes: number;
  /** Packs uploading at once. */
  uploads: number;
  signal: AbortSignal;
  /**
   * Pack ids this writer must not produce: packs condemned by GC. Packs are content-addressed,
   * so re-storing the same blobs would rewrite a condemned pack under its old key, which the
   * sweep may be deleting (docs/ARCHITECTURE.md "Garbage collection"); such a pack gets a
   * 16-byte random filler blob, which gives it a new id.
   */
  avoid?: ReadonlySet<string>;
}

/**
 * Gathers new blobs into packs and uploads them, a few at a time. `whenRoom` lets the
 * producer wait while uploads are saturated, which bounds memory.
 */
export class PackWriter {
  private blobs: PackedBlob[] = [];
  /** The open pack's bytes so far (`bytes` of them), in a buffer reused across packs. */
  private pack: Buffer;
  private bytes = PACK_HEADER_BYTES;
  // The pack id is the SHA-256 of its bytes, hashed as blobs arrive: sealing then does not
  // read the pack a second time.
  private hash = createHash('sha256').update(PACK_MAGIC);
  /** Buffers of uploaded packs, to be filled again (fresh memory costs a page fault per 4 KiB). */
  private readonly spare: Buffer[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  /** Packs stored so far, with their blobs (for the index). */
  readonly written: IndexPack[] = [];
  /** Blobs added (sealed or not): the snapshot's own dedup set. */
  readonly added = new Set<string>();
  storedBytes = 0;

  constructor(private readonly options: PackWriterOptions) {
    this.pack = this.takeBuffer();
  }

  private takeBuffer(): Buffer {
    const b = this.spare.pop() ?? Buffer.allocUnsafeSlow(this.options.targetBytes + 9 * 1024 * 1024);
    PACK_MAGIC.copy(b, 0);
    return b;
  }

  /** Copies `stored`: the caller may reuse it as soon as this returns. */
  add(id: string, rawLength: number, compression: BlobCompression, stored: Uint8Array): void {
    if (this.failure) throw this.failure;
    if (this.added.has(id)) return;
    this.added.add(id);
    if (this.bytes + stored.length > this.pack.length) {
      const bigger = Buffer.allocUnsafeSlow(this.bytes + stored.length);
      this.pack.copy(bigger, 0, 0, this.bytes);
      this.pack = bigger;
    }
    this.pack.set(stored, this.bytes);
    this.hash.update(stored);
    this.blobs.push({ id, offset: this.bytes, length: stored.length, rawLength, compression });
    this.bytes += stored.length;
    if (this.bytes >= this.options.targetBytes) this.seal();
  }

  private seal(): void {
    if (this.blobs.length === 0) return;
    const pack = this.pack;
    let blobs = this.blobs;
    let trailer = encodePackTrailer(blobs);
    let parts = [pack.subarray(0, this.bytes), trailer];
    let id = this.hash.copy().update(trailer).digest('hex');
    if (this.options.avoid?.has(id)) {
      const filler = randomBytes(16);
      blobs = [...blobs, { id: createHash('sha256').update(filler).digest('hex'), offset: this.bytes, length: 16, rawLength: 16, compression: 'none' }];
      trailer = encodePackTrailer(blobs);
      parts = [pack.subarray(0, this.bytes), filler, trailer];
      id = this.hash.update(filler).update(trailer).digest('hex');
    }
    const size = parts.reduce((n, b) => n + b.length, 0);
    this.blobs = [];
    this.bytes = PACK_HEADER_BYTES;
    this.hash = createHash('sha256').update(PACK_MAGIC);
    this.pack = this.takeBuffer();
    const upload = this.options.store
      .put(packObjectKey(this.options.service, id), Readable.from(parts, { objectMode: false }), {
        signal: this.options.signal,
        contentType: 'application/octet-stream',
        existing: 'keep',
      })
      .then(() => {
        this.written.push(indexPack(id, size, blobs));
        this.storedBytes += size;
        this.spare.push(pack);
      })
      .catch((err: unknown) => {
        this.failure ??= err;
      })
      .finally(() => this.inFlight.delete(upload));
    this.inFlight.add(upload);
  }

  /** Resolves once fewer than `uploads` packs are uploading; throws an upload's failure. */
  async whenRoom(): Promise<void> {
    while (this.inFlight.size >= this.options.uploads && !this.failure) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
  }

  /** Seals the last pack and waits for every upload. */
  async finish(): Promise<void> {
    if (!this.failure) this.seal();
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
  }

  /** Waits for uploads in flight without sealing (after a failure), ignoring their errors. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.inFlight);
  }
}
