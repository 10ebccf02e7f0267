/**
 * Snapshot jobs on DynamoDB Local and the S3 server (ECS mocked): a scheduled request
 * reaches the primary's agent through its heartbeat, the agent's fenced snapshot completes
 * it; no primary, a deposed primary and a missed deadline fail it with a reason; dump mode
 * launches a RunTask whose STOPPED event (duplicated, out of order) finishes the job once.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import { DynamoCoordinationStore } from '../../lambdas/adapters/coordination.js';
import { EcsTaskLauncher } from '../../lambdas/adapters/ecs-launcher.js';
import { DynamoJobStore } from '../../lambdas/adapters/job-store.js';
import { DynamoServiceRegistry } from '../../lambdas/adapters/service-registry.js';
import type { S3Store } from '../../lambdas/adapters/stores/s3-store.js';
import { runSnapshotCommand } from '../../lambdas/agent/snapshot-command.js';
import { ServiceResolver } from '../../lambdas/control/services.js';
import { expireOverdueJobs, finishDumpTask, requestSnapshotJob, type SnapshotJobDeps } from '../../lambdas/control/snapshot-jobs.js';
import { roleOf } from '../../lambdas/domain/election.js';
import { normalizeServicePolicy, type ServicePolicyInput } from '../../lambdas/domain/service-policy.js';
import { SNAPSHOT_COMMAND, scheduledJobId } from '../../lambdas/domain/snapshot-jobs.js';
import { takeSnapshot } from '../../lambdas/engine/snapshot.js';
import { createSnapshotSchedulerHandler } from '../../lambdas/handlers/snapshot-scheduler.js';
import type { SnapshotWatchRuntime } from '../../lambdas/handlers/snapshot-watch.js';
import { createSnapshotWatchHandler } from '../../lambdas/handlers/snapshot-watch.js';
import { createTaskEventsHandler } from '../../lambdas/handlers/task-events.js';
import { cli, waitFor } from '../support/cli.js';
import { arn, runningMember } from '../support/coordination.js';
import { freshS3Store, freshTable, tempDir } from '../support/fixtures.js';

const ecsMock = mockClient(ECSClient);
const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);

let table: string;
let store: S3Store;
let work: { path: string; cleanup: () => Promise<void> };
let data: string;
let now = T0;
const counts: string[] = [];
const dynamo = () => createDynamoClient();

function deps(extra: Partial<SnapshotJobDeps> = {}): SnapshotJobDeps & { coordination: DynamoCoordinationStore; jobs: DynamoJobStore } {
  const coordination = new DynamoCoordinationStore(dynamo(), table);
  return {
    policy: (service) => new DynamoServiceRegistry(dynamo(), table).get(service),
    jobs: new DynamoJobStore(dynamo(), table),
    coordination,
    launcher: new EcsTaskLauncher(new ECSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } })),
    now: () => now,
    count: (service, metric) => void counts.push(`${service}:${metric}`),
    ...extra,
  } as SnapshotJobDeps & { coordination: DynamoCoordinationStore; jobs: DynamoJobStore };
}

async function protect(service: string, extra: Partial<ServicePolicyInput> = {}) {
  await new DynamoServiceRegistry(dynamo(), table).put(
    normalizeServicePolicy({ service, snapshot: { deadlineSeconds: 600 }, targets: { rpoSeconds: 3600 }, ...extra }),
  );
}

/** Makes `taskArn` a live primary of `service` and returns its term. */
async function primary(service: string, taskArn: string): Promise<number> {
  const coordination = new DynamoCoordinationStore(dynamo(), table);
  await runningMember(coordination, service, taskArn, now, { leaseMs: 15_000 });
  const { lease } = await coordination.readState(service);
  const previous = lease ? (await coordination.readState(service)).members.find((m) => m.taskArn === lease.holder) : undefined;
  const out = await coordination.elect({
    service,
    candidate: taskArn,
    observedTerm: lease?.term ?? 0,
    ...(lease ? { previousHolder: lease.holder } : {}),
    previousHolderExists: previous !== undefined,
    lostCutoff: now,
    now,
    reason: lease ? 'failover' : 'bootstrap',
  });
  expect(out.kind).toBe('elected');
  return (lease?.term ?? 0) + 1;
}

beforeAll(async () => {
  [table, store, work] = await Promise.all([freshTable(), freshS3Store('jobs/'), tempDir('lifeboat-jobs')]);
  data = join(work.path, 'data');
  await mkdir(data);
  await writeFile(join(data, 'rows'), 'a,b,c\n');
});
afterAll(() => work.cleanup());
beforeEach(() => {
  ecsMock.reset();
  counts.length = 0;
  now += 3_600_000;
});

