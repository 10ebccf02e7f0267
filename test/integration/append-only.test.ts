/**
 * docs/SECURITY.md statement 1, through the code a task runs: the snapshot engine writes to
 * the directory store (which refuses to replace an object, as S3 does under the bucket
 * policy), then an attacker with the same access tries to overwrite every object it wrote.
 * Each attempt is refused, nothing changes, and the service's next snapshot still works.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import type { DirectoryStore } from '../../lambdas/adapters/stores/directory-store.js';
import { ObjectExistsError } from '../../lambdas/adapters/stores/store.js';
import { restoreSnapshot } from '../../lambdas/engine/restore.js';
import { takeSnapshot } from '../../lambdas/engine/snapshot.js';
import { freshCatalog, freshDirectoryStore, tempDir } from '../support/fixtures.js';
import { readObject } from '../support/stores.js';

let catalog: DynamoSnapshotCatalog;
let store: DirectoryStore;
let cleanupStore: () => Promise<void>;
let work: { path: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  [catalog, { store, cleanup: cleanupStore }, work] = await Promise.all([freshCatalog(), freshDirectoryStore(), tempDir('lifeboat-append')]);
  await mkdir(join(work.path, 'data'));
  await writeFile(join(work.path, 'data/a.txt'), 'precious data');
  await writeFile(join(work.path, 'data/b.bin'), Buffer.alloc(300_000, 7));
});
afterAll(async () => {
  await cleanupStore();
  await work.cleanup();
});

describe('a compromised task against its own stored snapshots', () => {
  it('cannot overwrite or truncate any object a snapshot wrote, and the snapshot still restores', async () => {
    const dir = join(work.path, 'data');
    const { record } = await takeSnapshot({ catalog, store, service: 'db', dir });
    const written: { key: string; bytes: Buffer }[] = [];
    for await (const o of store.list('db/')) written.push({ key: o.key, bytes: await readObject(store, o.key) });
    expect(written.length).toBeGreaterThan(1);
    for (const { key } of written) {
      for (const forged of [Buffer.from('ransom note'), Buffer.alloc(0)]) {
        const err = await store.put(key, Readable.from([forged])).catch((e: unknown) => e);
        expect(err, key).toBeInstanceOf(ObjectExistsError);
        expect((err as Error).message).toContain(`${key} already exists`);
      }
    }
    for (const { key, bytes } of written) expect(await readObject(store, key), key).toEqual(bytes);

    // The service's own next snapshot of the same data shares its packs and still succeeds.
    const again = await takeSnapshot({ catalog, store, service: 'db', dir });
    expect(again.record.id).not.toBe(record.id);
    const target = join(work.path, 'restored');
    await restoreSnapshot({ catalog, store, service: 'db', dir: target, snapshot: record.id });
    expect(await readFile(join(target, 'a.txt'), 'utf8')).toBe('precious data');
  });
});
