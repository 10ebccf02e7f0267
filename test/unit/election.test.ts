/**
 * The pure election rules: eligibility, ranking, when a primary counts as lost, what an
 * elector decides; and how ECS task descriptions become observations (drills included).
 */
import { describe, expect, it } from 'vitest';
import { isDrillTask } from '../../lambdas/domain/drills.js';
import { EcsTaskSchema, parseEcsTask } from '../../lambdas/domain/ecs-task.js';
import { compareCandidates, decideFailover, isEligible, primaryLostAt, rankCandidates, roleOf } from '../../lambdas/domain/election.js';
import { ecsServiceOfGroup, goneAtOf, type Lease, type Member, observationFromEcsTask } from '../../lambdas/domain/membership.js';
import { taskStateChange } from '../support/ecs-events.js';

const NOW = 1_000_000;
const member = (taskArn: string, extra: Partial<Member> = {}): Member => ({
  service: 's',
  taskArn,
  lastStatus: 'RUNNING',
  desiredStatus: 'RUNNING',
  aliveUntil: NOW + 5000,
  commands: {},
  ...extra,
});
const lease = (holder: string, term = 3): Lease => ({ service: 's', holder, term, electedAt: 0 });

describe('eligibility and ranking', () => {
  it('only running, alive members that are not leaving may be elected', () => {
    expect(isEligible(member('a'), NOW)).toBe(true);
    expect(isEligible(member('a', { aliveUntil: NOW }), NOW)).toBe(false);
    expect(isEligible(member('a', { aliveUntil: undefined }), NOW)).toBe(false);
    expect(isEligible(member('a', { lastStatus: 'PENDING' }), NOW)).toBe(false);
    expect(isEligible(member('a', { desiredStatus: 'STOPPED' }), NOW)).toBe(false);
    expect(isEligible(member('a', { goneAt: NOW - 1 }), NOW)).toBe(false);
  });

  it('prefers fresher data, then priority, then the oldest task, then the ARN', () => {
    const ranked = rankCandidates(
      [
        member('e', { dataPosition: 5, startedAt: 1 }),
        member('d', { dataPosition: 9, startedAt: 50 }),
        member('c', { dataPosition: 9, startedAt: 10 }),
        member('b', { dataPosition: 9, startedAt: 10 }),
        member('a', { dataPosition: 9, startedAt: 99, priority: 1 }),
        member('z'),
        member('x', { dataPosition: 100, aliveUntil: NOW - 1 }),
      ],
      NOW,
    );
    expect(ranked.map((m) => m.taskArn)).toEqual(['a', 'b', 'c', 'd', 'e', 'z']);
    expect(compareCandidates(member('a'), member('a'))).toBe(0);
  });
});

describe('decideFailover', () => {
  const policy = { timeoutSeconds: 30 };

  it('is healthy while the holder is alive and not leaving', () => {
    const d = decideFailover('s', lease('a'), [member('a', { primaryTerm: 3 }), member('b')], policy, NOW);
    expect(d).toMatchObject({ kind: 'healthy', expiresAt: NOW + 5000 });
  });

  it('elects at once when there is no primary at all', () => {
    expect(decideFailover('s', undefined, [member('b', { dataPosition: 1 }), member('c', { dataPosition: 2 })], policy, NOW)).toMatchObject({
      kind: 'elect',
      request: { observedTerm: 0, candidate: 'c', reason: 'bootstrap', previousHolderExists: false },
    });
    // The lease names a holder whose item is gone (expired): nothing to wait for either.
    expect(decideFailover('s', lease('gone'), [member('b')], policy, NOW)).toMatchObject({
      kind: 'elect',
      request: { observedTerm: 3, previousHolder: 'gone', previousHolderExists: false, candidate: 'b', lostCutoff: NOW },
    });
    expect(decideFailover('s', undefined, [], policy, NOW)).toMatchObject({ kind: 'no-candidate' });
  });

  it('waits the failover timeout after the primary was lost, whichever way', () => {
    const stopped = member('a', { goneAt: NOW - 10_000, aliveUntil: NOW + 4000 });
    expect(decideFailover('s', lease('a'), [stopped, member('b')], policy, NOW)).toEqual({
      kind: 'wait',
      lease: lease('a'),
      lostAt: NOW - 10_000,
      dueAt: NOW + 20_000,
    });
    const silent = member('a', { aliveUntil: NOW - 31_000 });
    expect(decideFailover('s', lease('a'), [silent, member('b')], policy, NOW)).toMatchObject({
      kind: 'elect',
      lostAt: NOW - 31_000,
      request: { observedTerm: 3, previousHolder: 'a', previousHolderExists: true, lostCutoff: NOW - 30_000, candidate: 'b', reason: 'failover' },
    });
    expect(decideFailover('s', lease('a'), [silent], policy, NOW)).toMatchObject({ kind: 'no-candidate', lostAt: NOW - 31_000 });
  });

  it('never re-elects the lost holder itself', () => {
    const d = decideFailover('s', lease('a'), [member('a', { aliveUntil: NOW - 60_000 })], { timeoutSeconds: 0 }, NOW);
    expect(d.kind).toBe('no-candidate');
  });

  it('knows when a primary is lost, and what a member is', () => {
    expect(primaryLostAt(undefined, undefined)).toBe(-Infinity);
    expect(primaryLostAt(lease('a'), member('a', { goneAt: 5, aliveUntil: 9 }))).toBe(5);
    expect(primaryLostAt(lease('a'), member('a', { aliveUntil: 9 }))).toBe(9);
    expect(roleOf(member('a', { primaryTerm: 4 }))).toEqual({ kind: 'primary', term: 4 });
    expect(roleOf(member('a'))).toEqual({ kind: 'replica' });
    expect(roleOf(member('a', { primaryTerm: 4, goneAt: 1 }))).toEqual({ kind: 'leaving' });
    expect(roleOf(undefined)).toEqual({ kind: 'leaving' });
  });
});

