/**
 * What every command needs: where to print, the environment, a cancel signal, and the
 * catalog and store built from flags or environment.
 */
import type { Writable } from 'node:stream';
import { UsageError } from '../../lambdas/domain/errors.js';
import { createDynamoClient, createEcsClient, createS3Client } from '../../lambdas/adapters/aws.js';
import { DynamoSnapshotCatalog, type SnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import { DynamoDrillStore, type DrillStore } from '../../lambdas/adapters/drill-store.js';
import { EcsTaskLauncher, type TaskLauncher } from '../../lambdas/adapters/ecs-launcher.js';
import { DynamoServiceRegistry, type ServiceRegistry } from '../../lambdas/adapters/service-registry.js';
import { DynamoSnapshotHolds, type SnapshotHolds } from '../../lambdas/adapters/snapshot-holds.js';
import { openStore } from '../../lambdas/adapters/stores/registry.js';
import type { ObjectStore } from '../../lambdas/adapters/stores/store.js';

export interface CliIO {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  env: Record<string, string | undefined>;
  /** Aborted on SIGINT/SIGTERM; commands clean up and exit. */
  signal: AbortSignal;
}

export interface ConnectionFlags {
  table?: string;
  store?: string;
}

const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

export function tableName(flags: ConnectionFlags, env: CliIO['env']): string {
  const name = flags.table ?? env.LIFEBOAT_TABLE;
  if (!name) throw new UsageError('no catalog table given', { hint: 'pass --table NAME or set LIFEBOAT_TABLE' });
  if (!TABLE_NAME.test(name)) {
    throw new UsageError(`table name ${JSON.stringify(name)} is not valid`, { hint: 'DynamoDB table names are 3-255 letters, digits, "_", "-" or "."' });
  }
  return name;
}

export function storeUrl(flags: ConnectionFlags, env: CliIO['env']): string {
  const url = flags.store ?? env.LIFEBOAT_STORE;
  if (url) return url;
  if (env.LIFEBOAT_BUCKET) return `s3://${env.LIFEBOAT_BUCKET}/${env.LIFEBOAT_PREFIX ?? ''}`;
  throw new UsageError('no snapshot store given', {
    hint: 'pass --store s3://BUCKET[/PREFIX] or --store file:///PATH, or set LIFEBOAT_BUCKET',
  });
}

export function openCatalog(flags: ConnectionFlags, io: CliIO): SnapshotCatalog {
  return new DynamoSnapshotCatalog(createDynamoClient(io.env), tableName(flags, io.env));
}

export function openHolds(flags: ConnectionFlags, io: CliIO): SnapshotHolds {
  return new DynamoSnapshotHolds(createDynamoClient(io.env), tableName(flags, io.env));
}

export function openDrillStore(flags: ConnectionFlags, io: CliIO): DrillStore {
  return new DynamoDrillStore(createDynamoClient(io.env), tableName(flags, io.env));
}

export function openRegistry(flags: ConnectionFlags, io: CliIO): ServiceRegistry {
  return new DynamoServiceRegistry(createDynamoClient(io.env), tableName(flags, io.env));
}

export function openLauncher(io: CliIO): TaskLauncher {
  return new EcsTaskLauncher(createEcsClient(io.env));
}

export function openObjectStore(flags: ConnectionFlags, io: CliIO): ObjectStore {
  return openStore(storeUrl(flags, io.env), () => createS3Client(io.env));
}

export function serviceName(flag: string | undefined, env: CliIO['env']): string | undefined {
  return flag ?? env.LIFEBOAT_SERVICE;
}

export function dataDir(flag: string | undefined, env: CliIO['env']): string {
  const dir = flag ?? env.LIFEBOAT_DIR;
  if (!dir) throw new UsageError('no data directory given', { hint: 'pass --dir PATH or set LIFEBOAT_DIR' });
  return dir;
}
