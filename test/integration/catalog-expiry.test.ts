/**
 * The catalog's deletion phases against DynamoDB Local: complete/uploading → expiring only
 * when the entry is as planned, back to complete (snapshot hold found), and the final delete.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import { makeSnapshotId } from '../../lambdas/domain/ids.js';
import type { SnapshotCompletion } from '../../lambdas/domain/snapshot.js';
import { freshCatalog } from '../support/fixtures.js';

const completion: SnapshotCompletion = {
  completedAt: '2026-11-27T00:00:01.000Z',
  size: 1,
  dataSize: 1,
  fileCount: 1,
  entryCount: 1,
  partCount: 1,
  manifestSha256: 'a'.repeat(64),
  warningCount: 0,
};
let n = 0;
const newId = () => makeSnapshotId(new Date(Date.UTC(2026, 0, 1) + ++n * 1000), Uint8Array.of(1, 2, 3, n));

describe('catalog expiry phases', () => {
  let catalog: DynamoSnapshotCatalog;
  beforeAll(async () => {
    catalog = await freshCatalog();
  });
  const complete = async (service: string) => {
    const id = newId();
    await catalog.begin({
      service,
      id,
      createdAt: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(),
      manifestKey: `${service}/snapshots/${id}/manifest.json.gz`,
      reason: 'test',
    });
    await catalog.commit(service, id, completion);
    return id;
  };

  it('marks a complete entry expiring once, and then nothing can lease or commit it', async () => {
    const id = await complete('svc');
    expect(await catalog.markExpiring('svc', id, { status: 'complete' }, '2026-11-27T10:00:00.000Z')).toBe(true);
    expect(await catalog.get('svc', id)).toMatchObject({ status: 'expiring', expiringAt: '2026-11-27T10:00:00.000Z', expiringFrom: 'complete' });
    expect(await catalog.markExpiring('svc', id, { status: 'complete' }, 'later')).toBe(false);
    expect(await catalog.latest('svc')).toBeUndefined();
  });

  it('does not mark an entry whose verification changed since it was planned', async () => {
    const id = await complete('svc');
    await catalog.markVerified('svc', id, '2026-11-27T09:00:00.000Z');
    expect(await catalog.markExpiring('svc', id, { status: 'complete' }, 'now')).toBe(false);
    expect(await catalog.markExpiring('svc', id, { status: 'complete', verifiedAt: '2026-11-27T08:00:00.000Z' }, 'now')).toBe(false);
    expect(await catalog.markExpiring('svc', id, { status: 'complete', verifiedAt: '2026-11-27T09:00:00.000Z' }, 'now')).toBe(true);
  });

  it('puts an entry that was complete back, but never one that was uploading', async () => {
    const id = await complete('svc');
    await catalog.markExpiring('svc', id, { status: 'complete' }, 'now');
    expect(await catalog.unmarkExpiring('svc', id)).toBe(true);
    const back = await catalog.get('svc', id);
    expect(back?.status).toBe('complete');
    expect(back).not.toHaveProperty('expiringAt');
    expect(await catalog.unmarkExpiring('svc', id)).toBe(false);

    const up = newId();
    await catalog.begin({ service: 'svc', id: up, createdAt: 'x', manifestKey: 'k', reason: 'test' });
    expect(await catalog.markExpiring('svc', up, { status: 'complete' }, 'now')).toBe(false);
    expect(await catalog.markExpiring('svc', up, { status: 'uploading' }, 'now')).toBe(true);
    expect(await catalog.unmarkExpiring('svc', up)).toBe(false);
    // A writer that is still alive cannot commit an entry the sweeper took.
    await expect(catalog.commit('svc', up, completion)).rejects.toThrow(/no longer uploading/);
  });

  it('deletes only expiring entries', async () => {
    const id = await complete('svc');
    expect(await catalog.deleteExpiring('svc', id)).toBe(false);
    await catalog.markExpiring('svc', id, { status: 'complete' }, 'now');
    expect(await catalog.deleteExpiring('svc', id)).toBe(true);
    expect(await catalog.get('svc', id)).toBeUndefined();
    expect(await catalog.deleteExpiring('svc', id)).toBe(false);
  });

  it('lists summaries of every status, newest first, with only the retention fields', async () => {
    const service = 'summ';
    const a = await complete(service);
    const b = await complete(service);
    const c = newId();
    await catalog.begin({ service, id: c, createdAt: '2026-01-01T00:00:00.000Z', manifestKey: 'k', reason: 'x'.repeat(1000) });
    await catalog.markExpiring(service, a, { status: 'complete' }, 'then');
    await catalog.markVerified(service, b, 'v');
    const got = [];
    for await (const s of catalog.summaries(service)) got.push(s);
    expect(got.map((s) => [s.id, s.status])).toEqual([
      [c, 'uploading'],
      [b, 'complete'],
      [a, 'expiring'],
    ]);
    expect(got[1]).toEqual({
      service,
      id: b,
      status: 'complete',
      createdAt: expect.any(String),
      manifestKey: `${service}/snapshots/${b}/manifest.json.gz`,
      verifiedAt: 'v',
    });
    expect(got[0]).not.toHaveProperty('reason');
  });
});
