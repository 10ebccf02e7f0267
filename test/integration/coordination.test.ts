/**
 * The coordination store contract, run against DynamoDB Local (real HTTP, real conditional
 * writes and transactions) and against the in-memory model the simulation uses, so the
 * model cannot drift from the table. Then 200 rounds of real concurrent elections.
 */

import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import { DynamoCoordinationStore } from '../../lambdas/adapters/coordination.js';
import { memberKey } from '../../lambdas/contract/keys.js';
import { decideFailover, type ElectionRequest, roleOf } from '../../lambdas/domain/election.js';
import { arn, COORDINATION_STORES, observation, runningMember, type TestStore } from '../support/coordination.js';
import { freshTable } from '../support/fixtures.js';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const policy = { timeoutSeconds: 30 };

describe.each(COORDINATION_STORES)('coordination store: $name', ({ make }) => {
  let store: TestStore;
  let n = 0;
  const svc = () => `svc-${++n}`;
  beforeAll(async () => {
    store = await make();
  });

  it('applies ECS task states only when their version is newer', async () => {
    const s = svc();
    expect((await store.recordTaskState(s, observation(arn(1), 'PENDING', 1), T0)).applied).toBe(true);
    expect((await store.recordTaskState(s, observation(arn(1), 'RUNNING', 3, { ip: '10.0.0.5', startedAt: T0 }), T0)).applied).toBe(true);
    // A late, duplicated or reordered event changes nothing.
    expect((await store.recordTaskState(s, observation(arn(1), 'PENDING', 2), T0)).applied).toBe(false);
    expect((await store.recordTaskState(s, observation(arn(1), 'RUNNING', 3), T0)).applied).toBe(false);
    const { members, lease } = await store.readState(s);
    expect(lease).toBeUndefined();
    expect(members).toEqual([
      expect.objectContaining({ taskArn: arn(1), service: s, lastStatus: 'RUNNING', version: 3, ip: '10.0.0.5', startedAt: T0, commands: {} }),
    ]);
    expect(members[0]!.goneAt).toBeUndefined();
  });

  it('records when a task started going away, once', async () => {
    const s = svc();
    await store.recordTaskState(s, observation(arn(1), 'RUNNING', 1), T0);
    await store.recordTaskState(s, observation(arn(1), 'RUNNING', 2, { desiredStatus: 'STOPPED', stoppingAt: T0 + 1000 }), T0 + 1000);
    await store.recordTaskState(s, observation(arn(1), 'STOPPED', 3, { stoppingAt: T0 + 1000, stoppedAt: T0 + 5000 }), T0 + 5000);
    const [m] = (await store.readState(s)).members;
    expect(m).toMatchObject({ lastStatus: 'STOPPED', desiredStatus: 'STOPPED', goneAt: T0 + 1000 });
    // STOPPED is final: an older RUNNING, or even a newer version, changes nothing.
    expect((await store.recordTaskState(s, observation(arn(1), 'RUNNING', 2), T0 + 6000)).applied).toBe(false);
    expect((await store.recordTaskState(s, observation(arn(1), 'RUNNING', 9), T0 + 6000)).applied).toBe(false);
    expect((await store.readState(s)).members[0]).toMatchObject({ lastStatus: 'STOPPED', version: 3 });
  });

  it('heartbeats renew the member, return it, and are refused once it is going away', async () => {
    const s = svc();
    await store.recordTaskState(s, observation(arn(1), 'RUNNING', 1), T0);
    const beat = await store.heartbeat(s, arn(1), { now: T0, aliveUntil: T0 + 15_000, dataPosition: 42 });
    expect(beat.renewed).toBe(true);
    expect(beat.member).toMatchObject({ taskArn: arn(1), heartbeatAt: T0, aliveUntil: T0 + 15_000, dataPosition: 42, lastStatus: 'RUNNING', commands: {} });
    expect(roleOf(beat.member)).toEqual({ kind: 'replica' });
    // A heartbeat may arrive before the RUNNING event: it creates the member.
    const early = await store.heartbeat(s, arn(2), { now: T0, aliveUntil: T0 + 15_000 });
    expect(early).toMatchObject({ renewed: true, member: { taskArn: arn(2), commands: {} } });
    expect(early.member.lastStatus).toBeUndefined();

    await store.release(s, arn(1), T0 + 1000);
    const refused = await store.heartbeat(s, arn(1), { now: T0 + 2000, aliveUntil: T0 + 17_000 });
    expect(refused.renewed).toBe(false);
    expect(refused.member).toMatchObject({ goneAt: T0 + 1000, aliveUntil: T0 + 15_000, dataPosition: 42 });
    expect(roleOf(refused.member)).toEqual({ kind: 'leaving' });
  });

  it('delivers commands with every heartbeat until acknowledged, idempotently', async () => {
    const s = svc();
    const cmd = (id: string) => ({ id, type: 'snapshot', args: { reason: 'hook' }, enqueuedAt: T0 });
    expect(await store.enqueue(s, arn(9), cmd('c0'))).toBe('no-member');
    await store.recordTaskState(s, observation(arn(1), 'RUNNING', 1), T0);
    expect(await store.enqueue(s, arn(1), cmd('c1'))).toBe('queued');
    expect(await store.enqueue(s, arn(1), cmd('c2'))).toBe('queued');
    const first = await store.heartbeat(s, arn(1), { now: T0, aliveUntil: T0 + 15_000 });
    expect(Object.keys(first.member.commands).sort()).toEqual(['c1', 'c2']);
    expect(first.member.commands.c1).toEqual(cmd('c1'));
    // Not acknowledged yet: delivered again.
    const again = await store.heartbeat(s, arn(1), { now: T0 + 1, aliveUntil: T0 + 15_001 });
    expect(Object.keys(again.member.commands).sort()).toEqual(['c1', 'c2']);
    const acked = await store.heartbeat(s, arn(1), { now: T0 + 2, aliveUntil: T0 + 15_002, acknowledge: ['c1'] });
    expect(Object.keys(acked.member.commands)).toEqual(['c2']);
    // Acknowledging again (a retried heartbeat) is harmless.
    const twice = await store.heartbeat(s, arn(1), { now: T0 + 3, aliveUntil: T0 + 15_003, acknowledge: ['c1', 'c2'] });
    expect(twice.member.commands).toEqual({});
    await store.release(s, arn(1), T0 + 4);
    expect(await store.enqueue(s, arn(1), cmd('c3'))).toBe('gone');
  });

  it('elects a first primary once; a second bootstrap loses', async () => {
    const s = svc();
    await runningMember(store, s, arn(1), T0, { dataPosition: 5 });
    await runningMember(store, s, arn(2), T0, { dataPosition: 9 });
    const decision = decideFailover(s, undefined, (await store.readState(s)).members, policy, T0 + 1);
    expect(decision).toMatchObject({ kind: 'elect', request: { candidate: arn(2), observedTerm: 0, reason: 'bootstrap' } });
    if (decision.kind !== 'elect') throw new Error('unreachable');
    expect(await store.elect(decision.request)).toMatchObject({ kind: 'elected', lease: { holder: arn(2), term: 1 } });
    expect(await store.elect({ ...decision.request, candidate: arn(1) })).toEqual({ kind: 'superseded' });
    const state = await store.readState(s);
    // The lease's expiry is its holder's heartbeat lease, read with it.
    expect(state.lease).toEqual({ service: s, holder: arn(2), term: 1, electedAt: T0 + 1, expiresAt: T0 + 15_000 });
    expect(state.members.map((m) => [m.taskArn, m.primaryTerm])).toEqual([
      [arn(1), undefined],
      [arn(2), 1],
    ]);
  });

  it('replaces a lost primary only after the failover timeout, and deposes it', async () => {
    const s = svc();
    await runningMember(store, s, arn(1), T0, { dataPosition: 9 });
    await runningMember(store, s, arn(2), T0, { dataPosition: 5 });
    const boot = decideFailover(s, undefined, (await store.readState(s)).members, policy, T0);
    if (boot.kind !== 'elect') throw new Error('expected a bootstrap election');
    await store.elect(boot.request);
    // The primary's task stops at T0+1s; the replica keeps heartbeating.
    await store.recordTaskState(s, observation(arn(1), 'STOPPED', 5, { stoppingAt: T0 + 1000, stoppedAt: T0 + 2000 }), T0 + 2000);
    await store.heartbeat(s, arn(2), { now: T0 + 20_000, aliveUntil: T0 + 35_000 });
    let state = await store.readState(s);
    expect(decideFailover(s, state.lease, state.members, policy, T0 + 20_000)).toMatchObject({ kind: 'wait', lostAt: T0 + 1000, dueAt: T0 + 31_000 });

    // An elector that jumps the gun (its clock says the wait is over, the data says not): refused.
    const early: ElectionRequest = {
      service: s,
      observedTerm: 1,
      previousHolder: arn(1),
      previousHolderExists: true,
      lostCutoff: T0 + 500,
      candidate: arn(2),
      now: T0 + 20_000,
      reason: 'failover',
    };
    expect(await store.elect(early)).toEqual({ kind: 'holder-alive' });

    const due = decideFailover(s, state.lease, state.members, policy, T0 + 31_000);
    expect(due).toMatchObject({
      kind: 'elect',
      request: { candidate: arn(2), observedTerm: 1, previousHolder: arn(1), lostCutoff: T0 + 1000, reason: 'failover' },
    });
    if (due.kind !== 'elect') throw new Error('unreachable');
    expect(await store.elect(due.request)).toMatchObject({ kind: 'elected', lease: { holder: arn(2), term: 2, previousHolder: arn(1) } });
    // A duplicate of the same decision (a retried Lambda) changes nothing.
    expect(await store.elect(due.request)).toEqual({ kind: 'superseded' });
    state = await store.readState(s);
    const byArn = Object.fromEntries(state.members.map((m) => [m.taskArn, m]));
    expect(byArn[arn(1)]).toMatchObject({ deposedTerm: 1 });
    expect(byArn[arn(1)]!.primaryTerm).toBeUndefined();
    expect(byArn[arn(2)]).toMatchObject({ primaryTerm: 2 });
    expect(roleOf(byArn[arn(1)])).toEqual({ kind: 'leaving' });
  });

  it('does not depose a primary whose heartbeat came back, nor elect a stale candidate', async () => {
    const s = svc();
    await runningMember(store, s, arn(1), T0, { leaseMs: 3000 });
    await runningMember(store, s, arn(2), T0, { leaseMs: 60_000 });
    const boot = decideFailover(s, undefined, (await store.readState(s)).members, policy, T0);
    if (boot.kind !== 'elect') throw new Error('expected a bootstrap election');
    expect(boot.request.candidate).toBe(arn(1)); // same data, same age: the ARN decides
    await store.elect(boot.request);
    // The lease ran out at T0+3s; the decision at T0+40s says elect t002 ...
    let state = await store.readState(s);
    const decision = decideFailover(s, state.lease, state.members, policy, T0 + 40_000);
    if (decision.kind !== 'elect') throw new Error('expected an election');
    // ... but the primary heartbeats before the write lands: the election is refused.
    await store.heartbeat(s, arn(1), { now: T0 + 40_000, aliveUntil: T0 + 43_000 });
    expect(await store.elect(decision.request)).toEqual({ kind: 'holder-alive' });
    // A candidate whose own heartbeat ran out cannot be elected.
    expect(await store.elect({ ...decision.request, now: T0 + 61_000, lostCutoff: T0 + 50_000 })).toEqual({ kind: 'candidate-ineligible' });
    state = await store.readState(s);
    expect(state.lease).toMatchObject({ holder: arn(1), term: 1 });
  });

  it('elects the best candidate when the holder item is gone (no wait)', async () => {
    const s = svc();
    await runningMember(store, s, arn(1), T0);
    const boot = decideFailover(s, undefined, (await store.readState(s)).members, policy, T0);
    if (boot.kind !== 'elect') throw new Error('expected a bootstrap election');
    await store.elect(boot.request);
    // Only the lease names a holder nobody knows (its item expired); a new member arrives.
    const lease = (await store.readState(s)).lease!;
    await runningMember(store, s, arn(7), T0 + 1000);
    const members = (await store.readState(s)).members.filter((m) => m.taskArn !== arn(1));
    const d = decideFailover(s, lease, members, policy, T0 + 1000);
    expect(d).toMatchObject({ kind: 'elect', request: { previousHolderExists: false, reason: 'bootstrap' } });
    if (d.kind !== 'elect') throw new Error('unreachable');
    // The holder's item still exists in the store, so the write notices the stale read.
    expect(await store.elect(d.request)).toEqual({ kind: 'holder-alive' });
  });

  it('marks a task the reconciler cannot find as stopped, once', async () => {
    const s = svc();
    await store.recordTaskState(s, observation(arn(1), 'RUNNING', 1), T0);
    expect(await store.markMissing(s, arn(1), T0 + 5)).toBe(true);
    expect(await store.markMissing(s, arn(1), T0 + 6)).toBe(false);
    expect(await store.markMissing(s, arn(2), T0 + 6)).toBe(false);
    expect((await store.readState(s)).members[0]).toMatchObject({ lastStatus: 'STOPPED', goneAt: T0 + 5 });
  });
});

