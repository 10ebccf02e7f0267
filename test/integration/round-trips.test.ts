/**
 * A counting DynamoDB client proves the cost of the hot paths, on DynamoDB Local:
 * the failover critical path (holder STOPPED → new term written) is at most 3 round
 * trips, and an event that needs no failover is at most 2 writes (it is 1).
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDynamoBaseClient } from '../../lambdas/adapters/aws.js';
import { DynamoCoordinationStore } from '../../lambdas/adapters/coordination.js';
import { DynamoServiceRegistry } from '../../lambdas/adapters/service-registry.js';
import { ServiceResolver } from '../../lambdas/control/services.js';
import { normalizeServicePolicy } from '../../lambdas/domain/service-policy.js';
import { createTaskEventsHandler } from '../../lambdas/handlers/task-events.js';
import { arn } from '../support/coordination.js';
import { taskStateChange } from '../support/ecs-events.js';
import { freshTable } from '../support/fixtures.js';

process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'TransactWriteItemsCommand', 'BatchWriteItemCommand']);

describe('DynamoDB round trips on the hot paths', () => {
  const calls: string[] = [];
  let onEvent: ReturnType<typeof createTaskEventsHandler>;
  let store: DynamoCoordinationStore;
  const T0 = Date.parse('2026-11-27T12:00:00.000Z');

  beforeAll(async () => {
    const base = createDynamoBaseClient();
    // Counts every request the client sends (retries are inside one call and do not count).
    base.middlewareStack.add(
      (next, context) => async (args) => {
        calls.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'countRoundTrips' },
    );
    const dynamo = DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } });
    const table = await freshTable();
    const registry = new DynamoServiceRegistry(dynamo, table);
    store = new DynamoCoordinationStore(dynamo, table);
    await registry.put(normalizeServicePolicy({ service: 'wiki', failover: { timeoutSeconds: 0 } }));
    const services = new ServiceResolver(registry, () => T0);
    onEvent = createTaskEventsHandler({
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'LifeboatTest' }),
      coordination: store,
      services,
      now: () => T0 + 5000,
    });
    // A warm Lambda: the policy cache is filled by earlier events.
    for (const i of [1, 2, 3]) await onEvent(taskStateChange({ taskArn: arn(i), lastStatus: 'RUNNING', version: 2 }));
    for (const i of [1, 2, 3]) await store.heartbeat('wiki', arn(i), { now: T0, aliveUntil: T0 + 60_000, dataPosition: i });
    const state = await store.readState('wiki');
    const first = await store.elect({
      service: 'wiki',
      observedTerm: 0,
      previousHolderExists: false,
      lostCutoff: T0,
      candidate: arn(1),
      now: T0,
      reason: 'bootstrap',
    });
    expect(first.kind).toBe('elected');
    expect(state.members).toHaveLength(3);
  });

  it('holder STOPPED → new term written in 3 round trips (record, read, elect)', async () => {
    calls.length = 0;
    const result = await onEvent(taskStateChange({ taskArn: arn(1), lastStatus: 'STOPPED', version: 5, stoppedAt: '2026-11-27T12:00:04.000Z' }));
    expect(result).toMatchObject({ outcome: 'recorded', check: { elected: { lease: { holder: arn(3), term: 2 } } } });
    expect(calls).toEqual(['UpdateItemCommand', 'QueryCommand', 'TransactWriteItemsCommand']);
  });

  it('an event that needs no failover costs one write and nothing else', async () => {
    calls.length = 0;
    const events = [
      taskStateChange({ taskArn: arn(4), lastStatus: 'RUNNING', version: 2 }), // a new member
      taskStateChange({ taskArn: arn(2), lastStatus: 'STOPPED', version: 6 }), // a replica leaving
      taskStateChange({ taskArn: arn(2), lastStatus: 'RUNNING', version: 1 }), // stale: a refused write
    ];
    for (const e of events) {
      calls.length = 0;
      await onEvent(e);
      expect(calls.filter((c) => WRITES.has(c)).length).toBeLessThanOrEqual(2);
      expect(calls).toEqual(['UpdateItemCommand']);
    }
  });
});
