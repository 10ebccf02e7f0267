/**
 * The GC lease: one garbage collection per service at a time (contract/keys.ts,
 * `SVC#<service>` / `GC`). A conditional put that succeeds when there is no lease, when it
 * has expired, or when the caller already holds it, like the primary lease; GC renews it
 * (same condition: still ours) before each destructive step, so a GC that lost it (paused
 * past its expiry while another took over) stops before deleting anything.
 */
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { gcLeaseKey, TABLE_KEY, TTL_ATTRIBUTE } from '../contract/keys.js';
import { OperationFailedError } from '../domain/errors.js';
import { DynamoTable } from './dynamo-table.js';

export interface GcLease {
  /** Takes or renews the lease for `ttlSeconds`; false when another holder has a live one. */
  acquire(service: string, holder: string, ttlSeconds: number): Promise<boolean>;
  /** Gives it up; harmless when it is gone or someone else's. */
  release(service: string, holder: string): Promise<void>;
}

export class GcLeaseLostError extends OperationFailedError {}

export class DynamoGcLease implements GcLease {
  private readonly table: DynamoTable;
  constructor(
    client: DynamoDBDocumentClient,
    table: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.table = new DynamoTable(client, table);
  }

  acquire(service: string, holder: string, ttlSeconds: number): Promise<boolean> {
    const now = this.now();
    const nowSeconds = Math.floor(now.getTime() / 1000);
    return this.table.conditional('PutItem', () =>
      this.table.client.send(
        new PutCommand({
          TableName: this.table.name,
          Item: {
            ...gcLeaseKey(service),
            type: 'gc-lease',
            service,
            holder,
            acquiredAt: now.toISOString(),
            [TTL_ATTRIBUTE]: nowSeconds + Math.ceil(ttlSeconds),
          },
          ConditionExpression: 'attribute_not_exists(#pk) OR #exp <= :now OR #holder = :holder',
          ExpressionAttributeNames: { '#pk': TABLE_KEY.partition, '#exp': TTL_ATTRIBUTE, '#holder': 'holder' },
          ExpressionAttributeValues: { ':now': nowSeconds, ':holder': holder },
        }),
      ),
    );
  }

  async release(service: string, holder: string): Promise<void> {
    await this.table.conditional('DeleteItem', () =>
      this.table.client.send(
        new DeleteCommand({
          TableName: this.table.name,
          Key: gcLeaseKey(service),
          ConditionExpression: '#holder = :holder',
          ExpressionAttributeNames: { '#holder': 'holder' },
          ExpressionAttributeValues: { ':holder': holder },
        }),
      ),
    );
  }
}
