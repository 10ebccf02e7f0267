/**
 * The pure layers import without circles: no module of lambdas/domain or lambdas/contract
 * imports (even for types) a module that imports it back. A circle means two modules
 * each own half of a concept (retention-policy.ts ↔ service-policy.ts did).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const LAYERS = ['lambdas/domain', 'lambdas/contract'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** Relative imports and re-exports of a module's text, resolved to .ts paths. */
function importsOf(file: string, text: string): string[] {
  const specifiers = [...text.matchAll(/^\s*(?:import|export)\b[^'";]*?['"](\.{1,2}\/[^'"]+)['"]/gm)].map((m) => m[1]!);
  return specifiers.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

/** The circles a depth-first walk meets, each as the list of modules around it. */
function circles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next) && graph.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

describe('import circles', () => {
  it('are found by the check (type-only imports and re-exports included)', () => {
    const a = '/x/a.ts';
    const graph = new Map([
      [a, importsOf(a, "import type { B } from './b.js';\nimport { c } from './c.js';")],
      ['/x/b.ts', importsOf('/x/b.ts', "export { a } from './a.js';")],
      ['/x/c.ts', importsOf('/x/c.ts', "import {\n  z,\n} from './d.js';")],
      ['/x/d.ts', []],
    ]);
    expect(graph.get('/x/c.ts')).toEqual(['/x/d.ts']);
    expect(circles(graph)).toEqual([['/x/a.ts', '/x/b.ts', '/x/a.ts']]);
  });

  it(`are absent from ${LAYERS.join(' and ')}`, () => {
    const files = LAYERS.flatMap((layer) => sources(join(ROOT, layer)));
    expect(files).toContain(join(ROOT, 'lambdas/domain/retention-policy.ts'));
    const graph = new Map(files.map((f) => [f, importsOf(f, readFileSync(f, 'utf8'))]));
    expect(circles(graph).map((c) => c.map((f) => relative(ROOT, f)).join(' → '))).toEqual([]);
  });
});