describe('DynamoDB items', () => {
  it('gives stopped members a TTL so they age out', async () => {
    const client = createDynamoClient();
    const table = await freshTable();
    const store = new DynamoCoordinationStore(client, table);
    await store.recordTaskState('wiki', observation(arn(1), 'STOPPED', 4), T0);
    const item = (await client.send(new GetCommand({ TableName: table, Key: memberKey('wiki', arn(1)) }))).Item!;
    expect(item.expiresAt).toBe(Math.floor(T0 / 1000) + 7 * 86_400);
    expect(item).toMatchObject({ pk: 'SVC#wiki', sk: `MEMBER#${arn(1)}`, type: 'member' });
  });
});

describe('concurrent elections against DynamoDB Local', () => {
  it('elects exactly one primary per term in 200 rounds of racing electors', async () => {
    const store = new DynamoCoordinationStore(createDynamoClient(), await freshTable());
    const ROUNDS = 200;
    const ELECTORS = 4;
    const round = async (r: number) => {
      const s = `race-${r}`;
      const members = [1, 2, 3, 4].map((i) => arn(`r${r}-${i}`));
      await Promise.all(members.map((m, i) => runningMember(store, s, m, T0, { dataPosition: (r + i) % 3 })));
      const boot = decideFailover(s, undefined, (await store.readState(s)).members, policy, T0);
      if (boot.kind !== 'elect') throw new Error('expected a bootstrap election');
      // Round parity: half the rounds race the bootstrap itself, half a failover.
      let observed = 0;
      let previous: string | undefined;
      if (r % 2 === 1) {
        const first = await store.elect(boot.request);
        if (first.kind !== 'elected') throw new Error(`bootstrap failed: ${first.kind}`);
        previous = first.lease.holder;
        observed = 1;
        await store.recordTaskState(s, observation(previous, 'STOPPED', 9, { stoppedAt: T0 + 1000 }), T0 + 1000);
      }
      const now = T0 + 5000;
      // Every elector read the same state but prefers a different candidate (as electors
      // with different views would); all write at once.
      const outcomes = await Promise.all(
        Array.from({ length: ELECTORS }, (_, e) => {
          const candidates = members.filter((m) => m !== previous);
          return store.elect({
            service: s,
            observedTerm: observed,
            ...(previous ? { previousHolder: previous, previousHolderExists: true } : { previousHolderExists: false }),
            lostCutoff: now,
            candidate: candidates[e % candidates.length]!,
            now,
            reason: previous ? 'failover' : 'bootstrap',
          });
        }),
      );
      const winners = outcomes.filter((o) => o.kind === 'elected');
      const state = await store.readState(s);
      const primaries = state.members.filter((m) => m.primaryTerm === observed + 1);
      return { winners, state, primaries, outcomes, observed };
    };
    const results = [];
    // A few rounds at a time: real contention inside a round, a bounded load on the server.
    for (let r = 0; r < ROUNDS; r += 4) results.push(...(await Promise.all([r, r + 1, r + 2, r + 3].map(round))));
    expect(results).toHaveLength(ROUNDS);
    for (const { winners, state, primaries, outcomes, observed } of results) {
      expect(winners).toHaveLength(1);
      expect(state.lease!.term).toBe(observed + 1);
      expect(primaries.map((m) => m.taskArn)).toEqual([state.lease!.holder]);
      expect(winners[0]!.kind === 'elected' && winners[0]!.lease.holder).toBe(state.lease!.holder);
      for (const o of outcomes) expect(['elected', 'superseded', 'conflict']).toContain(o.kind);
    }
  });
});
