/**
 * Per-file isolation on the shared servers: a fresh table, bucket and temporary directory.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoClient, createS3Client } from '../../lambdas/adapters/aws.js';
import { DynamoSnapshotCatalog, ensureCatalogTable } from '../../lambdas/adapters/catalog.js';
import { DirectoryStore } from '../../lambdas/adapters/stores/directory-store.js';
import { S3Store } from '../../lambdas/adapters/stores/s3-store.js';
import { leaseKey } from '../../lambdas/contract/keys.js';

export const uniqueName = (prefix: string) => `${prefix}-${randomBytes(5).toString('hex')}`;

export async function freshTable(): Promise<string> {
  const name = uniqueName('lifeboat-test');
  await ensureCatalogTable(new DynamoDBClient({}), name);
  return name;
}

export async function freshCatalog(): Promise<DynamoSnapshotCatalog> {
  return new DynamoSnapshotCatalog(createDynamoClient(), await freshTable());
}

export async function freshBucket(): Promise<string> {
  const bucket = uniqueName('lifeboat-test');
  await new S3Store({ client: createS3Client(), bucket }).ensure();
  return bucket;
}

export async function freshS3Store(prefix = 'pfx/'): Promise<S3Store> {
  return new S3Store({ client: createS3Client(), bucket: await freshBucket(), prefix });
}

export async function tempDir(label = 'lifeboat'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `${label}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

export async function freshDirectoryStore(): Promise<{ store: DirectoryStore; cleanup: () => Promise<void> }> {
  const dir = await tempDir('lifeboat-store');
  const store = new DirectoryStore(join(dir.path, 'store'));
  await store.ensure();
  return { store, cleanup: dir.cleanup };
}

/** Puts the service's lease at `term` (as a sequence of elections would have). */
export async function setLeaseTerm(catalog: DynamoSnapshotCatalog, service: string, term: number, holder: string): Promise<void> {
  await createDynamoClient().send(
    new PutCommand({ TableName: catalog.name, Item: { ...leaseKey(service), type: 'lease', service, holder, term, electedAt: Date.now() } }),
  );
}
