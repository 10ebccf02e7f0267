/**
 * The retention sweep against DynamoDB Local and the local S3 server: what it deletes,
 * what it must not (kept, verified, in use, locked, in progress), and that a crash at any
 * step converges on the next run.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient, createS3Client } from '../../lambdas/adapters/aws.js';
import type { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import { DynamoSnapshotHolds, type SnapshotHold } from '../../lambdas/adapters/snapshot-holds.js';
import type { ObjectStore } from '../../lambdas/adapters/stores/store.js';
import { planServiceRetention, type RetentionContext, type SweepStep, sweepServiceRetention } from '../../lambdas/control/retention.js';
import { OperationFailedError, RetentionPolicyError, UnavailableError } from '../../lambdas/domain/errors.js';
import { freshBucket, freshCatalog, freshDirectoryStore } from '../support/fixtures.js';
import { objectCount, seedSnapshot, TrackedUploadsS3Store } from '../support/retention.js';

const NOW = new Date('2026-11-27T12:00:00.000Z');
const daysAgo = (d: number) => new Date(NOW.getTime() - d * 86_400_000);
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000);

let catalog: DynamoSnapshotCatalog;
let bucket: string;
let holds: DynamoSnapshotHolds;

beforeAll(async () => {
  [catalog, bucket] = await Promise.all([freshCatalog(), freshBucket()]);
  holds = new DynamoSnapshotHolds(createDynamoClient(), catalog.name, () => NOW);
});

let serial = 0;
const newService = (label: string) => `${label}-${++serial}`;

function context(store: ObjectStore): RetentionContext {
  return { catalog, objects: store, holds, now: () => NOW };
}

/**
 * A service with: five complete snapshots (1–5 days old, the 4-day one verified), a stale
 * `uploading` entry (3 days) with an incomplete multipart upload, a fresh one (10 minutes),
 * a stray stale multipart upload and a fresh one. Policy last=2.
 */
async function world(label: string, options: { bigParts?: number } = {}) {
  const service = newService(label);
  const store = new TrackedUploadsS3Store({ client: createS3Client(), bucket, prefix: `${service}-root/` });
  const d5 = await seedSnapshot(catalog, store, service, daysAgo(5), { parts: options.bigParts ?? 2 });
  const d4 = await seedSnapshot(catalog, store, service, daysAgo(4), { verifiedAt: daysAgo(3).toISOString() });
  const d3 = await seedSnapshot(catalog, store, service, daysAgo(3));
  const d2 = await seedSnapshot(catalog, store, service, daysAgo(2));
  const d1 = await seedSnapshot(catalog, store, service, daysAgo(1));
  const staleUp = await seedSnapshot(catalog, store, service, daysAgo(3), { status: 'uploading' });
  const freshUp = await seedSnapshot(catalog, store, service, minutesAgo(10), { status: 'uploading' });
  const staleUpPart = await store.startUpload(`${service}/snapshots/${staleUp}/part-0001.tar.zst`, daysAgo(3));
  const stray = await store.startUpload(`${service}/snapshots/20261120T000000.000Z-deadbeef/part-0000.tar.zst`, daysAgo(7));
  const freshUpload = await store.startUpload(`${service}/snapshots/${freshUp}/part-0001.tar.zst`, minutesAgo(9));
  return { service, store, ids: { d5, d4, d3, d2, d1, staleUp, freshUp }, uploads: { staleUpPart, stray, freshUpload } };
}
type World = Awaited<ReturnType<typeof world>>;

const policy = { last: 2 };

/** Entry status (or 'gone') and object count of every seeded snapshot. */
async function snapshotState(w: World) {
  const out: Record<string, [string, number]> = {};
  for (const [name, id] of Object.entries(w.ids)) {
    out[name] = [(await catalog.get(w.service, id))?.status ?? 'gone', await objectCount(w.store, w.service, id)];
  }
  return out;
}

const CONVERGED = {
  d5: ['gone', 0],
  d4: ['complete', 2], // newest verified: protected
  d3: ['gone', 0],
  d2: ['complete', 2],
  d1: ['complete', 2],
  staleUp: ['gone', 0],
  freshUp: ['uploading', 1],
};

/** Whatever happened, a complete entry still has every object (nothing restorable was half-deleted). */
async function expectRestorableIntact(w: World) {
  const state = await snapshotState(w);
  for (const [name, [status, objects]] of Object.entries(state)) {
    if (status === 'complete') expect(objects, `${name} is complete`).toBe(name === 'd5' ? 3 : 2);
  }
  expect(state.d1).toEqual(['complete', 2]);
  expect(state.d2).toEqual(['complete', 2]);
  expect(state.d4).toEqual(['complete', 2]);
  expect(state.freshUp).toEqual(['uploading', 1]);
}

