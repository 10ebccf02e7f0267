/**
 * The DynamoDB catalog against DynamoDB Local: the uploading → complete commit point,
 * conditional failures, ordering, pagination and the setup errors users meet.
 */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import { DynamoSnapshotCatalog, ensureCatalogTable } from '../../lambdas/adapters/catalog.js';
import { OperationFailedError, UnavailableError } from '../../lambdas/domain/errors.js';
import { makeSnapshotId } from '../../lambdas/domain/ids.js';
import type { SnapshotCompletion } from '../../lambdas/domain/snapshot.js';
import { freshCatalog, setLeaseTerm, uniqueName } from '../support/fixtures.js';

const completion = (n = 1): SnapshotCompletion => ({
  completedAt: new Date().toISOString(),
  size: 100 * n,
  dataSize: 200 * n,
  fileCount: n,
  entryCount: n + 1,
  partCount: 1,
  manifestSha256: 'a'.repeat(64),
  warningCount: 0,
});

const idAt = (ms: number, tag = 0) => makeSnapshotId(new Date(Date.UTC(2026, 0, 1) + ms), Uint8Array.of(0, 0, 0, tag));

describe('DynamoSnapshotCatalog', () => {
  let catalog: DynamoSnapshotCatalog;
  beforeAll(async () => {
    catalog = await freshCatalog();
  });

  const begin = (service: string, id: string) =>
    catalog.begin({ service, id, createdAt: new Date().toISOString(), manifestKey: `${service}/snapshots/${id}/manifest.json.gz`, reason: 'test' });

  it('moves an entry from uploading to complete exactly once', async () => {
    const id = idAt(1);
    await begin('svc', id);
    expect(await catalog.get('svc', id)).toMatchObject({ id, service: 'svc', status: 'uploading' });
    const done = await catalog.commit('svc', id, completion());
    expect(done).toMatchObject({ id, status: 'complete', fileCount: 1 });
    await expect(catalog.commit('svc', id, completion())).rejects.toBeInstanceOf(OperationFailedError);
    await expect(begin('svc', id)).rejects.toThrow(/already exists/);
  });

  it('cannot commit an entry that was discarded or never begun', async () => {
    const id = idAt(2);
    await begin('svc', id);
    await catalog.discard('svc', id);
    expect(await catalog.get('svc', id)).toBeUndefined();
    await expect(catalog.commit('svc', id, completion())).rejects.toThrow(/no longer uploading/);
  });

  it('does not discard a complete entry', async () => {
    const id = idAt(3);
    await begin('svc', id);
    await catalog.commit('svc', id, completion());
    await catalog.discard('svc', id);
    expect((await catalog.get('svc', id))?.status).toBe('complete');
  });

  it('lists newest first across pages and finds the latest complete and verified', async () => {
    const service = 'many';
    const ids = Array.from({ length: 30 }, (_, i) => idAt(1000 + i));
    // Big items make DynamoDB paginate a 30-item query (1 MB pages): pad with a large reason.
    for (const id of ids) {
      await catalog.begin({ service, id, createdAt: new Date().toISOString(), manifestKey: 'k', reason: 'x'.repeat(60_000) });
    }
    for (const id of ids.slice(0, 25)) await catalog.commit(service, id, completion());
    const listed: string[] = [];
    for await (const r of catalog.list(service)) listed.push(r.id);
    expect(listed).toEqual([...ids].reverse());
    // The 5 newest are still uploading, so latest is the 25th.
    expect((await catalog.latest(service))?.id).toBe(ids[24]);
    expect(await catalog.latest(service, { verified: true })).toBeUndefined();
    await catalog.markVerified(service, ids[3]!, '2026-11-27T00:00:00.000Z');
    expect(await catalog.latest(service, { verified: true })).toMatchObject({ id: ids[3], verifiedAt: '2026-11-27T00:00:00.000Z' });
    await expect(catalog.markVerified(service, ids[29]!, 'now')).rejects.toThrow(/not complete/);
  });

  it("commits a fenced entry only while the writer's term is the lease's", async () => {
    const id = idAt(20);
    const other = idAt(21);
    await begin('fenced', id);
    await begin('fenced', other);
    // No lease at all: nobody is primary, so nobody's term is current.
    await expect(catalog.commit('fenced', id, completion(), { term: 1 })).rejects.toThrow(/taken under term 1, but the service has no lease/);
    await setLeaseTerm(catalog, 'fenced', 5, 'task-b');
    const err = await catalog.commit('fenced', id, completion(), { term: 4 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationFailedError);
    expect((err as Error).message).toMatch(/taken under term 4, but the lease is at term 5, held by task-b: this task is no longer primary/);
    // Nothing changed: still uploading (the snapshot engine discards it).
    expect((await catalog.get('fenced', id))?.status).toBe('uploading');
    const done = await catalog.commit('fenced', other, completion(2), { term: 5 });
    expect(done).toMatchObject({ id: other, status: 'complete', fileCount: 2 });
    // The uploading check still comes first in the same transaction.
    await expect(catalog.commit('fenced', other, completion(), { term: 5 })).rejects.toThrow(/no longer uploading/);
  });

  it('keeps services apart', async () => {
    await begin('other', idAt(5));
    const listed: string[] = [];
    for await (const r of catalog.list('svc')) listed.push(r.service);
    expect(new Set(listed)).toEqual(new Set(['svc']));
  });

  it('GIVEN a verified snapshot WHEN a later drill fails THEN it is suspect, not verified, and latest-verified and trusted latest move to the older good one; the later verdict of two drills stands', async () => {
    const service = 'suspect';
    const [older, newer] = [idAt(3000), idAt(3001)];
    for (const id of [older, newer]) {
      await begin(service, id);
      await catalog.commit(service, id, completion());
      expect(await catalog.markVerified(service, id, '2026-12-01T00:00:00.000Z')).toBe(true);
    }
    expect((await catalog.latest(service, { verified: true }))?.id).toBe(newer);

    expect(await catalog.markSuspect(service, newer, '2026-12-02T00:00:00.000Z', 'drill-b')).toBe(true);
    expect(await catalog.get(service, newer)).toMatchObject({ suspectAt: '2026-12-02T00:00:00.000Z', suspectDrill: 'drill-b' });
    expect((await catalog.get(service, newer))?.verifiedAt).toBeUndefined();
    expect((await catalog.latest(service, { verified: true }))?.id).toBe(older);
    expect((await catalog.latest(service, { trusted: true }))?.id).toBe(older);
    expect((await catalog.latest(service))?.id).toBe(newer); // still the newest taken (RPO, drills)

    // A pass that finished before the failure does not clear it (events arrive in any order)...
    expect(await catalog.markVerified(service, newer, '2026-12-01T12:00:00.000Z')).toBe(false);
    expect((await catalog.get(service, newer))?.suspectAt).toBeDefined();
    // ...a failure older than the last pass does not withdraw it...
    expect(await catalog.markSuspect(service, older, '2026-11-30T00:00:00.000Z', 'drill-old')).toBe(false);
    expect((await catalog.get(service, older))?.verifiedAt).toBe('2026-12-01T00:00:00.000Z');
    // ...and a later pass verifies the snapshot again.
    expect(await catalog.markVerified(service, newer, '2026-12-03T00:00:00.000Z')).toBe(true);
    expect(await catalog.get(service, newer)).toMatchObject({ verifiedAt: '2026-12-03T00:00:00.000Z' });
    expect((await catalog.get(service, newer))?.suspectAt).toBeUndefined();
    expect((await catalog.latest(service, { verified: true }))?.id).toBe(newer);
  });

  it('imports a recovered entry once', async () => {
    const record = { service: 'rebuilt', id: idAt(9), status: 'complete' as const, createdAt: 'x', manifestKey: 'k', reason: 'r', ...completion() };
    expect(await catalog.importComplete(record)).toBe('imported');
    expect(await catalog.importComplete(record)).toBe('exists');
  });
});

describe('catalog setup', () => {
  it('names a missing table and how to create it', async () => {
    const catalog = new DynamoSnapshotCatalog(createDynamoClient(), 'no-such-table');
    const err = await catalog.check().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).message).toBe('table no-such-table does not exist');
    expect((err as UnavailableError).hint).toMatch(/lifeboat init/);
    await expect(catalog.latest('svc')).rejects.toThrow(/table no-such-table does not exist/);
  });

  it('reports an unreachable endpoint as unavailable', async () => {
    const client = createDynamoClient({ ...process.env, AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9', AWS_MAX_ATTEMPTS: '1' });
    const err = await new DynamoSnapshotCatalog(client, 'whatever').check().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/cannot reach table whatever/);
  });

  it('creates the table once; a second run is harmless; a foreign table is refused', async () => {
    const client = new DynamoDBClient({});
    const name = uniqueName('init');
    expect(await ensureCatalogTable(client, name)).toBe('created');
    expect(await ensureCatalogTable(client, name)).toBe('exists');
    const { CreateTableCommand } = await import('@aws-sdk/client-dynamodb');
    const foreign = uniqueName('foreign');
    await client.send(
      new CreateTableCommand({
        TableName: foreign,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );
    await expect(ensureCatalogTable(client, foreign)).rejects.toThrow(/exists with key schema \(id, undefined\)/);
  });
});
