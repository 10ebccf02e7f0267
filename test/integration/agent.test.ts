/**
 * The agent's loop on DynamoDB Local, on a virtual clock (each sleep moves time forward,
 * so a test of leases and timeouts takes milliseconds): bootstrap election, commands
 * delivered at least once and handled once, self-fencing when heartbeats fail, demotion
 * when deposed, release on stop. Then the `lifeboat agent` and `lifeboat role` commands.
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import { type CoordinationStore, DynamoCoordinationStore } from '../../lambdas/adapters/coordination.js';
import { DynamoServiceRegistry } from '../../lambdas/adapters/service-registry.js';
import { type AgentOptions, runAgent } from '../../lambdas/agent/agent.js';
import type { Role } from '../../lambdas/domain/election.js';
import type { MemberCommand } from '../../lambdas/domain/membership.js';
import { normalizeServicePolicy } from '../../lambdas/domain/service-policy.js';
import { cli, waitFor } from '../support/cli.js';
import { arn, observation } from '../support/coordination.js';
import { freshTable, tempDir } from '../support/fixtures.js';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const failover = { timeoutSeconds: 10, leaseSeconds: 6, heartbeatSeconds: 2 };

/** A clock that only moves when the agent sleeps; stops the agent after `ticks` sleeps. */
function virtualRun(ticks: number, start = T0) {
  const controller = new AbortController();
  const clock = { t: start, sleeps: 0 };
  return {
    clock,
    signal: controller.signal,
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.t += ms;
      if (++clock.sleeps >= ticks) controller.abort();
    },
  };
}

interface Recording {
  roles: { at: number; from: string; to: string }[];
  commands: string[];
}

function recorder(now: () => number): Recording & Pick<AgentOptions, 'onRole' | 'onCommand'> {
  const rec: Recording = { roles: [], commands: [] };
  const show = (r: Role) => (r.kind === 'primary' ? `primary:${r.term}` : r.kind);
  return {
    ...rec,
    onRole: (role, previous) => void rec.roles.push({ at: now(), from: show(previous), to: show(role) }),
    onCommand: (c: MemberCommand) => void rec.commands.push(c.id),
  };
}

