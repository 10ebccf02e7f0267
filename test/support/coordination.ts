/** Builders for members, observations and stores used by the coordination tests. */
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import { type CoordinationStore, DynamoCoordinationStore, type MemberCommands } from '../../lambdas/adapters/coordination.js';
import { MemoryCoordinationStore } from '../../lambdas/adapters/memory-coordination.js';
import type { TaskObservation } from '../../lambdas/domain/membership.js';
import { freshTable } from './fixtures.js';

export const arn = (n: number | string) => `arn:aws:ecs:us-east-1:123456789012:task/prod/${typeof n === 'number' ? `t${String(n).padStart(3, '0')}` : n}`;

export function observation(taskArn: string, lastStatus: string, version: number, extra: Partial<TaskObservation> = {}): TaskObservation {
  return {
    taskArn,
    lastStatus,
    desiredStatus: lastStatus === 'STOPPED' ? 'STOPPED' : 'RUNNING',
    version,
    group: 'service:wiki',
    startedBy: 'ecs-svc/123',
    ...extra,
  };
}

export type TestStore = CoordinationStore & MemberCommands;

export interface StoreCase {
  name: string;
  make: () => Promise<TestStore>;
}

export const COORDINATION_STORES: StoreCase[] = [
  { name: 'DynamoDB Local', make: async () => new DynamoCoordinationStore(createDynamoClient(), await freshTable()) },
  { name: 'memory', make: async () => new MemoryCoordinationStore() },
];

/** A running, heartbeating member. */
export async function runningMember(
  store: CoordinationStore,
  service: string,
  taskArn: string,
  now: number,
  opts: { leaseMs?: number; dataPosition?: number; startedAt?: number } = {},
) {
  await store.recordTaskState(service, observation(taskArn, 'RUNNING', 2, { startedAt: opts.startedAt ?? now - 60_000 }), now);
  await store.heartbeat(service, taskArn, { now, aliveUntil: now + (opts.leaseMs ?? 15_000), dataPosition: opts.dataPosition });
}
