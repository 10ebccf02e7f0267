/**
 * Local mode's stand-ins on their own: the launcher's ECS events (shape, versions,
 * lifecycle, exit codes), RunTask idempotency, the event bus's pattern matching, and the
 * accelerated scheduler. No AWS server needed: tasks are tiny shell processes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildDrillRunTask, drillIdOfTask, drillTaskEnd } from '../../lambdas/domain/drills.js';
import { EcsTaskStateChangeSchema } from '../../lambdas/domain/ecs-task.js';
import { observationFromEcsTask } from '../../lambdas/domain/membership.js';
import { routeTask } from '../../lambdas/domain/task-routing.js';
import { LocalEventBus, matchesPattern } from '../../lambdas/local/event-bus.js';
import { LocalTaskLauncher } from '../../lambdas/local/launcher.js';
import { LocalScheduler } from '../../lambdas/local/scheduler.js';

type Detail = { taskArn: string; version: number; lastStatus: string; desiredStatus: string; stopCode?: string; containers: { exitCode?: number }[] };
type Ev = { detail: Detail };

async function until<T>(check: () => T | undefined, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('LocalTaskLauncher: ECS Task State Change events', () => {
  let dir: string;
  let launcher: LocalTaskLauncher;
  const events: Ev[] = [];
  const of = (arn: string) => events.filter((e) => e.detail.taskArn === arn).map((e) => e.detail);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lifeboat-launcher-'));
    launcher = new LocalTaskLauncher({
      cluster: 'local',
      workDir: join(dir, 'tasks'),
      logDir: join(dir, 'logs'),
      baseEnv: { PATH: process.env.PATH! },
      emit: (e) => events.push(e as Ev),
    });
    launcher.registerTaskDefinition({
      family: 'app',
      revision: 1,
      containerName: 'app',
      // Exits with EXIT_WITH when set (a drill's agent would), else runs until stopped.
      command: ['/bin/sh', '-c', 'if [ -n "$EXIT_WITH" ]; then exit "$EXIT_WITH"; fi; trap "exit 0" TERM; while :; do sleep 0.05; done'],
      environment: (t) => ({ PORT: String(t.port) }),
      stopTimeoutSeconds: 5,
    });
  });
  afterAll(async () => {
    await launcher.shutdown(2000);
    await rm(dir, { recursive: true, force: true });
  });

  it('GIVEN a service task WHEN it runs and is killed THEN the events parse with the one ECS task schema, versions increase, and the exit is 137', async () => {
    await launcher.createService({ name: 'app', taskDefinition: 'app', desiredCount: 1, replaceAfterMs: 60_000 });
    const task = launcher.list()[0]!;
    await until(() => of(task.taskArn).find((d) => d.lastStatus === 'RUNNING'), 'RUNNING');
    launcher.kill(task.taskArn);
    await until(() => of(task.taskArn).find((d) => d.lastStatus === 'STOPPED'), 'STOPPED');
    const details = of(task.taskArn);
    expect(details.map((d) => d.lastStatus)).toEqual(['PROVISIONING', 'PENDING', 'RUNNING', 'DEACTIVATING', 'STOPPED']);
    expect(details.map((d) => d.version)).toEqual([1, 2, 3, 4, 5]);
    for (const e of events.filter((x) => x.detail.taskArn === task.taskArn)) {
      expect(EcsTaskStateChangeSchema.safeParse(e).success).toBe(true);
    }
    const stopped = details.at(-1)!;
    expect(stopped).toMatchObject({
      desiredStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      group: 'service:app',
      startedBy: expect.stringMatching(/^ecs-svc\//),
    });
    expect(stopped.containers[0]!.exitCode).toBe(137);
    const obs = observationFromEcsTask(EcsTaskStateChangeSchema.parse(events.find((e) => e.detail === stopped)).detail);
    expect(obs).toMatchObject({ ip: '127.0.0.1', lastStatus: 'STOPPED', exitCodes: { app: 137 } });
    expect(obs.stoppedAt).toBeGreaterThan(0);
  });

  it('GIVEN RunTask for a drill WHEN repeated with the same client token THEN one task, a drill task, whose exit code the drill reads', async () => {
    const request = buildDrillRunTask({
      service: 'app',
      drillId: 'drill-20261127T081735Z-9f3c2a1b',
      snapshotId: '20261127T081735.123Z-9f3c2a1b',
      deadline: '2026-11-27T09:17:35.000Z',
      launch: { cluster: 'local', taskDefinition: 'app', containerName: 'app', launchType: 'EC2' },
    });
    request.overrides.containerOverrides[0]!.environment.push({ name: 'EXIT_WITH', value: '3' });
    const a = await launcher.runTask(request);
    const b = await launcher.runTask(request);
    expect(b.taskArn).toBe(a.taskArn);
    const stopped = await until(() => of(a.taskArn).find((d) => d.lastStatus === 'STOPPED'), 'drill task STOPPED');
    expect(routeTask(stopped as never)).toEqual({ to: 'drill' });
    expect(drillIdOfTask(stopped as never)).toBe('drill-20261127T081735Z-9f3c2a1b');
    expect(drillTaskEnd(stopped as never, 'app').exitCode).toBe(3);
    await expect(launcher.runTask({ ...request, clientToken: 'other', taskDefinition: 'nope' })).rejects.toThrow(/Unable to describe task definition nope/);
  });

  it('GIVEN StopTask THEN desired STOPPED with UserInitiated first, SIGTERM, then STOPPED; DescribeTasks knows it, unknown tasks are missing', async () => {
    const { taskArn } = await launcher.runTask({
      cluster: 'local',
      taskDefinition: 'app:1',
      count: 1,
      startedBy: 'me',
      clientToken: 't2',
      overrides: { containerOverrides: [] },
    });
    await until(() => of(taskArn).find((d) => d.lastStatus === 'RUNNING'), 'RUNNING');
    await launcher.stopTask('local', taskArn, 'test says stop');
    const d = of(taskArn);
    expect(d.find((x) => x.desiredStatus === 'STOPPED' && x.lastStatus === 'RUNNING')).toMatchObject({ stopCode: 'UserInitiated' });
    expect(d.at(-1)).toMatchObject({ lastStatus: 'STOPPED', containers: [expect.objectContaining({ exitCode: 0 })] });
    const described = await launcher.describe('local', [taskArn, 'arn:aws:ecs:us-east-1:000000000000:task/local/gone']);
    expect(described.found[0]).toMatchObject({ taskArn, lastStatus: 'STOPPED' });
    expect(described.missing).toEqual(['arn:aws:ecs:us-east-1:000000000000:task/local/gone']);
  });
});

describe('LocalEventBus: EventBridge patterns', () => {
  const event = { source: 'aws.ecs', 'detail-type': 'ECS Task State Change', detail: { startedBy: 'drill-x', lastStatus: 'STOPPED', tags: ['a', 'b'] } };

  it('matches exact values, prefix, anything-but, exists and array fields', () => {
    expect(matchesPattern({ source: ['aws.ecs'], detail: { startedBy: [{ prefix: 'drill-' }], lastStatus: ['STOPPED'] } }, event)).toBe(true);
    expect(matchesPattern({ detail: { lastStatus: [{ 'anything-but': ['STOPPED'] }] } }, event)).toBe(false);
    expect(matchesPattern({ detail: { stopCode: [{ exists: false }] } }, event)).toBe(true);
    expect(matchesPattern({ detail: { stopCode: [{ exists: true }] } }, event)).toBe(false);
    expect(matchesPattern({ detail: { tags: ['b'] } }, event)).toBe(true);
    expect(matchesPattern({ source: ['aws.events'] }, event)).toBe(false);
  });

  it('delivers to every matching rule, retries a failing target, and refuses unknown matchers', async () => {
    const bus = new LocalEventBus({ retryDelayMs: 1 });
    let calls = 0;
    const seen: string[] = [];
    bus.addRule({ name: 'flaky', pattern: { source: ['aws.ecs'] }, target: async () => (++calls < 2 ? Promise.reject(new Error('once')) : 'ok') });
    bus.addRule({ name: 'drills', pattern: { detail: { startedBy: [{ prefix: 'drill-' }] } }, target: async () => seen.push('drill') });
    bus.put(event);
    await bus.drain();
    expect(calls).toBe(2);
    expect(seen).toEqual(['drill']);
    expect(() => bus.addRule({ name: 'bad', pattern: { detail: { n: [{ numeric: ['>', 1] } as never] } }, target: async () => 0 })).toThrow(
      /unsupported matcher/,
    );
  });
});

describe('LocalScheduler: accelerated schedules', () => {
  it('GIVEN speed 60 THEN rate(5 minutes) fires at once and every 5 s, with the real time as scheduledTime', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-11-27T09:00:00Z') });
    try {
      const fired: string[] = [];
      const s = new LocalScheduler({ speed: 60 });
      s.add({
        name: 'snap',
        expression: 'rate(5 minutes)',
        target: async (input) => fired.push((input as { t: string }).t),
        input: (t) => ({ t: t.toISOString() }),
      });
      await vi.advanceTimersByTimeAsync(10_500);
      expect(fired).toEqual(['2026-11-27T09:00:00.000Z', '2026-11-27T09:00:05.000Z', '2026-11-27T09:00:10.000Z']);
      expect(s.status()[0]).toMatchObject({ name: 'snap', fired: 3, nextAt: Date.parse('2026-11-27T09:00:15Z') });
      await s.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('GIVEN a schedule faster than the minimum interval THEN firings are folded together, never overlapping', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-11-27T09:00:00Z') });
    try {
      let running = 0;
      let maxRunning = 0;
      const coalesced: number[] = [];
      const s = new LocalScheduler({ speed: 600, minIntervalMs: 1000, onFiring: (f) => coalesced.push(f.coalesced) });
      // Every minute at speed 600 would be every 100 ms; each run takes 1.5 s.
      s.add({
        name: 'busy',
        expression: 'cron(* * * * ? *)',
        target: async () => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await new Promise((r) => setTimeout(r, 1500));
          running--;
        },
        input: () => ({}),
      });
      await vi.advanceTimersByTimeAsync(6000);
      expect(maxRunning).toBe(1);
      expect(coalesced.length).toBeGreaterThanOrEqual(2);
      expect(coalesced.slice(1).every((c) => c > 0)).toBe(true);
      // stop() waits for the run in progress, which needs the (fake) clock to move.
      const stopped = s.stop();
      await vi.advanceTimersByTimeAsync(2000);
      await stopped;
    } finally {
      vi.useRealTimers();
    }
  });
});
