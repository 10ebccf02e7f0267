/**
 * The retention Lambda handler against DynamoDB Local and the S3 server: one service or
 * all, refused policies reaped only, one failing service not stopping the others, the
 * deadline, metrics per service, and the deployed entry point built from the environment.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDynamoClient, createS3Client } from '../../lambdas/adapters/aws.js';
import type { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import { DynamoServiceRegistry } from '../../lambdas/adapters/service-registry.js';
import { DynamoSnapshotHolds } from '../../lambdas/adapters/snapshot-holds.js';
import { S3Store } from '../../lambdas/adapters/stores/s3-store.js';
import type { ObjectStore } from '../../lambdas/adapters/stores/store.js';
import { UnavailableError, UsageError } from '../../lambdas/domain/errors.js';
import { normalizeServicePolicy } from '../../lambdas/domain/service-policy.js';
import { createRetentionHandler, handler, type RetentionRuntime } from '../../lambdas/handlers/retention.js';
import { createRuntime } from '../../lambdas/runtime/runtime.js';
import { freshBucket, freshCatalog } from '../support/fixtures.js';
import { objectCount, seedSnapshot } from '../support/retention.js';

const NOW = new Date('2026-11-27T12:00:00.000Z');
const daysAgo = (d: number) => new Date(NOW.getTime() - d * 86_400_000);

let catalog: DynamoSnapshotCatalog;
let bucket: string;
let store: S3Store;
let registry: DynamoServiceRegistry;

beforeAll(async () => {
  [catalog, bucket] = await Promise.all([freshCatalog(), freshBucket()]);
  store = new S3Store({ client: createS3Client(), bucket, prefix: 'h/' });
  registry = new DynamoServiceRegistry(createDynamoClient(), catalog.name);
});

function recorder() {
  const logs: { level: string; message: string; data: Record<string, unknown> }[] = [];
  const metrics: { dimensions: Record<string, string>; name: string; value: number }[] = [];
  let dimensions: Record<string, string> = {};
  const pending: { name: string; value: number }[] = [];
  return {
    logs,
    metrics,
    logger: {
      info: (message: string, data: Record<string, unknown> = {}) => logs.push({ level: 'info', message, data }),
      warn: (message: string, data: Record<string, unknown> = {}) => logs.push({ level: 'warn', message, data }),
      error: (message: string, data: Record<string, unknown> = {}) => logs.push({ level: 'error', message, data }),
    },
    metricsSink: {
      addDimension: (name: string, value: string) => void (dimensions[name] = value),
      addMetric: (name: string, _unit: string, value: number) => void pending.push({ name, value }),
      publishStoredMetrics: () => {
        for (const m of pending.splice(0)) metrics.push({ dimensions: { ...dimensions }, ...m });
        dimensions = {};
      },
    },
  };
}

function deps(rec: ReturnType<typeof recorder>, overrides: Partial<RetentionRuntime> = {}): RetentionRuntime {
  return {
    catalog,
    objects: store,
    holds: new DynamoSnapshotHolds(createDynamoClient(), catalog.name, () => NOW),
    registry,
    logger: rec.logger,
    metrics: rec.metricsSink,
    now: () => NOW.getTime(),
    ...overrides,
  };
}

let serial = 0;
async function service(label: string, retention: Record<string, unknown>, ages: number[]) {
  const name = `${label}-${++serial}`;
  await registry.put(normalizeServicePolicy({ service: name, retention }));
  const ids = [];
  for (const d of ages) ids.push(await seedSnapshot(catalog, store, name, daysAgo(d)));
  return { name, ids };
}

describe('retention handler', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('sweeps the service named in the event, logs a line and emits its metrics', async () => {
    const a = await service('one', { last: 1 }, [3, 2, 1]);
    const rec = recorder();
    const out = await createRetentionHandler(deps(rec))({ service: a.name });
    expect(out.services).toEqual([
      { service: a.name, outcome: 'swept', deleted: 2, resumed: 0, reaped: 0, skipped: 0, failed: 0, abortedUploads: 0, stoppedEarly: false },
    ]);
    expect(await objectCount(store, a.name, a.ids[0]!)).toBe(0);
    expect(rec.logs).toEqual([
      expect.objectContaining({ level: 'info', message: 'retention swept', data: expect.objectContaining({ service: a.name, deleted: 2, policy: 'last=1' }) }),
    ]);
    expect(rec.metrics).toEqual([
      { dimensions: { ProtectedService: a.name }, name: 'SnapshotsExpired', value: 2 },
      { dimensions: { ProtectedService: a.name }, name: 'UploadsReaped', value: 0 },
      { dimensions: { ProtectedService: a.name }, name: 'RetentionFailures', value: 0 },
      { dimensions: { ProtectedService: a.name }, name: 'RetentionRefused', value: 0 },
    ]);
  });

  it('takes the service from an EventBridge rule event too, and refuses a malformed event', async () => {
    const a = await service('detail', { last: 1 }, [2, 1]);
    const rec = recorder();
    const out = await createRetentionHandler(deps(rec))({ 'detail-type': 'Scheduled Event', detail: { service: a.name } });
    expect(out.services.map((s) => [s.service, s.deleted])).toEqual([[a.name, 1]]);
    await expect(createRetentionHandler(deps(rec))({ service: 42 })).rejects.toThrow(/invalid retention event: service: /);
    await expect(createRetentionHandler(deps(rec))({ service: 'a/b' })).rejects.toBeInstanceOf(UsageError);
  });

  it('sweeps every registered service; a refused policy only reaps; a failing service fails the run after the others', async () => {
    const good = await service('all-good', { last: 1 }, [2, 1]);
    const bare = await service('all-bare', {}, [5, 4]);
    const dead = await seedSnapshot(catalog, store, bare.name, daysAgo(3), { status: 'uploading' });
    const broken = await service('all-broken', { last: 1 }, [2, 1]);
    const failing: ObjectStore = Object.assign(Object.create(store) as ObjectStore, {
      delete: async (keys: readonly string[]) => {
        if (keys.some((k) => k.startsWith(`${broken.name}/`))) throw new UnavailableError('DeleteObjects: SlowDown');
        return store.delete(keys);
      },
    });
    const rec = recorder();
    const run = createRetentionHandler(deps(rec, { objects: failing }))({});
    await expect(run).rejects.toThrow(new RegExp(`retention failed for ${broken.name}; the next run retries`));
    const byService = (name: string) => rec.logs.find((l) => l.data.service === name);
    expect(byService(good.name)).toMatchObject({ level: 'info', data: { outcome: 'swept', deleted: 1 } });
    expect(byService(bare.name)).toMatchObject({
      level: 'warn',
      message: 'retention policy refused; only dead uploads were reaped',
      data: { outcome: 'refused', reaped: 1 },
    });
    expect(byService(broken.name)).toMatchObject({ level: 'info', data: { failed: 1 } });
    expect(await catalog.get(bare.name, dead)).toBeUndefined();
    for (const id of bare.ids) expect((await catalog.get(bare.name, id))?.status).toBe('complete');
    expect(rec.metrics).toContainEqual({ dimensions: { ProtectedService: bare.name }, name: 'RetentionRefused', value: 1 });
    expect(rec.metrics).toContainEqual({ dimensions: { ProtectedService: broken.name }, name: 'RetentionFailures', value: 1 });
  });

  it('starts no deletion when the Lambda is about to time out', async () => {
    const a = await service('late', { last: 1 }, [2, 1]);
    const rec = recorder();
    const out = await createRetentionHandler(deps(rec))({ service: a.name }, { getRemainingTimeInMillis: () => 10_000, awsRequestId: 'r-1' });
    expect(out.services[0]).toMatchObject({ stoppedEarly: true, deleted: 0 });
    expect((await catalog.get(a.name, a.ids[0]!))?.status).toBe('complete');
  });

  it('reports a service that is named but not protected', async () => {
    const rec = recorder();
    const out = await createRetentionHandler(deps(rec))({ service: 'unknown-svc' });
    expect(out.services[0]).toMatchObject({ service: 'unknown-svc', outcome: 'not-protected' });
  });

  it('the deployed entry point builds its dependencies from the environment', async () => {
    expect(() => createRuntime({}).catalog).toThrow(/LIFEBOAT_TABLE is not set/);
    expect(() => createRuntime({ LIFEBOAT_TABLE: 't' }).objects).toThrow(/neither LIFEBOAT_STORE nor LIFEBOAT_BUCKET is set/);
    const a = await service('env', { last: 1 }, [2, 1]);
    vi.stubEnv('LIFEBOAT_TABLE', catalog.name);
    vi.stubEnv('LIFEBOAT_BUCKET', bucket);
    vi.stubEnv('LIFEBOAT_PREFIX', 'h/');
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    const out = await handler({ service: a.name });
    expect(out.services[0]).toMatchObject({ service: a.name, outcome: 'swept', deleted: 1 });
  });
});
