/**
 * Snapshot holds against DynamoDB Local: only complete snapshots can be leased, holds expire,
 * renew and release; and a restore holds one exactly while it runs.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import type { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import { DynamoSnapshotHolds, holdSnapshot } from '../../lambdas/adapters/snapshot-holds.js';
import type { ObjectStore } from '../../lambdas/adapters/stores/store.js';
import { OperationFailedError, SnapshotNotFoundError } from '../../lambdas/domain/errors.js';
import { restoreSnapshot } from '../../lambdas/engine/restore.js';
import { takeSnapshot } from '../../lambdas/engine/snapshot.js';
import { freshCatalog, freshS3Store, tempDir } from '../support/fixtures.js';

let catalog: DynamoSnapshotCatalog;
let store: ObjectStore;
let work: { path: string; cleanup: () => Promise<void> };
let clock = new Date('2026-11-27T10:00:00.000Z');
let holds: DynamoSnapshotHolds;
let snapshotId: string;

beforeAll(async () => {
  [catalog, store, work] = await Promise.all([freshCatalog(), freshS3Store(), tempDir('lifeboat-use')]);
  holds = new DynamoSnapshotHolds(createDynamoClient(), catalog.name, () => clock);
  await mkdir(join(work.path, 'data'));
  await writeFile(join(work.path, 'data/f.txt'), 'content');
  snapshotId = (await takeSnapshot({ catalog, store, service: 'db', dir: join(work.path, 'data') })).record.id;
});
afterAll(() => work.cleanup());

describe('DynamoSnapshotHolds', () => {
  it('holds a complete snapshot, is live until it expires, and renews and releases', async () => {
    const use = await holds.acquire({ service: 'db', snapshotId, holder: 'task-1', purpose: 'restore', ttlSeconds: 60 });
    expect(await holds.live('db', snapshotId)).toEqual([use]);
    expect((await holds.live('db')).map((u) => u.holder)).toEqual(['task-1']);
    clock = new Date(clock.getTime() + 61_000);
    expect(await holds.live('db', snapshotId)).toEqual([]);
    const renewed = await holds.renew(use, 60);
    expect(await holds.live('db', snapshotId)).toEqual([renewed]);
    await holds.release(renewed);
    expect(await holds.live('db')).toEqual([]);
    await expect(holds.renew(renewed, 60)).rejects.toThrow(/is gone; it cannot be renewed/);
    await holds.release(renewed); // twice is harmless
  });

  it('keeps holders apart and lists them per snapshot', async () => {
    const a = await holds.acquire({ service: 'db', snapshotId, holder: 'drill-7', purpose: 'drill', ttlSeconds: 60 });
    const b = await holds.acquire({ service: 'db', snapshotId, holder: 'arn:aws:ecs:eu-west-1:1:task/c/abc#x', purpose: 'restore', ttlSeconds: 60 });
    expect((await holds.live('db', snapshotId)).map((u) => u.holder).sort()).toEqual([b.holder, a.holder].sort());
    await Promise.all([holds.release(a), holds.release(b)]);
  });

  it('refuses a snapshot that is not complete or not in the catalog', async () => {
    const other = (await takeSnapshot({ catalog, store, service: 'db', dir: join(work.path, 'data') })).record.id;
    await catalog.markExpiring('db', other, { status: 'complete' }, clock.toISOString());
    const err = await holds.acquire({ service: 'db', snapshotId: other, holder: 'h', purpose: 'restore', ttlSeconds: 60 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationFailedError);
    expect((err as Error).message).toBe(`snapshot ${other} of service db is expiring (being deleted by retention); it cannot be used`);
    expect(await holds.live('db', other)).toEqual([]);
    // A restore asking for it by id is told it is gone (exit 2), not that the backup is broken.
    const restore = await restoreSnapshot({ catalog, store, service: 'db', dir: join(work.path, 'gone'), snapshot: other }).catch((e: unknown) => e);
    expect(restore).toBeInstanceOf(SnapshotNotFoundError);
    expect((restore as Error).message).toBe(`snapshot ${other} of service db is being deleted by retention; it cannot be restored`);
    await expect(
      holds.acquire({ service: 'db', snapshotId: '20200101T000000.000Z-00000000', holder: 'h', purpose: 'restore', ttlSeconds: 60 }),
    ).rejects.toBeInstanceOf(SnapshotNotFoundError);
  });

  it('holdSnapshot renews on a timer until released', async () => {
    let renewals = 0;
    const counting = Object.assign(Object.create(holds) as DynamoSnapshotHolds, {
      renew: (use: never, ttl: number) => {
        renewals++;
        return holds.renew(use, ttl);
      },
    });
    const held = await holdSnapshot(counting, { service: 'db', snapshotId, holder: 'long', purpose: 'drill', ttlSeconds: 3 });
    // The renewal interval is a third of the TTL (1 s): wait until one has happened.
    const until = Date.now() + 10_000;
    while (renewals === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(renewals).toBeGreaterThan(0);
    await held.release();
    expect(await holds.live('db', snapshotId)).toEqual([]);
  });
});

describe('restoreSnapshot with a snapshot hold', () => {
  it('holds the lease while reading the snapshot and releases it afterwards', async () => {
    const seen: string[][] = [];
    const watching: ObjectStore = Object.assign(Object.create(store) as ObjectStore, {
      get: async (key: string, o?: { signal?: AbortSignal }) => {
        seen.push((await holds.live('db', snapshotId)).map((u) => `${u.purpose}:${u.holder}`));
        return store.get(key, o);
      },
    });
    const result = await restoreSnapshot({
      catalog,
      store: watching,
      service: 'db',
      dir: join(work.path, 'r1'),
      snapshot: snapshotId,
      use: { holds, holder: 'task-9' },
    });
    expect(result.status).toBe('restored');
    expect(seen.length).toBeGreaterThan(0);
    for (const holders of seen) expect(holders).toEqual(['restore:task-9']);
    expect(await holds.live('db', snapshotId)).toEqual([]);
  });

  it('releases the lease when the restore fails, and takes none without the option', async () => {
    const failing: ObjectStore = Object.assign(Object.create(store) as ObjectStore, {
      get: async () => {
        throw new OperationFailedError('store broke');
      },
    });
    await expect(
      restoreSnapshot({ catalog, store: failing, service: 'db', dir: join(work.path, 'r2'), snapshot: snapshotId, use: { holds, holder: 't' } }),
    ).rejects.toThrow('store broke');
    expect(await holds.live('db')).toEqual([]);
    await restoreSnapshot({ catalog, store, service: 'db', dir: join(work.path, 'r3'), snapshot: snapshotId });
    expect(await holds.live('db')).toEqual([]);
  });
});
