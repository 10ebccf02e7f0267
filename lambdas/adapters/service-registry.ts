/**
 * Where protected services and their policies live: the policy item in the service's own
 * partition (so handlers read it with the rest of the service's items), and an entry in
 * the registry partition so "every service" can be listed without a scan.
 */
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { REGISTRY_PK, REGISTRY_SK_PREFIX, registryKey, serviceConfigKey } from '../contract/keys.js';
import type { ServicePolicy } from '../domain/service-policy.js';
import { errorName, tableError } from './aws.js';
import { DynamoTable } from './dynamo-table.js';

/**
 * Who wrote a policy, when a deployment tool did (the CDK construct's custom resource:
 * `<stack id>/<logical id>`). A removal that names an owner only removes a policy that owner
 * wrote, so moving `protect()` to another construct (create new, then delete old) cannot
 * unprotect the service.
 */
export interface RegistryWriteOptions {
  owner?: string;
}

export interface ServiceRegistry {
  /** Creates or replaces the policy (and registers the service). */
  put(policy: ServicePolicy, options?: RegistryWriteOptions): Promise<void>;
  /** Strongly consistent read; undefined when the service is not protected. */
  get(service: string): Promise<ServicePolicy | undefined>;
  /** Names of every protected service, in name order. */
  list(): Promise<string[]>;
  /**
   * Stops protecting a service (its snapshots and other items stay). With an owner, only if
   * that owner wrote the current policy; returns whether the service was removed.
   */
  remove(service: string, options?: RegistryWriteOptions): Promise<boolean>;
}

export class DynamoServiceRegistry implements ServiceRegistry {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  private fail(err: unknown, action: string): never {
    throw tableError(err, this.table, action);
  }

  async put(policy: ServicePolicy, options: RegistryWriteOptions = {}): Promise<void> {
    const owner = options.owner === undefined ? {} : { owner: options.owner };
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { ...serviceConfigKey(policy.service), type: 'service', updatedAt: new Date().toISOString(), ...owner, policy },
              },
            },
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
    for await (const item of new DynamoTable(this.client, this.table).query({ pk: REGISTRY_PK, prefix: REGISTRY_SK_PREFIX })) names.push(String(item.service));
    return names;
  }

  async remove(service: string, options: RegistryWriteOptions = {}): Promise<boolean> {
    if (options.owner !== undefined) {
      // Both items in one transaction, conditional on the owner: all or nothing.
      try {
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Delete: {
                  TableName: this.table,
                  Key: serviceConfigKey(service),
                  ConditionExpression: '#owner = :owner',
                  ExpressionAttributeNames: { '#owner': 'owner' },
                  ExpressionAttributeValues: { ':owner': options.owner },
                },
              },
              { Delete: { TableName: this.table, Key: registryKey(service) } },
            ],
          }),
        );
        return true;
      } catch (err) {
        // Another owner's policy (or none at all): not ours to remove.
        const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
        if (errorName(err) === 'TransactionCanceledException' && reasons.some((r) => r.Code === 'ConditionalCheckFailed')) return false;
        this.fail(err, 'TransactWriteItems');
      }
    }
    try {
      await this.client.send(new DeleteCommand({ TableName: this.table, Key: registryKey(service) }));
      await this.client.send(new DeleteCommand({ TableName: this.table, Key: serviceConfigKey(service) }));
      return true;
    } catch (err) {
      this.fail(err, 'DeleteItem');
    }
  }
}
