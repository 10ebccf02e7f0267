/**
 * The three Lambda handlers end to end on DynamoDB Local: documented "ECS Task State
 * Change" events in, members and elections in the table, and the request shapes sent to
 * the services without a local server (Cloud Map, SQS, ECS), which are mocked.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DescribeTasksCommand, ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
import { GetInstanceCommand, RegisterInstanceCommand, ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import { DynamoCoordinationStore } from '../../lambdas/adapters/coordination.js';
import { CloudMapDiscovery } from '../../lambdas/adapters/discovery.js';
import { EcsTaskReader } from '../../lambdas/adapters/ecs-tasks.js';
import { SqsFailoverTimer } from '../../lambdas/adapters/failover-timer.js';
import { DynamoServiceRegistry } from '../../lambdas/adapters/service-registry.js';
import { ServiceResolver } from '../../lambdas/control/services.js';
import { normalizeServicePolicy } from '../../lambdas/domain/service-policy.js';
import type { ReconcilerRuntime } from '../../lambdas/handlers/reconciler.js';
import { createReconcilerHandler } from '../../lambdas/handlers/reconciler.js';
import { createTaskEventsHandler } from '../../lambdas/handlers/task-events.js';
import { createWatchdogHandler } from '../../lambdas/handlers/watchdog.js';
import { arn } from '../support/coordination.js';
import { taskStateChange } from '../support/ecs-events.js';
import { freshTable } from '../support/fixtures.js';

process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const T0 = Date.parse('2026-11-27T12:00:00.000Z');
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/lifeboat-failover';
const CLOUD_MAP_SERVICE = 'srv-wiki0123456789';

interface Recorded {
  name: string;
  value: number;
  dims: Record<string, string>;
}

function harness(table: string) {
  const dynamo = createDynamoClient();
  const registry = new DynamoServiceRegistry(dynamo, table);
  const store = new DynamoCoordinationStore(dynamo, table);
  const sd = new ServiceDiscoveryClient({ region: 'us-east-1' });
  const sqs = new SQSClient({ region: 'us-east-1' });
  const ecs = new ECSClient({ region: 'us-east-1' });
  const mocks = { sd: mockClient(sd), sqs: mockClient(sqs), ecs: mockClient(ecs) };
  const clock = { now: T0 };
  const metrics = new Metrics({ namespace: 'LifeboatTest', serviceName: 'lifeboat' });
  const recorded: Recorded[] = [];
  vi.spyOn(metrics, 'singleMetric').mockImplementation(() => {
    const dims: Record<string, string> = {};
    return {
      addDimension: (k: string, v: string) => void (dims[k] = v),
      addMetric: (name: string, _unit: unknown, value: number) => void recorded.push({ name, value, dims: { ...dims } }),
    } as unknown as Metrics;
  });
  vi.spyOn(metrics, 'addMetric').mockImplementation((name: string, _u: unknown, value: number) => {
    recorded.push({ name, value, dims: {} });
    return metrics;
  });
  const deps: ReconcilerRuntime = {
    logger: new Logger({ serviceName: 'lifeboat', logLevel: 'SILENT' }),
    metrics,
    coordination: store,
    services: new ServiceResolver(registry, () => clock.now, 0),
    discovery: new CloudMapDiscovery(sd),
    timer: new SqsFailoverTimer(sqs, QUEUE),
    ecs: new EcsTaskReader(ecs),
    now: () => clock.now,
  };
  return { deps, registry, store, mocks, clock, recorded };
}

describe('lifeboat handlers', () => {
  let h: ReturnType<typeof harness>;
  beforeAll(async () => {
    h = harness(await freshTable());
    await h.registry.put(
      normalizeServicePolicy({
        service: 'wiki',
        failover: { timeoutSeconds: 30 },
        discovery: { namespaceId: 'ns-1', serviceId: CLOUD_MAP_SERVICE, port: 8080 },
        ecs: { cluster: 'prod' },
      }),
    );
    await h.registry.put(normalizeServicePolicy({ service: 'cache', failover: { timeoutSeconds: 0 }, ecs: { serviceName: 'cache-ecs' } }));
  });
  beforeEach(() => {
    h.mocks.sd.reset();
    h.mocks.sqs.reset();
    h.mocks.ecs.reset();
    h.recorded.length = 0;
  });

  it('records members from RUNNING events and ignores drills, unprotected and malformed events', async () => {
    const onEvent = createTaskEventsHandler(h.deps);
    expect(await onEvent(taskStateChange({ taskArn: arn(1), lastStatus: 'RUNNING', version: 3, ip: '10.0.1.11' }))).toEqual({
      outcome: 'recorded',
      service: 'wiki',
    });
    expect(await onEvent(taskStateChange({ taskArn: arn(2), lastStatus: 'RUNNING', version: 3, ip: '10.0.1.12' }))).toEqual({
      outcome: 'recorded',
      service: 'wiki',
    });
    expect(await onEvent(taskStateChange({ taskArn: arn(1), lastStatus: 'PENDING', version: 2 }))).toEqual({ outcome: 'stale', service: 'wiki' });
    expect(
      await onEvent(taskStateChange({ taskArn: arn(90), lastStatus: 'RUNNING', version: 1, group: 'family:wiki', startedBy: 'drill-20261127-ab12' })),
    ).toEqual({ outcome: 'ignored', why: 'drill' });
    expect(await onEvent(taskStateChange({ taskArn: arn(91), lastStatus: 'RUNNING', version: 1, environment: { LIFEBOAT_MODE: 'drill' } }))).toEqual({
      outcome: 'ignored',
      why: 'drill',
    });
    expect(await onEvent(taskStateChange({ taskArn: arn(92), lastStatus: 'RUNNING', version: 1, group: 'service:billing' }))).toEqual({
      outcome: 'ignored',
      why: 'unprotected',
    });
    expect(await onEvent(taskStateChange({ taskArn: arn(93), lastStatus: 'RUNNING', version: 1, group: 'family:adhoc' }))).toEqual({
      outcome: 'ignored',
      why: 'not-a-service-task',
    });
    // An ECS service named differently from the protected service it belongs to.
    expect(await onEvent(taskStateChange({ taskArn: arn(94), lastStatus: 'RUNNING', version: 1, group: 'service:cache-ecs' }))).toEqual({
      outcome: 'recorded',
      service: 'cache',
    });

    const bad = await onEvent({
      'detail-type': 'ECS Task State Change',
      source: 'aws.ecs',
      id: 'x',
      time: 't',
      detail: { taskArn: arn(5), lastStatus: 'RUNNING' },
    });
    expect(bad.outcome).toBe('invalid');
    expect(bad.outcome === 'invalid' && bad.issues).toMatch(/desiredStatus[\s\S]*version|version[\s\S]*desiredStatus/);
    expect(h.recorded).toContainEqual({ name: 'InvalidEvents', value: 1, dims: {} });

    const { members } = await h.store.readState('wiki');
    expect(members.map((m) => [m.taskArn, m.lastStatus, m.ip, m.version])).toEqual([
      [arn(1), 'RUNNING', '10.0.1.11', 3],
      [arn(2), 'RUNNING', '10.0.1.12', 3],
    ]);
  });

  it("replays a task's life with duplicates and an older RUNNING after STOPPED: STOPPED is final", async () => {
    const onEvent = createTaskEventsHandler(h.deps);
    const t = arn(60);
    const replay = [
      taskStateChange({ taskArn: t, lastStatus: 'PENDING', version: 1 }),
      taskStateChange({ taskArn: t, lastStatus: 'RUNNING', version: 2 }),
      taskStateChange({ taskArn: t, lastStatus: 'RUNNING', version: 2 }),
      taskStateChange({ taskArn: t, lastStatus: 'STOPPED', version: 4, stoppingAt: '2026-11-27T12:00:01.000Z', stoppedAt: '2026-11-27T12:00:03.000Z' }),
      taskStateChange({ taskArn: t, lastStatus: 'RUNNING', version: 3 }),
      taskStateChange({ taskArn: t, lastStatus: 'STOPPED', version: 4, stoppedAt: '2026-11-27T12:00:03.000Z' }),
    ];
    const outcomes = [];
    for (const e of replay) outcomes.push((await onEvent(e)).outcome);
    expect(outcomes).toEqual(['recorded', 'recorded', 'stale', 'recorded', 'stale', 'stale']);
    const m = (await h.store.readState('wiki')).members.find((x) => x.taskArn === t);
    expect(m).toMatchObject({
      lastStatus: 'STOPPED',
      version: 4,
      exitCodes: { app: 137 },
      stoppedReason: 'Essential container in task exited',
      goneAt: Date.parse('2026-11-27T12:00:01.000Z'),
    });
    expect(h.recorded.filter((r) => r.name === 'StaleEvents')).toHaveLength(3);
    // A RunTask task of the same family (no service group) is not a member.
    expect(await onEvent(taskStateChange({ taskArn: arn(61), lastStatus: 'RUNNING', version: 1, group: 'family:wiki', startedBy: 'ci-job-7' }))).toEqual({
      outcome: 'ignored',
      why: 'not-a-service-task',
    });
  });

  it('watchdog (schedule): elects the first primary once agents heartbeat, and registers it in Cloud Map', async () => {
    await h.store.heartbeat('wiki', arn(1), { now: T0, aliveUntil: T0 + 15_000, dataPosition: 7 });
    await h.store.heartbeat('wiki', arn(2), { now: T0, aliveUntil: T0 + 15_000, dataPosition: 3 });
    h.mocks.sd.on(GetInstanceCommand).rejects(Object.assign(new Error('Instance not found'), { name: 'InstanceNotFound' }));
    h.mocks.sd.on(RegisterInstanceCommand).resolves({ OperationId: 'op-1' });
    const run = await createWatchdogHandler(h.deps)({ id: 'sched-1', source: 'aws.events', 'detail-type': 'Scheduled Event' });
    const wiki = run.checked.find((c) => c.service === 'wiki')!;
    expect(wiki).toMatchObject({ decision: 'elect', elected: { reason: 'bootstrap', lease: { holder: arn(1), term: 1 } }, discovery: 'registered' });
    expect(h.mocks.sd).toHaveReceivedCommandWith(RegisterInstanceCommand, {
      ServiceId: CLOUD_MAP_SERVICE,
      InstanceId: 'primary',
      Attributes: { AWS_INSTANCE_IPV4: '10.0.1.11', AWS_INSTANCE_PORT: '8080', LIFEBOAT_TERM: '1', LIFEBOAT_TASK: arn(1) },
    });
    expect(h.recorded).toContainEqual({ name: 'Elections', value: 1, dims: { ProtectedService: 'wiki' } });
    // Nothing to do for a service whose members never heartbeat.
    expect(run.checked.find((c) => c.service === 'cache')).toMatchObject({ decision: 'no-candidate' });

    // The next scheduled run finds a healthy primary and the record already right.
    h.mocks.sd.reset();
    h.mocks.sd.on(GetInstanceCommand).resolves({
      Instance: { Id: 'primary', Attributes: { AWS_INSTANCE_IPV4: '10.0.1.11', AWS_INSTANCE_PORT: '8080', LIFEBOAT_TERM: '1', LIFEBOAT_TASK: arn(1) } },
    });
    const again = await createWatchdogHandler(h.deps)({ id: 'sched-2' });
    expect(again.checked.find((c) => c.service === 'wiki')).toMatchObject({ decision: 'healthy', discovery: 'unchanged' });
    expect(h.mocks.sd).not.toHaveReceivedCommand(RegisterInstanceCommand);
  });

  it('holder STOPPED: waits the failover timeout through SQS, then the continuation elects and re-points Cloud Map', async () => {
    h.clock.now = T0 + 2000;
    await h.store.heartbeat('wiki', arn(2), { now: T0 + 2000, aliveUntil: T0 + 60_000, dataPosition: 3 });
    h.mocks.sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    const onEvent = createTaskEventsHandler(h.deps);
    const stopped = await onEvent(
      taskStateChange({
        taskArn: arn(1),
        lastStatus: 'STOPPED',
        version: 6,
        stoppingAt: '2026-11-27T12:00:01.000Z',
        stoppedAt: '2026-11-27T12:00:02.000Z',
        time: '2026-11-27T12:00:02.000Z',
      }),
    );
    expect(stopped).toMatchObject({ outcome: 'recorded', service: 'wiki', check: { decision: 'wait', dueAt: T0 + 31_000 } });
    expect(h.mocks.sqs).toHaveReceivedCommandTimes(SendMessageCommand, 1);
    const sent = h.mocks.sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(sent).toMatchObject({ QueueUrl: QUEUE, DelaySeconds: 29 });
    expect(JSON.parse(sent.MessageBody!)).toEqual({ kind: 'failover-check', service: 'wiki', dueAt: T0 + 31_000, reason: `primary ${arn(1)} lost` });

    // The message arrives when the wait is over (SQS delay); the continuation elects.
    h.clock.now = T0 + 31_000;
    h.mocks.sd.on(GetInstanceCommand).resolves({ Instance: { Id: 'primary', Attributes: { AWS_INSTANCE_IPV4: '10.0.1.11', LIFEBOAT_TERM: '1' } } });
    h.mocks.sd.on(RegisterInstanceCommand).resolves({ OperationId: 'op-2' });
    const sqsEvent = { Records: [{ messageId: 'm-1', body: sent.MessageBody!, eventSource: 'aws:sqs' }] };
    const run = await createWatchdogHandler(h.deps)(sqsEvent);
    expect(run.batchItemFailures).toEqual([]);
    expect(run.checked[0]).toMatchObject({
      decision: 'elect',
      elected: { reason: 'failover', lostAt: T0 + 1000, lease: { holder: arn(2), term: 2, previousHolder: arn(1) } },
    });
    expect(h.mocks.sd).toHaveReceivedCommandWith(RegisterInstanceCommand, {
      Attributes: { AWS_INSTANCE_IPV4: '10.0.1.12', AWS_INSTANCE_PORT: '8080', LIFEBOAT_TERM: '2', LIFEBOAT_TASK: arn(2) },
    });
    expect(h.recorded).toContainEqual({ name: 'FailoverTime', value: 30_000, dims: { ProtectedService: 'wiki' } });

    // A duplicate delivery finds the new primary and changes nothing.
    h.mocks.sd.on(GetInstanceCommand).resolves({
      Instance: { Id: 'primary', Attributes: { AWS_INSTANCE_IPV4: '10.0.1.12', AWS_INSTANCE_PORT: '8080', LIFEBOAT_TERM: '2', LIFEBOAT_TASK: arn(2) } },
    });
    const dup = await createWatchdogHandler(h.deps)(sqsEvent);
    expect(dup.checked[0]).toMatchObject({ decision: 'healthy', discovery: 'unchanged', lease: { term: 2 } });
    expect(h.mocks.sd).toHaveReceivedCommandTimes(RegisterInstanceCommand, 1);
  });

  it('never points discovery back at an older term', async () => {
    h.mocks.sd.on(GetInstanceCommand).resolves({ Instance: { Id: 'primary', Attributes: { AWS_INSTANCE_IPV4: '10.9.9.9', LIFEBOAT_TERM: '3' } } });
    const outcome = await h.deps.discovery!.publish({ serviceId: 's', ip: '10.0.0.1', term: 2, taskArn: arn(1) });
    expect(outcome).toBe('stale');
    expect(h.mocks.sd).not.toHaveReceivedCommand(RegisterInstanceCommand);
  });

  it('elects at once when the failover timeout is 0', async () => {
    const onEvent = createTaskEventsHandler(h.deps);
    h.clock.now = T0;
    await onEvent(taskStateChange({ taskArn: arn(95), lastStatus: 'RUNNING', version: 1, group: 'service:cache-ecs' }));
    await h.store.heartbeat('cache', arn(94), { now: T0, aliveUntil: T0 + 15_000 });
    await h.store.heartbeat('cache', arn(95), { now: T0, aliveUntil: T0 + 15_000 });
    const boot = await createWatchdogHandler(h.deps)({ id: 'sched-3' });
    expect(boot.checked.find((c) => c.service === 'cache')).toMatchObject({ elected: { lease: { holder: arn(94), term: 1 } }, discovery: 'not-configured' });
    h.clock.now = T0 + 5000;
    const r = await onEvent(
      taskStateChange({ taskArn: arn(94), lastStatus: 'STOPPED', version: 9, group: 'service:cache-ecs', stoppedAt: '2026-11-27T12:00:04.000Z' }),
    );
    expect(r).toMatchObject({ outcome: 'recorded', check: { decision: 'elect', elected: { reason: 'failover', lease: { holder: arn(95), term: 2 } } } });
    expect(h.mocks.sqs).not.toHaveReceivedCommand(SendMessageCommand);
  });

  it('watchdog (SQS): drops unreadable messages and reports failed checks for retry', async () => {
    const failing = { ...h.deps, services: { ...h.deps.services, policy: async () => Promise.reject(new Error('throttled')) } } as unknown as ReconcilerRuntime;
    const run = await createWatchdogHandler(failing)({
      Records: [
        { messageId: 'bad', body: 'not json', eventSource: 'aws:sqs' },
        { messageId: 'good', body: JSON.stringify({ kind: 'failover-check', service: 'wiki', dueAt: T0 }), eventSource: 'aws:sqs' },
      ],
    });
    expect(run.batchItemFailures).toEqual([{ itemIdentifier: 'good' }]);
    expect(run.failed).toEqual([{ service: 'wiki', messageId: 'good', error: 'throttled' }]);
  });

  it('reconciler: records tasks ECS runs, asks about the rest, marks forgotten ones stopped', async () => {
    const table = await freshTable();
    const r = harness(table);
    await r.registry.put(normalizeServicePolicy({ service: 'wiki', ecs: { cluster: 'prod' } }));
    await r.store.recordTaskState('wiki', { taskArn: arn(1), lastStatus: 'RUNNING', desiredStatus: 'RUNNING', version: 2, group: 'service:wiki' }, T0);
    await r.store.recordTaskState('wiki', { taskArn: arn(2), lastStatus: 'RUNNING', desiredStatus: 'RUNNING', version: 2, group: 'service:wiki' }, T0);
    r.mocks.ecs.on(ListTasksCommand).resolves({ taskArns: [arn(3)] });
    r.mocks.ecs
      .on(DescribeTasksCommand, { cluster: 'prod', tasks: [arn(3)] })
      .resolves({
        tasks: [
          {
            taskArn: arn(3),
            lastStatus: 'RUNNING',
            desiredStatus: 'RUNNING',
            version: 4,
            group: 'service:wiki',
            startedAt: new Date(T0),
            attachments: [{ type: 'ElasticNetworkInterface', details: [{ name: 'privateIPv4Address', value: '10.0.3.3' }] }],
          },
        ],
      })
      .on(DescribeTasksCommand, { cluster: 'prod', tasks: [arn(1), arn(2)] })
      .resolves({
        tasks: [{ taskArn: arn(1), lastStatus: 'STOPPED', desiredStatus: 'STOPPED', version: 5, group: 'service:wiki', stoppedAt: new Date(T0 + 1000) }],
        failures: [{ arn: arn(2), reason: 'MISSING' }],
      });
    const run = await createReconcilerHandler(r.deps)({ id: 'sched-r' });
    expect(run.failed).toEqual([]);
    expect(run.reconciled[0]).toMatchObject({ service: 'wiki', recorded: 2, markedMissing: 1, check: { decision: 'no-candidate' } });
    expect(r.mocks.ecs).toHaveReceivedCommandWith(ListTasksCommand, { cluster: 'prod', serviceName: 'wiki', desiredStatus: 'RUNNING' });
    const { members } = await r.store.readState('wiki');
    expect(members.map((m) => [m.taskArn, m.lastStatus, m.ip ?? null, m.goneAt ?? null])).toEqual([
      [arn(1), 'STOPPED', null, T0 + 1000],
      [arn(2), 'STOPPED', null, T0],
      [arn(3), 'RUNNING', '10.0.3.3', null],
    ]);
  });
});
