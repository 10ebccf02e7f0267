/**
 * A drill's life on real DynamoDB Local and the S3 server, with ECS mocked: the launch
 * request, idempotent starts, the STOPPED event (duplicates, out of order, another task,
 * agent result vs exit code), the watchdog, and the handlers around them.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { reportObjectKey } from '../../lambdas/contract/keys.js';
import { finalizeDrill, stopOverdueDrills } from '../../lambdas/control/drills/finalize.js';
import { startDrill } from '../../lambdas/control/drills/start.js';
import { buildDrillRunTask, type DrillAgentResult, type DrillRecord } from '../../lambdas/domain/drills.js';
import { OperationFailedError, UsageError } from '../../lambdas/domain/errors.js';
import type { SnapshotRecord } from '../../lambdas/domain/snapshot.js';
import { createDrillSchedulerHandler, scheduledDrillId } from '../../lambdas/handlers/drill-scheduler.js';
import { createDrillWatchdogHandler } from '../../lambdas/handlers/drill-watchdog.js';
import { createReportHandler } from '../../lambdas/handlers/report.js';
import { type DrillEnv, drillEnv, ecsMock, mockRunTask, nextTaskArn, protect, taskEvent } from '../support/drill-env.js';
import { readObject } from '../support/stores.js';

let env: DrillEnv;
let older: SnapshotRecord;
let newest: SnapshotRecord;
let seq = 0;

beforeAll(async () => {
  env = await drillEnv();
  older = await env.snapshot('db');
  newest = await env.snapshot('db');
  await protect(env, 'db');
});
afterAll(() => env.cleanup());
beforeEach(() => {
  ecsMock.reset();
  env.finished.length = 0;
  // One hour after the newest snapshot, plus a step per test so drill ids never collide.
  env.clock.set(new Date(Date.parse(newest.createdAt) + 3600_000 + ++seq * 60_000));
});

const deps = () => ({ ...env, random: () => 0 });

function agentResult(drill: DrillRecord, overrides: Partial<DrillAgentResult> = {}): DrillAgentResult {
  const start = Date.parse(drill.createdAt);
  return {
    outcome: 'passed',
    reason: 'restored 1 files in 1.50 s; verify command passed',
    startedAt: new Date(start + 20_000).toISOString(),
    restoreSeconds: 1.5,
    readyAt: new Date(start + 75_000).toISOString(),
    files: 1,
    dataBytes: 6,
    checks: [{ name: 'restore', status: 'passed', durationSeconds: 1.5 }],
    reportedAt: new Date(start + 76_000).toISOString(),
    ...overrides,
  };
}

/** Starts a drill whose task is launched; returns it as recorded. */
async function launched(service = 'db', snapshot?: string): Promise<DrillRecord> {
  mockRunTask(nextTaskArn());
  const r = await startDrill(deps(), { service, snapshot });
  expect(r.outcome).toBe('launched');
  return r.drill;
}

