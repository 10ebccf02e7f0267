/**
 * Snapshot jobs on DynamoDB: one item per job in the service's partition. Every change is
 * a conditional write, so a job leaves `requested` exactly once whoever races to finish it
 * (the agent, a duplicated STOPPED event, the deadline watchdog).
 */
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { JobConclusion, SnapshotJob } from '../domain/snapshot-jobs.js';
import { errorName, tableError } from './aws.js';
import { JOB_SK_PREFIX, TABLE_KEY, TTL_ATTRIBUTE, jobIdFromSk, jobKey, servicePk } from './keys.js';

/** How long a finished job stays readable (`lifeboat status`, investigations). */
export const FINISHED_JOB_TTL_SECONDS = 30 * 86_400;

export interface JobStore {
  /** Records a new job; when the id exists (a retried schedule), returns the existing one. */
  create(job: SnapshotJob): Promise<{ created: boolean; job: SnapshotJob }>;
  get(service: string, jobId: string): Promise<SnapshotJob | undefined>;
  /** Agent mode: which primary was asked. Only while requested. */
  setTarget(service: string, jobId: string, target: { taskArn: string; term: number }): Promise<boolean>;
  /** Dump mode: the launched task. Only while requested. */
  setTask(service: string, jobId: string, taskArn: string): Promise<boolean>;
  /** A snapshot registered for the job (before the job is decided). */
  linkSnapshot(service: string, jobId: string, snapshotId: string): Promise<boolean>;
  /** requested → complete | failed | error, once. False when it was already decided. */
  finish(service: string, jobId: string, conclusion: JobConclusion & { snapshotId?: string }): Promise<boolean>;
  /** Jobs of the service still `requested`, oldest first. */
  open(service: string): Promise<SnapshotJob[]>;
  /** The service's newest jobs first. */
  recent(service: string, limit: number): Promise<SnapshotJob[]>;
}

type Item = Record<string, unknown>;

function toJob(item: Item): SnapshotJob {
  const { pk: _pk, sk, type: _type, [TTL_ATTRIBUTE]: _ttl, ...rest } = item;
  return { ...(rest as Omit<SnapshotJob, 'jobId'>), jobId: jobIdFromSk(String(sk)) };
}

export class DynamoJobStore implements JobStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  private fail(err: unknown, action: string): never {
    throw tableError(err, this.table, action);
  }

  private async conditional(action: string, send: () => Promise<unknown>): Promise<boolean> {
    try {
      await send();
      return true;
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') return false;
      this.fail(err, action);
    }
  }

  async create(job: SnapshotJob): Promise<{ created: boolean; job: SnapshotJob }> {
    const { jobId, ...fields } = job;
    const created = await this.conditional('PutItem', () =>
      this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...jobKey(job.service, jobId), type: 'snapshot-job', ...fields },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': TABLE_KEY.partition },
        }),
      ),
    );
    if (created) return { created, job };
    const existing = await this.get(job.service, jobId);
    if (!existing) throw new Error(`job ${jobId} of ${job.service} exists and does not: DynamoDB disagrees with itself`);
    return { created, job: existing };
  }

  async get(service: string, jobId: string): Promise<SnapshotJob | undefined> {
    try {
      const out = await this.client.send(new GetCommand({ TableName: this.table, Key: jobKey(service, jobId), ConsistentRead: true }));
      return out.Item ? toJob(out.Item) : undefined;
    } catch (err) {
      this.fail(err, 'GetItem');
    }
  }

  private setWhileRequested(service: string, jobId: string, fields: Record<string, unknown>): Promise<boolean> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = { ':requested': 'requested' };
    const sets = Object.entries(fields).map(([k, v]) => {
      names[`#${k}`] = k;
      values[`:${k}`] = v;
      return `#${k} = :${k}`;
    });
    return this.conditional('UpdateItem', () =>
      this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: jobKey(service, jobId),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: '#status = :requested',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  setTarget(service: string, jobId: string, target: { taskArn: string; term: number }): Promise<boolean> {
    return this.setWhileRequested(service, jobId, { target });
  }

  setTask(service: string, jobId: string, taskArn: string): Promise<boolean> {
    return this.setWhileRequested(service, jobId, { taskArn });
  }

  linkSnapshot(service: string, jobId: string, snapshotId: string): Promise<boolean> {
    return this.setWhileRequested(service, jobId, { snapshotId });
  }

  finish(service: string, jobId: string, conclusion: JobConclusion & { snapshotId?: string }): Promise<boolean> {
    // Finished jobs age out of the table (TTL); the catalog keeps the snapshots themselves.
    const expiresAt = Math.floor(Date.parse(conclusion.finishedAt) / 1000) + FINISHED_JOB_TTL_SECONDS;
    return this.setWhileRequested(service, jobId, { ...conclusion, [TTL_ATTRIBUTE]: expiresAt });
  }

  private async query(service: string, options: { requestedOnly?: boolean; newestFirst: boolean; limit?: number }): Promise<SnapshotJob[]> {
    const jobs: SnapshotJob[] = [];
    let startKey: Item | undefined;
    do {
      let out;
      try {
        out = await this.client.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
            ...(options.requestedOnly ? { FilterExpression: '#status = :requested' } : {}),
            ExpressionAttributeNames: { '#pk': TABLE_KEY.partition, '#sk': TABLE_KEY.sort, ...(options.requestedOnly ? { '#status': 'status' } : {}) },
            ExpressionAttributeValues: { ':pk': servicePk(service), ':prefix': JOB_SK_PREFIX, ...(options.requestedOnly ? { ':requested': 'requested' } : {}) },
            ScanIndexForward: !options.newestFirst,
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        );
      } catch (err) {
        this.fail(err, 'Query');
      }
      for (const item of out.Items ?? []) {
        jobs.push(toJob(item));
        if (options.limit !== undefined && jobs.length >= options.limit) return jobs;
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return jobs;
  }

  open(service: string): Promise<SnapshotJob[]> {
    return this.query(service, { requestedOnly: true, newestFirst: false });
  }

  recent(service: string, limit: number): Promise<SnapshotJob[]> {
    return this.query(service, { newestFirst: true, limit });
  }
}
