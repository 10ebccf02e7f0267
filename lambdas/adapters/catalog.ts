/**
 * The snapshot catalog: one DynamoDB item per snapshot, in the service's partition.
 *
 * Lifecycle: `begin` writes the entry as `uploading` before the first byte goes to the
 * store; `commit` flips it to `complete` after every object (manifest last) is stored.
 * That conditional write is the commit point: restore only ever picks `complete` entries,
 * and an entry left `uploading` by a crash is inert until the sweeper reaps it.
 *
 * Deletion is two-phase (control/retention.ts): `markExpiring` flips a `complete`
 * (or stale `uploading`) entry to `expiring` — from then on nothing can restore, commit or
 * lease it — then the objects go, then `deleteExpiring` removes the entry. A crash leaves
 * an `expiring` entry that the next sweep finishes.
 *
 * Fencing: a snapshot taken by a primary carries its lease term, and its commit is one
 * transaction with a check that the service's lease is still at that term. A primary that
 * was deposed while it uploaded cannot register what it uploaded.
 */

import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient, UpdateTimeToLiveCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { leaseKey, SNAPSHOT_SK_PREFIX, servicePk, snapshotIdFromSk, snapshotKey, TABLE_KEY, TTL_ATTRIBUTE } from '../contract/keys.js';
import { OperationFailedError, UnavailableError } from '../domain/errors.js';
import type { CommitFence, ExpiringExpectation, SnapshotCompletion, SnapshotRecord, SnapshotStart, SnapshotSummary } from '../domain/snapshot.js';
import { errorName, translateAwsError } from './aws.js';
import { DynamoTable } from './dynamo-table.js';

export interface SnapshotCatalog {
  /** The table name, for messages. */
  readonly name: string;
  /** Throws UnavailableError when the table is missing or unreachable. */
  check(): Promise<void>;
  /** Records a new snapshot as `uploading`. Fails if the id exists. */
  begin(start: SnapshotStart): Promise<void>;
  /**
   * The commit point: `uploading` → `complete`. Fails unless the entry is `uploading`, and,
   * with a `fence`, unless the service's lease is still at `fence.term` (same transaction).
   */
  commit(service: string, id: string, completion: SnapshotCompletion, fence?: CommitFence): Promise<SnapshotRecord>;
  /** Removes an entry that is still `uploading` (after a clean failure). */
  discard(service: string, id: string): Promise<void>;
  /** Strongly consistent read of one entry. */
  get(service: string, id: string): Promise<SnapshotRecord | undefined>;
  /** Entries of the service, newest first; optionally only complete, verified and/or not suspect ones. */
  list(service: string, filter?: SnapshotFilter): AsyncIterable<SnapshotRecord>;
  /** Newest `complete` entry, or the newest complete and verified one; `trusted` passes over suspect ones. */
  latest(service: string, options?: { verified?: boolean; trusted?: boolean }): Promise<SnapshotRecord | undefined>;
  /**
   * Marks a complete snapshot as verified by a passing restore drill (and no longer suspect).
   * False when a drill that finished later found it suspect: that verdict stands.
   */
  markVerified(service: string, id: string, at: string): Promise<boolean>;
  /**
   * A drill of the snapshot failed at `at`: it is no longer verified, and suspect. False when
   * it was verified by a drill that finished later (that verdict stands) or is gone.
   */
  markSuspect(service: string, id: string, at: string, drillId: string): Promise<boolean>;
  /** Writes a complete entry recovered from a manifest, unless one exists. */
  importComplete(record: SnapshotRecord): Promise<'imported' | 'exists'>;
  /** Every entry of the service, any status, newest first, with only the fields retention needs. */
  summaries(service: string): AsyncIterable<SnapshotSummary>;
  /**
   * Phase one of deletion: the entry becomes `expiring`, only if it still has the expected
   * status (and verifiedAt). False when it changed or is gone: the caller skips it.
   */
  markExpiring(service: string, id: string, expect: ExpiringExpectation, at: string): Promise<boolean>;
  /** Undoes `markExpiring` for an entry that was `complete` (a snapshot hold appeared). False if not applicable. */
  unmarkExpiring(service: string, id: string): Promise<boolean>;
  /** Phase two, after the objects are gone: removes an `expiring` entry. False when it was not there (or not expiring). */
  deleteExpiring(service: string, id: string): Promise<boolean>;
}