describe('starting a drill', () => {
  it('records the drill and launches one task with drill mode, ids, startedBy, client token and the service network', async () => {
    const taskArn = mockRunTask();
    const r = await startDrill(deps(), { service: 'db' });
    const d = r.drill;
    expect(r).toMatchObject({ outcome: 'launched', note: 'newest complete snapshot' });
    expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 1);
    expect(ecsMock.commandCalls(RunTaskCommand)[0]!.args[0].input).toEqual({
      cluster: 'prod',
      taskDefinition: 'db:7',
      count: 1,
      startedBy: d.drillId,
      clientToken: d.drillId,
      launchType: 'FARGATE',
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-0a', 'subnet-0b'], securityGroups: ['sg-0c'], assignPublicIp: 'DISABLED' } },
      overrides: {
        containerOverrides: [
          {
            name: 'app',
            environment: [
              { name: 'LIFEBOAT_MODE', value: 'drill' },
              { name: 'LIFEBOAT_DRILL_ID', value: d.drillId },
              { name: 'LIFEBOAT_SNAPSHOT_ID', value: newest.id },
              { name: 'LIFEBOAT_SERVICE', value: 'db' },
              { name: 'LIFEBOAT_DRILL_DEADLINE', value: d.deadline },
              { name: 'LIFEBOAT_VERIFY', value: 'test -f hello.txt' },
            ],
          },
        ],
      },
    });
    const stored = await env.drills.get('db', d.drillId);
    expect(stored).toMatchObject({
      status: 'running',
      trigger: 'manual',
      snapshotId: newest.id,
      newestSnapshotId: newest.id,
      selection: 'latest',
      rpoSeconds: 3600 + seq * 60,
      snapshotAgeSeconds: 3600 + seq * 60,
      taskArn,
      timeoutSeconds: 1800,
      deadline: new Date(env.clock().getTime() + 1800_000).toISOString(),
      targets: { rtoSeconds: 600, rpoSeconds: 7200 },
    });
  });

  it('drills a given snapshot, measuring RPO from the newest one', async () => {
    mockRunTask();
    const { drill } = await startDrill(deps(), { service: 'db', snapshot: older.id });
    expect(drill).toMatchObject({ snapshotId: older.id, selection: 'explicit', newestSnapshotId: newest.id });
    expect(drill.snapshotAgeSeconds).toBeGreaterThanOrEqual(drill.rpoSeconds);
  });

  it('picks among recent snapshots with the injected RNG for "random"', async () => {
    mockRunTask();
    const last = await startDrill({ ...env, random: () => 0.99 }, { service: 'db', snapshot: 'random' });
    expect(last.drill).toMatchObject({ snapshotId: older.id, selection: 'random' });
    mockRunTask();
    env.clock.advance(1);
    const first = await startDrill({ ...env, random: () => 0 }, { service: 'db', snapshot: 'random' });
    expect(first.drill.snapshotId).toBe(newest.id);
  });

  it('is idempotent for a fixed drill id: a retry neither creates nor launches twice', async () => {
    const drillId = scheduledDrillId('db', env.clock());
    mockRunTask();
    const first = await startDrill(deps(), { service: 'db', drillId });
    const again = await startDrill(deps(), { service: 'db', drillId });
    expect([first.outcome, again.outcome]).toEqual(['launched', 'existing']);
    expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 1);
  });

  it('repeats the same RunTask (same client token) when a crash left the drill without its task', async () => {
    const template = await launched();
    const drillId = scheduledDrillId('db', new Date(env.clock().getTime() + 1000));
    const { taskArn: _t, launchedAt: _l, ...rest } = template;
    // As if the first attempt wrote the record and died before RunTask answered.
    const crashed: DrillRecord = { ...rest, drillId };
    expect(await env.drills.create(crashed)).toBe('created');
    ecsMock.reset();
    const taskArn = mockRunTask();
    const resumed = await startDrill(deps(), { service: 'db', drillId });
    expect(resumed).toMatchObject({ outcome: 'resumed', drill: { taskArn, status: 'running' } });
    // Exactly the request the first attempt sent: ECS answers a repeated token with the same task.
    expect(ecsMock.commandCalls(RunTaskCommand).map((c) => c.args[0].input)).toEqual([buildDrillRunTask(crashed)]);
    expect(ecsMock.commandCalls(RunTaskCommand)[0]!.args[0].input.clientToken).toBe(drillId);
  });

  it('records a launch ECS refuses as an error drill, with the reason', async () => {
    ecsMock
      .on(RunTaskCommand)
      .resolves({ tasks: [], failures: [{ arn: 'arn:aws:ecs:eu-west-1:123456789012:container-instance/x', reason: 'RESOURCE:MEMORY' }] });
    const r = await startDrill(deps(), { service: 'db' });
    expect(r.outcome).toBe('launch-failed');
    expect(r.drill).toMatchObject({
      status: 'error',
      finishedBy: 'launch',
      reason: expect.stringMatching(/could not be launched: RunTask on prod started no task: RESOURCE:MEMORY/),
    });
    expect(env.finished.map((d) => d.drillId)).toEqual([r.drill.drillId]);

    ecsMock.on(RunTaskCommand).rejects(Object.assign(new Error('Subnet not found'), { name: 'InvalidParameterException', $metadata: { httpStatusCode: 400 } }));
    env.clock.advance(1);
    const r2 = await startDrill(deps(), { service: 'db' });
    expect(r2.drill.reason).toMatch(/refused: InvalidParameterException: Subnet not found/);
  });

  it('refuses services that are not protected, lack ECS settings, or have no snapshot', async () => {
    await expect(startDrill(deps(), { service: 'nope' })).rejects.toThrow(UsageError);
    await protect(env, 'bare', { ecs: { cluster: 'prod' } });
    await expect(startDrill(deps(), { service: 'bare' })).rejects.toThrow(/no ecs\.taskDefinition, ecs\.containerName/);
    await protect(env, 'empty');
    await expect(startDrill(deps(), { service: 'empty' })).rejects.toThrow(OperationFailedError);
    await expect(startDrill(deps(), { service: 'db', snapshot: '20200101T000000.000Z-00000000' })).rejects.toThrow(/not in the catalog/);
    expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 0);
  });
});

