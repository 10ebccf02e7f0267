/**
 * The example services local mode can run (`--example kv|postgres|sqlite`): where each one's
 * policy and entrypoint are, the environment its task definition gives a task, and the
 * commands its image would have on PATH. Everything else in local mode is the same for all.
 */
import { join } from 'node:path';
import { checkName, type RecipeName, suggest } from '../domain/drill-checks.js';
import type { DrillRecord } from '../domain/drills.js';
import { UsageError } from '../domain/errors.js';
import type { ServicePolicy } from '../domain/service-policy.js';
import { RECIPES } from '../recipes/index.js';

export const EXAMPLE_NAMES = ['kv', 'postgres', 'sqlite'] as const;
export type ExampleName = (typeof EXAMPLE_NAMES)[number];

export interface LocalExample {
  name: ExampleName;
  /** Relative to the repository. */
  policyFile: string;
  entrypoint: string;
  /** The task definition's environment for a task with this directory and port. */
  environment(task: { dir: string; port: number }): Record<string, string>;
  /** Command name → script (relative to the repository, then fixed arguments): `.ts` through tsx, `.mjs` with plain node. */
  shims: Record<string, string>;
  /** What one task runs, for the startup line. */
  describe: string;
  recipe?: RecipeName;
}

export const LOCAL_EXAMPLES: Record<ExampleName, LocalExample> = {
  kv: {
    name: 'kv',
    policyFile: 'examples/kv/lifeboat-policy.json',
    entrypoint: 'examples/kv/entrypoint.sh',
    environment: (task) => ({ KV_DIR: join(task.dir, 'data'), KV_PORT: String(task.port), KV_ROLE_FILE: join(task.dir, 'role') }),
    shims: { 'kv-server': 'examples/kv/server.ts', 'kv-ctl': 'examples/kv/kv-ctl.ts' },
    describe: 'lifeboat agent --restore … -- kv-server',
  },
  postgres: {
    name: 'postgres',
    policyFile: 'examples/postgres/lifeboat-policy.json',
    entrypoint: 'examples/postgres/entrypoint.sh',
    // No PGHOST: the entrypoint makes a short socket directory of its own (socket paths are limited to 107 bytes).
    environment: (task) => ({ PGDATA: join(task.dir, 'data'), KV_PORT: String(task.port), KV_ROLE_FILE: join(task.dir, 'role') }),
    shims: { 'pg-example': 'examples/postgres/server.ts', 'pg-example-ctl': 'examples/shared/ctl.mjs pg-example' },
    describe: 'lifeboat agent --restore … -- pg-example serve (a PostgreSQL server + its HTTP API)',
    recipe: 'postgres',
  },
  sqlite: {
    name: 'sqlite',
    policyFile: 'examples/sqlite/lifeboat-policy.json',
    entrypoint: 'examples/sqlite/entrypoint.sh',
    environment: (task) => ({ SQLITE_DIR: join(task.dir, 'data'), KV_PORT: String(task.port), KV_ROLE_FILE: join(task.dir, 'role') }),
    shims: { 'sqlite-example': 'examples/sqlite/server.ts', 'sqlite-example-ctl': 'examples/shared/ctl.mjs sqlite-example' },
    describe: 'lifeboat agent --restore … -- sqlite-example serve (SQLite through the sqlite3 shell + an HTTP API)',
    recipe: 'sqlite',
  },
};

/** The example by name; a clear error (did you mean) otherwise, and when its engine is not installed. */
export function localExample(name: string | undefined): LocalExample {
  const key = name ?? 'kv';
  if (!(EXAMPLE_NAMES as readonly string[]).includes(key)) {
    throw new UsageError(`--example ${JSON.stringify(key)} is not an example`, { hint: suggest(key, EXAMPLE_NAMES) });
  }
  const example = LOCAL_EXAMPLES[key as ExampleName];
  if (example.recipe) {
    const missing = RECIPES[example.recipe].missing();
    if (missing.length) {
      throw new UsageError(`--example ${key} runs a real ${example.recipe} server, but this machine lacks ${missing.join('; ')}`, {
        hint: example.recipe === 'postgres' ? 'apt-get install -y postgresql (Debian), or set PG_BINDIR' : 'apt-get install -y sqlite3',
      });
    }
  }
  return example;
}

/**
 * The status view's checks: the recipe's built-in ones (open, canary) and the policy's, each
 * with the newest finished drill's result. Undefined when the policy declares none.
 */
export function drillChecksStatus(
  policy: ServicePolicy,
  drillsNewestFirst: readonly DrillRecord[],
): { checks?: NonNullable<import('./local-mode.js').LocalStatus['checks']> } {
  const declared = policy.drill.checks ?? [];
  if (!policy.recipe && declared.length === 0) return {};
  const last = drillsNewestFirst.find((d) => d.status !== 'running' && d.agent);
  const result = (name: string) => last?.agent?.checks.find((c) => c.name === name);
  const names: { name: string; type: string }[] = [
    ...(policy.recipe ? [{ name: 'open', type: 'open' }, ...(policy.database?.canary === false ? [] : [{ name: 'canary', type: 'canary' }])] : []),
    ...(policy.drill.verifyCommand ? [{ name: 'verify', type: 'command' }] : []),
    ...declared.map((c, i) => ({ name: checkName(c, i), type: c.type })),
  ];
  return {
    checks: {
      ...(policy.recipe ? { recipe: policy.recipe } : {}),
      items: names.map(({ name, type }) => {
        const r = result(name);
        return {
          name,
          type,
          ...(r
            ? {
                status: r.status,
                ...(r.durationSeconds !== undefined ? { durationSeconds: r.durationSeconds } : {}),
                ...(r.message ? { message: r.message } : {}),
              }
            : {}),
        };
      }),
    },
  };
}
