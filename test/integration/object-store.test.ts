/**
 * The ObjectStore contract, one suite for every backend (Litestream/restic style): adding a
 * backend means passing this file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../lambdas/adapters/aws.js';
import { DirectoryStore } from '../../lambdas/adapters/stores/directory-store.js';
import { openStore } from '../../lambdas/adapters/stores/registry.js';
import { S3Store } from '../../lambdas/adapters/stores/s3-store.js';
import { ObjectExistsError, ObjectNotFoundError, type ObjectStore } from '../../lambdas/adapters/stores/store.js';
import { AbortedError, UnavailableError, UsageError } from '../../lambdas/domain/errors.js';
import { freshDirectoryStore, freshS3Store, tempDir } from '../support/fixtures.js';
import { readObject, STORE_CASES } from '../support/stores.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A stream of `total` pseudo-random bytes in 1 MiB chunks, hashed as it goes. */
function generated(total: number) {
  const hash = createHash('sha256');
  let sent = 0;
  const stream = new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const chunk = randomBytes(Math.min(1024 * 1024, total - sent));
      sent += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}

describe.each(STORE_CASES)('ObjectStore contract: $name', ({ make }) => {
  let store: ObjectStore;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ store, cleanup } = await make());
  });
  afterAll(() => cleanup());

  it('round-trips small and empty objects', async () => {
    const body = Buffer.from('hello lifeboat');
    expect(await store.put('svc/a.txt', Readable.from([body]))).toEqual({ size: body.length });
    expect(await readObject(store, 'svc/a.txt')).toEqual(body);
    await store.put('svc/empty', Readable.from([Buffer.alloc(0)]));
    expect(await readObject(store, 'svc/empty')).toEqual(Buffer.alloc(0));
    expect(await store.head('svc/a.txt')).toEqual({ size: body.length });
    expect(await store.head('svc/missing')).toBeUndefined();
  });

  it('streams an object larger than several multipart parts with bounded memory', async () => {
    const total = 21 * 1024 * 1024 + 123;
    const { stream, digest } = generated(total);
    expect(await store.put('svc/big.bin', stream)).toEqual({ size: total });
    expect(sha(await readObject(store, 'svc/big.bin'))).toBe(digest());
    expect(await store.head('svc/big.bin')).toEqual({ size: total });
  });

  it('replaces an object atomically on a second put only when asked to', async () => {
    await store.put('svc/replace', Readable.from([Buffer.from('one')]));
    await store.put('svc/replace', Readable.from([Buffer.from('two')]), { existing: 'replace' });
    expect((await readObject(store, 'svc/replace')).toString()).toBe('two');
  });

  it('lists by prefix in key order, across pages', async () => {
    const keys = Array.from({ length: 1050 }, (_, i) => `list/k${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((k) => store.put(k, Readable.from([Buffer.from(k)]))));
    }
    await store.put('listing/other', Readable.from([Buffer.from('x')]));
    const listed: string[] = [];
    for await (const o of store.list('list/')) listed.push(o.key);
    expect(listed).toEqual(keys);
    const partial: { key: string; size: number }[] = [];
    for await (const o of store.list('list/k0000')) partial.push({ key: o.key, size: o.size });
    expect(partial).toEqual(keys.slice(0, 10).map((key) => ({ key, size: key.length })));
  });

  it('deletes in batches and ignores keys that do not exist', async () => {
    const keys: string[] = [];
    for await (const o of store.list('list/')) keys.push(o.key);
    await store.delete([...keys, 'list/never-existed']);
    const left: string[] = [];
    for await (const o of store.list('list/')) left.push(o.key);
    expect(left).toEqual([]);
    expect(await store.head('listing/other')).toEqual({ size: 1 });
  });

  it('reports a missing object with ObjectNotFoundError', async () => {
    await expect(store.get('svc/nope')).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it('leaves nothing behind when the body fails', async () => {
    let n = 0;
    const failing = new Readable({
      read() {
        if (n++ < 12) this.push(randomBytes(1024 * 1024));
        else this.destroy(new Error('disk read error'));
      },
    });
    await expect(store.put('svc/failed', failing)).rejects.toThrow(/disk read error/);
    expect(await store.head('svc/failed')).toBeUndefined();
  });

  it('leaves nothing behind when aborted', async () => {
    const controller = new AbortController();
    let n = 0;
    const slow = new Readable({
      read() {
        if (n++ === 10) controller.abort();
        this.push(randomBytes(1024 * 1024));
      },
    });
    await expect(store.put('svc/aborted', slow, { signal: controller.signal })).rejects.toBeInstanceOf(AbortedError);
    expect(await store.head('svc/aborted')).toBeUndefined();
  });

  it('creates itself with ensure() once and then reports it exists', async () => {
    expect(await store.ensure()).toBe('exists');
    await expect(store.check()).resolves.toBeUndefined();
  });
});

describe('store setup errors', () => {
  it('names a missing bucket and how to create it', async () => {
    const store = new S3Store({ client: createS3Client(), bucket: 'no-such-bucket-here' });
    const err = await store.check().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).message).toBe('bucket no-such-bucket-here does not exist');
    expect((err as UnavailableError).hint).toMatch(/lifeboat init/);
  });

  it('names a missing store directory', async () => {
    const err = await new DirectoryStore('/nonexistent/lifeboat-store').check().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/store directory \/nonexistent\/lifeboat-store does not exist/);
  });

  it('reports an unreachable endpoint as unavailable', async () => {
    const client = createS3Client({ ...process.env, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9', AWS_MAX_ATTEMPTS: '1' });
    const err = await new S3Store({ client, bucket: 'whatever' }).check().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/cannot reach bucket whatever/);
  });

  it('parses store URLs and rejects the ones it cannot use', () => {
    const client = { s3: () => createS3Client() };
    expect(openStore('s3://my-bucket/some/prefix', client).url).toBe('s3://my-bucket/some/prefix/');
    expect(openStore('s3://my-bucket', client).url).toBe('s3://my-bucket/');
    expect(openStore('file:///var/backups/lifeboat', client).url).toBe('file:///var/backups/lifeboat');
    expect(() => openStore('s3://Bad_Bucket', client)).toThrow(UsageError);
    expect(() => openStore('gs://bucket', client)).toThrow(/not supported/);
    expect(() => openStore('relative/path', client)).toThrow(UsageError);
    // Without the runtime's client, the S3 backend makes one from the environment it is given.
    expect(openStore('s3://my-bucket/p', { env: { AWS_REGION: 'eu-west-1' } }).url).toBe('s3://my-bucket/p/');
  });

  it('keeps directory store keys inside its root', async () => {
    const dir = await tempDir();
    const store = new DirectoryStore(join(dir.path, 'store'));
    await store.ensure();
    for (const key of ['../escape', 'a/../../b', '/abs', 'a//b']) {
      await expect(store.put(key, Readable.from([Buffer.from('x')]))).rejects.toBeInstanceOf(UsageError);
    }
    expect(await readdir(dir.path)).toEqual(['store']);
    await dir.cleanup();
  });
});

describe('append-only writes (docs/SECURITY.md)', () => {
  it('the directory store refuses to overwrite an object, keeps a content-addressed one, and leaves no temporary behind', async () => {
    const { store, cleanup } = await freshDirectoryStore();
    try {
      await store.put('svc/snapshots/1/manifest', Readable.from([Buffer.from('original')]));
      const err = await store.put('svc/snapshots/1/manifest', Readable.from([Buffer.from('forged')])).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ObjectExistsError);
      expect((err as Error).message).toContain('svc/snapshots/1/manifest already exists');
      expect((await readObject(store, 'svc/snapshots/1/manifest')).toString()).toBe('original');
      // 'keep' (packs named by their hash): the existing object stands and its size is reported.
      expect(await store.put('svc/snapshots/1/manifest', Readable.from([Buffer.from('xx')]), { existing: 'keep' })).toEqual({ size: 8 });
      expect((await readObject(store, 'svc/snapshots/1/manifest')).toString()).toBe('original');
      const names = await readdir(join((store as unknown as { root: string }).root, 'svc', 'snapshots', '1'));
      expect(names).toEqual(['manifest']);
    } finally {
      await cleanup();
    }
  });

  it('the S3 store sends If-None-Match: * on PutObject and CompleteMultipartUpload, and none when replacing', async () => {
    // fauxqs does not enforce conditional writes (LOCAL-SERVICES.md): check what is sent.
    const client = createS3Client();
    const sent: { command: string; ifNoneMatch: unknown }[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { IfNoneMatch?: unknown };
        sent.push({ command: String(context.commandName), ifNoneMatch: input.IfNoneMatch });
        return next(args);
      },
      { step: 'initialize', name: 'recordIfNoneMatch' },
    );
    const s3 = await freshS3Store();
    const store = new S3Store({ client, bucket: s3.url.slice('s3://'.length).split('/')[0]!, prefix: 'pfx/', partSize: 5 * 1024 * 1024 });
    await store.put('svc/small', Readable.from([Buffer.from('x')]));
    await store.put('svc/big', generated(11 * 1024 * 1024).stream);
    await store.put('svc/small', Readable.from([Buffer.from('y')]), { existing: 'replace' });
    const byCommand = (name: string) => sent.filter((s) => s.command === name).map((s) => s.ifNoneMatch);
    expect(byCommand('PutObjectCommand')).toEqual(['*', undefined]);
    expect(byCommand('CompleteMultipartUploadCommand')).toEqual(['*']);
  });
});
