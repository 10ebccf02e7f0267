/**
 * Database recipes and typed drill checks, the pure part: which recipes exist and what
 * they can do, the checks a policy declares, their validation (at `service put` and
 * `cdk synth`), how a SQL result meets an expectation, and the canary that proves RPO.
 *
 * A recipe names an engine (`postgres`, `sqlite`); the agent takes application-consistent
 * snapshots through it, the drill opens the restored database with it and runs the checks.
 * No I/O here: the recipes themselves live in lambdas/recipes/.
 */
import { UsageError } from './errors.js';

export const RECIPE_NAMES = ['postgres', 'sqlite'] as const;
export type RecipeName = (typeof RECIPE_NAMES)[number];

/** What each recipe offers, so validation can refuse what an engine cannot do. */
export const RECIPE_TRAITS: Record<RecipeName, { sql: boolean; integrity: string; binaries: readonly string[] }> = {
  postgres: {
    sql: true,
    integrity: 'pg_amcheck --all (B-tree and heap checks of every database)',
    binaries: ['postgres', 'initdb', 'pg_basebackup', 'pg_amcheck', 'psql', 'pg_isready'],
  },
  sqlite: { sql: true, integrity: 'PRAGMA integrity_check', binaries: ['sqlite3'] },
};

/** Engine settings of a recipe; everything optional. */
export interface DatabasePolicy {
  /** Postgres: the database holding the canary and the SQL checks' default (default `postgres`). */
  name?: string;
  /** Postgres: the role the recipe connects as (default `postgres`). */
  user?: string;
  /** SQLite: the database file, relative to the data directory (default `data.db`). */
  file?: string;
  /** Keep a canary table and record its fact in every snapshot (default true). */
  canary?: boolean;
}

export type SqlExpectation = { rows: number } | { equals: string | number | boolean | null } | { atLeast: number };

export type CheckSpec =
  | { type: 'sql'; name?: string; query: string; expect: SqlExpectation; database?: string }
  | { type: 'integrity'; name?: string }
  | { type: 'command'; name?: string; command: string; timeoutSeconds?: number }
  | { type: 'http'; name?: string; url: string; status?: number; bodyMatches?: string };

export const CHECK_TYPES = ['sql', 'integrity', 'command', 'http'] as const;

/** The fact a recipe records from the live database when it snapshots it. */
export interface Canary {
  /** Id of the canary row written just before the consistent copy was taken. */
  id: number;
  /** When that row was written (database clock, ISO): the recovery point is at least this recent. */
  at: string;
  /** Rows in the canary table at that moment. */
  rows: number;
}

/** What the drill found, compared with what the snapshot recorded. */
export interface CanaryResult {
  expected: Canary;
  found?: Canary;
  matches: boolean;
  /** Age of the canary at drill start: the RPO the drill proved. */
  ageSeconds?: number;
}

// ---------------------------------------------------------------------------------------
// Validation

/** Levenshtein distance, for did-you-mean hints (names are short). */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** "did you mean "postgres"?" when a candidate is close, else the list of valid values. */
export function suggest(value: string, candidates: readonly string[]): string {
  const lower = value.toLowerCase();
  const best = candidates.map((c) => ({ c, d: c.startsWith(lower) || lower.startsWith(c) ? 0 : editDistance(lower, c) })).sort((x, y) => x.d - y.d)[0];
  const list = candidates.map((c) => JSON.stringify(c)).join(', ');
  return best && best.d <= Math.max(2, Math.floor(best.c.length / 3)) ? `did you mean ${JSON.stringify(best.c)}? (valid: ${list})` : `valid values: ${list}`;
}

export function isRecipeName(v: unknown): v is RecipeName {
  return typeof v === 'string' && (RECIPE_NAMES as readonly string[]).includes(v);
}