class SimulatedCrash extends Error {}

describe('sweepServiceRetention', () => {
  it('deletes what the policy does not keep, reaps dead uploads, and leaves the rest alone', async () => {
    const w = await world('plain');
    const plan = await planServiceRetention(context(w.store), { service: w.service, policy });
    expect(plan.snapshots.map((s) => [s.id, s.action, s.reasons])).toEqual([
      [w.ids.d1, 'keep', ['last snapshot']],
      [w.ids.d2, 'keep', ['last snapshot']],
      [w.ids.d3, 'delete', []],
      [w.ids.d4, 'keep', ['newest verified snapshot (protected)']],
      [w.ids.d5, 'delete', []],
    ]);
    expect(plan.pending.map((p) => [p.id, p.action])).toEqual([
      [w.ids.freshUp, 'wait'],
      [w.ids.staleUp, 'reap'],
    ]);
    expect(plan.incompleteUploads?.map((u) => [u.uploadId, u.action])).toEqual([
      [w.uploads.staleUpPart.uploadId, 'abort'],
      [w.uploads.stray.uploadId, 'abort'],
      [w.uploads.freshUpload.uploadId, 'wait'],
    ]);
    expect(plan.summary).toEqual({ keep: 3, delete: 2, resume: 0, reap: 1, abortUploads: 2 });
    // The plan changed nothing.
    expect((await snapshotState(w)).d5).toEqual(['complete', 3]);

    const result = await sweepServiceRetention(context(w.store), { service: w.service, policy, concurrency: 1 });
    expect(result.snapshots).toEqual([
      { id: w.ids.d5, outcome: 'deleted' },
      { id: w.ids.d3, outcome: 'deleted' },
      { id: w.ids.staleUp, outcome: 'reaped' },
    ]);
    expect(result).toMatchObject({ deleted: 2, reaped: 1, resumed: 0, failed: 0, abortedUploads: 1, stoppedEarly: false });
    expect(await snapshotState(w)).toEqual(CONVERGED);
    expect(w.store.aborted).toEqual(new Set([w.uploads.staleUpPart.uploadId, w.uploads.stray.uploadId]));

    const again = await sweepServiceRetention(context(w.store), { service: w.service, policy });
    expect(again).toMatchObject({ deleted: 0, reaped: 0, resumed: 0, abortedUploads: 0, snapshots: [] });
  });

  // [step, which occurrence of it crashes]. Occurrences in order: d5, d3 (deletions), then staleUp (reap).
  const crashes: [SweepStep, number][] = [
    ['mark', 1],
    ['recheck', 1],
    ['objects', 1],
    ['entry', 1],
    ['mark', 2],
    ['objects', 2],
    ['entry', 2],
    ['mark', 3],
    ['abort-upload', 1],
    ['objects', 3],
    ['entry', 3],
    ['abort-upload', 2],
  ];
  it.each(crashes)('converges on the next run after a crash at %s #%i', async (step, occurrence) => {
    const w = await world(`crash-${step}-${occurrence}`);
    let seen = 0;
    const fault = (s: SweepStep, id: string) => {
      if (s === step && ++seen === occurrence) throw new SimulatedCrash(`crash before ${s} of ${id}`);
    };
    await expect(sweepServiceRetention(context(w.store), { service: w.service, policy, concurrency: 1, fault })).rejects.toBeInstanceOf(SimulatedCrash);
    expect(seen, 'the crash point was reached').toBe(occurrence);
    await expectRestorableIntact(w);

    const next = await sweepServiceRetention(context(w.store), { service: w.service, policy, concurrency: 1 });
    expect(next.failed).toBe(0);
    expect(await snapshotState(w)).toEqual(CONVERGED);
    expect(w.store.aborted).toEqual(new Set([w.uploads.staleUpPart.uploadId, w.uploads.stray.uploadId]));
    const third = await sweepServiceRetention(context(w.store), { service: w.service, policy });
    expect(third.snapshots).toEqual([]);
  });

  it('converges after a crash between two DeleteObjects batches of one snapshot (1,001 objects)', async () => {
    const w = await world('batch', { bigParts: 1000 });
    expect(await objectCount(w.store, w.service, w.ids.d5)).toBe(1001);
    const fault = (s: SweepStep) => {
      if (s === 'objects-batch') throw new SimulatedCrash('between batches');
    };
    await expect(sweepServiceRetention(context(w.store), { service: w.service, policy, concurrency: 1, fault })).rejects.toBeInstanceOf(SimulatedCrash);
    // The first batch of 1,000 is gone, the entry is still expiring.
    expect((await snapshotState(w)).d5).toEqual(['expiring', 1]);
    const next = await sweepServiceRetention(context(w.store), { service: w.service, policy, concurrency: 1 });
    expect(next.snapshots[0]).toEqual({ id: w.ids.d5, outcome: 'resumed' });
    expect(await snapshotState(w)).toEqual(CONVERGED);
  });

  it('records a failing snapshot, carries on, and finishes it next run', async () => {
    const w = await world('failing');
    let broken = true;
    const flaky = Object.assign(Object.create(w.store) as TrackedUploadsS3Store, {
      delete: async (keys: readonly string[]) => {
        if (broken && keys.some((k) => k.includes(w.ids.d5))) throw new UnavailableError('DeleteObjects failed: SlowDown');
        return w.store.delete(keys);
      },
    });
    const first = await sweepServiceRetention(context(flaky), { service: w.service, policy, concurrency: 1 });
    expect(first.snapshots).toContainEqual({ id: w.ids.d5, outcome: 'failed', reason: 'DeleteObjects failed: SlowDown' });
    expect(first.deleted).toBe(1);
    expect((await snapshotState(w)).d5).toEqual(['expiring', 3]);
    broken = false;
    const second = await sweepServiceRetention(context(flaky), { service: w.service, policy, concurrency: 1 });
    expect(second.snapshots).toEqual([{ id: w.ids.d5, outcome: 'resumed' }]);
    expect(await snapshotState(w)).toEqual(CONVERGED);
  });

  it('starts nothing after its deadline (the rest is left for the next run)', async () => {
    const w = await world('deadline');
    const result = await sweepServiceRetention(context(w.store), { service: w.service, policy, deadline: Date.now() - 1 });
    expect(result).toMatchObject({ stoppedEarly: true, deleted: 0, snapshots: [] });
    expect((await snapshotState(w)).d5).toEqual(['complete', 3]);
  });

  it('refuses an empty policy before touching anything', async () => {
    const w = await world('empty');
    await expect(sweepServiceRetention(context(w.store), { service: w.service, policy: {} })).rejects.toThrow(RetentionPolicyError);
    await expect(sweepServiceRetention(context(w.store), { service: w.service, policy: {} })).rejects.toThrow(/retention policy of service empty-\d+ is empty/);
    expect((await snapshotState(w)).d5).toEqual(['complete', 3]);
  });

  it('reap-only mode (refused policy) reaps dead uploads and never touches complete snapshots', async () => {
    const w = await world('reaponly');
    const result = await sweepServiceRetention(context(w.store), { service: w.service, policy: {}, reapOnly: true, concurrency: 1 });
    expect(result.snapshots).toEqual([{ id: w.ids.staleUp, outcome: 'reaped' }]);
    const state = await snapshotState(w);
    expect(state.d5).toEqual(['complete', 3]);
    expect(state.d3).toEqual(['complete', 2]);
    expect(state.staleUp).toEqual(['gone', 0]);
  });

  it('works on a directory store (no multipart uploads there)', async () => {
    const dir = await freshDirectoryStore();
    const service = newService('dir');
    const old = await seedSnapshot(catalog, dir.store, service, daysAgo(2));
    const recent = await seedSnapshot(catalog, dir.store, service, daysAgo(1));
    const result = await sweepServiceRetention({ catalog, objects: dir.store, holds, now: () => NOW }, { service, policy: { last: 1 } });
    expect(result.snapshots).toEqual([{ id: old, outcome: 'deleted' }]);
    expect(await objectCount(dir.store, service, old)).toBe(0);
    expect(await objectCount(dir.store, service, recent)).toBe(2);
    expect(result.plan.incompleteUploads).toBeUndefined();
    await dir.cleanup();
  });
});

