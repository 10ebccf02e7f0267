import { describe, expect, it } from 'vitest';
import { DEFAULT_FAILOVER, normalizeServicePolicy } from '../../lambdas/domain/service-policy.js';

describe('normalizeServicePolicy', () => {
  it('fills defaults', () => {
    expect(normalizeServicePolicy({ service: 'db' })).toEqual({
      service: 'db',
      snapshot: {},
      retention: {},
      failover: DEFAULT_FAILOVER,
      drill: {},
      targets: {},
    });
  });
  it.each([
    [{ failover: { timeoutSeconds: -1 } }, /failover.timeoutSeconds is -1/],
    [{ failover: { timeoutSeconds: 1.5 } }, /whole number of seconds/],
    [{ failover: { heartbeatSeconds: 10, leaseSeconds: 15 } }, /at most half of failover.leaseSeconds/],
    [{ targets: { rpoSeconds: 0 } }, /targets.rpoSeconds is 0/],
    [{ service: 'a/b' }, /service name "a\/b" is not valid/],
  ])('rejects %j', (patch, message) => {
    expect(() => normalizeServicePolicy({ service: 'db', ...patch } as never)).toThrow(message);
  });
});