export function assertRecipeName(path: string, v: unknown): RecipeName {
  if (isRecipeName(v)) return v;
  throw new UsageError(`${path} is ${JSON.stringify(v)}, which is not a recipe`, {
    hint: typeof v === 'string' ? suggest(v, RECIPE_NAMES) : `valid values: ${RECIPE_NAMES.map((r) => JSON.stringify(r)).join(', ')}`,
  });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks the recipe, its database settings and the drill checks together (a SQL check needs a SQL engine). */
export function validateRecipeAndChecks(input: { recipe?: unknown; database?: unknown; checks?: unknown }): void {
  const recipe = input.recipe === undefined ? undefined : assertRecipeName('recipe', input.recipe);
  if (input.database !== undefined) {
    if (!isObject(input.database)) throw new UsageError(`database is ${JSON.stringify(input.database)}; it must be an object such as {"name": "app"}`);
    if (!recipe) throw new UsageError('database settings are given but no recipe', { hint: 'add "recipe": "postgres" or "recipe": "sqlite" to the policy' });
    const d = input.database;
    for (const key of Object.keys(d)) {
      if (!['name', 'user', 'file', 'canary'].includes(key))
        throw new UsageError(`database.${key} is not a database setting`, { hint: suggest(key, ['name', 'user', 'file', 'canary']) });
    }
    for (const key of ['name', 'user'] as const) {
      if (d[key] !== undefined && (typeof d[key] !== 'string' || !/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/.test(d[key]))) {
        throw new UsageError(`database.${key} is ${JSON.stringify(d[key])}; it must be a Postgres identifier (letters, digits, "_", at most 63)`);
      }
    }
    if (d.file !== undefined && (typeof d.file !== 'string' || d.file === '' || d.file.startsWith('/') || d.file.split('/').includes('..'))) {
      throw new UsageError(`database.file is ${JSON.stringify(d.file)}; it must be a path relative to the data directory, e.g. "app.db"`);
    }
    if (d.canary !== undefined && typeof d.canary !== 'boolean')
      throw new UsageError(`database.canary is ${JSON.stringify(d.canary)}; it must be true or false`);
  }
  if (input.checks === undefined) return;
  if (!Array.isArray(input.checks)) throw new UsageError(`drill.checks is ${JSON.stringify(input.checks)}; it must be a list of checks`);
  const names = new Set<string>();
  input.checks.forEach((c: unknown, i) => {
    const at = `drill.checks[${i}]`;
    if (!isObject(c)) throw new UsageError(`${at} is ${JSON.stringify(c)}; a check is an object with a "type"`);
    if (typeof c.type !== 'string' || !(CHECK_TYPES as readonly string[]).includes(c.type)) {
      throw new UsageError(`${at}.type is ${JSON.stringify(c.type)}, which is not a check type`, {
        hint: typeof c.type === 'string' ? suggest(c.type, CHECK_TYPES) : `valid values: ${CHECK_TYPES.join(', ')}`,
      });
    }
    const name = checkName(c as CheckSpec, i);
    if (names.has(name)) throw new UsageError(`${at} is named ${JSON.stringify(name)} like an earlier check`, { hint: 'give each check its own "name"' });
    names.add(name);
    if (c.name !== undefined && (typeof c.name !== 'string' || !/^[\w .:/-]{1,64}$/.test(c.name)))
      throw new UsageError(`${at}.name is ${JSON.stringify(c.name)}; use 1-64 letters, digits, spaces or "_.:/-"`);
    switch (c.type) {
      case 'sql': {
        if (!recipe || !RECIPE_TRAITS[recipe].sql) {
          throw new UsageError(
            `${at} is a sql check, but the policy has ${recipe ? `recipe ${JSON.stringify(recipe)}, which has no SQL` : 'no recipe, so the drill has no database to query'}`,
            {
              hint: 'add "recipe": "postgres" or "recipe": "sqlite", or use a "command" check',
            },
          );
        }
        if (typeof c.query !== 'string' || c.query.trim() === '')
          throw new UsageError(`${at}.query is ${JSON.stringify(c.query)}; a sql check needs the query to run, e.g. "select count(*) from orders"`);
        validateExpectation(`${at}.expect`, c.expect);
        if (c.database !== undefined && recipe !== 'postgres') throw new UsageError(`${at}.database only applies to the postgres recipe`);
        break;
      }
      case 'integrity':
        if (!recipe)
          throw new UsageError(`${at} is an integrity check, but the policy has no recipe to run the engine's checker`, {
            hint: 'add "recipe": "postgres" (pg_amcheck) or "recipe": "sqlite" (PRAGMA integrity_check)',
          });
        break;
      case 'command':
        if (typeof c.command !== 'string' || c.command.trim() === '')
          throw new UsageError(`${at}.command is ${JSON.stringify(c.command)}; a command check needs the shell command to run (exit 0 = pass)`);
        if (c.timeoutSeconds !== undefined && (typeof c.timeoutSeconds !== 'number' || !Number.isInteger(c.timeoutSeconds) || c.timeoutSeconds < 1)) {
          throw new UsageError(`${at}.timeoutSeconds is ${JSON.stringify(c.timeoutSeconds)}; it must be a whole number of seconds, at least 1`);
        }
        break;
      case 'http':
        if (typeof c.url !== 'string' || !/^https?:\/\/[^\s]+$/.test(c.url))
          throw new UsageError(`${at}.url is ${JSON.stringify(c.url)}; an http check needs an http(s) URL`);
        if (c.status === undefined && c.bodyMatches === undefined) {
          throw new UsageError(`${at} (http ${c.url}) has no expectation`, { hint: 'add "status": 200 and/or "bodyMatches": "REGEX"' });
        }
        if (c.status !== undefined && (typeof c.status !== 'number' || !Number.isInteger(c.status) || c.status < 100 || c.status > 599)) {
          throw new UsageError(`${at}.status is ${JSON.stringify(c.status)}; it must be an HTTP status between 100 and 599`);
        }
        if (c.bodyMatches !== undefined) {
          try {
            new RegExp(String(c.bodyMatches));
          } catch (err) {
            throw new UsageError(`${at}.bodyMatches ${JSON.stringify(c.bodyMatches)} is not a regular expression: ${(err as Error).message}`);
          }
        }
        break;
    }
  });
}

function validateExpectation(at: string, e: unknown): void {
  if (!isObject(e)) {
    throw new UsageError(`${at} is missing: a sql check needs an expectation`, { hint: 'add "expect": {"rows": N}, {"equals": VALUE} or {"atLeast": N}' });
  }
  const keys = Object.keys(e);
  if (keys.length !== 1 || !['rows', 'equals', 'atLeast'].includes(keys[0]!)) {
    throw new UsageError(`${at} is ${JSON.stringify(e)}; it must hold exactly one of "rows", "equals", "atLeast"`, {
      hint: keys.length === 1 ? suggest(keys[0]!, ['rows', 'equals', 'atLeast']) : undefined,
    });
  }
  if ('rows' in e && (typeof e.rows !== 'number' || !Number.isInteger(e.rows) || e.rows < 0))
    throw new UsageError(`${at}.rows is ${JSON.stringify(e.rows)}; it must be a whole number, at least 0`);
  if ('atLeast' in e && (typeof e.atLeast !== 'number' || !Number.isFinite(e.atLeast)))
    throw new UsageError(`${at}.atLeast is ${JSON.stringify(e.atLeast)}; it must be a number`);
  if ('equals' in e && e.equals !== null && !['string', 'number', 'boolean'].includes(typeof e.equals)) {
    throw new UsageError(
      `${at}.equals is ${JSON.stringify(e.equals)}; it must be a string, number, boolean or null (compared with the first column of the first row)`,
    );
  }
}

/** A check's name in records and reports: its own, else one derived from its type and position. */
export function checkName(c: CheckSpec, index: number): string {
  if (c.name) return c.name;
  return c.type === 'integrity' ? 'integrity' : `${c.type}-${index + 1}`;
}

// ---------------------------------------------------------------------------------------
// Evaluation

export type SqlValue = string | number | boolean | null;

/** Judges a query's rows (each an array of column values) against the expectation. */
export function judgeSql(expect: SqlExpectation, rows: SqlValue[][]): { passed: boolean; message: string } {
  if ('rows' in expect) {
    return { passed: rows.length === expect.rows, message: `${rows.length} row${rows.length === 1 ? '' : 's'} (expected ${expect.rows})` };
  }
  const first = rows[0]?.[0];
  if (rows.length === 0)
    return { passed: false, message: `no rows (expected a first value ${'equals' in expect ? `= ${JSON.stringify(expect.equals)}` : `≥ ${expect.atLeast}`})` };
  if ('equals' in expect) {
    const passed = first === expect.equals || (first !== null && first !== undefined && expect.equals !== null && String(first) === String(expect.equals));
    return { passed, message: `value ${JSON.stringify(first)} (expected ${JSON.stringify(expect.equals)})` };
  }
  const n = typeof first === 'number' ? first : Number(first);
  const passed = first !== null && Number.isFinite(n) && n >= expect.atLeast;
  return { passed, message: `value ${JSON.stringify(first)} (expected at least ${expect.atLeast})` };
}

/** Compares the canary read from the restored database with the one the snapshot recorded. */
export function compareCanary(expected: Canary, found: Canary | undefined, drillStartedAt: string): CanaryResult {
  const ageSeconds = Math.max(0, Math.round((Date.parse(drillStartedAt) - Date.parse(expected.at)) / 10) / 100);
  const matches = found !== undefined && found.id === expected.id && found.rows === expected.rows && Date.parse(found.at) === Date.parse(expected.at);
  return { expected, ...(found ? { found } : {}), matches, ageSeconds };
}

export function describeCanary(c: Canary | undefined): string {
  return c ? `canary #${c.id} of ${c.at} (${c.rows} row${c.rows === 1 ? '' : 's'})` : 'no canary';
}
