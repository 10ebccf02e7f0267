/**
 * The S3 store's retention capabilities: aborting incomplete multipart uploads and reading
 * Object Lock state.
 *
 * fauxqs (the local S3 server) supports AbortMultipartUpload, so aborting is tested for
 * real. It has no ListMultipartUploads (the request is answered as a ListObjects, so the
 * SDK sees no uploads) and no Object Lock (HEAD has no lock headers, GetObjectRetention
 * returns the object body): those are tested as request shapes with aws-sdk-client-mock.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../lambdas/adapters/aws.js';
import { S3Store } from '../../lambdas/adapters/stores/s3-store.js';
import { canReadObjectLock, canReapIncompleteUploads } from '../../lambdas/adapters/stores/store.js';
import { UnavailableError } from '../../lambdas/domain/errors.js';
import { freshBucket, freshDirectoryStore } from '../support/fixtures.js';

describe('against the local S3 server', () => {
  it('aborts an incomplete multipart upload; aborting it again is not an error', async () => {
    const client = createS3Client();
    const bucket = await freshBucket();
    const store = new S3Store({ client, bucket, prefix: 'backups/' });
    const started = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'backups/db/snapshots/x/part-0000.tar.zst' }));
    await client.send(
      new UploadPartCommand({ Bucket: bucket, Key: 'backups/db/snapshots/x/part-0000.tar.zst', UploadId: started.UploadId, PartNumber: 1, Body: 'data' }),
    );
    await store.abortIncompleteUpload({ key: 'db/snapshots/x/part-0000.tar.zst', uploadId: started.UploadId! });
    const again = await client
      .send(new UploadPartCommand({ Bucket: bucket, Key: 'backups/db/snapshots/x/part-0000.tar.zst', UploadId: started.UploadId, PartNumber: 2, Body: 'more' }))
      .catch((e: unknown) => e);
    expect((again as Error).name).toBe('NoSuchUpload');
    await store.abortIncompleteUpload({ key: 'db/snapshots/x/part-0000.tar.zst', uploadId: started.UploadId! });
  });

  it('reads "no lock" from a server without Object Lock, and nothing for a missing object', async () => {
    const store = new S3Store({ client: createS3Client(), bucket: await freshBucket() });
    await store.put('db/snapshots/x/manifest.json.gz', Readable.from([Buffer.from('m')]));
    expect(await store.objectLock('db/snapshots/x/manifest.json.gz')).toEqual({ legalHold: false });
    expect(await store.objectLock('db/snapshots/missing/manifest.json.gz')).toBeUndefined();
  });

  it('only the S3 store has these capabilities', async () => {
    const dir = await freshDirectoryStore();
    const s3 = new S3Store({ client: createS3Client(), bucket: 'b-x-y' });
    expect([canReapIncompleteUploads(s3), canReadObjectLock(s3)]).toEqual([true, true]);
    expect([canReapIncompleteUploads(dir.store), canReadObjectLock(dir.store)]).toEqual([false, false]);
    await dir.cleanup();
  });
});

describe('request shapes (mocked S3 client)', () => {
  // Mocks every S3Client while this block runs (the real-server tests above use real ones).
  let s3: AwsClientStub<S3Client>;
  beforeAll(() => {
    s3 = mockClient(S3Client);
  });
  afterEach(() => s3.reset());
  afterAll(() => s3.restore());
  const store = () => new S3Store({ client: new S3Client({ region: 'eu-west-1' }), bucket: 'snaps', prefix: 'pfx/' });
  const awsError = (name: string, status: number) => new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message: name });

  it('lists incomplete uploads under the prefix, following both markers across pages', async () => {
    const initiated = new Date('2026-11-20T00:00:00Z');
    s3.on(ListMultipartUploadsCommand)
      .resolvesOnce({
        Uploads: [{ Key: 'pfx/db/snapshots/a/part-0000.tar.zst', UploadId: 'u1', Initiated: initiated }],
        IsTruncated: true,
        NextKeyMarker: 'pfx/db/snapshots/a/part-0000.tar.zst',
        NextUploadIdMarker: 'u1',
      })
      .resolvesOnce({ Uploads: [{ Key: 'pfx/db/snapshots/b/manifest.json.gz', UploadId: 'u2' }], IsTruncated: false });
    const got = [];
    for await (const u of store().listIncompleteUploads('db/snapshots/')) got.push(u);
    expect(got).toEqual([
      { key: 'db/snapshots/a/part-0000.tar.zst', uploadId: 'u1', initiated },
      { key: 'db/snapshots/b/manifest.json.gz', uploadId: 'u2' },
    ]);
    expect(s3).toHaveReceivedCommandTimes(ListMultipartUploadsCommand, 2);
    expect(s3).toHaveReceivedNthCommandWith(ListMultipartUploadsCommand, 1, {
      Bucket: 'snaps',
      Prefix: 'pfx/db/snapshots/',
      KeyMarker: undefined,
      UploadIdMarker: undefined,
    });
    expect(s3).toHaveReceivedNthCommandWith(ListMultipartUploadsCommand, 2, {
      Bucket: 'snaps',
      Prefix: 'pfx/db/snapshots/',
      KeyMarker: 'pfx/db/snapshots/a/part-0000.tar.zst',
      UploadIdMarker: 'u1',
    });
  });

  it('aborts with the full key and upload id; NoSuchUpload means already done', async () => {
    s3.on(AbortMultipartUploadCommand).rejectsOnce(awsError('NoSuchUpload', 404)).resolves({});
    await store().abortIncompleteUpload({ key: 'db/snapshots/a/part-0000.tar.zst', uploadId: 'u1' });
    await store().abortIncompleteUpload({ key: 'db/snapshots/a/part-0001.tar.zst', uploadId: 'u2' });
    expect(s3).toHaveReceivedCommandWith(AbortMultipartUploadCommand, { Bucket: 'snaps', Key: 'pfx/db/snapshots/a/part-0001.tar.zst', UploadId: 'u2' });
  });

  it('reads retain-until, mode and legal hold from HEAD of the object', async () => {
    const until = new Date('2027-01-01T00:00:00Z');
    s3.on(HeadObjectCommand, { Key: 'pfx/db/snapshots/a/manifest.json.gz' }).resolves({
      ObjectLockRetainUntilDate: until,
      ObjectLockMode: 'COMPLIANCE',
      ObjectLockLegalHoldStatus: 'OFF',
    });
    s3.on(HeadObjectCommand, { Key: 'pfx/db/snapshots/b/manifest.json.gz' }).resolves({ ObjectLockLegalHoldStatus: 'ON' });
    expect(await store().objectLock('db/snapshots/a/manifest.json.gz')).toEqual({ retainUntil: until, mode: 'COMPLIANCE', legalHold: false });
    expect(await store().objectLock('db/snapshots/b/manifest.json.gz')).toEqual({ legalHold: true });
    expect(s3).toHaveReceivedCommandWith(HeadObjectCommand, { Bucket: 'snaps', Key: 'pfx/db/snapshots/a/manifest.json.gz' });
  });

  it('fails closed when it may not look (access denied is "unavailable", never "no lock")', async () => {
    s3.on(HeadObjectCommand).rejects(awsError('AccessDenied', 403));
    await expect(store().objectLock('db/snapshots/a/manifest.json.gz')).rejects.toBeInstanceOf(UnavailableError);
  });

  it('deletes in DeleteObjects batches of at most 1,000 keys', async () => {
    s3.on(DeleteObjectsCommand).resolves({});
    const keys = Array.from({ length: 2500 }, (_, i) => `db/snapshots/a/part-${String(i).padStart(4, '0')}.tar.zst`);
    await store().delete(keys);
    const sizes = s3.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input.Delete?.Objects?.length);
    expect(sizes).toEqual([1000, 1000, 500]);
    expect(s3.commandCalls(DeleteObjectsCommand)[2]!.args[0].input.Delete?.Objects?.[0]).toEqual({ Key: 'pfx/db/snapshots/a/part-2000.tar.zst' });
  });
});
