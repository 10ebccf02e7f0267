/**
 * `npm run bench:retention [-- --rounds N] [-- --n N]`
 *
 * Wall time of the retention planner (lambdas/domain/retention.ts) over 1,000,000 catalog
 * entries; the target is at most 2 s. Only `planRetention` is timed: building the input
 * (what the catalog listing hands over) is not. Each scenario runs once to warm up, then N
 * timed rounds; min / median / max are reported with the machine's conditions (load
 * average, CPU, Node), because the machine is shared and the numbers are noisy.
 *
 * Scenarios:
 * - minutely: one snapshot a minute (1.9 years), newest first as the catalog lists them,
 *   a full policy in Europe/Berlin: the common case.
 * - shuffled: the same entries in random order (the O(n log n) sort path).
 * - hourly: one snapshot an hour (114 years): many distinct days, so many time zone lookups.
 * - within-only: keep-within covering half of them (half a million kept reasons).
 */
import { cpus, loadavg } from 'node:os';
import { makeSnapshotId } from '../lambdas/domain/ids.js';
import { planRetention, type RetentionCandidate } from '../lambdas/domain/retention.js';
import { parseRetentionSpec, retentionRules } from '../lambdas/domain/retention-policy.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const rounds = flag('--rounds', 5);
const n = flag('--n', 1_000_000);
const TARGET_S = 2;

/** Deterministic pseudo-random numbers (mulberry32), so every run plans the same input. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function entries(count: number, stepMs: number): RetentionCandidate[] {
  const newest = Date.UTC(2026, 10, 27, 8, 0, 0);
  const rnd = random(42);
  const bytes = new Uint8Array(4);
  const out = new Array<RetentionCandidate>(count);
  for (let i = 0; i < count; i++) {
    const time = newest - i * stepMs;
    bytes[0] = (rnd() * 256) | 0;
    bytes[1] = (rnd() * 256) | 0;
    out[i] = { id: makeSnapshotId(new Date(time), bytes), time, verified: i % 5000 === 17 };
  }
  return out;
}

function shuffled<T>(list: readonly T[]): T[] {
  const rnd = random(7);
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

interface Scenario {
  name: string;
  input: RetentionCandidate[];
  policy: string;
  timezone: string;
}

const FULL = 'last=24,hourly=48,daily=14,weekly=8,monthly=24,yearly=5,within=2d';

function run(s: Scenario): { times: number[]; kept: number; heapMiB: number } {
  const rules = retentionRules(parseRetentionSpec(s.policy), 'bench', s.timezone);
  const now = s.input.reduce((m, e) => Math.max(m, e.time), 0) + 60_000;
  let kept = 0;
  planRetention(s.input, rules, { now }); // warm-up (JIT, Intl caches)
  const times: number[] = [];
  let heap = 0;
  for (let r = 0; r < rounds; r++) {
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    const plan = planRetention(s.input, rules, { now });
    times.push((performance.now() - t0) / 1000);
    heap = Math.max(heap, (process.memoryUsage().heapUsed - before) / 2 ** 20);
    kept = plan.kept;
  }
  return { times, kept, heapMiB: heap };
}

const fmt = (s: number) => s.toFixed(3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.error(`building ${n.toLocaleString('en')} entries per scenario…`);
const minutely = entries(n, 60_000);
const scenarios: Scenario[] = [
  { name: 'minutely, catalog order, full policy, Europe/Berlin', input: minutely, policy: FULL, timezone: 'Europe/Berlin' },
  { name: 'minutely, shuffled, full policy, Europe/Berlin', input: shuffled(minutely), policy: FULL, timezone: 'Europe/Berlin' },
  { name: 'hourly (114 years), full policy, America/New_York', input: entries(n, 3_600_000), policy: FULL, timezone: 'America/New_York' },
  { name: 'minutely, within=347d (half kept), UTC', input: minutely, policy: 'within=347d', timezone: 'UTC' },
];

const [l1, l5, l15] = loadavg();
console.log(`# retention planner benchmark`);
console.log(
  `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, load average ${l1!.toFixed(2)} / ${l5!.toFixed(2)} / ${l15!.toFixed(2)} at start`,
);
console.log(`${n.toLocaleString('en')} entries, ${rounds} timed rounds after one warm-up; target ≤ ${TARGET_S} s\n`);
console.log('| scenario | kept | min s | median s | max s | extra heap MiB |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
let worst = 0;
for (const s of scenarios) {
  const r = run(s);
  worst = Math.max(worst, median(r.times));
  console.log(
    `| ${s.name} | ${r.kept.toLocaleString('en')} | ${fmt(Math.min(...r.times))} | ${fmt(median(r.times))} | ${fmt(Math.max(...r.times))} | ${r.heapMiB.toFixed(0)} |`,
  );
}
const [e1] = loadavg();
console.log(`\nload average ${e1!.toFixed(2)} at end; worst median ${fmt(worst)} s — ${worst <= TARGET_S ? 'within' : 'OVER'} the ${TARGET_S} s target`);
process.exitCode = worst <= TARGET_S ? 0 : 1;
