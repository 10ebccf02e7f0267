/**
 * Drill records: one DynamoDB item per drill, `SVC#<service>` / `DRILL#<drillId>`, in the
 * service's own partition (so a task role limited to its service can write its result).
 *
 * Every transition is one conditional write, so concurrent and repeated callers agree:
 *
 *   create            attribute_not_exists        a retried start finds the drill it made
 *   recordLaunch      running, no other task      the task ARN RunTask answered with
 *   recordAgentResult running, no result yet      the agent's result: only while running, once
 *   finish            running (and same task)     exactly one finisher: STOPPED, watchdog, launch
 *
 * A write that loses its condition reads the item back (strongly consistent) and says why.
 */
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DRILL_SK_PREFIX, drillIdFromSk, drillKey, servicePk, TABLE_KEY } from '../contract/keys.js';
import type { DrillAgentResult, DrillConclusion, DrillRecord } from '../domain/drills.js';
import { errorName } from './aws.js';
import { DynamoTable } from './dynamo-table.js';

export type AgentResultOutcome = 'recorded' | 'not-running' | 'already-recorded' | 'unknown-drill';

export type FinishOutcome =
  | { outcome: 'finished'; drill: DrillRecord }
  /** Someone else finished it first, or the task is not the drill's task. */
  | { outcome: 'not-running' | 'other-task' | 'unknown-drill'; drill: DrillRecord | undefined };

export interface DrillStore {
  /** The table name, for messages. */
  readonly name: string;
  /** Writes a new `running` drill; 'exists' when the id is already taken (a retried start). */
  create(drill: DrillRecord): Promise<'created' | 'exists'>;
  /** Strongly consistent read. */
  get(service: string, drillId: string): Promise<DrillRecord | undefined>;
  /**
   * Records the drill's task. Accepted while the drill runs and has no other task (a
   * retried RunTask with the same client token answers with the same task). Returns the
   * drill as it is afterwards.
   */
  recordLaunch(service: string, drillId: string, taskArn: string, at: string): Promise<DrillRecord | undefined>;
  /** The agent's result: accepted only while the drill is running, and only once. */
  recordAgentResult(service: string, drillId: string, result: DrillAgentResult): Promise<AgentResultOutcome>;
  /**
   * Finishes a running drill with `conclusion`; exactly one caller wins. With `taskArn`,
   * only when the drill has no recorded task or that very task.
   */
  finish(service: string, drillId: string, conclusion: DrillConclusion, options?: { taskArn?: string }): Promise<FinishOutcome>;
  /** The service's drills, newest first. */
  list(service: string, options?: { limit?: number; running?: boolean }): AsyncIterable<DrillRecord>;
  /** A kept drill's task was stopped (`keep.stoppedAt`), so the watchdog stops it once. */
  markKeepStopped?(service: string, drillId: string, at: string): Promise<void>;
}

type Item = DrillRecord & { pk: string; sk: string; type: 'drill' };

function toRecord(item: Record<string, unknown>): DrillRecord {
  const { pk: _pk, sk, type: _type, ...rest } = item as unknown as Item;
  return { ...rest, drillId: drillIdFromSk(sk) } as DrillRecord;
}

