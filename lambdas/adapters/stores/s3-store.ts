/**
 * ObjectStore on Amazon S3 or any S3-compatible endpoint.
 *
 * Uploads stream through @aws-sdk/lib-storage: multipart with `partSize` buffers and
 * `queueSize` parts in flight, so memory stays bounded whatever the object size; a failed
 * or aborted upload is aborted on the server (no orphaned parts from this process).
 */
import { type Readable, Transform } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  type BucketLocationConstraint,
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  paginateListObjectsV2,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { AbortedError, UnavailableError, UsageError } from '../../domain/errors.js';
import { createS3Client, errorName, httpStatus, translateAwsError } from '../aws.js';
import {
  type IncompleteUpload,
  type IncompleteUploadsCapability,
  type ObjectInfo,
  type ObjectLockCapability,
  type ObjectLockState,
  ObjectNotFoundError,
  type ObjectStore,
  type PutOptions,
  ShortObjectError,
  STORE_URL_HINT,
  type StoreBackend,
} from './store.js';

export interface S3StoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix inside the bucket; '' or ends with '/'. */
  prefix?: string;
  /** Multipart part size in bytes (S3 minimum 5 MiB). */
  partSize?: number;
  /** Parts uploaded concurrently per object. */
  queueSize?: number;
}

const DELETE_BATCH = 1000; // DeleteObjects accepts at most 1,000 keys per request

export class S3Store implements ObjectStore, IncompleteUploadsCapability, ObjectLockCapability {
  readonly url: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(options: S3StoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    const p = options.prefix ?? '';
    this.prefix = p === '' || p.endsWith('/') ? p : `${p}/`;
    this.partSize = options.partSize ?? 8 * 1024 * 1024;
    this.queueSize = options.queueSize ?? 4;
    this.url = `s3://${this.bucket}/${this.prefix}`;
  }

  private fail(err: unknown, action: string): never {
    const translated = translateAwsError(err, `bucket ${this.bucket}`);
    if (translated !== err) throw translated;
    if (errorName(err) === 'NoSuchBucket') throw this.missingBucket();
    const msg = err instanceof Error ? err.message : String(err);
    throw new UnavailableError(`${action} failed on ${this.url}: ${msg}`, { cause: err });
  }