describe('runAgent', () => {
  let store: DynamoCoordinationStore;
  beforeAll(async () => {
    store = new DynamoCoordinationStore(createDynamoClient(), await freshTable());
  });

  it('joins, elects itself when there is no primary, and releases on stop', async () => {
    await store.recordTaskState('boot', observation(arn(1), 'RUNNING', 1), T0);
    const run = virtualRun(3);
    const rec = recorder(run.now);
    const summary = await runAgent({ coordination: store, service: 'boot', taskArn: arn(1), failover, ...run, ...rec, dataPosition: async () => 11 });
    expect(summary).toMatchObject({ elections: 1, failedHeartbeats: 0, finalRole: { kind: 'leaving' } });
    expect(rec.roles).toEqual([
      { at: T0, from: 'replica', to: 'primary:1' },
      { at: T0 + 6000, from: 'primary:1', to: 'leaving' },
    ]);
    const { lease, members } = await store.readState('boot');
    expect(lease).toMatchObject({ holder: arn(1), term: 1 });
    expect(members[0]).toMatchObject({ primaryTerm: 1, dataPosition: 11, goneAt: T0 + 6000, aliveUntil: T0 + 4000 + 6000 });
  });

  it('keeps heartbeating when the data position cannot be read', async () => {
    await store.recordTaskState('pos', observation(arn(1), 'RUNNING', 1), T0);
    const run = virtualRun(2);
    const notices: string[] = [];
    const summary = await runAgent({
      coordination: store,
      service: 'pos',
      taskArn: arn(1),
      failover,
      ...run,
      release: false,
      onNotice: (l) => void notices.push(l),
      dataPosition: async () => {
        throw new Error('position command failed');
      },
    });
    expect(summary).toMatchObject({ failedHeartbeats: 0, elections: 1 });
    expect(notices).toContain('data position unknown: position command failed');
  });

  it('hands each command over once and acknowledges it with the next heartbeat', async () => {
    await store.recordTaskState('cmds', observation(arn(1), 'RUNNING', 1), T0);
    await store.enqueue('cmds', arn(1), { id: 'b', type: 'snapshot', enqueuedAt: T0 + 1 });
    await store.enqueue('cmds', arn(1), { id: 'a', type: 'snapshot', args: { reason: 'hook' }, enqueuedAt: T0 });
    const run = virtualRun(2);
    const rec = recorder(run.now);
    let afterFirst: string[] | undefined;
    const peeking: CoordinationStore = Object.create(store);
    peeking.heartbeat = async (...args) => {
      const r = await store.heartbeat(...args);
      afterFirst ??= Object.keys(r.member.commands).sort();
      return r;
    };
    await runAgent({ coordination: peeking, service: 'cmds', taskArn: arn(1), failover, ...run, ...rec, elect: false, release: false });
    expect(afterFirst).toEqual(['a', 'b']);
    // Handled once each, oldest first; the second heartbeat acknowledged both.
    expect(rec.commands).toEqual(['a', 'b']);
    expect((await store.readState('cmds')).members[0]!.commands).toEqual({});
  });

  it('demotes itself the moment its last known lease runs out, and stays deposed', async () => {
    await store.recordTaskState('fence', observation(arn(1), 'RUNNING', 1), T0);
    await store.recordTaskState('fence', observation(arn(2), 'RUNNING', 1), T0);
    await store.heartbeat('fence', arn(2), { now: T0, aliveUntil: T0 + 600_000 });
    const run = virtualRun(12);
    const rec = recorder(run.now);
    let beats = 0;
    let election: string | undefined;
    // Heartbeats 3-6 fail (a network partition); meanwhile the control plane elects arn(2).
    const partitioned: CoordinationStore = Object.create(store);
    partitioned.heartbeat = async (...args) => {
      beats++;
      if (beats >= 3 && beats <= 6) {
        if (beats === 6) {
          const out = await store.elect({
            service: 'fence',
            observedTerm: 1,
            previousHolder: arn(1),
            previousHolderExists: true,
            lostCutoff: run.now(),
            candidate: arn(2),
            now: run.now(),
            reason: 'failover',
          });
          election = out.kind;
        }
        throw new Error('connect ETIMEDOUT');
      }
      return store.heartbeat(...args);
    };
    const summary = await runAgent({
      coordination: partitioned,
      service: 'fence',
      taskArn: arn(1),
      failover: { ...failover, timeoutSeconds: 0 },
      ...run,
      ...rec,
      release: false,
    });
    // Beat 1 at T0 elected it (bootstrap) and beat 2, sent at once, renewed its lease until
    // T0+6s; beats from T0+2s fail. It demotes at exactly T0+4.8s — the lease less the
    // safety margin (a fifth of it) — not at its next heartbeat; arn(2) is elected later.
    expect(election).toBe('elected');
    expect(rec.roles.slice(0, 2)).toEqual([
      { at: T0, from: 'replica', to: 'primary:1' },
      { at: T0 + 4800, from: 'primary:1', to: 'replica' },
    ]);
    // Heartbeats work again: it learns it was deposed (no primaryTerm) and stays replica.
    expect(rec.roles.slice(2)).toEqual([{ at: expect.any(Number), from: 'replica', to: 'leaving' }]);
    expect(summary.failedHeartbeats).toBe(4);
    const { lease, members } = await store.readState('fence');
    expect(lease).toMatchObject({ holder: arn(2), term: 2 });
    expect(members.find((m) => m.taskArn === arn(1))).toMatchObject({ deposedTerm: 1 });
  });
});

