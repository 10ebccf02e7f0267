/**
 * Where protected services and their policies live: the policy item in the service's own
 * partition (so handlers read it with the rest of the service's items), and an entry in
 * the registry partition so "every service" can be listed without a scan.
 */
import { DeleteCommand, GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ServicePolicy } from '../domain/service-policy.js';
import { tableError } from './aws.js';
import { REGISTRY_PK, REGISTRY_SK_PREFIX, TABLE_KEY, registryKey, serviceConfigKey } from './keys.js';

export interface ServiceRegistry {
  /** Creates or replaces the policy (and registers the service). */
  put(policy: ServicePolicy): Promise<void>;
  /** Strongly consistent read; undefined when the service is not protected. */
  get(service: string): Promise<ServicePolicy | undefined>;
  /** Names of every protected service, in name order. */
  list(): Promise<string[]>;
  /** Stops protecting a service (its snapshots and other items stay). */
  remove(service: string): Promise<void>;
}

export class DynamoServiceRegistry implements ServiceRegistry {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  private fail(err: unknown, action: string): never {
    throw tableError(err, this.table, action);
  }

  async put(policy: ServicePolicy): Promise<void> {
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.table, Item: { ...serviceConfigKey(policy.service), type: 'service', updatedAt: new Date().toISOString(), policy } } },
            { Put: { TableName: this.table, Item: { ...registryKey(policy.service), type: 'registry', service: policy.service } } },
          ],
        }),
      );
    } catch (err) {
      this.fail(err, 'TransactWriteItems');
    }
  }

  async get(service: string): Promise<ServicePolicy | undefined> {
    try {
      const out = await this.client.send(new GetCommand({ TableName: this.table, Key: serviceConfigKey(service), ConsistentRead: true }));
      return out.Item?.policy as ServicePolicy | undefined;
    } catch (err) {
      this.fail(err, 'GetItem');
    }
  }

  async list(): Promise<string[]> {
    const names: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      let out;
      try {
        out = await this.client.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
            ExpressionAttributeNames: { '#pk': TABLE_KEY.partition, '#sk': TABLE_KEY.sort },
            ExpressionAttributeValues: { ':pk': REGISTRY_PK, ':prefix': REGISTRY_SK_PREFIX },
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        );
      } catch (err) {
        this.fail(err, 'Query');
      }
      for (const item of out.Items ?? []) names.push(String(item.service));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return names;
  }

  async remove(service: string): Promise<void> {
    try {
      await this.client.send(new DeleteCommand({ TableName: this.table, Key: registryKey(service) }));
      await this.client.send(new DeleteCommand({ TableName: this.table, Key: serviceConfigKey(service) }));
    } catch (err) {
      this.fail(err, 'DeleteItem');
    }
  }
}