describe('finishing a drill from its STOPPED event', () => {
  it('passes: agent passed + exit 0; RTO and RPO measured; the snapshot is marked verified; once only', async () => {
    const d = await launched();
    expect(await env.drills.recordAgentResult('db', d.drillId, agentResult(d))).toBe('recorded');
    const startedAt = new Date(Date.parse(d.createdAt) + 15_000).toISOString();
    const event = taskEvent(d, { exitCode: 0, startedAt });
    const r = await finalizeDrill(env, event);
    expect(r).toMatchObject({
      outcome: 'finalized',
      snapshotVerified: true,
      drill: { status: 'passed', rtoSeconds: 60, restoreSeconds: 1.5, withinTargets: true, exitCode: 0 },
    });
    expect((await env.catalog.get('db', newest.id))?.verifiedAt).toBe(event.stoppedAt);
    expect(env.finished).toHaveLength(1);

    // The same event again (at-least-once delivery): nothing changes, no second metric.
    const before = await env.drills.get('db', d.drillId);
    expect(await finalizeDrill(env, event)).toMatchObject({ outcome: 'ignored', reason: 'already-finished' });
    expect(await env.drills.get('db', d.drillId)).toEqual(before);
    expect(env.finished).toHaveLength(1);
  });

  it('finalizes exactly once when several invocations race on the same event', async () => {
    const d = await launched();
    await env.drills.recordAgentResult('db', d.drillId, agentResult(d));
    const results = await Promise.all(Array.from({ length: 6 }, () => finalizeDrill(env, taskEvent(d, { exitCode: 0 }))));
    expect(results.filter((r) => r.outcome === 'finalized')).toHaveLength(1);
    expect(env.finished).toHaveLength(1);
  });

  it('handles events out of order: STOPPED before the launch was recorded, a late RUNNING, a late agent result', async () => {
    // The record exists but RunTask's answer was not recorded yet when STOPPED arrives.
    const taskArn = nextTaskArn();
    ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn }] });
    const { drill } = await startDrill(deps(), { service: 'db' });
    const early = { ...drill };
    delete early.taskArn;
    await env.drills.recordAgentResult(
      'db',
      drill.drillId,
      agentResult(drill, { outcome: 'failed', reason: 'verify command `test -f hello.txt` exited with code 1', readyAt: undefined }),
    );
    const r = await finalizeDrill(env, taskEvent({ ...early, taskArn }, { exitCode: 1 }));
    expect(r).toMatchObject({
      outcome: 'finalized',
      snapshotVerified: false,
      drill: { status: 'failed', reason: 'verify command `test -f hello.txt` exited with code 1' },
    });

    // A RUNNING event delivered after STOPPED changes nothing.
    expect(await finalizeDrill(env, taskEvent(drill, { lastStatus: 'RUNNING' }))).toMatchObject({ outcome: 'ignored', reason: 'not-stopped' });
    // An agent result arriving after the drill finished is refused.
    expect(await env.drills.recordAgentResult('db', drill.drillId, agentResult(drill))).toBe('not-running');
    expect((await env.drills.get('db', drill.drillId))?.status).toBe('failed');
  });

  it('a failed drill withdraws the verification of its snapshot: suspect, and latest-verified moves to the previous good snapshot', async () => {
    // A service of its own: its failed drill must not decide the reports other tests check.
    await env.snapshot('suspicious');
    await protect(env, 'suspicious');
    const passed = await launched('suspicious');
    await env.drills.recordAgentResult('suspicious', passed.drillId, agentResult(passed));
    expect(await finalizeDrill(env, taskEvent(passed, { exitCode: 0 }))).toMatchObject({ snapshotVerified: true });
    expect((await env.catalog.latest('suspicious', { verified: true }))?.id).toBe(passed.snapshotId);

    env.clock.advance(1000);
    const failed = await launched('suspicious');
    expect(failed.snapshotId).toBe(passed.snapshotId);
    await env.drills.recordAgentResult(
      'suspicious',
      failed.drillId,
      agentResult(failed, { outcome: 'failed', reason: 'verify command exited with code 1', readyAt: undefined }),
    );
    expect(await finalizeDrill(env, taskEvent(failed, { exitCode: 1 }))).toMatchObject({
      outcome: 'finalized',
      snapshotVerified: false,
      drill: { status: 'failed' },
    });
    const after = await env.catalog.get('suspicious', failed.snapshotId);
    expect(after).toMatchObject({ suspectDrill: failed.drillId });
    expect(after?.verifiedAt).toBeUndefined();
    expect(await env.catalog.latest('suspicious', { verified: true })).toBeUndefined();
  });

  it('ignores a STOPPED event of another task carrying the same drill id', async () => {
    const d = await launched();
    expect(await finalizeDrill(env, taskEvent(d, { exitCode: 0, taskArn: nextTaskArn() }))).toMatchObject({ outcome: 'ignored', reason: 'other-task' });
    expect((await env.drills.get('db', d.drillId))?.status).toBe('running');
  });

  it('is an error, not a pass, when the agent says passed but the container exited 1; the snapshot stays unverified', async () => {
    const fresh = await env.snapshot('db');
    env.clock.set(new Date(Date.parse(fresh.createdAt) + 60_000));
    const d = await launched();
    expect(d.snapshotId).toBe(fresh.id);
    await env.drills.recordAgentResult('db', d.drillId, agentResult(d));
    const r = await finalizeDrill(env, taskEvent(d, { exitCode: 1 }));
    expect(r).toMatchObject({
      outcome: 'finalized',
      drill: { status: 'error', reason: expect.stringMatching(/agent recorded "passed" .* exited with code 1/) },
    });
    expect((await env.catalog.get('db', fresh.id))?.verifiedAt).toBeUndefined();
  });

  it('is an error when the agent says failed but the container exited 0, or never reported', async () => {
    const d = await launched();
    await env.drills.recordAgentResult('db', d.drillId, agentResult(d, { outcome: 'failed', reason: 'x' }));
    expect((await finalizeDrill(env, taskEvent(d, { exitCode: 0 }))).drill?.status).toBe('error');
    env.clock.advance(1);
    const silent = await launched();
    const r = await finalizeDrill(env, taskEvent(silent, { exitCode: 137, stoppedReason: 'OutOfMemoryError: Container killed due to memory usage' }));
    expect(r.drill).toMatchObject({ status: 'error', reason: expect.stringMatching(/exited with code 137 without recording a result \(OutOfMemoryError/) });
  });

  it('is an error when the task failed to start (no exit code)', async () => {
    const d = await launched();
    const r = await finalizeDrill(
      env,
      taskEvent(d, { exitCode: null, stopCode: 'TaskFailedToStart', stoppedReason: 'CannotPullContainerError: ref not found' }),
    );
    expect(r.drill).toMatchObject({
      status: 'error',
      stopCode: 'TaskFailedToStart',
      reason: 'the drill task failed to start (CannotPullContainerError: ref not found)',
    });
    expect(r.drill?.exitCode).toBeUndefined();
  });

  it('passes over target when RPO misses its target; the snapshot is still verified (it did restore)', async () => {
    await protect(env, 'slow', { targets: { rpoSeconds: 60 } });
    const snap = await env.snapshot('slow');
    env.clock.set(new Date(Date.parse(snap.createdAt) + 600_000));
    const d = await launched('slow');
    await env.drills.recordAgentResult('slow', d.drillId, agentResult(d));
    const r = await finalizeDrill(env, taskEvent(d, { exitCode: 0 }));
    expect(r).toMatchObject({ snapshotVerified: true, drill: { status: 'passed', overTarget: ['rpo'], withinTargets: false } });
  });

  it('ignores tasks that are not drills, and drills it does not know', async () => {
    const d = await launched();
    expect(await finalizeDrill(env, { ...taskEvent(d, { exitCode: 0 }), startedBy: 'ecs-svc/123', overrides: { containerOverrides: [] } })).toMatchObject({
      reason: 'not-a-drill',
    });
    const unknown = { ...d, drillId: 'drill-20200101T000000Z-00000000' };
    expect(await finalizeDrill(env, taskEvent(unknown, { exitCode: 0 }))).toMatchObject({ reason: 'unknown-drill' });
  });
});

