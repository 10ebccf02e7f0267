/** The recipes by name (the policy's `recipe`). */
import { assertRecipeName, type RecipeName } from '../domain/drill-checks.js';
import { UsageError } from '../domain/errors.js';
import { postgresRecipe } from './postgres.js';
import type { Recipe } from './recipe.js';
import { sqliteRecipe } from './sqlite.js';

export const RECIPES: Record<RecipeName, Recipe> = { postgres: postgresRecipe, sqlite: sqliteRecipe };

export function recipeByName(name: string): Recipe {
  return RECIPES[assertRecipeName('recipe', name)];
}

export type { OpenDatabase, Recipe, Staged } from './recipe.js';

/** Refuses to start an agent whose policy names a recipe whose binaries this image lacks. */
export function assertRecipeBinaries(policy: { service: string; recipe?: RecipeName }, env: NodeJS.ProcessEnv = process.env): void {
  if (!policy.recipe) return;
  const missing = RECIPES[policy.recipe].missing(env);
  if (missing.length === 0) return;
  throw new UsageError(`service ${policy.service} uses the ${policy.recipe} recipe, but this image lacks ${missing.join('; ')}`, {
    hint: 'install the engine in the service image, or remove "recipe" from the policy',
  });
}
