/**
 * The drill's typed checks (domain/drill-checks.ts), run by the drill agent after the
 * restore:
 *
 * 1. the recipe opens the restored database the way the engine would on start (`open`);
 * 2. the canary the snapshot recorded must be in it, exactly (`canary`);
 * 3. the policy's `sql`, `integrity` and `command` checks, in their order, against it;
 * 4. `http` checks run later, while the drill's application is up (runHttpChecks).
 *
 * Every check yields a DrillCheck with its status, duration and one-line message. The first
 * failure does not stop the others (a report that lists every broken thing is worth more),
 * except when the database cannot be opened at all.
 */
import {
  type Canary,
  type CanaryResult,
  type CheckSpec,
  checkName,
  compareCanary,
  type DatabasePolicy,
  describeCanary,
  judgeSql,
  type RecipeName,
} from '../domain/drill-checks.js';
import { DRILL_OUTPUT_LIMIT_BYTES, type DrillCheck, formatSeconds, OUTPUT_CUT_MARKER, truncateOutput } from '../domain/drills.js';
import { runCommand } from '../engine/hooks.js';
import { RECIPES } from '../recipes/index.js';

export interface DatabaseChecksOptions {
  recipe?: RecipeName;
  database?: DatabasePolicy;
  checks: CheckSpec[];
  /** The restored data directory. */
  dir: string;
  /** What the snapshot recorded (its catalog entry). */
  expectedCanary?: Canary;
  /** Drill start (the drill record's createdAt): the canary's age is measured here. */
  drillStartedAt: string;
  env: Record<string, string>;
  remainingMs: () => number;
  clock: () => Date;
  signal?: AbortSignal;
  onNotice?: (line: string) => void;
}

export interface DatabaseChecksResult {
  checks: DrillCheck[];
  canary?: CanaryResult;
  /** The first failed or errored check's message; undefined when all passed. */
  failure?: { status: 'failed' | 'error'; reason: string };
}

const secondsSince = (start: Date, clock: () => Date) => Math.round(Math.max(0, clock().getTime() - start.getTime())) / 1000;
const DEFAULT_CHECK_TIMEOUT_MS = 10 * 60 * 1000;

