/**
 * The agent's drill mode against real snapshots on the S3 server and real drill records
 * on DynamoDB Local: restore, verify command, application health check, corrupted data,
 * and the result reaching the drill record only while the drill runs.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import { DynamoSnapshotHolds } from '../../lambdas/adapters/snapshot-holds.js';
import type { ObjectStore } from '../../lambdas/adapters/stores/store.js';
import { type DrillAgentOptions, runDrillAgent } from '../../lambdas/agent/drill-mode.js';
import { servicePacksPrefix } from '../../lambdas/contract/keys.js';
import { finalizeDrill } from '../../lambdas/control/drills/finalize.js';
import { startDrill } from '../../lambdas/control/drills/start.js';
import { DRILL_OUTPUT_LIMIT_BYTES, type DrillRecord, timedOutConclusion } from '../../lambdas/domain/drills.js';
import type { SnapshotRecord } from '../../lambdas/domain/snapshot.js';
import { freePort } from '../../lambdas/local/embedded-services.js';
import { cli } from '../support/cli.js';
import { type DrillEnv, drillEnv, ecsMock, mockRunTask, protect, taskEvent } from '../support/drill-env.js';
import { tempDir } from '../support/fixtures.js';
import { readObject, tamper } from '../support/stores.js';

let env: DrillEnv;
let work: { path: string; cleanup: () => Promise<void> };
let good: SnapshotRecord;
let n = 0;

const FILES = { 'hello.txt': 'hello\n', 'db/rows.csv': 'id,name\n1,ada\n2,grace\n', 'db/sealed.txt': 'sealed\n' };

beforeAll(async () => {
  [env, work] = await Promise.all([drillEnv(), tempDir('lifeboat-drill-agent')]);
  await protect(env, 'wiki');
  await protect(env, 'broken');
  good = await env.snapshot('wiki', FILES);
});
afterAll(async () => {
  await work.cleanup();
  await env.cleanup();
});
beforeEach(() => {
  ecsMock.reset();
  env.clock.set(new Date(Date.parse(good.createdAt) + 600_000 + ++n * 60_000));
});

/** A running drill of `service` whose task has been "launched". */
async function runningDrill(service = 'wiki', snapshot?: string): Promise<DrillRecord> {
  mockRunTask();
  return (await startDrill(env, { service, snapshot })).drill;
}

const emptyDir = () => join(work.path, `restore-${n}-${Math.random().toString(16).slice(2, 8)}`);

function agentOptions(drill: DrillRecord, extra: Partial<DrillAgentOptions> = {}): DrillAgentOptions {
  return {
    drills: env.drills,
    catalog: env.catalog,
    objects: env.store,
    service: drill.service,
    drillId: drill.drillId,
    snapshotId: drill.snapshotId,
    dir: emptyDir(),
    taskArn: drill.taskArn,
    ...extra,
  };
}

