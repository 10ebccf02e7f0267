/**
 * Snapshot holds: how a running restore or drill tells retention "I am reading this snapshot".
 *
 * One DynamoDB item per snapshot and holder (contract/keys.ts: `USE#<snapshotId>#<holder>`), with an
 * expiry (`expiresAt`, epoch seconds, also the table's TTL attribute) that the holder
 * renews while it works and deletes when done; a holder that crashes simply lets it run
 * out. The retention sweep never deletes a snapshot with a live lease.
 *
 * The race with the sweep is closed by DynamoDB, not by timing:
 * - `acquire` is a transaction that also checks the snapshot entry is still `complete`;
 * - the sweep first marks the entry `expiring` (conditional on `complete`), then looks for
 *   live holds once more and backs off (back to `complete`) if it finds one.
 * Both are serialisable writes on the snapshot entry, so either the lease exists before the
 * mark (and the sweep's re-check sees it, reads being strongly consistent) or the mark
 * comes first (and `acquire` fails: the snapshot is being deleted).
 *
 * Issue-5 drills acquire through the same interface (`purpose: 'drill'`, holder = drill id).
 */
import { DeleteCommand, type DynamoDBDocumentClient, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { servicePk, snapshotKey, snapshotUseKey, snapshotUseSkPrefix, TABLE_KEY, TTL_ATTRIBUTE } from '../contract/keys.js';
import { OperationFailedError, SnapshotNotFoundError, UsageError } from '../domain/errors.js';
import { isSnapshotId } from '../domain/ids.js';
import { errorName, tableError } from './aws.js';
import { DynamoTable } from './dynamo-table.js';

export type SnapshotHoldPurpose = 'restore' | 'drill';

export interface SnapshotHold {
  service: string;
  snapshotId: string;
  /** Who holds it: a task ARN, a drill id, `host:pid`. */
  holder: string;
  purpose: SnapshotHoldPurpose;
  acquiredAt: string;
  /** Epoch seconds; the lease is live while this is in the future. */
  expiresAt: number;
}

export interface SnapshotHoldRequest {
  service: string;
  snapshotId: string;
  holder: string;
  purpose: SnapshotHoldPurpose;
  /** How long the lease lasts unless renewed. */
  ttlSeconds: number;
}

export interface SnapshotHolds {
  /**
   * Takes (or extends) the holder's lease on a `complete` snapshot. Throws
   * SnapshotNotFoundError when the snapshot is not in the catalog and OperationFailedError
   * when it is not complete (e.g. being deleted by retention).
   */
  acquire(request: SnapshotHoldRequest): Promise<SnapshotHold>;
  /** Pushes the expiry out; throws OperationFailedError when the lease is gone. */
  renew(use: SnapshotHold, ttlSeconds: number): Promise<SnapshotHold>;
  /** Gives the lease up; harmless when it is already gone. */
  release(use: SnapshotHold): Promise<void>;
  /** Live holds of one snapshot, or of every snapshot of the service. Strongly consistent. */
  live(service: string, snapshotId?: string): Promise<SnapshotHold[]>;
}

export const DEFAULT_USE_TTL_SECONDS = 600;

// biome-ignore lint/suspicious/noControlCharactersInRegex: holders must be printable, so control characters are what it refuses
const HOLDER = /^[^\u0000-\u001f]{1,512}$/;

export class DynamoSnapshotHolds implements SnapshotHolds {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    readonly table: string,
    /** The clock holds are judged by (tests move it). */
    private readonly now: () => Date = () => new Date(),
  ) {}

  private fail(err: unknown, action: string): never {
    throw tableError(err, this.table, action);
  }

  private nowSeconds(): number {
    return Math.floor(this.now().getTime() / 1000);
  }

  async acquire(request: SnapshotHoldRequest): Promise<SnapshotHold> {
    const { service, snapshotId, holder, purpose, ttlSeconds } = request;
    if (!isSnapshotId(snapshotId)) throw new UsageError(`"${snapshotId}" is not a snapshot id`);
    if (!HOLDER.test(holder)) throw new UsageError(`snapshot hold holder ${JSON.stringify(holder)} must be 1-512 printable characters`);
    if (!(ttlSeconds > 0)) throw new UsageError(`snapshot hold ttlSeconds must be positive, not ${ttlSeconds}`);
    const use: SnapshotHold = {
      service,
      snapshotId,
      holder,
      purpose,
      acquiredAt: this.now().toISOString(),
      expiresAt: this.nowSeconds() + Math.ceil(ttlSeconds),
    };
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.table,
                Key: snapshotKey(service, snapshotId),
                ConditionExpression: '#status = :complete',
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: { ':complete': 'complete' },
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
            { Put: { TableName: this.table, Item: { ...snapshotUseKey(service, snapshotId, holder), type: 'snapshot-use', ...use } } },
          ],
        }),
      );
      return use;
    } catch (err) {
      if (errorName(err) === 'TransactionCanceledException') {
        const reasons = (err as { CancellationReasons?: { Code?: string; Item?: Record<string, unknown> }[] }).CancellationReasons ?? [];
        const check = reasons[0];
        if (check?.Code === 'ConditionalCheckFailed') {
          const status = check.Item?.status as { S?: string } | string | undefined;
          const statusText = typeof status === 'string' ? status : status?.S;
          if (!check.Item) {
            throw new SnapshotNotFoundError(`snapshot ${snapshotId} of service ${service} is not in the catalog`, {
              hint: `list the ids with \`lifeboat snapshots --service ${service}\``,
            });
          }
          throw new OperationFailedError(
            `snapshot ${snapshotId} of service ${service} is ${statusText ?? 'not complete'}${statusText === 'expiring' ? ' (being deleted by retention)' : ''}; it cannot be used`,
            { hint: 'pick another snapshot (`lifeboat snapshots`) or use latest' },
          );
        }
      }
      this.fail(err, 'TransactWriteItems');
    }
  }

  async renew(use: SnapshotHold, ttlSeconds: number): Promise<SnapshotHold> {
    const expiresAt = this.nowSeconds() + Math.ceil(ttlSeconds);
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: snapshotUseKey(use.service, use.snapshotId, use.holder),
          UpdateExpression: 'SET #exp = :exp',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#exp': TTL_ATTRIBUTE, '#pk': TABLE_KEY.partition },
          ExpressionAttributeValues: { ':exp': expiresAt },
        }),
      );
      return { ...use, expiresAt };
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') {
        throw new OperationFailedError(`the snapshot hold of ${use.holder} on snapshot ${use.snapshotId} of ${use.service} is gone; it cannot be renewed`);
      }
      this.fail(err, 'UpdateItem');
    }
  }

  async release(use: SnapshotHold): Promise<void> {
    try {
      await this.client.send(new DeleteCommand({ TableName: this.table, Key: snapshotUseKey(use.service, use.snapshotId, use.holder) }));
    } catch (err) {
      this.fail(err, 'DeleteItem');
    }
  }

  async live(service: string, snapshotId?: string): Promise<SnapshotHold[]> {
    const out: SnapshotHold[] = [];
    const filter = { expression: '#exp > :now', names: { '#exp': TTL_ATTRIBUTE }, values: { ':now': this.nowSeconds() } };
    for await (const item of new DynamoTable(this.client, this.table).query({ pk: servicePk(service), prefix: snapshotUseSkPrefix(snapshotId), filter })) {
      out.push({
        service: String(item.service),
        snapshotId: String(item.snapshotId),
        holder: String(item.holder),
        purpose: item.purpose as SnapshotHoldPurpose,
        acquiredAt: String(item.acquiredAt),
        expiresAt: Number(item[TTL_ATTRIBUTE]),
      });
    }
    return out;
  }
}

