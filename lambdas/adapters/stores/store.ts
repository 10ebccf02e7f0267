/**
 * The object store behind snapshots. Two backends implement it (S3 and a local directory)
 * and one shared test suite (test/integration/object-store.test.ts) runs against both.
 *
 * Retry contract: a backend retries transient faults itself (the S3 backend through the
 * SDK's standard retry strategy, `AWS_MAX_ATTEMPTS`), so callers never loop. Anything
 * thrown is final for that call.
 */
import type { Readable } from 'node:stream';
import { LifeboatError } from '../../domain/errors.js';

export interface ObjectInfo {
  key: string;
  size: number;
}

export interface PutOptions {
  /** Aborting removes whatever was written (S3: aborts the multipart upload). */
  signal?: AbortSignal;
  contentType?: string;
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
