import { describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import { DynamoServiceRegistry } from '../../lambdas/adapters/service-registry.js';
import { normalizeServicePolicy } from '../../lambdas/domain/service-policy.js';
import { freshTable } from '../support/fixtures.js';

describe('DynamoServiceRegistry', () => {
  it('stores, lists, replaces and removes policies', async () => {
    const registry = new DynamoServiceRegistry(createDynamoClient(), await freshTable());
    expect(await registry.list()).toEqual([]);
    await registry.put(normalizeServicePolicy({ service: 'wiki', targets: { rpoSeconds: 3600 } }));
    await registry.put(normalizeServicePolicy({ service: 'db', failover: { timeoutSeconds: 0 } }));
    expect(await registry.list()).toEqual(['db', 'wiki']);
    expect(await registry.get('db')).toMatchObject({ service: 'db', failover: { timeoutSeconds: 0, leaseSeconds: 15, heartbeatSeconds: 5 } });
    await registry.put(normalizeServicePolicy({ service: 'db', failover: { timeoutSeconds: 45 } }));
    expect((await registry.get('db'))?.failover.timeoutSeconds).toBe(45);
    await registry.remove('wiki');
    expect(await registry.list()).toEqual(['db']);
    expect(await registry.get('wiki')).toBeUndefined();
  });
});
