/**
 * The local-mode scenario (`npm run demo`, and the end-to-end tests): drives a running
 * LocalMode through its commands and the example service's front, like a user would, and
 * checks every step. Each check throws a ScenarioError saying what was expected; the
 * result carries the measured facts (times, ids, counts) for the tests to assert on.
 *
 *  1. a primary serves the example service (through discovery's front);
 *  2. writes are acknowledged (after fsync) by the primary;
 *  3. a snapshot job completes — those writes are in a complete snapshot;
 *  4. more writes, then the primary is killed (SIGKILL);
 *  5. a new primary is elected once the failover timeout is over, and serves the data:
 *     every write that was in the complete snapshot is there;
 *  6. retention prunes (enough snapshots first; the policy keeps the newest three + the
 *     oldest daily one);
 *  7. a drill passes;
 *  8. a snapshot is damaged in the store → the next drill on it fails, naming the damaged object;
 *  9. the reports (JSON, JUnit, Markdown, HTML) are in the reports directory.
 *
 * Every wait polls with a deadline; no fixed sleep decides an outcome.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DrillRecord } from '../domain/drills.js';
import type { SnapshotJob } from '../domain/snapshot-jobs.js';
import type { LocalMode } from './local-mode.js';

export class ScenarioError extends Error {}

export interface ScenarioResult {
  primary: { taskArn: string; term: number };
  snapshotId: string;
  writes: { inSnapshot: number; inSnapshotSurvived: number; afterSnapshot: number; afterSnapshotSurvived: number };
  failover: {
    timeoutSeconds: number;
    killed: string;
    newPrimary: string;
    newTerm: number;
    /** Kill → new term written in the table. */
    electionMs: number;
    /** Kill → the new primary answered a read of the data and accepted a write, through discovery. */
    servingMs: number;
  };
  retention: { pruned: string[]; kept: number; plan: { id: string; action: string; reasons: string[] }[] };
  passedDrill: DrillRecord;
  corrupted: { snapshotId: string; key: string };
  /** The damaged snapshot's catalog state after its drill failed. */
  damagedAfterDrill: { verifiedAt?: string | undefined; suspectAt?: string | undefined };
  /** The passed drill's snapshot's verification, read right after that drill (step 8 may damage the same snapshot). */
  verifiedAfterPass: string | undefined;
  failedDrill: DrillRecord;
  reports: string[];
  totalMs: number;
}

export interface ScenarioOptions {
  log?: (line: string) => void;
  /** Writes whose acknowledgement must survive (default 20). */
  writes?: number;
  /** Step 6 (retention) takes a few more snapshots; the database e2e tests leave it to kv's. Default true. */
  retention?: boolean;
}

