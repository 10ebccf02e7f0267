/**
 * What the drill handlers share in Lambda: adapters built once per container from the
 * environment the CDK construct sets (LIFEBOAT_TABLE; LIFEBOAT_STORE or LIFEBOAT_BUCKET and
 * LIFEBOAT_PREFIX; the SDK's own AWS_* variables), a Powertools logger, and EMF metrics.
 * Local mode builds the same objects from its own environment and calls the handlers'
 * factories directly.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { UsageError } from '../domain/errors.js';
import { createDynamoClient, createEcsClient, createS3Client } from '../adapters/aws.js';
import { DynamoSnapshotCatalog } from '../adapters/catalog.js';
import { DynamoDrillStore } from '../adapters/drill-store.js';
import { EcsTaskLauncher } from '../adapters/ecs-launcher.js';
import { PowertoolsDrillMetrics } from '../adapters/drill-metrics.js';
import { DynamoServiceRegistry } from '../adapters/service-registry.js';
import { openStore } from '../adapters/stores/registry.js';
import type { DrillDeps } from '../control/drills/start.js';
import type { ObjectStore } from '../adapters/stores/store.js';

export type Env = Record<string, string | undefined>;

export interface DrillRuntime extends DrillDeps {
  store: ObjectStore;
  logger: Logger;
}

export function drillRuntimeFromEnv(env: Env = process.env): DrillRuntime {
  const table = env.LIFEBOAT_TABLE;
  if (!table) throw new UsageError('LIFEBOAT_TABLE is not set', { hint: 'the CDK construct sets it on every Lambda' });
  const storeUrl = env.LIFEBOAT_STORE ?? (env.LIFEBOAT_BUCKET ? `s3://${env.LIFEBOAT_BUCKET}/${env.LIFEBOAT_PREFIX ?? ''}` : undefined);
  if (!storeUrl) throw new UsageError('neither LIFEBOAT_STORE nor LIFEBOAT_BUCKET is set', { hint: 'the CDK construct sets LIFEBOAT_BUCKET' });
  const dynamo = createDynamoClient(env);
  return {
    drills: new DynamoDrillStore(dynamo, table),
    catalog: new DynamoSnapshotCatalog(dynamo, table),
    registry: new DynamoServiceRegistry(dynamo, table),
    launcher: new EcsTaskLauncher(createEcsClient(env)),
    store: openStore(storeUrl, () => createS3Client(env)),
    metrics: new PowertoolsDrillMetrics(env.LIFEBOAT_METRICS_NAMESPACE),
    logger: new Logger({ serviceName: 'lifeboat' }),
  };
}

/** Built on first use, so importing a handler (tests, local mode) needs no environment. */
export function lazyRuntime(make: () => DrillRuntime = () => drillRuntimeFromEnv()): () => DrillRuntime {
  let runtime: DrillRuntime | undefined;
  return () => (runtime ??= make());
}

/** A logger as the drill workflows take it: message plus fields. */
export function logWith(logger: Logger): (message: string, fields: Record<string, unknown>) => void {
  return (message, fields) => logger.info(message, fields);
}
