/**
 * A snapshot through a database recipe: the pre hook (the application's consent: e.g. "I am
 * the primary and done converging"), then the recipe stages an application-consistent copy
 * of the live database and reads its canary, the engine snapshots that copy with the canary
 * in the catalog entry and the manifest, the staging directory goes away whatever happened,
 * and the post hook runs. Without a recipe it is the plain engine snapshot of the data
 * directory (hooks run by the engine, around its walk).
 */

import type { DatabasePolicy, RecipeName } from '../domain/drill-checks.js';
import { HookFailedError } from '../domain/errors.js';
import { type HookResult, runHook } from '../engine/hooks.js';
import { type SnapshotOptions, type SnapshotResult, takeSnapshot } from '../engine/snapshot.js';
import { RECIPES } from './index.js';

export async function takeRecipeSnapshot(options: SnapshotOptions & { recipe?: RecipeName; database?: DatabasePolicy }): Promise<SnapshotResult> {
  const { recipe: name, database, pre, post, ...engine } = options;
  if (!name) return takeSnapshot({ ...engine, pre, post });
  const recipe = RECIPES[name];
  const hookEnv = { LIFEBOAT_SERVICE: engine.service, LIFEBOAT_DIR: engine.dir, LIFEBOAT_RECIPE: name };
  let preHook: HookResult | undefined;
  // Before the recipe touches the database (it writes the canary row).
  if (pre)
    preHook = await runHook(pre, {
      name: 'pre-snapshot hook',
      env: { ...hookEnv, LIFEBOAT_HOOK: 'pre' },
      timeoutMs: engine.hookTimeoutMs,
      signal: engine.signal,
    });
  let result: SnapshotResult;
  try {
    const staged = await recipe.stage({ dataDir: engine.dir, database: database ?? {}, signal: engine.signal, onNotice: engine.onNotice });
    engine.onNotice?.(`${name} recipe: ${staged.note}${staged.canary ? `; canary #${staged.canary.id} at ${staged.canary.at}` : ''}`);
    try {
      result = await takeSnapshot({ ...engine, dir: staged.dir, ...(staged.canary ? { canary: staged.canary } : {}) });
    } finally {
      await staged.cleanup();
    }
  } catch (err) {
    if (post)
      await runHook(post, { name: 'post-snapshot hook', env: { ...hookEnv, LIFEBOAT_HOOK: 'post' }, timeoutMs: engine.hookTimeoutMs }).catch(() => undefined);
    throw err;
  }
  if (!post) return { ...result, ...(preHook ? { preHook } : {}) };
  try {
    const postHook = await runHook(post, {
      name: 'post-snapshot hook',
      env: { ...hookEnv, LIFEBOAT_HOOK: 'post', LIFEBOAT_SNAPSHOT_ID: result.record.id },
      timeoutMs: engine.hookTimeoutMs,
    });
    return { ...result, ...(preHook ? { preHook } : {}), postHook };
  } catch (err) {
    if (!(err instanceof HookFailedError)) throw err;
    return { ...result, ...(preHook ? { preHook } : {}), postHookError: err };
  }
}
