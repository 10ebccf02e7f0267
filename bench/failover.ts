/**
 * `npm run bench:failover [-- --rounds N]`
 *
 * How fast a lost primary is replaced, end to end, on DynamoDB Local: real agents
 * (runAgent, real timers) in this process, the real handlers through the local control
 * plane (lambdas/local/control-plane.ts), a discovery stand-in that records when the
 * primary's record was re-pointed. Plus the latency of each coordination write.
 *
 * Scenarios (policy: heartbeat 1 s, lease 3 s; failover timeout 0 s unless said):
 *   stop      the primary's task is stopped: its agent gets SIGTERM (releases), ECS's
 *             STOPPED event reaches the task-events handler;
 *   stop+5s   the same with a 5 s failover timeout (the wait runs through the timer);
 *   crash     the primary's process dies silently: no release, no event; standbys notice
 *             its lease running out.
 * For each: time from the loss to (a) a new term in the table, (b) the new primary's agent
 * knowing it (promote hook time), (c) discovery re-pointed. Median and max of N rounds.
 *
 * Handler figures: the task-events handler's latency for an ordinary event and for the
 * holder's STOPPED event (the failover, timeout 0), and events per second sustained with
 * 16 events in flight (as concurrent Lambda invocations would be).
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoClient } from '../lambdas/adapters/aws.js';
import { DynamoSnapshotCatalog, ensureCatalogTable } from '../lambdas/adapters/catalog.js';
import { DynamoCoordinationStore } from '../lambdas/adapters/coordination.js';
import type { PrimaryDiscovery, PrimaryRecord } from '../lambdas/adapters/discovery.js';
import { DynamoServiceRegistry } from '../lambdas/adapters/service-registry.js';
import { runAgent } from '../lambdas/agent/agent.js';
import { leaseKey } from '../lambdas/contract/keys.js';
import type { Role } from '../lambdas/domain/election.js';
import { decideFailover } from '../lambdas/domain/election.js';
import { normalizeServicePolicy } from '../lambdas/domain/service-policy.js';
import { createLocalControlPlane } from '../lambdas/local/control-plane.js';
import { startEmbeddedServices } from '../lambdas/local/embedded-services.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 5) || 5;
const AGENTS = 3;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const median = (xs: number[]) => pct(xs, 50);
const ms = (n: number) => `${n.toFixed(n < 10 ? 1 : 0)} ms`;

function taskEvent(taskArn: string, lastStatus: string, version: number, ip: string, service: string) {
  const at = new Date().toISOString();
  return {
    id: `bench-${version}-${taskArn.slice(-4)}`,
    source: 'aws.ecs',
    'detail-type': 'ECS Task State Change',
    time: at,
    detail: {
      taskArn,
      clusterArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/bench',
      lastStatus,
      desiredStatus: lastStatus === 'STOPPED' ? 'STOPPED' : 'RUNNING',
      version,
      group: `service:${service}`,
      startedBy: 'ecs-svc/1',
      startedAt: at,
      updatedAt: at,
      ...(lastStatus === 'STOPPED' ? { stoppingAt: at, stoppedAt: at } : {}),
      attachments: [{ type: 'eni', details: [{ name: 'privateIPv4Address', value: ip }] }],
    },
  };
}

async function timeIt(n: number, f: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f(i);
    out.push(performance.now() - t);
  }
  return out;
}

async function main(): Promise<void> {
  const services = await startEmbeddedServices();
  Object.assign(process.env, services.env);
  const table = 'lifeboat-bench-failover';
  await ensureCatalogTable(new DynamoDBClient({}), table);
  const dynamo = createDynamoClient();
  const store = new DynamoCoordinationStore(dynamo, table);
  const registry = new DynamoServiceRegistry(dynamo, table);
  const lines: string[] = [];
  const say = (l = '') => {
    lines.push(l);
    console.log(l);
  };
  say(
    `conditions: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, Node ${process.version}, DynamoDB Local 3.3.0 on loopback, ${rounds} rounds`,
  );

  try {
    // --- Operation latencies -------------------------------------------------------
    const now = Date.now();
    await store.recordTaskState('ops', { taskArn: 'ops-1', lastStatus: 'RUNNING', desiredStatus: 'RUNNING', version: 1 }, now);
    for (let i = 2; i <= 5; i++) await store.recordTaskState('ops', { taskArn: `ops-${i}`, lastStatus: 'RUNNING', desiredStatus: 'RUNNING', version: 1 }, now);
    const beats = await timeIt(500, () => store.heartbeat('ops', 'ops-1', { now: Date.now(), aliveUntil: Date.now() + 15_000, dataPosition: 1 }));
    for (let i = 2; i <= 5; i++) await store.heartbeat('ops', `ops-${i}`, { now: Date.now(), aliveUntil: Date.now() + 3_600_000 });
    const reads = await timeIt(300, () => store.readState('ops'));
    // Elections: each one moves the lease between two always-alive members.
    let term = 0;
    const elections = await timeIt(200, async (i) => {
      const state = await store.readState('ops');
      const candidate = i % 2 === 0 ? 'ops-2' : 'ops-3';
      const out = await store.elect({
        service: 'ops',
        observedTerm: term,
        ...(state.lease ? { previousHolder: state.lease.holder, previousHolderExists: true } : { previousHolderExists: false }),
        lostCutoff: Number.MAX_SAFE_INTEGER,
        candidate,
        now: Date.now(),
        reason: 'failover',
      });
      if (out.kind !== 'elected') throw new Error(`election ${i}: ${out.kind}`);
      term++;
    });
    // Commit: plain UpdateItem vs the fenced transaction (+ the read that returns the record).
    const catalog = new DynamoSnapshotCatalog(dynamo, table);
    await dynamo.send(
      new PutCommand({ TableName: table, Item: { ...leaseKey('commit'), type: 'lease', service: 'commit', holder: 'x', term: 1, electedAt: 0 } }),
    );
    const completion = { completedAt: 'x', size: 1, dataSize: 1, fileCount: 1, entryCount: 1, partCount: 1, manifestSha256: 'a', warningCount: 0 };
    const commit = async (i: number, fenced: boolean) => {
      const id = `20261127T000000.000Z-${(fenced ? 0x80000000 + i : i).toString(16).padStart(8, '0')}`;
      await catalog.begin({ service: 'commit', id, createdAt: 'x', manifestKey: 'k', reason: 'bench' });
      const t = performance.now();
      await catalog.commit('commit', id, completion, fenced ? { term: 1 } : undefined);
      return performance.now() - t;
    };
    const plain: number[] = [];
    const fenced: number[] = [];
    for (let i = 0; i < 200; i++) {
      plain.push(await commit(i, false));
      fenced.push(await commit(i, true));
    }
    say('');
    say('| operation (DynamoDB Local, loopback) | p50 | p95 | p99 |');
    say('| --- | --- | --- | --- |');
    for (const [name, xs] of [
      ['heartbeat (one conditional UpdateItem, ALL_NEW)', beats],
      ['read lease + 5 members (one consistent Query)', reads],
      ['election (read + TransactWriteItems of 3 items)', elections],
      ['snapshot commit, unfenced (UpdateItem)', plain],
      ['snapshot commit, fenced (TransactWriteItems + GetItem)', fenced],
    ] as const) {
      say(`| ${name} | ${ms(pct(xs, 50))} | ${ms(pct(xs, 95))} | ${ms(pct(xs, 99))} |`);
    }

    // --- Handler latency and throughput ----------------------------------------------------
    {
      await registry.put(normalizeServicePolicy({ service: 'events', failover: { timeoutSeconds: 0 }, discovery: { serviceId: 'srv-bench' } }));
      for (let r = 0; r < 50; r++)
        await registry.put(normalizeServicePolicy({ service: `events-fo-${r}`, failover: { timeoutSeconds: 0 }, discovery: { serviceId: 'srv-bench' } }));
      const discovery: PrimaryDiscovery = { publish: async () => 'registered' };
      const plane = createLocalControlPlane({ table, discovery, logLevel: 'SILENT' });
      const arnOf = (i: number) => `arn:aws:ecs:us-east-1:123456789012:task/bench/ev-${i}`;
      await plane.publishTaskEvent(taskEvent(arnOf(0), 'RUNNING', 1, '10.1.0.0', 'events')); // warm the policy cache
      let v = 1;
      const ordinary = await timeIt(500, (i) => plane.publishTaskEvent(taskEvent(arnOf(i % 50), 'RUNNING', ++v, '10.1.0.1', 'events')));
      // Failover: two members heartbeat, one is primary; its STOPPED event elects the other.
      const failover: number[] = [];
      for (let r = 0; r < 50; r++) {
        const service = `events-fo-${r}`;
        const [a, b] = [arnOf(1000 + 2 * r), arnOf(1001 + 2 * r)];
        for (const x of [a, b]) {
          await plane.publishTaskEvent(taskEvent(x, 'RUNNING', 1, '10.1.1.1', service));
          await store.heartbeat(service, x, { now: Date.now(), aliveUntil: Date.now() + 60_000 });
        }
        await store.elect({
          service,
          observedTerm: 0,
          previousHolderExists: false,
          lostCutoff: Date.now(),
          candidate: a,
          now: Date.now(),
          reason: 'bootstrap',
        });
        const t = performance.now();
        const result = await plane.publishTaskEvent(taskEvent(a, 'STOPPED', 2, '10.1.1.1', service));
        failover.push(performance.now() - t);
        if (result.outcome !== 'recorded' || !result.check?.elected) throw new Error(`round ${r}: no failover (${JSON.stringify(result)})`);
      }
      // Sustained: 2,000 events, 16 in flight, over 200 tasks.
      const total = 2000;
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < total) {
            const i = next++;
            await plane.publishTaskEvent(taskEvent(arnOf(2000 + (i % 200)), 'RUNNING', 10 + Math.floor(i / 200), '10.1.2.1', 'events'));
          }
        }),
      );
      const perSecond = total / ((performance.now() - started) / 1000);
      plane.stop();
      say('');
      say('| task-events handler (DynamoDB Local) | p50 | p95 | p99 |');
      say('| --- | --- | --- | --- |');
      say(`| ordinary event (member recorded: 1 UpdateItem) | ${ms(pct(ordinary, 50))} | ${ms(pct(ordinary, 95))} | ${ms(pct(ordinary, 99))} |`);
      say(
        `| holder STOPPED, failover timeout 0 (record, read, elect, publish) | ${ms(pct(failover, 50))} | ${ms(pct(failover, 95))} | ${ms(pct(failover, 99))} |`,
      );
      say('');
      say(`sustained: ${perSecond.toFixed(0)} events/s (2,000 events, 16 in flight, one process)`);
    }

    // --- Failover end to end ------------------------------------------------------------
    const scenarios = [
      { name: 'stop', timeoutSeconds: 0, crash: false },
      { name: 'stop+5s', timeoutSeconds: 5, crash: false },
      { name: 'crash', timeoutSeconds: 0, crash: true },
    ];
    say('');
    say('| scenario | new term in table | new primary knows | discovery re-pointed | expected from the policy |');
    say('| --- | --- | --- | --- | --- |');
    let roundNo = 0;
    for (const sc of scenarios) {
      const inTable: number[] = [];
      const knows: number[] = [];
      const discovered: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const service = `fo-${++roundNo}`;
        await registry.put(
          normalizeServicePolicy({
            service,
            failover: { timeoutSeconds: sc.timeoutSeconds, leaseSeconds: 3, heartbeatSeconds: 1 },
            discovery: { serviceId: 'srv-bench' },
          }),
        );
        const published: { at: number; record: PrimaryRecord }[] = [];
        const discovery: PrimaryDiscovery = {
          publish: async (record) => {
            published.push({ at: performance.now(), record });
            return 'registered';
          },
        };
        const plane = createLocalControlPlane({ table, discovery, logLevel: 'SILENT' });
        const arns = Array.from({ length: AGENTS }, (_, i) => `arn:aws:ecs:us-east-1:123456789012:task/bench/${service}-${i}`);
        for (const [i, arn] of arns.entries()) await plane.publishTaskEvent(taskEvent(arn, 'RUNNING', 2, `10.0.0.${i + 1}`, service));
        const promoted = new Map<string, { term: number; at: number }>();
        const stops = arns.map(() => new AbortController());
        const policy = (await registry.get(service))!;
        const timer = { schedule: async () => void (await plane.tick()) };
        // A crashed agent's process is gone: every later call of its fails, release included.
        const crashed = arns.map(() => false);
        const storeOf = (i: number) => {
          const own = Object.create(store) as DynamoCoordinationStore;
          for (const m of ['heartbeat', 'readState', 'elect', 'release'] as const) {
            const real = store[m].bind(store) as (...a: unknown[]) => Promise<unknown>;
            (own as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => (crashed[i] ? Promise.reject(new Error('process gone')) : real(...a));
          }
          return own;
        };
        const runs = arns.map((arn, i) =>
          runAgent({
            coordination: storeOf(i),
            service,
            taskArn: arn,
            failover: policy.failover,
            signal: stops[i]!.signal,
            timer,
            release: true,
            onRole: (role: Role) => {
              if (role.kind === 'primary') promoted.set(arn, { term: role.term, at: performance.now() });
            },
          }),
        );
        // Wait for the first primary, then let heartbeats settle into their rhythm.
        let first: { arn: string; term: number } | undefined;
        while (!first) {
          await new Promise((res) => setTimeout(res, 20));
          const [arn, p] = [...promoted.entries()][0] ?? [];
          if (arn && p) first = { arn, term: p.term };
        }
        await new Promise((res) => setTimeout(res, 1000 + Math.random() * 1000));
        const victim = arns.indexOf(first.arn);
        const lostAt = performance.now();
        if (sc.crash) {
          // The process dies: no release, no event.
          crashed[victim] = true;
          stops[victim]!.abort();
        } else {
          stops[victim]!.abort();
          await plane.publishTaskEvent(taskEvent(first.arn, 'STOPPED', 3, `10.0.0.${victim + 1}`, service));
        }
        // Poll the table for the new term (10 ms) while the agents run.
        let newTermAt: number | undefined;
        const deadline = performance.now() + 30_000;
        while (performance.now() < deadline) {
          const state = await store.readState(service);
          if (newTermAt === undefined && (state.lease?.term ?? 0) > first.term) newTermAt = performance.now();
          const next = [...promoted.entries()].find(([a, p]) => a !== first!.arn && p.term > first!.term);
          const pub = published.find((p) => arns.includes(p.record.taskArn) && p.record.term > first!.term);
          if (newTermAt !== undefined && next && pub) {
            inTable.push(newTermAt - lostAt);
            knows.push(next[1].at - lostAt);
            discovered.push(pub.at - lostAt);
            break;
          }
          await new Promise((res) => setTimeout(res, 10));
        }
        if (performance.now() >= deadline)
          throw new Error(
            `${sc.name}: no failover within 30 s (state: ${JSON.stringify(decideFailover(service, (await store.readState(service)).lease, (await store.readState(service)).members, policy.failover, Date.now()))})`,
          );
        for (const s of stops) s.abort();
        await Promise.all(runs);
        plane.stop();
      }
      const expected =
        sc.name === 'crash'
          ? 'lease left (0-3 s) + timeout 0 + up to one heartbeat (1 s)'
          : sc.timeoutSeconds
            ? `timeout ${sc.timeoutSeconds} s, then up to one heartbeat for the agent`
            : 'at once; the agent learns at its next heartbeat (≤ 1 s)';
      say(
        `| ${sc.name} (median / max of ${rounds}) | ${ms(median(inTable))} / ${ms(Math.max(...inTable))} | ${ms(median(knows))} / ${ms(Math.max(...knows))} | ${ms(median(discovered))} / ${ms(Math.max(...discovered))} | ${expected} |`,
      );
    }
  } finally {
    await services.stop();
  }
}

await main();