describe('agent mode', () => {
  it('delivers the request with the heartbeat; the primary snapshots under its term and completes the job', async () => {
    await protect('web');
    const term = await primary('web', arn(1));
    const d = deps();
    const jobId = scheduledJobId('web', new Date(now));
    const asked = await requestSnapshotJob(d, { service: 'web', jobId, trigger: 'schedule' });
    expect(asked).toMatchObject({ outcome: 'requested', job: { status: 'requested', target: { taskArn: arn(1), term } } });
    expect(counts).toEqual(['web:SnapshotJobsRequested']);

    // The agent's next heartbeat returns the command.
    const beat = await d.coordination.heartbeat('web', arn(1), { now, aliveUntil: now + 15_000 });
    const command = Object.values(beat.member.commands).find((c) => c.type === SNAPSHOT_COMMAND)!;
    expect(command).toMatchObject({ id: jobId, args: { jobId, trigger: 'schedule' } });

    const catalog = new DynamoSnapshotCatalog(dynamo(), table);
    const policy = (await d.policy('web'))!;
    const r = await runSnapshotCommand(
      { jobs: d.jobs, catalog, objects: store, now: () => now },
      { service: 'web', policy, taskArn: arn(1), role: roleOf(beat.member), dir: data, command },
    );
    expect(r.outcome).toBe('complete');
    const job = await d.jobs.get('web', jobId);
    expect(job).toMatchObject({ status: 'complete', snapshotId: expect.stringMatching(/^\d{8}T/), reason: expect.stringMatching(/registered under term \d+/) });
    expect(await catalog.get('web', job!.snapshotId!)).toMatchObject({ status: 'complete', term, sourceTask: arn(1), reason: 'schedule' });

    // The command comes back until acknowledged; running it again does nothing.
    expect(
      await runSnapshotCommand(
        { jobs: d.jobs, catalog, objects: store, now: () => now },
        { service: 'web', policy, taskArn: arn(1), role: roleOf(beat.member), dir: data, command },
      ),
    ).toMatchObject({ outcome: 'skipped' });
    // A retried schedule for the same time finds the decided job.
    expect(await requestSnapshotJob(d, { service: 'web', jobId, trigger: 'schedule' })).toMatchObject({ outcome: 'existing', job: { status: 'complete' } });
  });

  it('fails at once, with a reason and a metric, when there is no primary', async () => {
    await protect('headless');
    const r = await requestSnapshotJob(deps(), { service: 'headless', jobId: scheduledJobId('headless', new Date(now)), trigger: 'schedule' });
    expect(r).toMatchObject({ outcome: 'failed', job: { status: 'failed', reason: 'no primary to take the snapshot: the service has no primary' } });
    expect(counts).toEqual(['headless:SnapshotJobsRequested', 'headless:SnapshotJobsFailed']);
  });

  it('a deposed primary cannot complete the job: its fenced commit fails and the job says why', async () => {
    await protect('fenced');
    const term = await primary('fenced', arn(1));
    const d = deps();
    const jobId = scheduledJobId('fenced', new Date(now));
    await requestSnapshotJob(d, { service: 'fenced', jobId, trigger: 'schedule' });
    const beat = await d.coordination.heartbeat('fenced', arn(1), { now, aliveUntil: now + 15_000 });
    const command = Object.values(beat.member.commands)[0]!;
    // Before the agent gets to it, the primary is replaced (its lease ran out).
    now += 60_000;
    await primary('fenced', arn(2));
    const catalog = new DynamoSnapshotCatalog(dynamo(), table);
    const r = await runSnapshotCommand(
      { jobs: d.jobs, catalog, objects: store, now: () => now },
      { service: 'fenced', policy: (await d.policy('fenced'))!, taskArn: arn(1), role: { kind: 'primary', term }, dir: data, command },
    );
    expect(r).toMatchObject({
      outcome: 'failed',
      job: { status: 'failed', reason: expect.stringMatching(new RegExp(`taken under term ${term}, but the lease is at term ${term + 1}`)) },
    });
    const snapshots = [];
    for await (const s of catalog.list('fenced')) snapshots.push(s);
    expect(snapshots).toEqual([]);
  });

  it('fails a job nobody completed by its deadline', async () => {
    await protect('slow');
    await primary('slow', arn(1));
    const d = deps();
    const jobId = scheduledJobId('slow', new Date(now));
    await requestSnapshotJob(d, { service: 'slow', jobId, trigger: 'schedule' });
    now += 599_000;
    expect(await expireOverdueJobs(d, 'slow')).toEqual([]);
    now += 1_000;
    const expired = await expireOverdueJobs(d, 'slow');
    expect(expired.map((j) => [j.jobId, j.status])).toEqual([[jobId, 'failed']]);
    expect(expired[0]!.reason).toMatch(/no snapshot registered by the deadline .* \(asked: primary .*t001 \(term \d+\)\)/);
    expect(await expireOverdueJobs(d, 'slow')).toEqual([]);
    expect(counts.filter((c) => c.endsWith('Failed'))).toEqual(['slow:SnapshotJobsFailed']);
  });
});