  private missingBucket(): UnavailableError {
    return new UnavailableError(`bucket ${this.bucket} does not exist`, {
      hint: 'create it with `lifeboat init`, deploy the CDK construct, or fix LIFEBOAT_BUCKET / --store',
    });
  }

  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      if (httpStatus(err) === 404 || errorName(err) === 'NotFound' || errorName(err) === 'NoSuchBucket') throw this.missingBucket();
      this.fail(err, 'HeadBucket');
    }
  }

  async ensure(): Promise<'created' | 'exists'> {
    try {
      await this.check();
      return 'exists';
    } catch (err) {
      if (!(err instanceof UnavailableError) || !err.message.includes('does not exist')) throw err;
    }
    const region = await this.client.config.region();
    try {
      await this.client.send(
        new CreateBucketCommand({
          Bucket: this.bucket,
          // us-east-1 rejects an explicit LocationConstraint; every other region needs one.
          ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
        }),
      );
      return 'created';
    } catch (err) {
      if (errorName(err) === 'BucketAlreadyOwnedByYou') return 'exists';
      this.fail(err, 'CreateBucket');
    }
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<{ size: number }> {
    let size = 0;
    let bodyError: unknown;
    const counted = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        done(null, chunk);
      },
    });
    body.on('error', (err) => {
      bodyError ??= err;
      counted.destroy(err);
    });
    body.pipe(counted);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.prefix + key, Body: counted, ContentType: options.contentType },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort().catch(() => undefined);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (options.signal?.aborted) throw new AbortedError(`upload of ${key} aborted`);
      await upload.done();
      return { size };
    } catch (err) {
      body.destroy();
      if (options.signal?.aborted) throw new AbortedError(`upload of ${key} aborted`, { cause: err });
      // A failing body (e.g. a file that could not be read) is not the store's fault.
      if (bodyError !== undefined) throw bodyError;
      return this.fail(err, `upload of ${key}`);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async get(key: string, options: { signal?: AbortSignal } = {}): Promise<Readable> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), {
        abortSignal: options.signal,
      });
      return out.Body as Readable;
    } catch (err) {
      if (errorName(err) === 'NoSuchKey' || httpStatus(err) === 404) {
        if (errorName(err) === 'NoSuchBucket') throw this.missingBucket();
        throw new ObjectNotFoundError(key, this.url);
      }
      this.fail(err, `GetObject ${key}`);
    }
  }

  async getRange(key: string, offset: number, length: number, options: { signal?: AbortSignal } = {}): Promise<Buffer> {
    if (length === 0) return Buffer.alloc(0);
    let body: Readable;
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Range: `bytes=${offset}-${offset + length - 1}` }),
        { abortSignal: options.signal },
      );
      body = out.Body as Readable;
    } catch (err) {
      if (httpStatus(err) === 416) throw new ShortObjectError(key, offset, length, 0);
      if (errorName(err) === 'NoSuchKey' || httpStatus(err) === 404) {
        if (errorName(err) === 'NoSuchBucket') throw this.missingBucket();
        throw new ObjectNotFoundError(key, this.url);
      }
      this.fail(err, `GetObject ${key} (range)`);
    }
    // A server that ignores Range sends the whole object: never read more than asked for.
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    try {
      for await (const chunk of body) {
        const c = chunk as Buffer;
        if (got + c.length > length) {
          body.destroy();
          throw new ShortObjectError(key, offset, length, got + c.length);
        }
        c.copy(buf, got);
        got += c.length;
      }
    } catch (err) {
      if (err instanceof ShortObjectError) throw err;
      if (options.signal?.aborted) throw new AbortedError(`read of ${key} aborted`, { cause: err });
      this.fail(err, `GetObject ${key} (range)`);
    }
    if (got !== length) throw new ShortObjectError(key, offset, length, got);
    return buf;
  }

  async head(key: string): Promise<{ size: number } | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      return { size: out.ContentLength ?? 0 };
    } catch (err) {
      if (httpStatus(err) === 404 || errorName(err) === 'NotFound' || errorName(err) === 'NoSuchKey') return undefined;
      this.fail(err, `HeadObject ${key}`);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    try {
      for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: this.prefix + prefix })) {
        for (const o of page.Contents ?? []) {
          if (o.Key !== undefined) yield { key: o.Key.slice(this.prefix.length), size: o.Size ?? 0 };
        }
      }
    } catch (err) {
      this.fail(err, `ListObjectsV2 ${prefix}`);
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      let errors;
      try {
        const out = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((k) => ({ Key: this.prefix + k })), Quiet: true },
          }),
        );
        errors = out.Errors ?? [];
      } catch (err) {
        this.fail(err, 'DeleteObjects');
      }
      if (errors.length > 0) {
        const first = errors[0]!;
        throw new UnavailableError(`could not delete ${errors.length} object(s) from ${this.url}, first ${first.Key}: ${first.Code} ${first.Message}`);
      }
    }
  }

  async *listIncompleteUploads(prefix: string): AsyncIterable<IncompleteUpload> {
    // No SDK paginator exists for ListMultipartUploads: follow the key and upload-id markers.
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      let out;
      try {
        out = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.prefix + prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        );
      } catch (err) {
        this.fail(err, `ListMultipartUploads ${prefix}`);
      }
      for (const u of out.Uploads ?? []) {
        if (u.Key === undefined || u.UploadId === undefined) continue;
        yield { key: u.Key.slice(this.prefix.length), uploadId: u.UploadId, ...(u.Initiated ? { initiated: u.Initiated } : {}) };
      }
      if (!out.IsTruncated) return;
      keyMarker = out.NextKeyMarker;
      uploadIdMarker = out.NextUploadIdMarker;
      // A server that says "truncated" without markers would loop forever: stop instead.
      if (keyMarker === undefined && uploadIdMarker === undefined) return;
    }
  }

  async abortIncompleteUpload(upload: IncompleteUpload): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.prefix + upload.key, UploadId: upload.uploadId }));
    } catch (err) {
      if (errorName(err) === 'NoSuchUpload' || httpStatus(err) === 404) return;
      this.fail(err, `AbortMultipartUpload ${upload.key}`);
    }
  }

  /**
   * Reads the lock from HEAD (`x-amz-object-lock-retain-until-date`, `-mode`,
   * `-legal-hold`), which S3 returns when the caller may read them (s3:GetObjectRetention,
   * s3:GetObjectLegalHold). One request per object, and it works on S3-compatible servers
   * without Object Lock (no headers = no lock).
   */
  async objectLock(key: string): Promise<ObjectLockState | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      return {
        ...(out.ObjectLockRetainUntilDate ? { retainUntil: out.ObjectLockRetainUntilDate } : {}),
        ...(out.ObjectLockMode ? { mode: out.ObjectLockMode } : {}),
        legalHold: out.ObjectLockLegalHoldStatus === 'ON',
      };
    } catch (err) {
      if (httpStatus(err) === 404 || errorName(err) === 'NotFound' || errorName(err) === 'NoSuchKey') return undefined;
      this.fail(err, `HeadObject ${key}`);
    }
  }
}

/** `s3://bucket[/prefix]`: the backend the store registry (registry.ts) opens for that scheme. */
export const s3Backend: StoreBackend = {
  scheme: 's3:',
  open(url, context) {
    const rest = url.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    const prefix = slash === -1 ? '' : rest.slice(slash + 1);
    // S3 bucket naming rules (lowercase, 3-63 chars); catching typos here beats a 400 later.
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new UsageError(`store URL ${JSON.stringify(url)} has an invalid bucket name ${JSON.stringify(bucket)}`, { hint: STORE_URL_HINT });
    }
    // The client is made only now, so opening a directory store never needs AWS settings.
    return new S3Store({ client: context.s3?.() ?? createS3Client(context.env), bucket, prefix });
  },
};
