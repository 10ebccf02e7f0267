/**
 * The composition root and the contract it reads: adapters made on first use and once,
 * overrides winning, clear errors for missing settings, the store URL built in one place,
 * the store registry by scheme, and the trigger table's pure helpers.
 */
import { describe, expect, it } from 'vitest';
import { openStore } from '../../lambdas/adapters/stores/registry.js';
import type { ObjectStore } from '../../lambdas/adapters/stores/store.js';
import { ENV, storeUrlFromEnv } from '../../lambdas/contract/environment.js';
import {
  DRILL_STARTED_BY_PREFIX,
  rateExpression,
  renderScheduleInput,
  SCHEDULED_TIME,
  SERVICE_NAME,
  TRIGGERS,
  triggersOf,
} from '../../lambdas/contract/triggers.js';
import { isDrillTask } from '../../lambdas/domain/drills.js';
import { createRuntime } from '../../lambdas/runtime/runtime.js';

describe('createRuntime', () => {
  it('builds nothing until used, then each adapter once', () => {
    const rt = createRuntime({});
    // No table, no region: only using an adapter that needs them fails.
    expect(() => rt.catalog).toThrow(/LIFEBOAT_TABLE is not set/);
    const ok = createRuntime({ [ENV.table]: 't', AWS_REGION: 'eu-west-1' });
    expect(ok.catalog).toBe(ok.catalog);
    expect(ok.coordination).toBe(ok.coordination);
    expect(ok.table).toBe('t');
  });

  it('lets overrides win, including an absent adapter', () => {
    const objects = { url: 'memory://x' } as ObjectStore;
    const rt = createRuntime({ [ENV.failoverQueueUrl]: 'https://sqs.example/q', AWS_REGION: 'eu-west-1' }, { objects, timer: undefined, now: () => 42 });
    expect(rt.objects).toBe(objects);
    expect(rt.timer).toBeUndefined();
    expect(rt.now()).toBe(42);
    expect(createRuntime({ [ENV.failoverQueueUrl]: 'https://sqs.example/q', AWS_REGION: 'eu-west-1' }).timer).toBeDefined();
  });

  it('builds the store URL once from the environment, and says what to set', () => {
    expect(storeUrlFromEnv({ [ENV.store]: 'file:///x', [ENV.bucket]: 'b' })).toBe('file:///x');
    expect(storeUrlFromEnv({ [ENV.bucket]: 'b', [ENV.prefix]: 'p/' })).toBe('s3://b/p/');
    expect(storeUrlFromEnv({})).toBeUndefined();
    expect(() => createRuntime({ [ENV.table]: 't' }).objects).toThrow(/neither LIFEBOAT_STORE nor LIFEBOAT_BUCKET is set/);
    expect(createRuntime({ [ENV.bucket]: 'my-bucket', AWS_REGION: 'eu-west-1' }).objects.url).toBe('s3://my-bucket/');
    expect(createRuntime({ [ENV.store]: '/var/backups' }).objects.url).toBe('file:///var/backups');
    expect(createRuntime({ [ENV.reportMaxAge]: '26h' }).reportMaxAgeSeconds).toBe(93_600);
  });
});

describe('the store registry', () => {
  it('opens a backend by scheme and names the known schemes for an unknown one', () => {
    expect(openStore('file:///tmp/x').url).toBe('file:///tmp/x');
    expect(() => openStore('gs://bucket')).toThrow(/not supported \(known schemes: s3:\/\/, file:\/\/\)/);
  });
});

describe('the trigger table', () => {
  it('writes rates as Scheduler does', () => {
    expect(rateExpression(60)).toBe('rate(1 minute)');
    expect(rateExpression(300)).toBe('rate(5 minutes)');
    expect(rateExpression(7200)).toBe('rate(2 hours)');
    expect(() => rateExpression(30)).toThrow(/at least 60/);
  });

  it('fills the placeholders of a schedule input', () => {
    expect(renderScheduleInput({ service: SERVICE_NAME, scheduledTime: SCHEDULED_TIME, keep: 1 }, { service: 'db', scheduledTime: 'T' })).toEqual({
      service: 'db',
      scheduledTime: 'T',
      keep: 1,
    });
  });

  it('routes drill tasks by the prefix the domain recognises them by', () => {
    const [rule] = triggersOf('ecs-task-state-change').filter((t) => t.handler === 'Report');
    expect(rule!.trigger.detail).toMatchObject({ startedBy: [{ prefix: DRILL_STARTED_BY_PREFIX }] });
    expect(isDrillTask({ startedBy: `${DRILL_STARTED_BY_PREFIX}20261127T081735Z-9f3c2a1b` })).toBe(true);
  });

  it('gives every handler a trigger, and the failover queue one consumer', () => {
    for (const [id, triggers] of Object.entries(TRIGGERS)) expect(triggers.length, id).toBeGreaterThan(0);
    expect(triggersOf('failover-queue')).toHaveLength(1);
  });
});
