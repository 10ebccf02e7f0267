/**
 * The election rules of domain/election.ts, evaluated for real: the ConditionExpression
 * the DynamoDB store renders from a rule must accept exactly the items `holds` accepts.
 * Checked on generated members and times (boundaries included), for the two election
 * rules and for arbitrary rule trees, with conditional UpdateItems against DynamoDB Local;
 * then whole elections on generated holder/candidate pairs, in DynamoDB Local and in the
 * memory model, against the outcome the rules predict.
 */

import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import { DynamoCoordinationStore } from '../../lambdas/adapters/coordination.js';
import { Expr, renderRule } from '../../lambdas/adapters/dynamo-condition.js';
import { MemoryCoordinationStore } from '../../lambdas/adapters/memory-coordination.js';
import { leaseKey, memberKey } from '../../lambdas/contract/keys.js';
import {
  ELIGIBILITY,
  type ElectionOutcome,
  holds,
  isEligible,
  isLostAt,
  LOSS,
  type MemberRule,
  type RuleMember,
  type RuleTimes,
  STAYING,
} from '../../lambdas/domain/election.js';
import type { Member } from '../../lambdas/domain/membership.js';
import { arn } from '../support/coordination.js';
import { ruleArb, ruleMemberArb, timesArb } from '../support/election-cases.js';
import { freshTable } from '../support/fixtures.js';

const client = createDynamoClient();
let table: string;
let n = 0;

beforeAll(async () => {
  table = await freshTable();
});

/** Writes the member item, then asks DynamoDB whether the rendered condition holds on it. */
async function dynamoHolds(rule: MemberRule, fields: RuleMember, times: RuleTimes): Promise<boolean> {
  const key = memberKey(`rule-${++n}`, arn(n));
  await client.send(new PutCommand({ TableName: table, Item: { ...key, type: 'member', ...fields } }));
  const e = new Expr();
  const condition = renderRule(rule, times, e);
  try {
    await client.send(
      new UpdateCommand({
        TableName: table,
        Key: key,
        UpdateExpression: `SET ${e.name('probe')} = ${e.value(1)}`,
        ConditionExpression: condition,
        ExpressionAttributeNames: e.names,
        ExpressionAttributeValues: e.values,
      }),
    );
    return true;
  } catch (err) {
    if ((err as Error).name === 'ConditionalCheckFailedException') return false;
    throw err;
  }
}

// Each run checks a batch in parallel: many cases, a bounded number of round trips.
const BATCH = 12;
const agree = (rule: fc.Arbitrary<MemberRule>, runs: number) =>
  fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(rule, ruleMemberArb, timesArb), { minLength: BATCH, maxLength: BATCH }), async (cases) => {
      const answers = await Promise.all(cases.map(([r, m, t]) => dynamoHolds(r, m, t)));
      for (const [i, [r, m, t]] of cases.entries()) {
        expect({ rule: r, member: m, times: t, dynamo: answers[i] }).toEqual({ rule: r, member: m, times: t, dynamo: holds(r, m, t) });
      }
    }),
    { seed: 20261127, numRuns: runs },
  );

describe('rendered rules against DynamoDB Local', () => {
  it('ELIGIBILITY: DynamoDB accepts exactly the members the domain calls eligible', () => agree(fc.constant(ELIGIBILITY), 15), 120_000);
  it('LOSS: DynamoDB accepts exactly the members the domain calls lost', () => agree(fc.constant(LOSS), 15), 120_000);
  it('STAYING: DynamoDB accepts exactly the members the domain says are not going away', () => agree(fc.constant(STAYING), 5), 120_000);
  it('any rule tree means the same in DynamoDB as in holds()', () => agree(ruleArb, 25), 120_000);
});

describe('elections on generated members: DynamoDB Local, memory model and the rules agree', () => {
  let dynamo: DynamoCoordinationStore;
  beforeAll(async () => {
    dynamo = new DynamoCoordinationStore(client, await freshTable());
  });

  /** A service whose primary (term 1) is `holder`, with `candidate` beside it, seeded as raw items. */
  async function seed(service: string, holder: RuleMember, candidate: RuleMember, memory: MemoryCoordinationStore) {
    const items: [string, RuleMember & { primaryTerm?: number }][] = [
      [arn('h'), { ...holder, primaryTerm: 1 }],
      [arn('c'), candidate],
    ];
    const lease = { service, holder: arn('h'), term: 1, electedAt: 0 };
    await client.send(new PutCommand({ TableName: dynamo.table, Item: { ...leaseKey(service), type: 'lease', ...lease } }));
    memory.core.leases.set(service, lease);
    const members = new Map<string, Member>();
    for (const [taskArn, fields] of items) {
      await client.send(
        new PutCommand({ TableName: dynamo.table, Item: { ...memberKey(service, taskArn), type: 'member', service, commands: {}, ...fields } }),
      );
      members.set(taskArn, { service, taskArn, commands: {}, ...fields });
    }
    memory.core.members.set(service, members);
  }

  it('elects exactly when LOSS holds for the holder at the cutoff and ELIGIBILITY for the candidate now', async () => {
    const memory = new MemoryCoordinationStore();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(ruleMemberArb, ruleMemberArb, timesArb), { minLength: BATCH, maxLength: BATCH }), async (cases) => {
        await Promise.all(
          cases.map(async ([holder, candidate, { now, cutoff }]) => {
            const service = `elect-${++n}`;
            await seed(service, holder, candidate, memory);
            const request = {
              service,
              observedTerm: 1,
              previousHolder: arn('h'),
              previousHolderExists: true,
              lostCutoff: cutoff,
              candidate: arn('c'),
              now,
              reason: 'failover' as const,
            };
            const expected: ElectionOutcome['kind'] = !isLostAt({ service, taskArn: arn('h'), commands: {}, ...holder }, cutoff)
              ? 'holder-alive'
              : !isEligible({ service, taskArn: arn('c'), commands: {}, ...candidate }, now)
                ? 'candidate-ineligible'
                : 'elected';
            const [inDynamo, inMemory] = await Promise.all([dynamo.elect(request), memory.elect(request)]);
            expect({ holder, candidate, now, cutoff, dynamo: inDynamo.kind, memory: inMemory.kind }).toEqual({
              holder,
              candidate,
              now,
              cutoff,
              dynamo: expected,
              memory: expected,
            });
          }),
        );
      }),
      { seed: 20261127, numRuns: 12 },
    );
  }, 180_000);
});