export interface SnapshotFilter {
  complete?: boolean;
  verified?: boolean;
  /** Not suspect (no failed drill since its last passing one). */
  trusted?: boolean;
}

type Item = SnapshotRecord & { pk: string; sk: string; type: 'snapshot' };

function toRecord(item: Record<string, unknown>): SnapshotRecord {
  const { pk: _pk, sk, type: _type, ...rest } = item as unknown as Item;
  return { ...rest, id: snapshotIdFromSk(sk) };
}

export class DynamoSnapshotCatalog implements SnapshotCatalog {
  private readonly table: DynamoTable;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    readonly name: string,
  ) {
    this.table = new DynamoTable(client, name);
  }

  async check(): Promise<void> {
    try {
      await this.client.send(new DescribeTableCommand({ TableName: this.name }));
    } catch (err) {
      this.table.fail(err, 'DescribeTable');
    }
  }

  async begin(start: SnapshotStart): Promise<void> {
    if (!(await this.table.putIfAbsent({ ...snapshotKey(start.service, start.id), type: 'snapshot', ...start, status: 'uploading' }))) {
      throw new OperationFailedError(`snapshot ${start.id} of ${start.service} already exists in the catalog`);
    }
  }

  async commit(service: string, id: string, completion: SnapshotCompletion, fence?: CommitFence): Promise<SnapshotRecord> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = { ':complete': 'complete', ':uploading': 'uploading' };
    const sets = ['#status = :complete'];
    for (const [k, v] of Object.entries(completion)) {
      names[`#${k}`] = k;
      values[`:${k}`] = v;
      sets.push(`#${k} = :${k}`);
    }
    const update = {
      TableName: this.name,
      Key: snapshotKey(service, id),
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: '#status = :uploading',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
    const notUploading = () =>
      new OperationFailedError(`snapshot ${id} of ${service} is no longer uploading; it cannot be committed`, {
        hint: 'another process changed or removed its catalog entry; take a new snapshot',
      });
    if (!fence) {
      try {
        const out = await this.client.send(new UpdateCommand({ ...update, ReturnValues: 'ALL_NEW' }));
        return toRecord(out.Attributes ?? {});
      } catch (err) {
        if (errorName(err) === 'ConditionalCheckFailedException') throw notUploading();
        this.table.fail(err, 'UpdateItem');
      }
    }
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Update: update },
            {
              ConditionCheck: {
                TableName: this.name,
                Key: leaseKey(service),
                ConditionExpression: '#term = :term',
                ExpressionAttributeNames: { '#term': 'term' },
                ExpressionAttributeValues: { ':term': fence.term },
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
          ],
        }),
      );
    } catch (err) {
      if (errorName(err) === 'TransactionCanceledException') {
        const reasons = (err as { CancellationReasons?: { Code?: string; Item?: Record<string, unknown> }[] }).CancellationReasons ?? [];
        if (reasons[0]?.Code === 'ConditionalCheckFailed') throw notUploading();
        if (reasons[1]?.Code === 'ConditionalCheckFailed') throw deposed(service, id, fence.term, reasons[1].Item);
      }
      this.table.fail(err, 'TransactWriteItems');
    }
    const record = await this.get(service, id);
    if (!record) throw notUploading();
    return record;
  }

  async discard(service: string, id: string): Promise<void> {
    // Not uploading any more (committed, or already gone): nothing to discard.
    await this.table.conditional('DeleteItem', () =>
      this.client.send(
        new DeleteCommand({
          TableName: this.name,
          Key: snapshotKey(service, id),
          ConditionExpression: '#status = :uploading',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':uploading': 'uploading' },
        }),
      ),
    );
  }

  async get(service: string, id: string): Promise<SnapshotRecord | undefined> {
    const item = await this.table.get(snapshotKey(service, id));
    return item ? toRecord(item) : undefined;
  }

  async *list(service: string, filter?: SnapshotFilter): AsyncIterable<SnapshotRecord> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const conditions: string[] = [];
    if (filter?.complete) {
      names['#status'] = 'status';
      values[':complete'] = 'complete';
      conditions.push('#status = :complete');
    }
    if (filter?.verified) {
      names['#verifiedAt'] = 'verifiedAt';
      conditions.push('attribute_exists(#verifiedAt)');
    }
    if (filter?.trusted) {
      names['#suspectAt'] = 'suspectAt';
      conditions.push('attribute_not_exists(#suspectAt)');
    }
    const query = {
      pk: servicePk(service),
      prefix: SNAPSHOT_SK_PREFIX,
      newestFirst: true,
      ...(conditions.length ? { filter: { expression: conditions.join(' AND '), names, values } } : {}),
    };
    for await (const item of this.table.query(query)) yield toRecord(item);
  }

  async latest(service: string, options: { verified?: boolean; trusted?: boolean } = {}): Promise<SnapshotRecord | undefined> {
    for await (const record of this.list(service, { complete: true, verified: options.verified ?? false, trusted: options.trusted ?? false })) return record;
    return undefined;
  }

  async markVerified(service: string, id: string, at: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.name,
          Key: snapshotKey(service, id),
          UpdateExpression: 'SET #verifiedAt = :at REMOVE #suspectAt, #suspectDrill',
          // Drills finish in any order: a failure recorded after this pass keeps the snapshot suspect.
          ConditionExpression: '#status = :complete AND (attribute_not_exists(#suspectAt) OR #suspectAt < :at)',
          ExpressionAttributeNames: { '#verifiedAt': 'verifiedAt', '#status': 'status', '#suspectAt': 'suspectAt', '#suspectDrill': 'suspectDrill' },
          ExpressionAttributeValues: { ':at': at, ':complete': 'complete' },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return true;
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') {
        const item = (err as { Item?: Record<string, AttributeValue> }).Item;
        if (item && unmarshall(item).status === 'complete') return false;
        throw new OperationFailedError(`snapshot ${id} of ${service} is not complete; it cannot be marked verified`);
      }
      this.table.fail(err, 'UpdateItem');
    }
  }

  async markSuspect(service: string, id: string, at: string, drillId: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.name,
          Key: snapshotKey(service, id),
          UpdateExpression: 'SET #suspectAt = :at, #suspectDrill = :drill REMOVE #verifiedAt',
          ConditionExpression: 'attribute_exists(#status) AND (attribute_not_exists(#verifiedAt) OR #verifiedAt <= :at)',
          ExpressionAttributeNames: { '#verifiedAt': 'verifiedAt', '#status': 'status', '#suspectAt': 'suspectAt', '#suspectDrill': 'suspectDrill' },
          ExpressionAttributeValues: { ':at': at, ':drill': drillId },
        }),
      );
      return true;
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') return false;
      this.table.fail(err, 'UpdateItem');
    }
  }

  async importComplete(record: SnapshotRecord): Promise<'imported' | 'exists'> {
    const created = await this.table.putIfAbsent({ ...snapshotKey(record.service, record.id), type: 'snapshot', ...record, status: 'complete' });
    return created ? 'imported' : 'exists';
  }

  async *summaries(service: string): AsyncIterable<SnapshotSummary> {
    const projection = ['service', 'status', 'createdAt', 'manifestKey', 'verifiedAt', 'expiringAt', 'expiringFrom'];
    for await (const item of this.table.query({ pk: servicePk(service), prefix: SNAPSHOT_SK_PREFIX, newestFirst: true, projection })) {
      yield toRecord(item) as SnapshotSummary;
    }
  }

  async markExpiring(service: string, id: string, expect: ExpiringExpectation, at: string): Promise<boolean> {
    const verified = expect.verifiedAt === undefined ? 'attribute_not_exists(#verifiedAt)' : '#verifiedAt = :verifiedAt';
    const update = new UpdateCommand({
      TableName: this.name,
      Key: snapshotKey(service, id),
      UpdateExpression: 'SET #status = :expiring, #expiringAt = :at, #expiringFrom = :from',
      ConditionExpression: `#status = :from AND ${verified}`,
      ExpressionAttributeNames: { '#status': 'status', '#expiringAt': 'expiringAt', '#expiringFrom': 'expiringFrom', '#verifiedAt': 'verifiedAt' },
      ExpressionAttributeValues: {
        ':expiring': 'expiring',
        ':at': at,
        ':from': expect.status,
        ...(expect.verifiedAt === undefined ? {} : { ':verifiedAt': expect.verifiedAt }),
      },
    });
    return this.table.conditional('UpdateItem', () => this.client.send(update));
  }

  async unmarkExpiring(service: string, id: string): Promise<boolean> {
    const update = new UpdateCommand({
      TableName: this.name,
      Key: snapshotKey(service, id),
      UpdateExpression: 'SET #status = :complete REMOVE #expiringAt, #expiringFrom',
      ConditionExpression: '#status = :expiring AND #expiringFrom = :complete',
      ExpressionAttributeNames: { '#status': 'status', '#expiringAt': 'expiringAt', '#expiringFrom': 'expiringFrom' },
      ExpressionAttributeValues: { ':expiring': 'expiring', ':complete': 'complete' },
    });
    return this.table.conditional('UpdateItem', () => this.client.send(update));
  }

  async deleteExpiring(service: string, id: string): Promise<boolean> {
    const remove = new DeleteCommand({
      TableName: this.name,
      Key: snapshotKey(service, id),
      ConditionExpression: '#status = :expiring',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':expiring': 'expiring' },
    });
    return this.table.conditional('DeleteItem', () => this.client.send(remove));
  }
}