describe('lifeboat agent / lifeboat role', () => {
  let env: Record<string, string>;
  let table: string;
  beforeAll(async () => {
    table = await freshTable();
    env = { LIFEBOAT_TABLE: table };
    const registry = new DynamoServiceRegistry(createDynamoClient(), table);
    for (const service of ['wiki', 'wrapped'])
      await registry.put(normalizeServicePolicy({ service, failover: { timeoutSeconds: 5, leaseSeconds: 4, heartbeatSeconds: 1 } }));
  });

  it('refuses an unprotected service and a task it cannot identify', async () => {
    const r = await cli(['agent', '--service', 'nobody', '--task', arn(1)], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/service nobody is not protected: table .* has no policy for it/);
    const anon = await cli(['agent', '--service', 'wiki'], { ...env, LIFEBOAT_TASK: undefined, ECS_CONTAINER_METADATA_URI_V4: undefined });
    expect(anon.code).toBe(2);
    expect(anon.stderr).toMatch(/cannot tell which task this is/);
  });

  it('a drill task does not join', async () => {
    const r = await cli(['agent', '--service', 'wiki', '--task', arn(50)], { ...env, LIFEBOAT_MODE: 'drill' });
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(r.stderr).toMatch(/drill task .* not joining wiki/);
  });

  it('wraps an application: runs it, heartbeats while it runs, exits with its exit code', async () => {
    const store = new DynamoCoordinationStore(createDynamoClient(), table);
    await store.recordTaskState('wrapped', observation(arn(7), 'RUNNING', 1), Date.now());
    // The application waits until its task is primary (as a database would), then exits 3.
    const app = `
      const { execFileSync } = require('node:child_process');
      const wait = () => { try { execFileSync(process.execPath, ['--import', 'tsx', 'bin/lifeboat.ts', 'role', '--service', 'wrapped'], { env: process.env, stdio: 'ignore' }); process.stdout.write('app: primary ' + process.env.LIFEBOAT_TASK + '\\n'); process.exit(3); } catch { setTimeout(wait, 200); } };
      wait();`;
    const r = await cli(['agent', '--service', 'wrapped', '--task', arn(7), '--', process.execPath, '-e', app], env);
    expect(r.stderr).toMatch(/role: replica -> primary \(term \d+\)/);
    expect(r.stdout).toBe(`app: primary ${arn(7)}\n`);
    expect(r.stderr).toMatch(/exited with 3/);
    expect(r.code).toBe(3);
    // The agent released its membership when the application ended.
    expect((await store.readState('wrapped')).members.find((m) => m.taskArn === arn(7))?.goneAt).toBeGreaterThan(0);
  });

  it('runs until stopped: becomes primary, runs the promote hook, prints commands on stdout; role shows it', async () => {
    const store = new DynamoCoordinationStore(createDynamoClient(), table);
    await store.recordTaskState('wiki', observation(arn(1), 'RUNNING', 1, { ip: '10.0.0.1' }), Date.now());
    await store.enqueue('wiki', arn(1), { id: 'flush-1', type: 'flush', args: { reason: 'hook' }, enqueuedAt: 1 });
    const stop = new AbortController();
    const work = await tempDir('lifeboat-agent');
    const marker = join(work.path, 'promoted');
    const running = cli(['agent', '--service', 'wiki', '--task', arn(1), '--on-promote', `echo "$LIFEBOAT_TERM $LIFEBOAT_ROLE" > ${marker}`], env, stop.signal);
    const state = await waitFor(async () => {
      const s = await store.readState('wiki');
      const m = s.members[0];
      return m?.primaryTerm === 1 && Object.keys(m.commands).length === 0 ? s : undefined;
    }, 'the agent to become primary and acknowledge its command');
    expect(state.lease).toMatchObject({ holder: arn(1), term: 1 });

    // For scripts: this task's role as a word and an exit code.
    expect(await cli(['role', '--service', 'wiki', '--task', arn(1)], env)).toMatchObject({ code: 0, stdout: 'primary\n' });
    expect(await cli(['role', '--service', 'wiki'], { ...env, LIFEBOAT_TASK: 't001' })).toMatchObject({ code: 0, stdout: 'primary\n' });
    expect(await cli(['role', '--service', 'wiki', '--task', 'nope'], env)).toMatchObject({ code: 2, stdout: 'none\n' });
    const one = await cli(['role', '--service', 'wiki', '--task', arn(1), '--json'], env);
    expect(JSON.parse(one.stdout)).toMatchObject({ service: 'wiki', task: arn(1), role: 'primary', term: 1, lease: { holder: arn(1), term: 1 } });

    const all = await cli(['role', '--service', 'wiki', '--members'], env);
    expect(all.code).toBe(0);
    expect(all.stderr).toMatch(/wiki: primary .*t001 \(term 1\), lease valid for/);
    expect(all.stdout).toMatch(/^TASK\s+ROLE\s+TERM\s+STATUS\s+IP\s+HEARTBEAT\s+POSITION\nt001\s+primary\s+1\s+RUNNING\s+10\.0\.0\.1\s+/);
    const doc = JSON.parse((await cli(['role', '--service', 'wiki', '--members', '--json'], env)).stdout);
    expect(doc).toMatchObject({
      service: 'wiki',
      status: 'healthy',
      lease: { holder: arn(1), term: 1 },
      members: [{ task: arn(1), role: 'primary', term: 1, eligible: true }],
    });

    stop.abort();
    const r = await running;
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual({ id: 'flush-1', type: 'flush', args: { reason: 'hook' }, enqueuedAt: 1 });
    expect(r.stderr).toMatch(/role: replica -> primary \(term 1\)/);
    expect(await readFile(marker, 'utf8')).toBe('1 primary\n');
    await work.cleanup();
    expect(r.stderr).toMatch(/role: primary \(term 1\) -> leaving/);
    expect((await store.readState('wiki')).members[0]!.goneAt).toBeGreaterThan(0);
    // Released (its task is going away): no longer primary, still a member until it stops.
    expect(await cli(['role', '--service', 'wiki', '--task', arn(1)], env)).toMatchObject({ code: 1, stdout: 'replica\n' });
    await store.recordTaskState('wiki', observation(arn(1), 'STOPPED', 7), Date.now());
    expect(await cli(['role', '--service', 'wiki', '--task', arn(1)], env)).toMatchObject({ code: 2, stdout: 'none\n' });
  });
});
