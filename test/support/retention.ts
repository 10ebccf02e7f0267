/**
 * Seeds catalog entries and stored objects for retention tests, and an S3 store that can
 * list the incomplete multipart uploads the local S3 server cannot (it keeps a record of
 * the uploads it started on the real server; aborting still goes to the server).
 */
import { Readable } from 'node:stream';
import { CreateMultipartUploadCommand, type S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import type { SnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import { S3Store, type S3StoreOptions } from '../../lambdas/adapters/stores/s3-store.js';
import type { IncompleteUpload, ObjectStore } from '../../lambdas/adapters/stores/store.js';
import { manifestObjectKey, partObjectKey, snapshotPrefix } from '../../lambdas/contract/keys.js';
import { makeSnapshotId } from '../../lambdas/domain/ids.js';

let tag = 0;

export interface SeedOptions {
  /** Objects besides the manifest. */
  parts?: number;
  status?: 'complete' | 'uploading';
  verifiedAt?: string;
}

/** A snapshot entry at `at` with `parts` part objects and a manifest (an uploading one has no manifest). */
export async function seedSnapshot(catalog: SnapshotCatalog, store: ObjectStore, service: string, at: Date, options: SeedOptions = {}): Promise<string> {
  const id = makeSnapshotId(at, Uint8Array.of(0xab, 0, (++tag >> 8) & 0xff, tag & 0xff));
  await catalog.begin({ service, id, createdAt: at.toISOString(), manifestKey: manifestObjectKey(service, id), reason: 'test' });
  const parts = options.parts ?? 1;
  const keys = Array.from({ length: parts }, (_, i) => partObjectKey(service, id, i));
  for (let i = 0; i < keys.length; i += 50) {
    await Promise.all(keys.slice(i, i + 50).map((k) => store.put(k, Readable.from([Buffer.from(k)]))));
  }
  if ((options.status ?? 'complete') === 'uploading') return id;
  await store.put(manifestObjectKey(service, id), Readable.from([Buffer.from('manifest')]));
  await catalog.commit(service, id, {
    completedAt: at.toISOString(),
    size: 1,
    dataSize: 1,
    fileCount: parts,
    entryCount: parts,
    partCount: parts,
    manifestSha256: '0'.repeat(64),
    warningCount: 0,
  });
  if (options.verifiedAt) await catalog.markVerified(service, id, options.verifiedAt);
  return id;
}

export async function objectCount(store: ObjectStore, service: string, id: string): Promise<number> {
  let n = 0;
  for await (const _ of store.list(snapshotPrefix(service, id))) n++;
  return n;
}

/** S3Store whose upload listing comes from the uploads this test started (see the module comment). */
export class TrackedUploadsS3Store extends S3Store {
  private readonly started: IncompleteUpload[] = [];
  readonly aborted = new Set<string>();
  private readonly raw: S3Client;
  private readonly rawBucket: string;
  private readonly rawPrefix: string;

  constructor(options: S3StoreOptions) {
    super(options);
    this.raw = options.client;
    this.rawBucket = options.bucket;
    this.rawPrefix = options.prefix ?? '';
  }

  /** Starts a real multipart upload with one part, as a writer killed mid-upload leaves it. */
  async startUpload(key: string, initiated: Date): Promise<IncompleteUpload> {
    const out = await this.raw.send(new CreateMultipartUploadCommand({ Bucket: this.rawBucket, Key: this.rawPrefix + key }));
    await this.raw.send(new UploadPartCommand({ Bucket: this.rawBucket, Key: this.rawPrefix + key, UploadId: out.UploadId, PartNumber: 1, Body: 'partial' }));
    const upload = { key, uploadId: out.UploadId!, initiated };
    this.started.push(upload);
    return upload;
  }

  override async *listIncompleteUploads(prefix: string): AsyncIterable<IncompleteUpload> {
    for (const u of this.started) if (u.key.startsWith(prefix) && !this.aborted.has(u.uploadId)) yield u;
  }

  override async abortIncompleteUpload(upload: IncompleteUpload): Promise<void> {
    await super.abortIncompleteUpload(upload);
    this.aborted.add(upload.uploadId);
  }
}