/** The writer's term is no longer the lease's: it was deposed (or never was primary). */
function deposed(service: string, id: string, term: number, leaseItem: Record<string, unknown> | undefined): OperationFailedError {
  const lease = leaseItem ? (unmarshall(leaseItem as Parameters<typeof unmarshall>[0]) as { term?: number; holder?: string }) : undefined;
  const now = lease?.term !== undefined ? `the lease is at term ${lease.term}, held by ${lease.holder}` : 'the service has no lease';
  return new OperationFailedError(
    `snapshot ${id} of ${service} was taken under term ${term}, but ${now}: this task is no longer primary, so the snapshot is not registered`,
    {
      hint: 'only the current primary registers snapshots; its objects were removed. `lifeboat role` shows the primary',
    },
  );
}

/**
 * Creates the catalog table when missing (for local servers and setups without CDK) and
 * checks the key schema of an existing one. Harmless to run twice.
 */
export async function ensureCatalogTable(client: DynamoDBClient, name: string): Promise<'created' | 'exists'> {
  try {
    const out = await client.send(new DescribeTableCommand({ TableName: name }));
    const schema = out.Table?.KeySchema ?? [];
    const hash = schema.find((k) => k.KeyType === 'HASH')?.AttributeName;
    const range = schema.find((k) => k.KeyType === 'RANGE')?.AttributeName;
    if (hash !== TABLE_KEY.partition || range !== TABLE_KEY.sort) {
      throw new UnavailableError(`table ${name} exists with key schema (${hash}, ${range}), not (${TABLE_KEY.partition}, ${TABLE_KEY.sort})`, {
        hint: 'point LIFEBOAT_TABLE at a table made for Lifeboat, or let `lifeboat init` create a new one',
      });
    }
    return 'exists';
  } catch (err) {
    if (errorName(err) !== 'ResourceNotFoundException') {
      const t = translateAwsError(err, `table ${name}`);
      throw t;
    }
  }
  try {
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: TABLE_KEY.partition, AttributeType: 'S' },
          { AttributeName: TABLE_KEY.sort, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: TABLE_KEY.partition, KeyType: 'HASH' },
          { AttributeName: TABLE_KEY.sort, KeyType: 'RANGE' },
        ],
      }),
    );
  } catch (err) {
    // Two `init`s racing: the loser sees the table being created.
    if (errorName(err) !== 'ResourceInUseException') throw translateAwsError(err, `table ${name}`);
  }
  try {
    await waitUntilTableExists({ client, maxWaitTime: 120, minDelay: 1, maxDelay: 5 }, { TableName: name });
    await client.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true } }));
  } catch (err) {
    // Already enabled (second run after a partial first one) is fine.
    if (!/already enabled/i.test((err as Error).message ?? '')) throw translateAwsError(err, `table ${name}`);
  }
  return 'created';
}