/** Steps 1–3 of the module comment. Never throws for a check that fails: that is the result. */
export async function runDatabaseChecks(o: DatabaseChecksOptions): Promise<DatabaseChecksResult> {
  const checks: DrillCheck[] = [];
  let failure: DatabaseChecksResult['failure'];
  const note = (c: DrillCheck) => {
    checks.push(c);
    if (c.status !== 'passed' && !failure)
      failure = { status: c.status === 'error' ? 'error' : 'failed', reason: `check ${c.name} ${c.status}: ${c.message ?? ''}` };
    o.onNotice?.(`check ${c.name}: ${c.status}${c.message ? ` — ${c.message}` : ''}`);
  };
  const typed = o.checks.map((spec, i) => ({ spec, name: checkName(spec, i) })).filter((c) => c.spec.type !== 'http');
  const recipe = o.recipe ? RECIPES[o.recipe] : undefined;
  let canary: CanaryResult | undefined;

  let db: Awaited<ReturnType<NonNullable<typeof recipe>['open']>> | undefined;
  if (recipe) {
    const missing = recipe.missing();
    if (missing.length > 0) {
      note({
        name: 'open',
        type: 'open',
        status: 'error',
        durationSeconds: 0,
        message: `the ${recipe.name} recipe needs binaries this drill image lacks: ${missing.join('; ')}`,
      });
      return { checks, failure };
    }
    const started = o.clock();
    try {
      db = await recipe.open({ dir: o.dir, database: o.database ?? {}, timeoutMs: Math.min(10 * 60_000, o.remainingMs()), signal: o.signal });
      note({ name: 'open', type: 'open', status: 'passed', durationSeconds: secondsSince(started, o.clock), message: db.message });
    } catch (err) {
      // The restored files passed their checksums but the engine cannot open them: the backup is bad.
      note({ name: 'open', type: 'open', status: 'failed', durationSeconds: secondsSince(started, o.clock), message: (err as Error).message });
      return { checks, failure };
    }
  }
  try {
    if (db && o.database?.canary !== false) {
      const started = o.clock();
      if (!o.expectedCanary) {
        note({ name: 'canary', type: 'canary', status: 'skipped', durationSeconds: 0, message: 'the snapshot recorded no canary (taken without the recipe?)' });
      } else {
        let found: Canary | undefined;
        let readError: string | undefined;
        try {
          found = await db.readCanary();
        } catch (err) {
          readError = (err as Error).message;
        }
        canary = compareCanary(o.expectedCanary, found, o.drillStartedAt);
        const age = canary.ageSeconds !== undefined ? `; data as of ${formatSeconds(canary.ageSeconds)} before the drill started (RPO)` : '';
        note({
          name: 'canary',
          type: 'canary',
          status: canary.matches ? 'passed' : 'failed',
          durationSeconds: secondsSince(started, o.clock),
          message: canary.matches
            ? `restored database holds ${describeCanary(o.expectedCanary)}${age}`
            : `the snapshot recorded ${describeCanary(o.expectedCanary)}, the restored database holds ${readError ? `none readable (${readError})` : describeCanary(found)}`,
        });
      }
    }
    for (const { spec, name } of typed) {
      if (o.signal?.aborted) {
        note({ name, type: spec.type, status: 'error', message: 'interrupted' });
        break;
      }
      const started = o.clock();
      const done = (status: DrillCheck['status'], message: string, extra: Partial<DrillCheck> = {}) =>
        note({ name, type: spec.type, status, durationSeconds: secondsSince(started, o.clock), message, ...extra });
      try {
        if (spec.type === 'sql') {
          if (!db) {
            done('error', 'no database is open: the policy has no recipe');
            continue;
          }
          const rows = await db.query(spec.query, spec.database);
          const verdict = judgeSql(spec.expect, rows);
          done(verdict.passed ? 'passed' : 'failed', verdict.message, { command: spec.query });
        } else if (spec.type === 'integrity') {
          if (!db) {
            done('error', 'no database is open: the policy has no recipe');
            continue;
          }
          const r = await db.integrity();
          done(r.ok ? 'passed' : 'failed', r.message, r.ok ? {} : { output: truncateOutput(r.output) });
        } else if (spec.type === 'command') {
          const timeoutMs = Math.min((spec.timeoutSeconds ?? 0) * 1000 || DEFAULT_CHECK_TIMEOUT_MS, o.remainingMs());
          const run = await runCommand(spec.command, {
            name: `check ${name}`,
            cwd: o.dir,
            env: { ...o.env, ...(db?.env ?? {}), LIFEBOAT_HOOK: 'check' },
            timeoutMs,
            maxOutputBytes: DRILL_OUTPUT_LIMIT_BYTES,
            signal: o.signal,
          }).catch((err: unknown) => ({ exitCode: 127, output: (err as Error).message, outputBytes: 0, durationMs: 0 }));
          const output = run.outputBytes > Buffer.byteLength(run.output) ? `${OUTPUT_CUT_MARKER}${run.output}` : run.output;
          const timedOut = run.exitCode === 124 && /\[timed out after/.test(run.output);
          done(
            run.exitCode === 0 ? 'passed' : 'failed',
            run.exitCode === 0 ? 'exited 0' : timedOut ? `timed out after ${formatSeconds(Math.round(timeoutMs / 1000))}` : `exited with code ${run.exitCode}`,
            {
              command: spec.command,
              exitCode: run.exitCode,
              ...(output ? { output: truncateOutput(output) } : {}),
            },
          );
        }
      } catch (err) {
        done('failed', (err as Error).message, spec.type === 'sql' ? { command: spec.query } : {});
      }
    }
  } finally {
    await db?.close().catch((err: Error) => o.onNotice?.(`closing the restored database: ${err.message}`));
  }
  return { checks, ...(canary ? { canary } : {}), failure };
}

/** The policy's http checks, run while the drill's application is up (or against whatever the URL names). */
export async function runHttpChecks(specs: CheckSpec[], o: { clock: () => Date; fetch: typeof fetch; signal?: AbortSignal }): Promise<DrillCheck[]> {
  const out: DrillCheck[] = [];
  for (const [i, spec] of specs.entries()) {
    if (spec.type !== 'http') continue;
    const name = checkName(spec, i);
    const started = o.clock();
    try {
      const res = await o.fetch(spec.url, { signal: AbortSignal.timeout(10_000), redirect: 'manual' });
      const body = await res.text();
      const statusOk = spec.status === undefined || res.status === spec.status;
      const bodyOk = spec.bodyMatches === undefined || new RegExp(spec.bodyMatches).test(body);
      const message = `GET ${spec.url} answered ${res.status}${spec.status !== undefined ? ` (expected ${spec.status})` : ''}${spec.bodyMatches !== undefined ? `; body ${bodyOk ? 'matches' : 'does not match'} /${spec.bodyMatches}/` : ''}`;
      out.push({
        name,
        type: 'http',
        status: statusOk && bodyOk ? 'passed' : 'failed',
        durationSeconds: secondsSince(started, o.clock),
        command: spec.url,
        message,
        ...(statusOk && bodyOk ? {} : { output: truncateOutput(body) }),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      out.push({
        name,
        type: 'http',
        status: 'failed',
        durationSeconds: secondsSince(started, o.clock),
        command: spec.url,
        message: `GET ${spec.url} failed: ${cause ?? (err as Error).message}`,
      });
    }
  }
  return out;
}
