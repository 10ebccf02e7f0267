/**
 * The object store behind snapshots. Two backends implement it (S3 and a local directory)
 * and one shared test suite (test/integration/object-store.test.ts) runs against both.
 *
 * Retry contract: a backend retries transient faults itself (the S3 backend through the
 * SDK's standard retry strategy, `AWS_MAX_ATTEMPTS`), so callers never loop. Anything
 * thrown is final for that call.
 */
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { LifeboatError, UsageError } from '../../domain/errors.js';

export interface ObjectInfo {
  key: string;
  size: number;
  /** When the object was written (GC's grace period is measured from it). */
  lastModified?: Date;
}

export interface PutOptions {
  /** Aborting removes whatever was written (S3: aborts the multipart upload). */
  signal?: AbortSignal;
  contentType?: string;
  /**
   * What a put over an existing key does. Snapshot writers append only (docs/SECURITY.md):
   * - 'refuse' (default): throws ObjectExistsError and leaves the existing object alone
   *   (S3: `If-None-Match: *`, which the bucket policy demands of task roles);
   * - 'keep': the key is content-addressed (a pack named by its SHA-256), so an existing
   *   object is this one: keep it and report its size;
   * - 'replace': overwrite (control-plane writers only, e.g. drill reports).
   */
  existing?: 'refuse' | 'keep' | 'replace';
}

export interface ObjectStore {
  /** Where the store is, as a URL a user could pass back: s3://bucket/prefix, file:///dir. */
  readonly url: string;

  /** Throws UnavailableError when the store is missing or unreachable. */
  check(): Promise<void>;

  /** Creates the bucket or directory when missing; harmless to call twice. */
  ensure(): Promise<'created' | 'exists'>;

  /**
   * Streams `body` to `key` with bounded memory. The object becomes visible under `key`
   * only once complete; on error or abort nothing is left behind.
   */
  put(key: string, body: Readable, options?: PutOptions): Promise<{ size: number }>;

  /** Opens `key` for reading. Throws ObjectNotFoundError when it does not exist. */
  get(key: string, options?: { signal?: AbortSignal }): Promise<Readable>;

  /**
   * `length` bytes of `key` from `offset` (S3: a ranged GET). Throws ObjectNotFoundError
   * when the object does not exist and ShortObjectError when it ends before the range does.
   * Callers keep ranges small (tens of MiB): the bytes are returned in one buffer.
   */
  getRange(key: string, offset: number, length: number, options?: { signal?: AbortSignal }): Promise<Buffer>;

  /** The object's size, or undefined when it does not exist. */
  head(key: string): Promise<{ size: number } | undefined>;

  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;

  /** Deletes the keys; keys that do not exist are not an error. */
  delete(keys: readonly string[]): Promise<void>;
}

export class ObjectNotFoundError extends LifeboatError {
  readonly exitCode = 1 as const;
  constructor(
    readonly key: string,
    storeUrl: string,
  ) {
    super(`object ${key} does not exist in ${storeUrl}`);
  }
}

/** A put found its key taken: stored objects are never overwritten (docs/SECURITY.md). */
export class ObjectExistsError extends LifeboatError {
  readonly exitCode = 1 as const;
  constructor(
    readonly key: string,
    storeUrl: string,
  ) {
    super(`object ${key} already exists in ${storeUrl}; stored objects are never overwritten`, {
      hint: 'write under a new key (a new snapshot id); only the control plane deletes objects',
    });
  }
}

/** The object is shorter than a range asked of it: truncated, or not the object expected. */
export class ShortObjectError extends LifeboatError {
  readonly exitCode = 1 as const;
  constructor(
    readonly key: string,
    readonly offset: number,
    readonly length: number,
    readonly got: number,
  ) {
    super(`object ${key} is too short: asked for ${length} bytes at ${offset}, got ${got}`);
  }
}

const sameStore = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

