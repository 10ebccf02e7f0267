/**
 * The pure drill rules: ids, snapshot selection, the RunTask request, recognising drill
 * tasks, and how the task's end and the agent's result become one outcome.
 */
import { describe, expect, it } from 'vitest';
import { DRILL_STARTED_BY_PREFIX } from '../../lambdas/contract/triggers.js';
import {
  buildDrillRunTask,
  concludeDrill,
  type DrillAgentResult,
  type DrillRecord,
  drillIdOfTask,
  drillLaunchSpec,
  drillTaskEnd,
  ECS_STARTED_BY_MAX,
  isDrillId,
  isDrillTask,
  isOverdue,
  makeDrillId,
  selectDrillSnapshot,
  timedOutConclusion,
  truncateOutput,
} from '../../lambdas/domain/drills.js';
import { type EcsTask, EcsTaskSchema, overrideEnvironment } from '../../lambdas/domain/ecs-task.js';
import { UsageError } from '../../lambdas/domain/errors.js';
import { normalizeServicePolicy } from '../../lambdas/domain/service-policy.js';
import { routeTask } from '../../lambdas/domain/task-routing.js';

const T0 = new Date('2026-11-27T08:00:00.000Z');
const iso = (offsetSeconds: number) => new Date(T0.getTime() + offsetSeconds * 1000).toISOString();

function drill(overrides: Partial<DrillRecord> = {}): DrillRecord {
  return {
    service: 'db',
    drillId: 'drill-20261127T080000Z-0a0b0c0d',
    status: 'running',
    trigger: 'manual',
    createdAt: iso(0),
    deadline: iso(3600),
    timeoutSeconds: 3600,
    snapshotId: '20261127T070000.000Z-aaaaaaaa',
    snapshotCreatedAt: iso(-3600),
    selection: 'latest',
    snapshotAgeSeconds: 3600,
    newestSnapshotId: '20261127T070000.000Z-aaaaaaaa',
    rpoSeconds: 3600,
    targets: { rtoSeconds: 300, rpoSeconds: 7200 },
    launch: { cluster: 'prod', taskDefinition: 'db:7', containerName: 'db', subnets: ['subnet-1'], securityGroups: ['sg-1'] },
    taskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/prod/abc',
    ...overrides,
  };
}

function agent(overrides: Partial<DrillAgentResult> = {}): DrillAgentResult {
  return {
    outcome: 'passed',
    reason: 'restored 3 files in 2.00 s; verify command passed',
    startedAt: iso(40),
    restoreSeconds: 2,
    readyAt: iso(100),
    checks: [{ name: 'restore', status: 'passed', durationSeconds: 2 }],
    reportedAt: iso(101),
    ...overrides,
  };
}