export interface HeldSnapshot {
  readonly use: SnapshotHold;
  /** Stops renewing and releases the lease (errors are reported through onLost, not thrown). */
  release(): Promise<void>;
}

/**
 * Acquires a lease and keeps it renewed (every third of its TTL) until `release()`. A
 * failed renewal is reported through `onProblem` and retried at the next tick; if the
 * lease is lost, the work it protected may find objects gone and fail cleanly.
 */
export async function holdSnapshot(
  holds: SnapshotHolds,
  request: SnapshotHoldRequest,
  onProblem: (message: string) => void = () => undefined,
): Promise<HeldSnapshot> {
  let use = await holds.acquire(request);
  let renewing: Promise<void> = Promise.resolve();
  const timer = setInterval(
    () => {
      renewing = holds.renew(use, request.ttlSeconds).then(
        (renewed) => void (use = renewed),
        (err: unknown) => onProblem(`could not renew the snapshot hold on snapshot ${use.snapshotId}: ${(err as Error).message}`),
      );
    },
    Math.max(1000, (request.ttlSeconds * 1000) / 3),
  );
  timer.unref();
  return {
    get use() {
      return use;
    },
    async release() {
      clearInterval(timer);
      await renewing;
      await holds
        .release(use)
        .catch((err: unknown) => onProblem(`could not release the snapshot hold on snapshot ${use.snapshotId}: ${(err as Error).message}`));
    },
  };
}