describe('runDrillAgent', () => {
  it('restores the snapshot, runs the verify command in it, records "passed" and exits 0; the drill then passes', async () => {
    const drill = await runningDrill();
    const dir = emptyDir();
    const run = await runDrillAgent(
      agentOptions(drill, { dir, verify: 'grep -q grace db/rows.csv && echo "rows ok in $LIFEBOAT_DIR for $LIFEBOAT_DRILL_ID"' }),
    );
    expect(run).toMatchObject({ exitCode: 0, recorded: 'recorded', result: { outcome: 'passed', files: 3, taskArn: drill.taskArn } });
    expect(run.result.checks.map((c) => [c.name, c.status])).toEqual([
      ['restore', 'passed'],
      ['verify', 'passed'],
    ]);
    expect(run.result.checks[1]!.output).toBe(`rows ok in ${dir} for ${drill.drillId}\n`);
    expect(run.result.restoreSeconds).toBeGreaterThanOrEqual(0);
    expect(Date.parse(run.result.readyAt!)).toBeGreaterThanOrEqual(Date.parse(run.result.startedAt));
    expect(await readFile(join(dir, 'db/rows.csv'), 'utf8')).toBe(FILES['db/rows.csv']);
    expect((await env.drills.get('wiki', drill.drillId))?.agent).toEqual(run.result);

    const fin = await finalizeDrill(env, taskEvent(drill, { exitCode: run.exitCode }));
    expect(fin).toMatchObject({ outcome: 'finalized', snapshotVerified: true, drill: { status: 'passed', withinTargets: true } });
  });

  it('fails when the verify command fails, keeping the tail of its output', async () => {
    const drill = await runningDrill();
    // ~20 KB of output: more than is kept. (One stream: the order of stdout and stderr
    // chunks arriving through two pipes is not defined, so this test does not depend on it.)
    const verify = 'i=0; while [ $i -lt 2000 ]; do echo "checking row $i"; i=$((i+1)); done; echo "table pages is empty"; exit 3';
    const run = await runDrillAgent(agentOptions(drill, { verify }));
    expect(run).toMatchObject({ exitCode: 1, recorded: 'recorded', result: { outcome: 'failed' } });
    expect(run.result.reason).toBe(`verify command \`${verify}\` exited with code 3: table pages is empty`);
    const check = run.result.checks.find((c) => c.name === 'verify')!;
    expect(check).toMatchObject({ status: 'failed', exitCode: 3, command: verify });
    expect(check.output!.startsWith('[… earlier output cut]\n')).toBe(true);
    expect(check.output!.endsWith('checking row 1999\ntable pages is empty\n')).toBe(true);
    // The whole tail is kept (not just whatever whole pipe chunks happened to fit).
    expect(Buffer.byteLength(check.output!)).toBeLessThanOrEqual(DRILL_OUTPUT_LIMIT_BYTES + 64);
    expect(Buffer.byteLength(check.output!)).toBeGreaterThanOrEqual(DRILL_OUTPUT_LIMIT_BYTES);

    const fin = await finalizeDrill(env, taskEvent(drill, { exitCode: 1 }));
    expect(fin.drill).toMatchObject({ status: 'failed', reason: run.result.reason });
  });

  it('fails a drill of a corrupted snapshot with a reason that names the corrupted file', async () => {
    const snap = await env.snapshot('broken', FILES);
    env.clock.set(new Date(Date.parse(snap.createdAt) + 60_000));
    // One file's bytes changed inside its pack (a bad disk or a buggy writer): a 7-byte
    // file is stored plain, so only its SHA-256 can catch it.
    let key = '';
    for await (const o of env.store.list(servicePacksPrefix('broken'))) key = o.key;
    const packBytes = await readObject(env.store, key);
    const at = packBytes.indexOf(Buffer.from('sealed\n'));
    expect(at).toBeGreaterThan(0);
    await tamper(env.store, key, (b) => {
      b[at] = 'S'.charCodeAt(0);
      return b;
    });

    const drill = await runningDrill('broken');
    expect(drill.snapshotId).toBe(snap.id);
    const dir = emptyDir();
    const run = await runDrillAgent(agentOptions(drill, { dir, verify: 'true' }));
    expect(run).toMatchObject({ exitCode: 1, recorded: 'recorded', result: { outcome: 'failed' } });
    expect(run.result.reason).toMatch(/^restore of snapshot \S+ failed: file "db\/sealed\.txt" in snapshot .* is corrupted: content SHA-256 does not match/);
    expect(run.result.checks).toEqual([expect.objectContaining({ name: 'restore', status: 'failed', message: expect.stringContaining('db/sealed.txt') })]);
    // Nothing half-restored is left behind, and the verify command never ran.
    await expect(readdir(dir)).rejects.toMatchObject({ code: 'ENOENT' });

    const fin = await finalizeDrill(env, taskEvent(drill, { exitCode: run.exitCode }));
    expect(fin).toMatchObject({ snapshotVerified: false, drill: { status: 'failed', reason: expect.stringContaining('file "db/sealed.txt"') } });
  });

  it('starts the application and waits for its health check command, then stops it', async () => {
    const drill = await runningDrill();
    const dir = emptyDir();
    const app = 'echo $$ > app.pid; (sleep 0.2; touch ready) & exec sleep 60';
    const run = await runDrillAgent(
      agentOptions(drill, { dir, verify: 'test -f hello.txt', app: { command: app, healthCheckCommand: 'test -f ready', pollIntervalMs: 50 } }),
    );
    expect(run).toMatchObject({ exitCode: 0, result: { outcome: 'passed', reason: expect.stringMatching(/verify command passed, application healthy$/) } });
    expect(run.result.checks.map((c) => [c.name, c.status])).toEqual([
      ['restore', 'passed'],
      ['verify', 'passed'],
      ['health', 'passed'],
    ]);
    // The application was stopped when the check was done.
    const pid = Number(await readFile(join(dir, 'app.pid'), 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('waits for a health check URL', async () => {
    const drill = await runningDrill();
    const port = await freePort();
    const app = `exec ${JSON.stringify(process.execPath)} -e "require('http').createServer((q, r) => r.end('ok')).listen(${port}, '127.0.0.1')"`;
    const run = await runDrillAgent(
      agentOptions(drill, { app: { command: app, healthCheckUrl: `http://127.0.0.1:${port}/health`, pollIntervalMs: 50, startTimeoutMs: 30_000 } }),
    );
    expect(run.result.checks.at(-1)).toMatchObject({ name: 'health', status: 'passed', message: `healthy (GET http://127.0.0.1:${port}/health answered 200)` });
    expect(run.exitCode).toBe(0);
  });

  it('fails when the application exits before it is healthy, or is never healthy in time', async () => {
    const exits = await runDrillAgent(
      agentOptions(await runningDrill(), { app: { command: 'echo "config missing" >&2; exit 2', healthCheckCommand: 'false', pollIntervalMs: 50 } }),
    );
    expect(exits).toMatchObject({
      exitCode: 1,
      result: { outcome: 'failed', reason: expect.stringMatching(/application exited \(code 2\) before it was healthy/) },
    });
    expect(exits.result.checks.at(-1)!.output).toContain('config missing');

    env.clock.advance(5);
    const never = await runDrillAgent(
      agentOptions(await runningDrill(), {
        app: { command: 'exec sleep 60', healthCheckCommand: 'echo "not yet"; false', startTimeoutMs: 300, pollIntervalMs: 50 },
      }),
    );
    expect(never).toMatchObject({
      exitCode: 1,
      result: { outcome: 'failed', reason: expect.stringMatching(/not healthy within .*; last check: `echo "not yet"; false` exited 1: not yet/) },
    });
  });

  it('records nothing and exits 1 when the drill is no longer running', async () => {
    const drill = await runningDrill();
    await env.drills.finish('wiki', drill.drillId, timedOutConclusion(drill, env.clock()));
    const run = await runDrillAgent(agentOptions(drill, { verify: 'true' }));
    expect(run).toMatchObject({ exitCode: 1, recorded: 'not-running', result: { outcome: 'passed' } });
    expect((await env.drills.get('wiki', drill.drillId))?.agent).toBeUndefined();
  });

  it('could not run (error) when the directory is not empty', async () => {
    const drill = await runningDrill();
    const dir = emptyDir();
    await mkdir(dir);
    await writeFile(join(dir, 'leftover'), 'x');
    const run = await runDrillAgent(agentOptions(drill, { dir, verify: 'true' }));
    expect(run).toMatchObject({ exitCode: 1, result: { outcome: 'error', reason: expect.stringMatching(/could not run: .* is not empty/) } });
    expect((await finalizeDrill(env, taskEvent(drill, { exitCode: 1 }))).drill?.status).toBe('error');
  });

  it('holds a snapshot hold on the snapshot while restoring it, so retention cannot delete it mid-drill', async () => {
    const drill = await runningDrill();
    const holds = new DynamoSnapshotHolds(createDynamoClient(), env.table);
    const seen: string[][] = [];
    const watching: ObjectStore = Object.assign(Object.create(env.store) as ObjectStore, {
      get: async (key: string, o?: { signal?: AbortSignal }) => {
        seen.push((await holds.live(drill.service, drill.snapshotId)).map((u) => `${u.purpose}:${u.holder}`));
        return env.store.get(key, o);
      },
    });
    const run = await runDrillAgent(agentOptions(drill, { objects: watching, holds, verify: 'true' }));
    expect(run.exitCode).toBe(0);
    expect(seen.length).toBeGreaterThan(0);
    for (const holders of seen) expect(holders).toEqual([`drill:${drill.drillId}`]);
    expect(await holds.live(drill.service, drill.snapshotId)).toEqual([]);
  });
});

describe('lifeboat drill-agent (hidden)', () => {
  it('takes everything from the environment RunTask sets, and stays out of --help', async () => {
    const drill = await runningDrill();
    const r = await cli(['drill-agent', '--json'], {
      LIFEBOAT_TABLE: env.table,
      LIFEBOAT_STORE: env.store.url,
      LIFEBOAT_DIR: emptyDir(),
      LIFEBOAT_SERVICE: 'wiki',
      LIFEBOAT_DRILL_ID: drill.drillId,
      LIFEBOAT_SNAPSHOT_ID: drill.snapshotId,
      LIFEBOAT_VERIFY: 'test -s db/rows.csv',
    });
    expect(r.stderr).toMatch(/drill drill-\S+ passed: restored 3 files/);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ drillId: drill.drillId, exitCode: 0, recorded: 'recorded', outcome: 'passed' });

    const help = await cli(['--help']);
    expect(help.stdout).toMatch(/\bdrill\b/);
    expect(help.stdout).toMatch(/\breport\b/);
    expect(help.stdout).not.toMatch(/drill-agent/);
  });

  it('is a usage error without a drill id', async () => {
    const r = await cli(['drill-agent', '--dir', emptyDir()], { LIFEBOAT_TABLE: env.table, LIFEBOAT_STORE: env.store.url, LIFEBOAT_SERVICE: 'wiki' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no drill id given/);
  });
});

describe('lifeboat agent in a drill task', () => {
  it('runs drill mode (LIFEBOAT_MODE=drill from the launcher) instead of joining the service', async () => {
    const drill = await runningDrill();
    const r = await cli(
      ['agent', '--service', 'wiki', '--task', 'arn:aws:ecs:eu-west-1:1:task/c/drill-task', '--dir', emptyDir(), '--verify', 'test -s db/rows.csv'],
      {
        LIFEBOAT_TABLE: env.table,
        LIFEBOAT_STORE: env.store.url,
        LIFEBOAT_MODE: 'drill',
        LIFEBOAT_DRILL_ID: drill.drillId,
        LIFEBOAT_SNAPSHOT_ID: drill.snapshotId,
      },
    );
    expect(r.stderr).toMatch(/not joining wiki as a member/);
    expect(r.stderr).toMatch(/drill drill-\S+ passed/);
    expect(r.code).toBe(0);
    const failing = await runningDrill();
    const f = await cli(['agent', '--service', 'wiki', '--task', 'arn:aws:ecs:eu-west-1:1:task/c/drill-task-2', '--dir', emptyDir(), '--verify', 'exit 7'], {
      LIFEBOAT_TABLE: env.table,
      LIFEBOAT_STORE: env.store.url,
      LIFEBOAT_MODE: 'drill',
      LIFEBOAT_DRILL_ID: failing.drillId,
      LIFEBOAT_SNAPSHOT_ID: failing.snapshotId,
    });
    expect(f.code).toBe(1);
    expect(f.stdout.trim()).toBe('failed');
  });
});