/**
 * The error to report for `err`, met reading a snapshot's manifest from `tried`: a missing
 * manifest of a snapshot whose catalog entry recorded another store becomes an error naming
 * both and the flag that fixes it. Anything else (and entries that record no store, written
 * before stores were recorded) is returned as it is.
 */
export function wrongStoreError(err: unknown, snap: { service: string; id: string; manifestKey: string; store?: string }, tried: string): unknown {
  if (!(err instanceof ObjectNotFoundError) || snap.store === undefined || sameStore(snap.store, tried)) return err;
  return new UsageError(
    `snapshot ${snap.id} of ${snap.service} is not in ${tried} (its manifest ${snap.manifestKey} is missing there); the catalog recorded it in ${snap.store}`,
    { hint: `restore from the store it was written to: --store ${snap.store} (or LIFEBOAT_STORE)` },
  );
}

/** A multipart upload that was started and never completed or aborted (S3 only). */
export interface IncompleteUpload {
  /** Key relative to the store root, like every other key. */
  key: string;
  uploadId: string;
  initiated?: Date;
}

/**
 * Optional capability: stores with server-side multipart uploads (S3) can list and abort
 * the ones a crashed writer left behind; they cost storage until aborted.
 */
export interface IncompleteUploadsCapability {
  /** Incomplete uploads whose key starts with `prefix`. */
  listIncompleteUploads(prefix: string): AsyncIterable<IncompleteUpload>;
  /** Aborts one; an upload that is already gone is not an error. */
  abortIncompleteUpload(upload: IncompleteUpload): Promise<void>;
}

/** S3 Object Lock state of one object: a retain-until date (any mode) and/or a legal hold. */
export interface ObjectLockState {
  retainUntil?: Date;
  mode?: string;
  legalHold: boolean;
}

/** Optional capability: stores that can tell whether an object is under S3 Object Lock. */
export interface ObjectLockCapability {
  /**
   * The object's lock state; undefined when it does not exist or the store has no Object
   * Lock (not supported or not configured counts as "no lock").
   */
  objectLock(key: string): Promise<ObjectLockState | undefined>;
}

export function canReapIncompleteUploads(store: ObjectStore): store is ObjectStore & IncompleteUploadsCapability {
  const s = store as Partial<IncompleteUploadsCapability>;
  return typeof s.listIncompleteUploads === 'function' && typeof s.abortIncompleteUpload === 'function';
}

/**
 * Optional capability: stores that write through temporary siblings (the directory store)
 * can list the ones a killed writer left behind, so GC can remove them; `delete` takes
 * their keys like any other.
 */
export interface TempFilesCapability {
  /** Leftover temporary files whose key starts with `prefix` (their keys include the temp mark). */
  listTempFiles(prefix: string): AsyncIterable<ObjectInfo>;
}

export function canListTempFiles(store: ObjectStore): store is ObjectStore & TempFilesCapability {
  return typeof (store as Partial<TempFilesCapability>).listTempFiles === 'function';
}

export function canReadObjectLock(store: ObjectStore): store is ObjectStore & ObjectLockCapability {
  return typeof (store as Partial<ObjectLockCapability>).objectLock === 'function';
}

/** What a backend's factory gets besides the URL: the environment, and the runtime's shared clients when there is one. */
export interface StoreContext {
  env: Record<string, string | undefined>;
  /** The runtime's S3 client (made on first use); without it the backend makes its own from `env`. */
  s3?: () => S3Client;
}

/** One kind of store, opened by URL scheme (registered in registry.ts). */
export interface StoreBackend {
  /** The URL scheme with its colon, as `new URL(url).protocol` gives it: `s3:`, `file:`. */
  readonly scheme: string;
  open(url: string, context: StoreContext): ObjectStore;
}

export const STORE_URL_HINT = 'use --store s3://BUCKET[/PREFIX] or --store file:///ABSOLUTE/PATH (or set LIFEBOAT_BUCKET)';