describe('what the sweep must not delete', () => {
  it('a snapshot with a live snapshot hold at planning time', async () => {
    const w = await world('inuse');
    const use = await holds.acquire({ service: w.service, snapshotId: w.ids.d5, holder: 'task-1', purpose: 'restore', ttlSeconds: 300 });
    const result = await sweepServiceRetention(context(w.store), { service: w.service, policy, concurrency: 1 });
    expect(result.plan.snapshots.find((s) => s.id === w.ids.d5)?.reasons).toEqual(['in use by restore:task-1 (protected)']);
    expect((await snapshotState(w)).d5).toEqual(['complete', 3]);
    await holds.release(use);
    // An expired lease protects nothing.
    await holds.acquire({ service: w.service, snapshotId: w.ids.d5, holder: 'crashed', purpose: 'drill', ttlSeconds: 1 });
    const later = { ...context(w.store), holds: new DynamoSnapshotHolds(createDynamoClient(), catalog.name, () => new Date(NOW.getTime() + 5000)) };
    await sweepServiceRetention(later, { service: w.service, policy });
    expect((await snapshotState(w)).d5).toEqual(['gone', 0]);
  });

  it('a snapshot whose restore started after the plan (re-checked after marking)', async () => {
    const w = await world('late-restore');
    let use: SnapshotHold | undefined;
    const fault = async (step: SweepStep, id: string) => {
      // The restore's lease lands between planning and marking.
      if (step === 'mark' && id === w.ids.d5 && !use)
        use = await holds.acquire({ service: w.service, snapshotId: id, holder: 'task-late', purpose: 'restore', ttlSeconds: 300 });
    };
    const result = await sweepServiceRetention(context(w.store), { service: w.service, policy, concurrency: 1, fault });
    expect(result.snapshots[0]).toEqual({ id: w.ids.d5, outcome: 'skipped', reason: 'in use by restore:task-late' });
    const entry = await catalog.get(w.service, w.ids.d5);
    expect(entry?.status).toBe('complete');
    expect(entry).not.toHaveProperty('expiringFrom');
    expect(await objectCount(w.store, w.service, w.ids.d5)).toBe(3);
    await holds.release(use!);
    await sweepServiceRetention(context(w.store), { service: w.service, policy });
    expect(await snapshotState(w)).toEqual(CONVERGED);
  });

  it('cannot be raced by a restore that starts after the mark: the restore is refused', async () => {
    const w = await world('race');
    let refused: unknown;
    const fault = async (step: SweepStep, id: string) => {
      if (step === 'recheck' && id === w.ids.d5) {
        refused = await holds.acquire({ service: w.service, snapshotId: id, holder: 'too-late', purpose: 'restore', ttlSeconds: 300 }).catch((e: unknown) => e);
      }
    };
    await sweepServiceRetention(context(w.store), { service: w.service, policy, concurrency: 1, fault });
    expect(refused).toBeInstanceOf(OperationFailedError);
    expect((refused as Error).message).toMatch(/is expiring \(being deleted by retention\)/);
    expect((await snapshotState(w)).d5).toEqual(['gone', 0]);
  });

  it('a snapshot verified after the plan (it may now be the newest verified)', async () => {
    const w = await world('verified-late');
    const fault = async (step: SweepStep, id: string) => {
      if (step === 'mark' && id === w.ids.d3) await catalog.markVerified(w.service, id, NOW.toISOString());
    };
    const result = await sweepServiceRetention(context(w.store), { service: w.service, policy, concurrency: 1, fault });
    expect(result.snapshots).toContainEqual({ id: w.ids.d3, outcome: 'skipped', reason: expect.stringMatching(/changed since it was planned/) });
    expect((await snapshotState(w)).d3).toEqual(['complete', 2]);
    // Next run: d3 is now the newest verified, so it is protected and the old verified one goes.
    const next = await sweepServiceRetention(context(w.store), { service: w.service, policy, concurrency: 1 });
    expect(next.plan.snapshots.find((s) => s.id === w.ids.d3)?.reasons).toEqual(['newest verified snapshot (protected)']);
    expect((await snapshotState(w)).d4).toEqual(['gone', 0]);
  });

  it('a snapshot under S3 Object Lock before its retain-until date', async () => {
    const w = await world('locked');
    const locks: Record<string, Date> = { [w.ids.d5]: new Date(NOW.getTime() + 86_400_000), [w.ids.d3]: new Date(NOW.getTime() - 1) };
    const asked: string[] = [];
    const locking = Object.assign(Object.create(w.store) as TrackedUploadsS3Store, {
      objectLock: async (key: string) => {
        asked.push(key);
        const id = Object.keys(locks).find((i) => key.includes(i));
        return id ? { retainUntil: locks[id], mode: 'GOVERNANCE', legalHold: false } : { legalHold: false };
      },
    });
    const result = await sweepServiceRetention(context(locking), { service: w.service, policy, concurrency: 1 });
    // Only the deletion candidates' manifests were asked about.
    expect(asked.sort()).toEqual([`${w.service}/snapshots/${w.ids.d3}/manifest.json.gz`, `${w.service}/snapshots/${w.ids.d5}/manifest.json.gz`].sort());
    expect(result.plan.snapshots.find((s) => s.id === w.ids.d5)?.reasons).toEqual([`S3 Object Lock until ${locks[w.ids.d5]!.toISOString()} (protected)`]);
    const state = await snapshotState(w);
    expect(state.d5).toEqual(['complete', 3]);
    expect(state.d3).toEqual(['gone', 0]);
  });
});