describe('the watchdog', () => {
  it('times out drills past their deadline, stops their tasks, and leaves the others alone', async () => {
    const overdue = await launched();
    env.clock.advance(600);
    const young = await launched();
    env.clock.set(new Date(Date.parse(overdue.deadline) + 1000));
    const r = await stopOverdueDrills(env, { services: ['db'] });
    expect(r.timedOut.map((d) => d.drillId)).toContain(overdue.drillId);
    expect(r.timedOut.map((d) => d.drillId)).not.toContain(young.drillId);
    expect(ecsMock).toHaveReceivedCommandWith(StopTaskCommand, {
      cluster: 'prod',
      task: overdue.taskArn,
      reason: `Lifeboat drill ${overdue.drillId} timed out (deadline ${overdue.deadline})`,
    });
    expect(await env.drills.get('db', overdue.drillId)).toMatchObject({ status: 'timed-out', finishedBy: 'watchdog' });
    expect((await env.drills.get('db', young.drillId))?.status).toBe('running');

    // The task's own STOPPED (exit 143 from StopTask) and a late agent result change nothing.
    expect(await finalizeDrill(env, taskEvent(overdue, { exitCode: 143, stopCode: 'UserInitiated' }))).toMatchObject({ reason: 'already-finished' });
    expect(await env.drills.recordAgentResult('db', overdue.drillId, agentResult(overdue))).toBe('not-running');
    expect((await env.drills.get('db', overdue.drillId))?.status).toBe('timed-out');
    // A second run finds nothing more to do.
    ecsMock.resetHistory();
    const again = await stopOverdueDrills(env, { services: ['db'] });
    expect(again.timedOut.map((d) => d.drillId)).not.toContain(overdue.drillId);
    expect(ecsMock.commandCalls(StopTaskCommand).map((c) => c.args[0].input.task)).not.toContain(overdue.taskArn);
  });

  it('reports a task it could not stop, with the drill timed out all the same', async () => {
    const d = await launched();
    env.clock.set(new Date(Date.parse(d.deadline) + 1));
    ecsMock.on(StopTaskCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const r = await stopOverdueDrills(env, { services: ['db'] });
    expect(r.stopFailures).toContainEqual(expect.objectContaining({ drillId: d.drillId, error: expect.stringMatching(/Rate exceeded/) }));
    expect((await env.drills.get('db', d.drillId))?.status).toBe('timed-out');
  });
});

describe('handlers', () => {
  it('the scheduler starts one drill per scheduled time, however often it is invoked', async () => {
    const handler = createDrillSchedulerHandler(env.runtime());
    mockRunTask();
    const scheduledTime = env.clock().toISOString();
    const first = await handler({ service: 'db', scheduledTime });
    const second = await handler({ service: 'db', scheduledTime });
    expect(first).toMatchObject({ outcome: 'launched', drillId: scheduledDrillId('db', new Date(scheduledTime)) });
    expect(second).toMatchObject({ outcome: 'existing', drillId: first.outcome === 'launched' ? first.drillId : '' });
    expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 1);
    expect((await env.drills.get('db', scheduledDrillId('db', new Date(scheduledTime))))?.trigger).toBe('schedule');
    expect(await handler({ service: 5 })).toMatchObject({ outcome: 'rejected' });
    expect(await handler({ service: 'unknown' })).toMatchObject({ outcome: 'not-started', reason: expect.stringMatching(/not protected/) });
  });

  it('the report handler finalizes the drill of a STOPPED event and writes all four formats, all services and its own', async () => {
    const d = await launched();
    await env.drills.recordAgentResult('db', d.drillId, agentResult(d));
    const handler = createReportHandler({ ...env.runtime(), reportMaxAgeSeconds: 26 * 3600 });
    const event = {
      version: '0',
      id: 'e1',
      'detail-type': 'ECS Task State Change',
      source: 'aws.ecs',
      account: '123456789012',
      time: d.createdAt,
      region: 'eu-west-1',
      resources: [d.taskArn],
      detail: taskEvent(d, { exitCode: 0 }),
    };
    const r = await handler(event);
    expect(r.finalized).toBe('finalized');
    const expected = (['json', 'junit', 'markdown', 'html'] as const).flatMap((f) => [reportObjectKey(f), reportObjectKey(f, 'db')]).sort();
    expect(r.keys).toEqual(expected);
    for (const key of expected) expect((await env.store.head(key))?.size).toBeGreaterThan(0);
    const doc = JSON.parse((await readObject(env.store, reportObjectKey('json', 'db'))).toString());
    expect(doc).toMatchObject({
      schema: 'lifeboat.drill-report/v1',
      maxAgeSeconds: 26 * 3600,
      services: [{ service: 'db', decidingDrillId: d.drillId, verdict: 'pass' }],
    });
    // Delivered again: the drill is not finalized twice, the reports are rewritten.
    expect((await handler(event)).finalized).toBe('already-finished');
    // A direct invocation writes the all-services report only.
    expect((await handler({})).keys).toEqual((['json', 'junit', 'markdown', 'html'] as const).map((f) => reportObjectKey(f)).sort());
  });

  it('the watchdog handler times out overdue drills and rewrites their reports', async () => {
    const d = await launched();
    env.clock.set(new Date(Date.parse(d.deadline) + 1));
    ecsMock.on(StopTaskCommand).resolves({});
    const r = await createDrillWatchdogHandler(env.runtime())({});
    expect(r.timedOut).toContainEqual({ service: 'db', drillId: d.drillId });
    const doc = JSON.parse((await readObject(env.store, reportObjectKey('json', 'db'))).toString());
    expect(doc.services[0].drills.find((x: { drillId: string }) => x.drillId === d.drillId)).toMatchObject({ status: 'timed-out', verdict: 'timed-out' });
  });
});
