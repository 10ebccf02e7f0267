/**
 * A snapshot through a database recipe: the recipe stages an application-consistent copy of
 * the live database (and reads its canary), the engine snapshots that copy with the canary
 * in the catalog entry and the manifest, and the staging directory goes away whatever
 * happened. Without a recipe it is the plain engine snapshot of the data directory.
 */
import type { DatabasePolicy, RecipeName } from '../domain/drill-checks.js';
import { takeSnapshot, type SnapshotOptions, type SnapshotResult } from '../engine/snapshot.js';
import { RECIPES } from './index.js';

export async function takeRecipeSnapshot(options: SnapshotOptions & { recipe?: RecipeName; database?: DatabasePolicy }): Promise<SnapshotResult> {
  const { recipe: name, database, ...engine } = options;
  if (!name) return takeSnapshot(engine);
  const recipe = RECIPES[name];
  const staged = await recipe.stage({ dataDir: engine.dir, database: database ?? {}, signal: engine.signal, onNotice: engine.onNotice });
  engine.onNotice?.(`${name} recipe: ${staged.note}${staged.canary ? `; canary #${staged.canary.id} at ${staged.canary.at}` : ''}`);
  try {
    return await takeSnapshot({ ...engine, dir: staged.dir, ...(staged.canary ? { canary: staged.canary } : {}) });
  } finally {
    await staged.cleanup();
  }
}