describe('dump mode', () => {
  const dumpPolicy: Partial<ServicePolicyInput> = {
    snapshot: { mode: 'dump', dumpTaskDefinition: 'pg-dump:3', dumpContainerName: 'dump', deadlineSeconds: 600 },
    ecs: { cluster: 'prod', taskDefinition: 'pg:7', containerName: 'pg', launchType: 'FARGATE', subnets: ['subnet-1'], securityGroups: ['sg-1'] },
  };
  const taskArn = 'arn:aws:ecs:eu-west-1:123456789012:task/prod/dump0001';
  const stopped = (jobId: string, extra: Record<string, unknown> = {}) => ({
    taskArn,
    lastStatus: 'STOPPED',
    startedBy: jobId,
    stoppedAt: new Date(now).toISOString(),
    containers: [{ name: 'dump', exitCode: 0 }],
    overrides: { containerOverrides: [{ name: 'dump', environment: [{ name: 'LIFEBOAT_SERVICE', value: 'pg' }] }] },
    ...extra,
  });

  it('launches one dump task with startedBy and client token = job id; STOPPED with exit 0 completes it once', async () => {
    await protect('pg', dumpPolicy);
    ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn }], failures: [] });
    const d = deps();
    const jobId = scheduledJobId('pg', new Date(now));
    expect(await requestSnapshotJob(d, { service: 'pg', jobId, trigger: 'schedule' })).toMatchObject({ outcome: 'launched', job: { taskArn } });
    expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 1);
    expect(ecsMock.commandCalls(RunTaskCommand)[0]!.args[0].input).toEqual({
      cluster: 'prod',
      taskDefinition: 'pg-dump:3',
      count: 1,
      startedBy: jobId,
      clientToken: jobId,
      launchType: 'FARGATE',
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'], securityGroups: ['sg-1'], assignPublicIp: 'DISABLED' } },
      overrides: {
        containerOverrides: [
          {
            name: 'dump',
            environment: [
              { name: 'LIFEBOAT_MODE', value: 'dump' },
              { name: 'LIFEBOAT_JOB_ID', value: jobId },
              { name: 'LIFEBOAT_SERVICE', value: 'pg' },
            ],
          },
        ],
      },
    });
    // The dump task snapshots its dump for the job (`lifeboat snapshot --job`), as the real one would.
    const dumpDir = join(work.path, 'dump');
    await mkdir(dumpDir, { recursive: true });
    await writeFile(join(dumpDir, 'pg.sql'), 'COPY rows FROM stdin;\n');
    const r = await cli(['snapshot', '--service', 'pg', '--dir', dumpDir, '--reason', 'dump'], {
      LIFEBOAT_TABLE: table,
      LIFEBOAT_STORE: store.url,
      LIFEBOAT_JOB_ID: jobId,
    });
    expect(r.stderr).toMatch(`recorded on snapshot job ${jobId}`);
    // A RUNNING event arriving late, then STOPPED twice.
    expect(await finishDumpTask(d, stopped(jobId, { lastStatus: 'RUNNING' }))).toEqual({ outcome: 'ignored', why: 'not-stopped' });
    expect(await finishDumpTask(d, stopped(jobId))).toMatchObject({
      outcome: 'finished',
      job: { status: 'complete', exitCode: 0, snapshotId: r.stdout.trim() },
    });
    expect(await finishDumpTask(d, stopped(jobId, { containers: [{ name: 'dump', exitCode: 1 }] }))).toMatchObject({
      outcome: 'duplicate',
      job: { status: 'complete' },
    });
    expect(await finishDumpTask(d, stopped(jobId, { lastStatus: 'RUNNING' }))).toEqual({ outcome: 'ignored', why: 'not-stopped' });
    expect((await d.jobs.get('pg', jobId))?.status).toBe('complete');
    expect(counts.filter((c) => c.includes('Completed'))).toEqual(['pg:SnapshotJobsCompleted']);
  });

  it('a failing dump is failed; a task that never started is an error, not a failed backup', async () => {
    await protect('pg', dumpPolicy);
    ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn }], failures: [] });
    const d = deps();
    const failing = scheduledJobId('pg', new Date(now));
    await requestSnapshotJob(d, { service: 'pg', jobId: failing, trigger: 'schedule' });
    expect(
      await finishDumpTask(d, stopped(failing, { containers: [{ name: 'dump', exitCode: 2 }], stoppedReason: 'Essential container in task exited' })),
    ).toMatchObject({
      job: { status: 'failed', exitCode: 2, reason: 'the dump task exited with code 2 (Essential container in task exited)' },
    });
    now += 60_000;
    const noSnapshot = scheduledJobId('pg', new Date(now));
    await requestSnapshotJob(d, { service: 'pg', jobId: noSnapshot, trigger: 'schedule' });
    expect(await finishDumpTask(d, stopped(noSnapshot))).toMatchObject({
      job: { status: 'failed', reason: expect.stringMatching(/exited 0 but registered no snapshot/) },
    });
    now += 60_000;
    const neverRan = scheduledJobId('pg', new Date(now));
    await requestSnapshotJob(d, { service: 'pg', jobId: neverRan, trigger: 'schedule' });
    expect(
      await finishDumpTask(d, stopped(neverRan, { stopCode: 'TaskFailedToStart', stoppedReason: 'CannotPullContainerError', containers: [{ name: 'dump' }] })),
    ).toMatchObject({
      job: { status: 'error', reason: 'the dump task failed to start (CannotPullContainerError)' },
    });
  });

  it('records a launch ECS refuses as an error and says why', async () => {
    await protect('pg', dumpPolicy);
    ecsMock.on(RunTaskCommand).resolves({ tasks: [], failures: [{ reason: 'RESOURCE:MEMORY', arn: 'x' }] });
    const r = await requestSnapshotJob(deps(), { service: 'pg', jobId: scheduledJobId('pg', new Date(now)), trigger: 'schedule' });
    expect(r).toMatchObject({
      outcome: 'failed',
      job: { status: 'error', reason: expect.stringMatching(/dump task could not be launched: .*RESOURCE:MEMORY/) },
    });
  });

  it('reaches the job through the task-events handler, like a real STOPPED event', async () => {
    await protect('pg', dumpPolicy);
    ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn }], failures: [] });
    const d = deps();
    const jobId = scheduledJobId('pg', new Date(now));
    await requestSnapshotJob(d, { service: 'pg', jobId, trigger: 'schedule' });
    await d.jobs.linkSnapshot('pg', jobId, '20261127T120000.000Z-00000001');
    const onEvent = createTaskEventsHandler({ ...handlerDeps(), jobs: d.jobs });
    const event = {
      id: 'e1',
      source: 'aws.ecs',
      'detail-type': 'ECS Task State Change',
      time: new Date(now).toISOString(),
      detail: { ...stopped(jobId), desiredStatus: 'STOPPED', version: 3, group: 'family:pg-dump' },
    };
    expect(await onEvent(event)).toMatchObject({ outcome: 'snapshot-job', result: { outcome: 'finished', job: { status: 'complete' } } });
    expect(await onEvent({ ...event, id: 'e2' })).toMatchObject({ outcome: 'snapshot-job', result: { outcome: 'duplicate' } });
  });
});