export class DynamoDrillStore implements DrillStore {
  private readonly table: DynamoTable;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    readonly name: string,
  ) {
    this.table = new DynamoTable(client, name);
  }

  /** Runs a conditional update; false when the condition did not hold. */
  private conditional(command: UpdateCommand, action: string): Promise<boolean> {
    return this.table.conditional(action, () => this.client.send(command));
  }

  async create(drill: DrillRecord): Promise<'created' | 'exists'> {
    return (await this.table.putIfAbsent({ ...drill, ...drillKey(drill.service, drill.drillId), type: 'drill' })) ? 'created' : 'exists';
  }

  async get(service: string, drillId: string): Promise<DrillRecord | undefined> {
    const item = await this.table.get(drillKey(service, drillId));
    return item ? toRecord(item) : undefined;
  }

  async recordLaunch(service: string, drillId: string, taskArn: string, at: string): Promise<DrillRecord | undefined> {
    await this.conditional(
      new UpdateCommand({
        TableName: this.name,
        Key: drillKey(service, drillId),
        UpdateExpression: 'SET #taskArn = :taskArn, #launchedAt = if_not_exists(#launchedAt, :at)',
        ConditionExpression: '#status = :running AND (attribute_not_exists(#taskArn) OR #taskArn = :taskArn)',
        ExpressionAttributeNames: { '#taskArn': 'taskArn', '#launchedAt': 'launchedAt', '#status': 'status' },
        ExpressionAttributeValues: { ':taskArn': taskArn, ':at': at, ':running': 'running' },
      }),
      'UpdateItem',
    );
    return this.get(service, drillId);
  }

  async recordAgentResult(service: string, drillId: string, result: DrillAgentResult): Promise<AgentResultOutcome> {
    const ok = await this.conditional(
      new UpdateCommand({
        TableName: this.name,
        Key: drillKey(service, drillId),
        UpdateExpression: 'SET #agent = :agent',
        ConditionExpression: '#status = :running AND attribute_not_exists(#agent)',
        ExpressionAttributeNames: { '#agent': 'agent', '#status': 'status' },
        ExpressionAttributeValues: { ':agent': result, ':running': 'running' },
      }),
      'UpdateItem',
    );
    if (ok) return 'recorded';
    const now = await this.get(service, drillId);
    if (!now) return 'unknown-drill';
    return now.status !== 'running' ? 'not-running' : 'already-recorded';
  }

  async finish(service: string, drillId: string, conclusion: DrillConclusion, options: { taskArn?: string } = {}): Promise<FinishOutcome> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = { ':running': 'running' };
    const sets: string[] = [];
    for (const [k, v] of Object.entries(conclusion)) {
      if (v === undefined) continue;
      names[`#${k}`] = k;
      values[`:${k}`] = v;
      sets.push(`#${k} = :${k}`);
    }
    let condition = '#status = :running';
    if (options.taskArn) {
      names['#taskArn'] = 'taskArn';
      values[':taskArn'] = options.taskArn;
      condition += ' AND (attribute_not_exists(#taskArn) OR #taskArn = :taskArn)';
    }
    let attributes: Record<string, unknown> | undefined;
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.name,
          Key: drillKey(service, drillId),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: `attribute_exists(#pk) AND ${condition}`,
          ExpressionAttributeNames: { ...names, '#pk': TABLE_KEY.partition },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      attributes = out.Attributes;
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') this.table.fail(err, 'UpdateItem');
    }
    if (attributes) return { outcome: 'finished', drill: toRecord(attributes) };
    const now = await this.get(service, drillId);
    if (!now) return { outcome: 'unknown-drill', drill: undefined };
    if (now.status !== 'running') return { outcome: 'not-running', drill: now };
    return { outcome: 'other-task', drill: now };
  }

  async markKeepStopped(service: string, drillId: string, at: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.name,
          Key: drillKey(service, drillId),
          UpdateExpression: 'SET #keep.#stoppedAt = :at',
          ConditionExpression: 'attribute_exists(#keep)',
          ExpressionAttributeNames: { '#keep': 'keep', '#stoppedAt': 'stoppedAt' },
          ExpressionAttributeValues: { ':at': at },
        }),
      );
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') this.table.fail(err, 'UpdateItem');
    }
  }

  async *list(service: string, options: { limit?: number; running?: boolean } = {}): AsyncIterable<DrillRecord> {
    let yielded = 0;
    const filter = options.running ? { expression: '#status = :running', names: { '#status': 'status' }, values: { ':running': 'running' } } : undefined;
    for await (const item of this.table.query({ pk: servicePk(service), prefix: DRILL_SK_PREFIX, newestFirst: true, ...(filter ? { filter } : {}) })) {
      yield toRecord(item);
      if (options.limit !== undefined && ++yielded >= options.limit) return;
    }
  }
}
