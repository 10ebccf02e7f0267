/**
 * What every DynamoDB adapter does the same way: translate failures (missing table,
 * unreachable endpoint, credentials) into LifeboatErrors naming the table, treat a failed
 * condition as an answer rather than an error, and read a partition's items by sort-key
 * prefix across pages with strongly consistent reads.
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE_KEY } from '../contract/keys.js';
import { errorName, tableError } from './aws.js';

export type Item = Record<string, unknown>;

export interface PrefixQuery {
  /** Partition key value. */
  pk: string;
  /** Sort-key prefix of the items wanted; or, with `range`, every sort key between two. */
  prefix?: string;
  range?: { from: string; to: string };
  newestFirst?: boolean;
  /** A FilterExpression with its own names and values (placeholders must not clash with #pk/#sk/:pk/:prefix). */
  filter?: { expression: string; names?: Record<string, string>; values?: Record<string, unknown> };
  /** Attribute names to read (the sort key is always included). */
  projection?: readonly string[];
}

export class DynamoTable {
  constructor(
    readonly client: DynamoDBDocumentClient,
    readonly name: string,
  ) {}

  fail(err: unknown, action: string): never {
    throw tableError(err, this.name, action);
  }

  /** Runs a conditional write: true when it was applied, false when its condition failed. */
  async conditional(action: string, send: () => Promise<unknown>): Promise<boolean> {
    try {
      await send();
      return true;
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') return false;
      this.fail(err, action);
    }
  }

  /** Writes the item unless one with its key exists; false when it did. */
  putIfAbsent(item: Item): Promise<boolean> {
    return this.conditional('PutItem', () =>
      this.client.send(
        new PutCommand({
          TableName: this.name,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': TABLE_KEY.partition },
        }),
      ),
    );
  }

  /** Strongly consistent read of one item. */
  async get(key: Item): Promise<Item | undefined> {
    try {
      return (await this.client.send(new GetCommand({ TableName: this.name, Key: key, ConsistentRead: true }))).Item;
    } catch (err) {
      this.fail(err, 'GetItem');
    }
  }

  /** Every item of the partition whose sort key starts with the prefix (or is in the range), across pages. */
  async *query(q: PrefixQuery): AsyncGenerator<Item> {
    const names: Record<string, string> = { '#pk': TABLE_KEY.partition, '#sk': TABLE_KEY.sort, ...q.filter?.names };
    const projection = q.projection?.map((attr) => {
      names[`#p_${attr}`] = attr;
      return `#p_${attr}`;
    });
    let startKey: Item | undefined;
    do {
      let out;
      try {
        out = await this.client.send(
          new QueryCommand({
            TableName: this.name,
            KeyConditionExpression: q.range ? '#pk = :pk AND #sk BETWEEN :from AND :to' : '#pk = :pk AND begins_with(#sk, :prefix)',
            ...(q.filter ? { FilterExpression: q.filter.expression } : {}),
            ...(projection ? { ProjectionExpression: ['#sk', ...projection].join(', ') } : {}),
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: {
              ':pk': q.pk,
              ...(q.range ? { ':from': q.range.from, ':to': q.range.to } : { ':prefix': q.prefix ?? '' }),
              ...q.filter?.values,
            },
            ScanIndexForward: !q.newestFirst,
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        );
      } catch (err) {
        this.fail(err, 'Query');
      }
      yield* out.Items ?? [];
      startKey = out.LastEvaluatedKey;
    } while (startKey);
  }
}