const stopped = { taskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/prod/abc', stopCode: 'EssentialContainerExited', startedAt: iso(30), stoppedAt: iso(110) };

describe('drill ids', () => {
  it('sort by time, carry 4 random bytes and fit ECS startedBy', () => {
    const id = makeDrillId(new Date('2026-11-27T08:17:35.123Z'), new Uint8Array([0x9f, 0x3c, 0x2a, 0x1b]));
    expect(id).toBe('drill-20261127T081735Z-9f3c2a1b');
    expect(id.length).toBeLessThanOrEqual(ECS_STARTED_BY_MAX);
    // startedBy allows letters, digits, '-', '/', '_' only.
    expect(id).toMatch(/^[A-Za-z0-9\-/_]+$/);
    expect(isDrillId(id)).toBe(true);
    expect(isDrillId('20261127T081735.123Z-9f3c2a1b')).toBe(false);
    expect(makeDrillId(new Date('2026-11-27T08:17:36Z'), new Uint8Array(4)) > id).toBe(true);
  });
});

describe('selectDrillSnapshot', () => {
  const snaps = [0, 1, 2, 3, 10].map((daysAgo, i) => ({ id: `s${i}`, createdAt: new Date(T0.getTime() - daysAgo * 86_400_000 - 1000).toISOString() }));

  it('takes the newest complete snapshot by default', () => {
    expect(selectDrillSnapshot(snaps, { mode: 'latest', now: T0, random: () => 0.99 })).toMatchObject({ snapshot: { id: 's0' }, selection: 'latest' });
  });

  it('picks at random within the window, with the injected RNG', () => {
    const pick = (r: number) => selectDrillSnapshot(snaps, { mode: 'random', now: T0, windowDays: 7, random: () => r });
    // Four snapshots in the last 7 days (s4 is 10 days old and never picked).
    expect(pick(0)?.snapshot.id).toBe('s0');
    expect(pick(0.26)?.snapshot.id).toBe('s1');
    expect(pick(0.5)?.snapshot.id).toBe('s2');
    expect(pick(0.999999)?.snapshot.id).toBe('s3');
    expect(pick(0.5)).toMatchObject({ selection: 'random', note: 'random among 4 complete snapshots of the last 7 days' });
    const seen = new Set(Array.from({ length: 100 }, (_, i) => pick(i / 100)?.snapshot.id));
    expect([...seen].sort()).toEqual(['s0', 's1', 's2', 's3']);
  });

  it('falls back to the newest when the window is empty, and to nothing without snapshots', () => {
    const old = [{ id: 'old', createdAt: new Date(T0.getTime() - 30 * 86_400_000).toISOString() }];
    expect(selectDrillSnapshot(old, { mode: 'random', now: T0, windowDays: 7, random: () => 0.5 })).toMatchObject({
      snapshot: { id: 'old' },
      selection: 'latest',
    });
    expect(selectDrillSnapshot([], { mode: 'latest', now: T0, random: () => 0 })).toBeUndefined();
  });
});

describe('the RunTask request', () => {
  const policy = normalizeServicePolicy({
    service: 'db',
    ecs: {
      cluster: 'prod',
      taskDefinition: 'db:7',
      containerName: 'db',
      launchType: 'FARGATE',
      subnets: ['subnet-1', 'subnet-2'],
      securityGroups: ['sg-1'],
      assignPublicIp: false,
    },
    drill: { verifyCommand: 'pg_verify /data', app: { command: 'postgres -D /data', healthCheckCommand: 'pg_isready' } },
  });

  it('carries drill mode, drill id and snapshot id, startedBy and a client token, and the service network', () => {
    const d = drill({ launch: drillLaunchSpec(policy) });
    expect(buildDrillRunTask(d)).toEqual({
      cluster: 'prod',
      taskDefinition: 'db:7',
      count: 1,
      startedBy: d.drillId,
      clientToken: d.drillId,
      launchType: 'FARGATE',
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1', 'subnet-2'], securityGroups: ['sg-1'], assignPublicIp: 'DISABLED' } },
      overrides: {
        containerOverrides: [
          {
            name: 'db',
            environment: [
              { name: 'LIFEBOAT_MODE', value: 'drill' },
              { name: 'LIFEBOAT_DRILL_ID', value: d.drillId },
              { name: 'LIFEBOAT_SNAPSHOT_ID', value: d.snapshotId },
              { name: 'LIFEBOAT_SERVICE', value: 'db' },
              { name: 'LIFEBOAT_DRILL_DEADLINE', value: d.deadline },
              { name: 'LIFEBOAT_VERIFY', value: 'pg_verify /data' },
              { name: 'LIFEBOAT_DRILL_APP', value: 'postgres -D /data' },
              { name: 'LIFEBOAT_DRILL_HEALTH_CMD', value: 'pg_isready' },
            ],
          },
        ],
      },
    });
  });

  it('refuses a policy without the ECS settings a launch needs, naming them', () => {
    expect(() => drillLaunchSpec(normalizeServicePolicy({ service: 'db', ecs: { cluster: 'prod' } }))).toThrow(/no ecs\.taskDefinition, ecs\.containerName/);
    expect(() => drillLaunchSpec(normalizeServicePolicy({ service: 'db', ecs: { cluster: 'c', taskDefinition: 't', containerName: 'x' } }))).toThrow(
      /Fargate but its policy has no ecs\.subnets/,
    );
    expect(() =>
      drillLaunchSpec(normalizeServicePolicy({ service: 'db', ecs: { cluster: 'c', taskDefinition: 't', containerName: 'x', launchType: 'EC2' } })),
    ).not.toThrow();
  });

  it('validates the drill section of the policy', () => {
    expect(() => normalizeServicePolicy({ service: 'db', drill: { snapshot: 'oldest' as never } })).toThrow(UsageError);
    expect(() => normalizeServicePolicy({ service: 'db', drill: { app: { command: 'run' } } })).toThrow(/neither healthCheckCommand nor healthCheckUrl/);
    expect(() => normalizeServicePolicy({ service: 'db', drill: { app: { command: 'run', healthCheckUrl: 'ftp://x' } } })).toThrow(/not an http\(s\) URL/);
    expect(() => normalizeServicePolicy({ service: 'db', drill: { randomWindowDays: 0 } })).toThrow(/randomWindowDays/);
  });
});

describe('recognising drill tasks', () => {
  const base = { taskArn: 'arn:task/1' };
  const env = (vars: Record<string, string>) => ({
    containerOverrides: [{ name: 'db', environment: Object.entries(vars).map(([name, value]) => ({ name, value })) }],
  });
  const ID = 'drill-20261127T080000Z-0a0b0c0d';
  /** isDrillTask on a task as a member observation sees it. */
  const drillTask = (t: Pick<EcsTask, 'startedBy' | 'overrides'>) =>
    isDrillTask({ ...(t.startedBy ? { startedBy: t.startedBy } : {}), overrideEnvironment: overrideEnvironment(t) });

  it('by startedBy, or by the drill-mode override when startedBy is something else', () => {
    expect(drillTask({ ...base, startedBy: ID })).toBe(true);
    expect(drillTask({ ...base, startedBy: 'ecs-svc/9223370545345641169' })).toBe(false);
    expect(drillTask({})).toBe(false);
    expect(drillIdOfTask({ ...base, startedBy: 'someone-else', overrides: env({ LIFEBOAT_MODE: 'drill', LIFEBOAT_DRILL_ID: ID }) })).toBe(ID);
    expect(drillTask({ ...base, startedBy: 'someone-else', overrides: env({ LIFEBOAT_MODE: 'drill', LIFEBOAT_DRILL_ID: ID }) })).toBe(true);
    // A drill id without drill mode is not enough.
    expect(drillTask({ ...base, overrides: env({ LIFEBOAT_DRILL_ID: ID }) })).toBe(false);
    expect(drillIdOfTask({ ...base, overrides: env({ LIFEBOAT_DRILL_ID: ID }) })).toBeUndefined();
  });

  it('keeps every task marked as a drill out of membership, but finalizes only those with a valid drill id', () => {
    // The difference between the two questions: "is it a drill task?" (isDrillTask, never a
    // member) errs on the safe side; "which drill does it end?" (drillIdOfTask) needs a
    // real drill id, or there is no record to finish.
    const handMade = [
      { ...base, startedBy: `${DRILL_STARTED_BY_PREFIX}by-hand` },
      { ...base, startedBy: 'drill-20261127-1' },
      { ...base, startedBy: 'ecs-svc/1', overrides: env({ LIFEBOAT_MODE: 'drill' }) },
      { ...base, overrides: env({ LIFEBOAT_MODE: 'drill', LIFEBOAT_DRILL_ID: 'not-a-drill-id' }) },
    ];
    for (const t of handMade) {
      expect(drillTask(t)).toBe(true);
      expect(routeTask(t)).toEqual({ to: 'drill' });
      expect(drillIdOfTask(t)).toBeUndefined();
    }
    // Lifeboat's own drill ids start with the prefix the EventBridge rule matches.
    expect(makeDrillId(T0, new Uint8Array([1, 2, 3, 4])).startsWith(DRILL_STARTED_BY_PREFIX)).toBe(true);
  });

  it('routes a task state change to one flow: snapshot job, drill, or membership', () => {
    expect(routeTask({ startedBy: 'job-20261127T080000Z-0a0b0c0d', overrides: env({ LIFEBOAT_MODE: 'dump' }) })).toEqual({
      to: 'snapshot-job',
      jobId: 'job-20261127T080000Z-0a0b0c0d',
    });
    expect(routeTask({ startedBy: ID })).toEqual({ to: 'drill' });
    expect(routeTask({ startedBy: 'ecs-svc/1' })).toEqual({ to: 'membership' });
    expect(routeTask({})).toEqual({ to: 'membership' });
    // Not a job id: not a job's task, whatever the prefix.
    expect(routeTask({ startedBy: 'job-manual' })).toEqual({ to: 'membership' });
  });

  it('reads the drill container exit code, whichever order the containers come in', () => {
    const detail = {
      ...base,
      containers: [
        { name: 'sidecar', exitCode: 0 },
        { name: 'db', exitCode: 1 },
      ],
      stopCode: 'EssentialContainerExited',
    };
    expect(drillTaskEnd(detail, 'db')).toMatchObject({ exitCode: 1, stopCode: 'EssentialContainerExited' });
    // ECS may send a null exit code: the schema reads it as absent.
    const noExit = EcsTaskSchema.parse({ ...base, lastStatus: 'STOPPED', desiredStatus: 'STOPPED', version: 4, containers: [{ name: 'db', exitCode: null }] });
    expect(drillTaskEnd(noExit, 'db').exitCode).toBeUndefined();
  });
});

describe('concludeDrill', () => {
  it('passes when the agent passed and the container exited 0; RTO = task start → ready, RPO from the record', () => {
    const c = concludeDrill(drill({ agent: agent() }), { ...stopped, exitCode: 0 }, T0);
    expect(c).toMatchObject({ status: 'passed', rtoSeconds: 70, restoreSeconds: 2, overTarget: [], withinTargets: true, exitCode: 0, finishedAt: iso(110) });
  });

  it('measures RTO from the agent start when the event has no startedAt', () => {
    const { startedAt: _s, ...noStart } = stopped;
    expect(concludeDrill(drill({ agent: agent() }), { ...noStart, exitCode: 0 }, T0).rtoSeconds).toBe(60);
  });

  it('passes over target when RTO or RPO miss their targets, saying which', () => {
    const c = concludeDrill(
      drill({ agent: agent({ readyAt: iso(500) }), rpoSeconds: 9000, targets: { rtoSeconds: 300, rpoSeconds: 7200 } }),
      { ...stopped, exitCode: 0 },
      T0,
    );
    expect(c).toMatchObject({ status: 'passed', overTarget: ['rto', 'rpo'], withinTargets: false });
    expect(c.reason).toMatch(/over target: RTO 7\.8 min > 5\.0 min, RPO 2\.5 h > 2\.0 h/);
  });

  it("fails with the agent's reason when the agent failed and the container exited non-zero", () => {
    const a = agent({ outcome: 'failed', reason: 'verify command `check` exited with code 3', readyAt: undefined });
    expect(concludeDrill(drill({ agent: a }), { ...stopped, exitCode: 1 }, T0)).toMatchObject({ status: 'failed', reason: a.reason, withinTargets: false });
  });

  it.each([
    [
      'the task failed to start',
      { ...stopped, stopCode: 'TaskFailedToStart', stoppedReason: 'CannotPullContainerError: pull access denied' },
      agent(),
      /failed to start \(CannotPullContainerError/,
    ],
    ['no exit code', { ...stopped, stopCode: 'SpotInterruption' }, agent(), /stopped without an exit code/],
    ['no agent result', { ...stopped, exitCode: 137 }, undefined, /exited with code 137 without recording a result/],
    ['agent passed, exit 1', { ...stopped, exitCode: 1 }, agent(), /agent recorded "passed" .* exited with code 1/],
    ['agent failed, exit 0', { ...stopped, exitCode: 0 }, agent({ outcome: 'failed', reason: 'x' }), /agent recorded "failed" .* exited with code 0/],
    ['agent could not run', { ...stopped, exitCode: 1 }, agent({ outcome: 'error', reason: 'cannot reach bucket' }), /cannot reach bucket/],
  ])('is an error, not a failure, when %s', (_what, end, a, reason) => {
    const c = concludeDrill(drill({ agent: a }), end, T0);
    expect(c.status).toBe('error');
    expect(c.reason).toMatch(reason);
    expect(c.withinTargets).toBe(false);
  });

  it('times out with the deadline in the reason; only running drills past it are overdue', () => {
    const d = drill();
    expect(isOverdue(d, new Date(iso(3599)))).toBe(false);
    expect(isOverdue(d, new Date(iso(3600)))).toBe(true);
    expect(isOverdue({ ...d, status: 'passed' }, new Date(iso(9999)))).toBe(false);
    expect(timedOutConclusion(d, new Date(iso(3700)))).toMatchObject({ status: 'timed-out', finishedBy: 'watchdog', finishedAt: iso(3700) });
    expect(timedOutConclusion(d, new Date(iso(3700))).reason).toMatch(/did not finish within 60\.0 min \(deadline 2026-11-27T09:00:00\.000Z\)/);
  });
});

describe('truncateOutput', () => {
  it('keeps the tail within the limit and says it cut', () => {
    const text = Array.from({ length: 2000 }, (_, i) => `line ${i}`).join('\n');
    const t = truncateOutput(text, 1024);
    expect(t.startsWith('[… earlier output cut]\n')).toBe(true);
    expect(t.endsWith('line 1999')).toBe(true);
    expect(Buffer.byteLength(t) - Buffer.byteLength('[… earlier output cut]\n')).toBeLessThanOrEqual(1024);
    expect(truncateOutput('short', 1024)).toBe('short');
    // Never starts with half a multi-byte character.
    expect(truncateOutput('é'.repeat(1000), 101)).not.toMatch(/\uFFFD/);
  });
});
