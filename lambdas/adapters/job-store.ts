/**
 * Snapshot jobs on DynamoDB: one item per job in the service's partition. Every change is
 * a conditional write, so a job leaves `requested` exactly once whoever races to finish it
 * (the agent, a duplicated STOPPED event, the deadline watchdog).
 */
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { JOB_SK_PREFIX, jobIdFromSk, jobKey, servicePk, TTL_ATTRIBUTE } from '../contract/keys.js';
import type { JobConclusion, SnapshotJob } from '../domain/snapshot-jobs.js';
import { DynamoTable } from './dynamo-table.js';

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

import type { Item } from './dynamo-table.js';

function toJob(item: Item): SnapshotJob {
  const { pk: _pk, sk, type: _type, [TTL_ATTRIBUTE]: _ttl, ...rest } = item;
  return { ...(rest as Omit<SnapshotJob, 'jobId'>), jobId: jobIdFromSk(String(sk)) };
}

export class DynamoJobStore implements JobStore {
  private readonly table: DynamoTable;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.table = new DynamoTable(client, tableName);
  }

  async create(job: SnapshotJob): Promise<{ created: boolean; job: SnapshotJob }> {
    const { jobId, ...fields } = job;
    if (await this.table.putIfAbsent({ ...jobKey(job.service, jobId), type: 'snapshot-job', ...fields })) return { created: true, job };
    const existing = await this.get(job.service, jobId);
    if (!existing) throw new Error(`job ${jobId} of ${job.service} exists and does not: DynamoDB disagrees with itself`);
    return { created: false, job: existing };
  }

  async get(service: string, jobId: string): Promise<SnapshotJob | undefined> {
    const item = await this.table.get(jobKey(service, jobId));
    return item ? toJob(item) : undefined;
  }

  private setWhileRequested(service: string, jobId: string, fields: Record<string, unknown>): Promise<boolean> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = { ':requested': 'requested' };
    const sets = Object.entries(fields).map(([k, v]) => {
      names[`#${k}`] = k;
      values[`:${k}`] = v;
      return `#${k} = :${k}`;
    });
    return this.table.conditional('UpdateItem', () =>
      this.table.client.send(
        new UpdateCommand({
          TableName: this.table.name,
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

  async open(service: string): Promise<SnapshotJob[]> {
    const jobs: SnapshotJob[] = [];
    const filter = { expression: '#status = :requested', names: { '#status': 'status' }, values: { ':requested': 'requested' } };
    for await (const item of this.table.query({ pk: servicePk(service), prefix: JOB_SK_PREFIX, filter })) jobs.push(toJob(item));
    return jobs;
  }

  async recent(service: string, limit: number): Promise<SnapshotJob[]> {
    const jobs: SnapshotJob[] = [];
    for await (const item of this.table.query({ pk: servicePk(service), prefix: JOB_SK_PREFIX, newestFirst: true })) {
      if (jobs.push(toJob(item)) >= limit) break;
    }
    return jobs;
  }
}
