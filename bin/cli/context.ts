/**
 * What every command needs: where to print, the environment, a cancel signal, and the
 * runtime (lambdas/runtime/) over the environment, with --table and --store in place of
 * LIFEBOAT_TABLE and the store variables.
 */
import type { Writable } from 'node:stream';
import type { SnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import type { DrillStore } from '../../lambdas/adapters/drill-store.js';
import type { TaskLauncher } from '../../lambdas/adapters/ecs-launcher.js';
import type { ServiceRegistry } from '../../lambdas/adapters/service-registry.js';
import type { SnapshotHolds } from '../../lambdas/adapters/snapshot-holds.js';
import type { ObjectStore } from '../../lambdas/adapters/stores/store.js';
import { ENV, storeUrlFromEnv } from '../../lambdas/contract/environment.js';
import { UsageError } from '../../lambdas/domain/errors.js';
import { createRuntime, type Runtime } from '../../lambdas/runtime/runtime.js';

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
  const name = flags.table ?? env[ENV.table];
  if (!name) throw new UsageError('no catalog table given', { hint: `pass --table NAME or set ${ENV.table}` });
  if (!TABLE_NAME.test(name)) {
    throw new UsageError(`table name ${JSON.stringify(name)} is not valid`, { hint: 'DynamoDB table names are 3-255 letters, digits, "_", "-" or "."' });
  }
  return name;
}

export function storeUrl(flags: ConnectionFlags, env: CliIO['env']): string {
  const url = flags.store ?? storeUrlFromEnv(env);
  if (url) return url;
  throw new UsageError('no snapshot store given', {
    hint: 'pass --store s3://BUCKET[/PREFIX] or --store file:///PATH, or set LIFEBOAT_BUCKET',
  });
}

const runtimes = new WeakMap<ConnectionFlags, Runtime>();

/** One runtime per command run; the table and the store come from the flags first, with the CLI's own errors. */
export function cliRuntime(flags: ConnectionFlags, io: CliIO): Runtime {
  let rt = runtimes.get(flags);
  if (!rt) {
    rt = createRuntime(io.env, {
      get table() {
        return tableName(flags, io.env);
      },
      get storeUrl() {
        return storeUrl(flags, io.env);
      },
    });
    runtimes.set(flags, rt);
  }
  return rt;
}

export function openCatalog(flags: ConnectionFlags, io: CliIO): SnapshotCatalog {
  return cliRuntime(flags, io).catalog;
}

export function openHolds(flags: ConnectionFlags, io: CliIO): SnapshotHolds {
  return cliRuntime(flags, io).holds;
}

export function openDrillStore(flags: ConnectionFlags, io: CliIO): DrillStore {
  return cliRuntime(flags, io).drills;
}

export function openRegistry(flags: ConnectionFlags, io: CliIO): ServiceRegistry {
  return cliRuntime(flags, io).registry;
}

export function openLauncher(flags: ConnectionFlags, io: CliIO): TaskLauncher {
  return cliRuntime(flags, io).launcher;
}

export function openObjectStore(flags: ConnectionFlags, io: CliIO): ObjectStore {
  return cliRuntime(flags, io).objects;
}

export function serviceName(flag: string | undefined, env: CliIO['env']): string | undefined {
  return flag ?? env[ENV.service];
}

export function dataDir(flag: string | undefined, env: CliIO['env']): string {
  const dir = flag ?? env[ENV.dir];
  if (!dir) throw new UsageError('no data directory given', { hint: 'pass --dir PATH or set LIFEBOAT_DIR' });
  return dir;
}
