/**
 * The one ECS task model (domain/ecs-task.ts): an EventBridge event's detail and a
 * DescribeTasks answer read alike, unknown fields are kept, and what a task lacks is named.
 */
import { describe, expect, it } from 'vitest';
import { EcsTaskSchema, EcsTaskStateChangeSchema, overrideEnvironment, parseEcsTask } from '../../lambdas/domain/ecs-task.js';
import { observationFromEcsTask } from '../../lambdas/domain/membership.js';
import { taskDetail } from '../../lambdas/local/ecs-events.js';
import { taskStateChange } from '../support/ecs-events.js';

describe('the ECS task schema', () => {
  const event = taskStateChange({ taskArn: 'arn:aws:ecs:us-east-1:1:task/prod/abc', lastStatus: 'STOPPED', version: 7, stoppedAt: '2026-11-27T12:00:05.000Z' });

  it('reads a DescribeTasks answer (Dates, nulls) like the event of the same task', () => {
    const d = event.detail;
    const sdk = {
      ...d,
      startedAt: new Date(d.startedAt),
      stoppedAt: new Date(d.stoppedAt!),
      updatedAt: new Date(d.updatedAt),
      createdAt: new Date(d.createdAt),
      connectivityAt: new Date(d.connectivityAt),
      stoppingAt: null,
      containers: d.containers.map((c) => ({ ...c, reason: null })),
    };
    const fromEvent = EcsTaskSchema.parse(d);
    const fromSdk = EcsTaskSchema.parse(sdk);
    expect(fromSdk).toEqual(fromEvent);
    expect(observationFromEcsTask(fromSdk)).toEqual(observationFromEcsTask(fromEvent));
    expect(observationFromEcsTask(fromEvent)).toMatchObject({
      lastStatus: 'STOPPED',
      version: 7,
      stoppedAt: Date.parse('2026-11-27T12:00:05.000Z'),
      exitCodes: { app: 137 },
    });
  });

  it('keeps fields it does not know, and names the ones a task lacks', () => {
    expect(EcsTaskSchema.parse({ ...event.detail, somethingNew: { a: 1 } })).toMatchObject({ somethingNew: { a: 1 }, capacityProviderName: 'FARGATE' });
    expect(parseEcsTask({ taskArn: 't', lastStatus: 'RUNNING' })).toBeUndefined();
    const bad = EcsTaskStateChangeSchema.safeParse({ ...event, detail: { taskArn: 't', lastStatus: 'RUNNING' } });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(['detail.desiredStatus', 'detail.version']);
    expect(EcsTaskStateChangeSchema.safeParse({ ...event, source: 'aws.ec2' }).success).toBe(false);
  });

  it('reads RunTask override environments across containers, the first setting of a name winning', () => {
    const overrides = {
      containerOverrides: [
        { name: 'a', environment: [{ name: 'LIFEBOAT_SERVICE', value: 'pg' }, { name: 'EMPTY' }] },
        {
          name: 'b',
          environment: [
            { name: 'LIFEBOAT_SERVICE', value: 'other' },
            { name: 'X', value: '1' },
          ],
        },
        { name: 'c' },
      ],
    };
    expect(overrideEnvironment({ overrides })).toEqual({ LIFEBOAT_SERVICE: 'pg', EMPTY: '', X: '1' });
    expect(overrideEnvironment({})).toEqual({});
  });

  it("local mode's emitter produces tasks the schema reads unchanged", () => {
    const local = taskDetail(
      {
        taskArn: 'arn:aws:ecs:us-east-1:000000000000:task/local/0123456789abcdef0123456789abcdef',
        containerArn: 'arn:c',
        containerName: 'app',
        taskDefinitionArn: 'arn:td',
        group: 'service:app',
        startedBy: 'ecs-svc/1',
        overrides: { LIFEBOAT_MODE: 'drill' },
        version: 3,
        lastStatus: 'RUNNING',
        desiredStatus: 'RUNNING',
        createdAt: '2026-11-27T12:00:00.000Z',
        port: 4000,
      },
      'arn:aws:ecs:us-east-1:000000000000:cluster/local',
    );
    expect(EcsTaskSchema.parse(local)).toEqual(local);
    expect(observationFromEcsTask(local)).toMatchObject({ ip: '127.0.0.1', overrideEnvironment: { LIFEBOAT_MODE: 'drill' }, group: 'service:app' });
  });
});