function handlerDeps(): SnapshotWatchRuntime {
  const coordination = new DynamoCoordinationStore(dynamo(), table);
  return {
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'Test', serviceName: 'test' }),
    coordination,
    services: new ServiceResolver(new DynamoServiceRegistry(dynamo(), table), () => now),
    jobs: new DynamoJobStore(dynamo(), table),
    catalog: new DynamoSnapshotCatalog(dynamo(), table),
    launcher: deps().launcher!,
    now: () => now,
  };
}

describe('handlers', () => {
  it('scheduler: a malformed input is rejected, not retried; a retried invocation asks once', async () => {
    await protect('sched');
    await primary('sched', arn(5));
    const handler = createSnapshotSchedulerHandler(handlerDeps());
    expect(await handler({ nope: 1 })).toMatchObject({ outcome: 'rejected' });
    const scheduledTime = new Date(now).toISOString();
    const first = await handler({ service: 'sched', scheduledTime });
    const again = await handler({ service: 'sched', scheduledTime });
    expect(first).toMatchObject({ outcome: 'requested', service: 'sched' });
    expect(again).toMatchObject({ outcome: 'requested', job: { jobId: (first as { job: { jobId: string } }).job.jobId } });
    const { members } = await new DynamoCoordinationStore(dynamo(), table).readState('sched');
    expect(Object.keys(members[0]!.commands)).toHaveLength(1);
    expect(await handler({ service: 'not-protected', scheduledTime })).toMatchObject({
      outcome: 'not-started',
      reason: expect.stringMatching(/not protected/),
    });
  });

  it('watch: reports the RPO state per service and fails overdue jobs', async () => {
    await protect('fresh', { targets: { rpoSeconds: 3600 } });
    await protect('stale', { targets: { rpoSeconds: 60 } });
    const catalog = new DynamoSnapshotCatalog(dynamo(), table);
    await takeSnapshot({ catalog, store, service: 'fresh', dir: data, now: () => new Date(now - 120_000) });
    await takeSnapshot({ catalog, store, service: 'stale', dir: data, now: () => new Date(now - 120_000) });
    const r = await createSnapshotWatchHandler(handlerDeps())({});
    const by = Object.fromEntries(r.services.map((s) => [s.service, s]));
    expect(by.fresh).toMatchObject({ rpo: 'ok', ageSeconds: 120 });
    expect(by.stale).toMatchObject({ rpo: 'breached', ageSeconds: 120 });
    expect(by.headless).toMatchObject({ rpo: 'no-snapshot' });
    // And `lifeboat status` (on the real clock) shows a breach (exit 1).
    await protect('late', { targets: { rpoSeconds: 60 } });
    await takeSnapshot({ catalog, store, service: 'late', dir: data, now: () => new Date(Date.now() - 300_000) });
    const st = await cli(['status', '--service', 'late'], { LIFEBOAT_TABLE: table });
    expect(st.code).toBe(1);
    expect(st.stdout).toMatch(/RPO target 60 s: breached/);
    expect(st.stderr).toMatch(/RPO breached: newest complete snapshot is [\d.]+ (s|min) old \(target 60 s\)/);
    expect(r.failed).toEqual([]);
  });
});

