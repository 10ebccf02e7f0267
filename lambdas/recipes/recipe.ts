/**
 * What a database recipe does for Lifeboat (one per engine, lambdas/recipes/*.ts):
 *
 * - `stage`: an application-consistent copy of the live database in a fresh staging
 *   directory, taken without stopping the service, plus the canary fact read from it; the
 *   snapshot engine then snapshots that directory (the live files are never archived).
 * - `open`: opens a restored data directory the way the engine would on start (Postgres:
 *   starts a server and waits until recovery has completed), for the drill's checks.
 */
import type { Canary, DatabasePolicy, RecipeName, SqlValue } from '../domain/drill-checks.js';

export interface StageContext {
  /** The live data directory (the policy's dataDir / the agent's --dir). */
  dataDir: string;
  database: DatabasePolicy;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  onNotice?: (line: string) => void;
}

export interface Staged {
  /** Directory to snapshot: a consistent copy of the database. */
  dir: string;
  canary?: Canary;
  /** What was done, for logs ("pg_basebackup 1.2 GiB in 4.1 s"). */
  note: string;
  /** Removes the staging directory. */
  cleanup(): Promise<void>;
}

export interface OpenContext {
  /** The restored data directory. */
  dir: string;
  database: DatabasePolicy;
  env?: NodeJS.ProcessEnv;
  /** Give up opening after this long. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface IntegrityResult {
  ok: boolean;
  message: string;
  output: string;
}

/** A restored database, opened for checks. */
export interface OpenDatabase {
  /** One line: how it opened ("recovery completed in 0.8 s; accepting connections"). */
  readonly message: string;
  /** Runs a query returning rows; each row is its column values in order. */
  query(sql: string, database?: string): Promise<SqlValue[][]>;
  integrity(): Promise<IntegrityResult>;
  /** The canary as the restored database holds it; undefined when it has no canary table. */
  readCanary(): Promise<Canary | undefined>;
  /** Environment that lets a command check reach the database (PGHOST/PGPORT or LIFEBOAT_DB_FILE). */
  readonly env: Record<string, string>;
  close(): Promise<void>;
}

export interface Recipe {
  readonly name: RecipeName;
  /** Binaries this recipe needs that are missing here; each message names the fix. */
  missing(env?: NodeJS.ProcessEnv): string[];
  stage(ctx: StageContext): Promise<Staged>;
  open(ctx: OpenContext): Promise<OpenDatabase>;
}

/** Canary table kept by the recipes: one row per snapshot. */
export const CANARY_TABLE = 'lifeboat_canary';

export function canaryFrom(raw: { id: unknown; at: unknown; rows: unknown } | undefined): Canary | undefined {
  if (!raw || raw.id === null || raw.id === undefined) return undefined;
  const at = new Date(String(raw.at));
  return { id: Number(raw.id), at: Number.isNaN(at.getTime()) ? String(raw.at) : at.toISOString(), rows: Number(raw.rows) };
}
