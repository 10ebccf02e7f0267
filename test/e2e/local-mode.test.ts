/**
 * End to end, local mode: the scenario of `npm run demo` (one run, shared by the
 * assertions below) against the test run's DynamoDB Local and fauxqs, then `lifeboat
 * local` as a real child process stopped with SIGINT, checking nothing it started is left.
 *
 * Times are asserted only against generous bounds (this machine is shared); the measured
 * figures are in docs/PERFORMANCE.md.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import { LocalMode } from '../../lambdas/local/local-mode.js';
import { runScenario, type ScenarioResult } from '../../lambdas/local/scenario.js';
import { exitOf, spawnCli, waitFor } from '../support/cli.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

describe('local mode: the demo scenario', () => {
  let mode: LocalMode;
  let result: ScenarioResult;
  let reportsDir: string;
  const lines: string[] = [];

  beforeAll(async () => {
    reportsDir = await mkdtemp(join(tmpdir(), 'lifeboat-e2e-reports-'));
    mode = await LocalMode.start({
      repoRoot,
      ephemeral: true,
      speed: 60,
      services: { env: inject('awsEnv') },
      table: `lifeboat-e2e-${randomBytes(4).toString('hex')}`,
      reportsDir,
    });
    result = await runScenario(mode, { log: (l) => lines.push(l) });
  }, 240_000);

  afterAll(async () => {
    await mode?.stop();
    // Only after a pass: on failure the log above says what happened.
    if (result) await rm(reportsDir, { recursive: true, force: true });
  }, 60_000);

  it('a primary serves the example service through discovery', () => {
    expect(result.primary.term).toBeGreaterThanOrEqual(1);
    expect(result.primary.taskArn).toMatch(/^arn:aws:ecs:us-east-1:000000000000:task\/local\/[0-9a-f]{32}$/);
  });

  it('acknowledged writes that were in a complete snapshot survive the loss of the primary', () => {
    expect(result.writes.inSnapshot).toBe(20);
    expect(result.writes.inSnapshotSurvived).toBe(result.writes.inSnapshot);
  });

  it('after the primary is killed, a new one is elected once the failover timeout is over and serves the data (generous bounds)', () => {
    const f = result.failover;
    expect(f.newPrimary).not.toBe(f.killed);
    expect(f.newTerm).toBeGreaterThan(result.primary.term);
    // Not before the timeout (the STOPPED event comes right after the kill), and not long after.
    expect(f.electionMs).toBeGreaterThanOrEqual(f.timeoutSeconds * 1000 - 250);
    expect(f.electionMs).toBeLessThan(f.timeoutSeconds * 1000 + 15_000);
    expect(f.servingMs).toBeGreaterThanOrEqual(f.electionMs);
    expect(f.servingMs).toBeLessThan(45_000);
    console.log(
      `local failover: elected ${f.electionMs} ms, serving ${f.servingMs} ms after the kill (timeout ${f.timeoutSeconds} s); scenario ${result.totalMs} ms`,
    );
  });

  it('retention prunes: deleted snapshots are gone from the catalog, the newest three are kept', async () => {
    expect(result.retention.pruned.length).toBeGreaterThanOrEqual(1);
    expect(result.retention.plan.filter((e) => e.action === 'delete').length).toBeGreaterThanOrEqual(1);
    const catalog = new DynamoSnapshotCatalog(createDynamoClient(mode.environment), mode.table);
    for (const id of result.retention.pruned) expect(await catalog.get(mode.service, id)).toBeUndefined();
    expect(result.retention.kept).toBeGreaterThanOrEqual(3);
  });

  it('a drill passes, measures RTO and RPO, and marks its snapshot verified', async () => {
    const d = result.passedDrill;
    expect(d.status).toBe('passed');
    expect(d.agent?.checks.map((c) => [c.name, c.status])).toEqual([
      ['restore', 'passed'],
      ['verify', 'passed'],
      ['health', 'passed'],
    ]);
    expect(d.rtoSeconds).toBeGreaterThan(0);
    expect(d.exitCode).toBe(0);
    // Read right after the drill: step 8 damages the newest snapshot, often this same one.
    expect(result.verifiedAfterPass).toBeTruthy();
  });

  it('a damaged snapshot makes the next drill on it fail, naming the damaged part', () => {
    const d = result.failedDrill;
    expect(d.snapshotId).toBe(result.corrupted.snapshotId);
    expect(d.status).toBe('failed');
    // The part by its name; the snapshot's id is the drill's own field, not repeated in the reason.
    expect(d.reason).toContain(result.corrupted.key.slice(result.corrupted.key.lastIndexOf('/') + 1));
    expect(d.reason).not.toContain(d.snapshotId);
    expect(d.reason).toMatch(/corrupted/);
  });

  it("the failed drill withdrew the damaged snapshot's verification: it is suspect, not verified", () => {
    expect(result.damagedAfterDrill.suspectAt).toBeDefined();
    expect(result.damagedAfterDrill.verifiedAt).toBeUndefined();
  });

  it('reports land in the reports directory in all four formats, and agree', async () => {
    const [json, junit, md, html] = await Promise.all(result.reports.map((f) => readFile(f, 'utf8')));
    const report = JSON.parse(json!) as { schema: string; services: { service: string; verdict: string }[] };
    expect(report.schema).toBe('lifeboat.drill-report/v1');
    expect(report.services.find((s) => s.service === 'kv')?.verdict).toBe('fail');
    const xml = new XMLParser({ ignoreAttributes: false }).parse(junit!);
    expect(JSON.stringify(xml)).toContain('failure');
    expect(md).toContain(result.failedDrill.drillId);
    expect(html).toMatch(/^<!doctype html>/i);
    expect(existsSync(join(reportsDir, 'kv', 'report.json'))).toBe(true);
  });
});

describe('local mode: Ctrl-C', () => {
  it('GIVEN `lifeboat local` running with its tasks WHEN it gets SIGINT THEN it exits 0 and leaves no process and no state behind', async () => {
    const child = spawnCli(['local', '--ephemeral', '--no-ui', '--replicas', '2'], { CI: 'true' });
    try {
      const api = await waitFor(async () => /local API: (http:\/\/127\.0\.0\.1:\d+)/.exec(child.output().stderr)?.[1], 'the local API', 90_000);
      const dynamoPort = /DynamoDB: http:\/\/127\.0\.0\.1:(\d+)/.exec(child.output().stderr)![1]!;
      const stateDir = /logs: (\S+)\/logs;/.exec(child.output().stderr)![1]!;
      const status = await waitFor(
        async () => {
          const s = (await (await fetch(`${api}/status`)).json()) as { lease?: unknown; members: { pid?: number; role: string }[] };
          return s.lease && s.members.filter((m) => m.pid).length === 2 ? s : undefined;
        },
        'a primary and two running tasks',
        90_000,
      );
      const pids = status.members.map((m) => m.pid!);
      const java = processesMatching(`-port ${dynamoPort}`);
      expect(java.length).toBe(1);

      child.kill('SIGINT');
      const exit = await exitOf(child);
      expect(exit, child.output().stderr).toEqual({ code: 0, signal: null });
      expect(child.output().stderr).toMatch(/stopped; nothing is left running/);
      for (const pid of [...pids, ...java]) expect(alive(pid), `process ${pid}`).toBe(false);
      // Nothing started by it, in any process group: task children, hooks, DynamoDB Local.
      expect(processesMatching(stateDir)).toEqual([]);
      expect(processesMatching(`-port ${dynamoPort}`)).toEqual([]);
      expect(existsSync(stateDir)).toBe(false);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 180_000);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of live processes whose command line contains `text` (Linux /proc). */
function processesMatching(text: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSafe('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.[0];
      if (cmd.includes(text) && state !== 'Z') out.push(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  return out;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