describe('ECS task observations', () => {
  it('reads the documented event shape: address from the ENI, times, group', () => {
    const event = taskStateChange({ taskArn: 'arn:aws:ecs:us-east-1:1:task/prod/abc', lastStatus: 'RUNNING', version: 3, ip: '10.0.1.163' });
    expect(observationFromEcsTask(EcsTaskSchema.parse(event.detail))).toEqual({
      taskArn: 'arn:aws:ecs:us-east-1:1:task/prod/abc',
      clusterArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/prod',
      lastStatus: 'RUNNING',
      desiredStatus: 'RUNNING',
      version: 3,
      group: 'service:wiki',
      startedBy: 'ecs-svc/9223370556150183303',
      taskDefinitionArn: 'arn:aws:ecs:us-east-1:123456789012:task-definition/wiki:5',
      ip: '10.0.1.163',
      startedAt: Date.parse('2026-11-27T11:59:55.325Z'),
      updatedAt: Date.parse('2026-11-27T12:00:00.000Z'),
    });
  });

  it('falls back to the containers for the address and rejects incomplete tasks', () => {
    expect(
      observationFromEcsTask({
        taskArn: 't',
        lastStatus: 'RUNNING',
        desiredStatus: 'RUNNING',
        version: 1,
        containers: [{ networkInterfaces: [{ privateIpv4Address: '10.1.1.1' }] }],
      })?.ip,
    ).toBe('10.1.1.1');
    expect(parseEcsTask({ taskArn: 't', lastStatus: 'RUNNING', desiredStatus: 'RUNNING' })).toBeUndefined();
  });

  it('dates the start of going away from the earliest stop time', () => {
    const base = { taskArn: 't', version: 1 };
    expect(goneAtOf({ ...base, lastStatus: 'RUNNING', desiredStatus: 'RUNNING' }, 7)).toBeUndefined();
    expect(goneAtOf({ ...base, lastStatus: 'RUNNING', desiredStatus: 'STOPPED', stoppingAt: 5, updatedAt: 6 }, 7)).toBe(5);
    expect(goneAtOf({ ...base, lastStatus: 'STOPPED', desiredStatus: 'STOPPED' }, 7)).toBe(7);
  });

  it('recognises drill tasks by startedBy or by the drill flag in overrides', () => {
    expect(isDrillTask({ startedBy: 'drill-20261127-1' })).toBe(true);
    expect(isDrillTask({ startedBy: 'ecs-svc/1', overrideEnvironment: { LIFEBOAT_MODE: 'drill' } })).toBe(true);
    expect(isDrillTask({ overrideEnvironment: { LIFEBOAT_MODE: 'replica' } })).toBe(false);
    expect(isDrillTask({ startedBy: 'ecs-svc/1' })).toBe(false);
    expect(isDrillTask({ startedBy: 'ecs-svc/1' })).toBe(false);
    const drill = taskStateChange({ taskArn: 't', lastStatus: 'RUNNING', version: 1, environment: { LIFEBOAT_MODE: 'drill' } });
    expect(isDrillTask(observationFromEcsTask(EcsTaskSchema.parse(drill.detail)))).toBe(true);
    expect(ecsServiceOfGroup('service:wiki')).toBe('wiki');
    expect(ecsServiceOfGroup('family:wiki')).toBeUndefined();
  });
});

describe('ServiceResolver', () => {
  it('caches policies, matches clusters, and notices a newly protected service on a miss', async () => {
    const { ServiceResolver } = await import('../../lambdas/control/services.js');
    const { normalizeServicePolicy } = await import('../../lambdas/domain/service-policy.js');
    const policies = new Map([['wiki', normalizeServicePolicy({ service: 'wiki', ecs: { cluster: 'prod' } })]]);
    let lists = 0;
    const registry = {
      list: async () => {
        lists++;
        return [...policies.keys()];
      },
      get: async (s: string) => policies.get(s),
    };
    let now = 0;
    const r = new ServiceResolver(registry, () => now);
    expect((await r.resolve('wiki', 'arn:aws:ecs:us-east-1:1:cluster/prod'))?.service).toBe('wiki');
    expect(await r.resolve('wiki', 'arn:aws:ecs:us-east-1:1:cluster/staging')).toBeUndefined();
    expect(lists).toBe(1);
    policies.set('db', normalizeServicePolicy({ service: 'db', ecs: { serviceName: 'db-ecs' } }));
    expect(await r.resolve('db-ecs')).toBeUndefined(); // within a few seconds of the last read: cached miss
    expect(lists).toBe(1);
    now = 6000;
    expect((await r.resolve('db-ecs'))?.service).toBe('db');
    expect(lists).toBe(2);
  });
});

describe('discovery policy', () => {
  it('checks the port and the instance id', async () => {
    const { normalizeServicePolicy } = await import('../../lambdas/domain/service-policy.js');
    expect(normalizeServicePolicy({ service: 'wiki', discovery: { serviceId: 'srv-1', port: 5432, instanceId: 'primary' } }).discovery).toEqual({
      serviceId: 'srv-1',
      port: 5432,
      instanceId: 'primary',
    });
    expect(() => normalizeServicePolicy({ service: 'wiki', discovery: { port: 70000 } })).toThrow(/discovery.port is 70000/);
    expect(() => normalizeServicePolicy({ service: 'wiki', discovery: { instanceId: 'a/b' } })).toThrow(/not a valid Cloud Map instance id/);
  });
});