describe('the real agent', () => {
  it('takes a scheduled snapshot requested through its heartbeat, while it keeps heartbeating', async () => {
    const service = 'live';
    await new DynamoServiceRegistry(dynamo(), table).put(
      normalizeServicePolicy({ service, failover: { heartbeatSeconds: 1, leaseSeconds: 3, timeoutSeconds: 0 } }),
    );
    const coordination = new DynamoCoordinationStore(dynamo(), table);
    await coordination.recordTaskState(
      service,
      { taskArn: arn(9), lastStatus: 'RUNNING', desiredStatus: 'RUNNING', version: 1, group: `service:${service}` },
      Date.now(),
    );
    const env = { LIFEBOAT_TABLE: table, LIFEBOAT_STORE: store.url };
    const stop = new AbortController();
    const running = cli(['agent', '--service', service, '--task', arn(9), '--dir', data], env, stop.signal);
    await waitFor(async () => ((await coordination.readState(service)).lease ? true : undefined), 'the agent to become primary');
    const live = { ...deps(), now: () => Date.now() };
    const jobId = scheduledJobId(service, new Date());
    expect((await requestSnapshotJob(live, { service, jobId, trigger: 'schedule' })).outcome).toBe('requested');
    const job = await waitFor(async () => {
      const j = await live.jobs.get(service, jobId);
      return j?.status !== 'requested' ? j : undefined;
    }, 'the job to finish');
    // `lifeboat status` while it runs: primary, the fresh snapshot, the job; healthy.
    const status = await cli(['status', '--service', service, '--json'], env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      service,
      healthy: true,
      primary: { task: arn(9), term: 1 },
      rpo: { state: 'no-target', newestSnapshotId: job!.snapshotId },
      jobs: [{ jobId, status: 'complete', snapshotId: job!.snapshotId }],
      lastDrill: null,
    });
    stop.abort();
    const r = await running;
    expect(job).toMatchObject({ status: 'complete' });
    // Stopped (released): no live primary, and status says so with exit 1.
    const after = await cli(['status', '--service', service], env);
    expect(after.code).toBe(1);
    expect(after.stdout).toMatch(/service {3}live: NEEDS ATTENTION\nprimary {3}none \([\w-]+\)/);
    expect(after.stderr).toMatch(/live needs attention: no live primary/);
    expect(r.stderr).toMatch(new RegExp(`snapshot job ${jobId} complete: snapshot \\S+ registered under term 1`));
    expect(r.code).toBe(0);
  });
});