/** Polls `check` until it returns a value; throws ScenarioError after `timeoutMs` (with the last error). */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new ScenarioError(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function expect(ok: boolean, message: string): void {
  if (!ok) throw new ScenarioError(message);
}

export async function runScenario(mode: LocalMode, o: ScenarioOptions = {}): Promise<ScenarioResult> {
  const log = o.log ?? (() => undefined);
  const started = Date.now();
  const front = mode.serviceUrl!;
  const { drills, catalog } = mode.runtime;
  const service = mode.service;
  const step = (n: number, text: string) => log(`\n== ${n}. ${text}`);

  const http = async (method: string, path: string, body?: string) => {
    const res = await fetch(`${front}${path}`, { method, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(5000) });
    return {
      status: res.status,
      role: res.headers.get('x-kv-role'),
      term: Number(res.headers.get('x-kv-term') ?? 0),
      task: res.headers.get('x-lifeboat-task') ?? '',
      text: await res.text(),
    };
  };
  const waitJob = async (jobId: string): Promise<SnapshotJob> =>
    until(
      `snapshot job ${jobId} to finish`,
      async () => {
        const job = await mode.snapshotJob(jobId);
        return job && job.status !== 'requested' ? job : undefined;
      },
      60_000,
    );
  const snapshot = async (): Promise<string> => {
    // By time, not by count: a database recipe's scheduled snapshot (every 5 s at ×60) can
    // keep a loaded machine's primary busy for several attempts in a row.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const r = await mode.requestSnapshot();
      const job = await waitJob(r.job.jobId);
      if (job.status === 'complete' && job.snapshotId) return job.snapshotId;
      // The schedule's own snapshot may be running on the primary: ask again once it is done.
      const busy = /already taking a snapshot/.test(job.reason ?? '');
      expect(busy && Date.now() < deadline, `snapshot job ${job.jobId} ended ${job.status}: ${job.reason ?? ''}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  };
  const waitDrill = (drillId: string): Promise<DrillRecord> =>
    until(
      `drill ${drillId} to finish`,
      async () => {
        const d = await drills.get(service, drillId);
        return d && d.status !== 'running' ? d : undefined;
      },
      120_000,
      200,
    );

  // 1.
  step(1, 'a primary serves the example service (discovery front → the primary task)');
  const first = await until(
    'a primary to serve through discovery',
    async () => {
      const r = await http('GET', '/health');
      return r.status === 200 && r.role === 'primary' ? r : undefined;
    },
    90_000,
    200,
  );
  log(`primary: task ${short(first.task)}, term ${first.term}`);

  // 2.
  const n = o.writes ?? 20;
  step(2, `${n} writes through the front; each acknowledged only after fsync`);
  const run = randomBytes(3).toString('hex');
  const acked = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const key = `demo-${run}-${String(i).padStart(2, '0')}`;
    const value = `value ${i} of run ${run}`;
    const r = await until(
      `the write of ${key}`,
      async () => {
        const w = await http('PUT', `/kv/${key}`, value);
        return w.status === 200 ? w : undefined;
      },
      30_000,
    );
    acked.set(key, value);
    if (i === n - 1) log(`${n} writes acknowledged (last: ${r.text.trim()})`);
  }

  // 3.
  const recipe = mode.servicePolicy.recipe;
  step(
    3,
    recipe
      ? `a snapshot job: the ${recipe} recipe takes a consistent copy of the live database (and its canary), the engine streams it`
      : 'a snapshot job: the primary pauses writes (pre hook), streams its data directory, resumes',
  );
  const snapshotId = await snapshot();
  log(`snapshot ${snapshotId} complete: the ${n} acknowledged writes are in it`);

  // 4.
  step(4, 'more writes (not in any snapshot yet), then kill the primary with SIGKILL');
  const after = new Map<string, string>();
  for (let i = 0; i < 5; i++) {
    const key = `late-${run}-${i}`;
    const w = await http('PUT', `/kv/${key}`, `late ${i}`);
    if (w.status === 200) after.set(key, `late ${i}`);
  }
  log(`killing the primary; failover timeout ${mode.servicePolicy.failover.timeoutSeconds} s`);

  // 5.
  step(5, 'a new primary is elected after the failover timeout and serves the data');
  const firstKey = [...acked.keys()][0]!;
  const failover = await killPrimaryAndWaitForService(mode, firstKey);
  const { killed, elected } = failover;
  const { electionMs, servingMs } = failover;
  log(
    `killed task ${short(killed.taskArn)} (term ${killed.term}); term ${elected.term}: task ${short(elected.holder)} elected ${(electionMs / 1000).toFixed(1)} s after the kill, serving through discovery after ${(servingMs / 1000).toFixed(1)} s`,
  );
  const all = JSON.parse((await http('GET', '/kv')).text) as { data: Record<string, string> };
  const survived = [...acked].filter(([k, v]) => all.data[k] === v).length;
  const lateSurvived = [...after].filter(([k, v]) => all.data[k] === v).length;
  log(
    `${survived} of ${n} writes that were in snapshot ${snapshotId} are there; ${lateSurvived} of ${after.size} written after it survived (those were only as safe as the next snapshot: that is the RPO)`,
  );
  expect(survived === n, `only ${survived} of ${n} acknowledged writes included in complete snapshot ${snapshotId} survived the failover`);

  const complete = async () => {
    const ids: string[] = [];
    for await (const s of catalog.list(service, { complete: true })) ids.push(s.id);
    return ids;
  };
  // 6.
  let pruned: string[] = [];
  let remaining = new Set<string>();
  let plan: ScenarioResult['retention']['plan'] = [];
  if (o.retention !== false) {
    step(6, 'retention prunes old snapshots');
    while ((await complete()).length < 5) await snapshot();
    const before = await complete();
    plan = (await mode.status()).snapshots.filter((s) => s.retention).map((s) => ({ id: s.id, action: s.retention!.action, reasons: s.retention!.reasons }));
    for (const e of plan) log(`  ${e.action.padEnd(6)} ${e.id}  ${e.reasons.join('; ') || 'no rule keeps it'}`);
    const firing = await mode.runSchedule('retention');
    if (firing.error) throw new ScenarioError(`the retention handler failed: ${firing.error.message}`);
    remaining = new Set(await complete());
    pruned = before.filter((id) => !remaining.has(id));
    log(`retention deleted ${pruned.length}: ${pruned.join(', ')}; ${remaining.size} complete snapshots left`);
    expect(pruned.length >= 1, `retention deleted nothing of ${before.length} complete snapshots (policy ${mode.servicePolicy.retention.last} newest)`);
  }

  // 7.
  step(7, 'a restore drill of the newest snapshot passes (restore, verify command, app health check)');
  const passedStart = await mode.drill();
  const passedDrill = await waitDrill(passedStart.drill.drillId);
  log(`drill ${passedDrill.drillId}: ${passedDrill.status} — ${passedDrill.reason}; RTO ${passedDrill.rtoSeconds ?? '-'} s, RPO ${passedDrill.rpoSeconds} s`);
  expect(passedDrill.status === 'passed', `drill ${passedDrill.drillId} ${passedDrill.status}: ${passedDrill.reason}`);
  // Typed checks (database recipes): every declared check ran and passed, and the canary matched.
  const declared = mode.servicePolicy.drill.checks ?? [];
  const ran = passedDrill.agent?.checks ?? [];
  for (const c of ran) log(`  check ${c.name.padEnd(18)} ${c.type ?? '-'} ${c.status} ${c.durationSeconds ?? '-'} s  ${c.message ?? ''}`);
  if (declared.length)
    expect(
      ran.filter((c) => c.type && !['restore', 'open', 'canary', 'health'].includes(c.type)).length === declared.length,
      `drill ${passedDrill.drillId} ran ${ran.length} checks, not the ${declared.length} declared`,
    );
  if (recipe) {
    expect(passedDrill.agent?.canary?.matches === true, `drill ${passedDrill.drillId}: the restored database does not hold the snapshot's canary`);
    log(
      `canary #${passedDrill.agent!.canary!.expected.id} found in the restored database; RPO ${passedDrill.rpoSeconds} s (${passedDrill.rpoSource ?? 'snapshot'})`,
    );
  }

  // The verdict is applied to the snapshot just after the drill record is written.
  const verifiedAfterPass = await until(
    `snapshot ${passedDrill.snapshotId} to be marked verified`,
    async () => (await mode.status()).snapshots.find((x) => x.id === passedDrill.snapshotId)?.verifiedAt,
    30_000,
    200,
  );

  // 8.
  step(8, 'a snapshot is damaged in the store; the next drill on it fails and says why');
  const newest = (await complete())[0]!;
  const corrupted = await mode.corruptSnapshot(newest);
  const failedStart = await mode.drill(corrupted.snapshotId);
  const failedDrill = await waitDrill(failedStart.drill.drillId);
  log(`drill ${failedDrill.drillId}: ${failedDrill.status} — ${failedDrill.reason}`);
  expect(
    failedDrill.status === 'failed',
    `the drill of damaged snapshot ${corrupted.snapshotId} ended ${failedDrill.status}, not failed: ${failedDrill.reason}`,
  );
  // The failed drill withdrew the snapshot's verification: it is suspect, and latest-verified moved on.
  const damaged = await until(
    'the damaged snapshot to be marked suspect',
    async () => {
      const r = (await mode.status()).snapshots.find((x) => x.id === corrupted.snapshotId);
      return r?.suspectAt ? r : undefined;
    },
    30_000,
    200,
  );
  expect(!damaged.verifiedAt, `damaged snapshot ${corrupted.snapshotId} is still verified (${damaged.verifiedAt}) after its drill failed`);
  log(`snapshot ${corrupted.snapshotId} is suspect since ${damaged.suspectAt}; no longer verified`);

  // 9.
  step(9, `reports in ${mode.reportsDir}`);
  const files = ['report.json', 'report.junit.xml', 'report.md', 'report.html'].map((f) => join(mode.reportsDir, f));
  await until(
    'the reports to include the failed drill',
    async () => {
      if (!files.every((f) => existsSync(f))) return undefined;
      return (await readFile(files[0]!, 'utf8')).includes(failedDrill.drillId) ? true : undefined;
    },
    30_000,
    200,
  );
  for (const f of files) log(`  ${f}`);

  const result: ScenarioResult = {
    primary: { taskArn: first.task, term: first.term },
    snapshotId,
    writes: { inSnapshot: n, inSnapshotSurvived: survived, afterSnapshot: after.size, afterSnapshotSurvived: lateSurvived },
    failover: {
      timeoutSeconds: mode.servicePolicy.failover.timeoutSeconds,
      killed: killed.taskArn,
      newPrimary: elected.holder,
      newTerm: elected.term,
      electionMs,
      servingMs,
    },
    retention: { pruned, kept: remaining.size, plan },
    passedDrill,
    corrupted,
    failedDrill,
    damagedAfterDrill: { verifiedAt: damaged.verifiedAt, suspectAt: damaged.suspectAt },
    verifiedAfterPass,
    reports: files,
    totalMs: Date.now() - started,
  };
  return result;
}

/**
 * Kills the primary (SIGKILL) and measures, through discovery's front like a client, the
 * time to a new term in the table and to the new primary serving: `key` reads back and a
 * write is accepted, from a task other than the killed one, in a newer term.
 */
export async function killPrimaryAndWaitForService(mode: LocalMode, key: string) {
  const front = mode.serviceUrl!;
  const get = async (method: string, path: string, body?: string) => {
    const res = await fetch(`${front}${path}`, { method, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(5000) });
    await res.body?.cancel();
    return {
      status: res.status,
      role: res.headers.get('x-kv-role'),
      term: Number(res.headers.get('x-kv-term') ?? 0),
      task: res.headers.get('x-lifeboat-task') ?? '',
    };
  };
  const killed = await mode.killPrimary();
  const elected = await until(
    'a new term in the table',
    async () => {
      const s = await mode.status();
      return s.lease && s.lease.term > killed.term ? s.lease : undefined;
    },
    60_000,
    50,
  );
  const servingAt = await until(
    'the new primary to serve reads and writes',
    async () => {
      const r = await get('GET', `/kv/${encodeURIComponent(key)}`);
      if (r.status !== 200 || r.role !== 'primary' || r.term <= killed.term || r.task === killed.taskArn) return undefined;
      const w = await get('PUT', `/kv/failover-probe`, String(Date.now()));
      return w.status === 200 ? Date.now() : undefined;
    },
    60_000,
    50,
  );
  return { killed, elected, electionMs: elected.electedAt - killed.at, servingMs: servingAt - killed.at };
}

function short(taskArn: string): string {
  return taskArn.split('/').pop()!.slice(0, 8);
}
