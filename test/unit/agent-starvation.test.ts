/**
 * How rare is a self-demotion when the agent is starved of CPU, at the default policy
 * (lease 15 s, heartbeat 5 s, self-fence margin 3 s)? The real agent loop (runAgent) runs
 * on a virtual clock; starvation is modelled as every wake-up and every heartbeat coming
 * late, by a random delay — the time the process waited for a CPU. Simulated, so a day of
 * heartbeats runs in well under a second, and the answer does not depend on this machine.
 *
 * The rule it measures: a primary demotes itself when its next heartbeat cannot be *sent*
 * before (last renewed send + lease − margin) = 12 s, i.e. when one wake-up comes more than
 * 12 − 5 = 7 s late. A heartbeat that is sent in time renews, however late it lands.
 */
import { describe, expect, it } from 'vitest';
import { MemoryCoordinationStore } from '../../lambdas/adapters/memory-coordination.js';
import { runAgent } from '../../lambdas/agent/agent.js';
import { selfFenceMarginMs } from '../../lambdas/domain/election.js';
import { DEFAULT_FAILOVER } from '../../lambdas/domain/service-policy.js';
import { arn, observation } from '../support/coordination.js';

/** A small seeded PRNG (mulberry32): the same "random" starvation on every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs one agent for `hours` of virtual time; `late()` is how late each wake-up and heartbeat comes (ms). */
async function starve(hours: number, late: () => number): Promise<{ heartbeats: number; demotions: number }> {
  const store = new MemoryCoordinationStore();
  const service = 'starved';
  const task = arn(1);
  let t = Date.parse('2026-11-27T00:00:00Z');
  await store.recordTaskState(service, observation(task, 'RUNNING', 1, { startedAt: t - 60_000 }), t);
  const end = t + hours * 3_600_000;
  const stop = new AbortController();
  let demotions = 0;
  const heartbeat = store.heartbeat.bind(store);
  // The heartbeat's own turn waits for the CPU too: it is sent late.
  store.heartbeat = (...args: Parameters<typeof heartbeat>) => {
    t += late();
    return heartbeat(args[0], args[1], { ...args[2], now: t, aliveUntil: t + DEFAULT_FAILOVER.leaseSeconds * 1000 });
  };
  const summary = await runAgent({
    coordination: store,
    service,
    taskArn: task,
    failover: DEFAULT_FAILOVER,
    signal: stop.signal,
    now: () => t,
    sleep: async (ms) => {
      t += ms + late();
      if (t >= end) stop.abort();
    },
    onNotice: (line) => {
      if (/could not be renewed in time; demoting/.test(line)) demotions++;
    },
  });
  return { heartbeats: summary.heartbeats, demotions };
}

describe('self-demotion under CPU starvation, default policy', () => {
  it('the threshold: a wake-up 7 s late demotes, 6.9 s late does not', async () => {
    expect(DEFAULT_FAILOVER.leaseSeconds * 1000 - selfFenceMarginMs(DEFAULT_FAILOVER) - DEFAULT_FAILOVER.heartbeatSeconds * 1000).toBe(7000);
    for (const [stall, demotions] of [
      [6900, 0],
      [7100, 1],
    ] as const) {
      let n = 0;
      // One stall, an hour in; otherwise on time.
      const r = await starve(2, () => (++n === 720 ? stall : 0));
      expect(r.demotions, `one ${stall} ms stall`).toBe(demotions);
    }
  });

  it('a day of heavy starvation (every turn late, 1 in 1000 by up to 6 s) demotes never; seconds-long stalls every hour do', async () => {
    const random = seeded(14);
    // Every wake-up and heartbeat late by 0-500 ms; one in a thousand by up to 6 s.
    const heavy = () => (random() < 0.001 ? random() * 6000 : random() * 500);
    const day = await starve(24, heavy);
    expect(day.heartbeats).toBeGreaterThan(15_000);
    expect(day.demotions).toBe(0);

    // Pathological: one in 720 turns (about hourly) 7-10 s late — the loop did not run for that long.
    const patho = seeded(15);
    const stalls = () => (patho() < 1 / 720 ? 7000 + patho() * 3000 : patho() * 500);
    const bad = await starve(24, stalls);
    expect(bad.demotions).toBeGreaterThan(5);
  });
});
