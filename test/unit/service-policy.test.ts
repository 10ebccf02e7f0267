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
    [{ retention: { lst: 3 } }, /unknown key "retention.lst" in the policy \(did you mean "last"\?\)/],
    [{ retension: {} }, /unknown key "retension" in the policy \(did you mean "retention"\?\)/],
    [{ failover: { timeout: 3 } }, /unknown key "failover.timeout" .*did you mean "timeoutSeconds"/],
    [{ ecs: { clustr: 'c' } }, /unknown key "ecs.clustr" .*did you mean "cluster"/],
    [{ discovery: { portt: 80 } }, /unknown key "discovery.portt" .*did you mean "port"/],
    [{ targets: { rpo: 60 } }, /unknown key "targets.rpo"/],
    [{ snapshot: [] }, /snapshot is \[\] \(an array\); it must be a JSON object/],
    [{ drill: { timeoutSeconds: 60 } }, /drill.verifyCommand is null; a drill must verify the restored data/],
    [{ drill: { verifyCommand: ' ' } }, /drill.verifyCommand is " "; a drill must verify/],
  ])('rejects %j', (patch, message) => {
    expect(() => normalizeServicePolicy({ service: 'db', ...patch } as never)).toThrow(message);
  });
  it('accepts an empty drill section (no drills) and options left undefined', () => {
    expect(normalizeServicePolicy({ service: 'db', drill: {} }).drill).toEqual({});
    expect(() => normalizeServicePolicy({ service: 'db', dataDir: undefined, drill: { verifyCommand: 'true', app: undefined } })).not.toThrow();
  });
  it('refuses what is not an object, naming the value', () => {
    expect(() => normalizeServicePolicy([] as never)).toThrow(/the policy is \[\] \(an array\)/);
    expect(() => normalizeServicePolicy(null as never)).toThrow(/the policy is null \(null\)/);
  });
});
