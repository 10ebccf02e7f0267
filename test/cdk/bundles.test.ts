/**
 * What each Lambda bundle and the library pull in, from esbuild's own import graph:
 *
 * - no handler reaches `zstd-napi` (a native module of the snapshot engine, which only the
 *   agent runs; a Lambda bundle cannot load it), and none reaches the agent;
 * - the library's entry point reaches no handler, adapter (but the key layout and the
 *   metric names) or SDK.
 *
 * Same entry points and esbuild settings as the construct (lib/private/handlers.ts and
 * lifeboat-function.ts); nothing is written to disk.
 */
import { relative } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { HANDLERS } from '../../lib/private/handlers.js';
import { BUNDLING, HANDLERS_DIR, PROJECT_ROOT } from '../../lib/private/lifeboat-function.js';

async function metafileOf(entry: string, options: { external?: boolean } = {}): Promise<Metafile> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    mainFields: BUNDLING.mainFields,
    banner: { js: BUNDLING.banner! },
    logLevel: 'silent',
    // A native addon would stop the build here (as it stops synth); load it as nothing so the
    // graph is complete and the test can show who imports it.
    loader: { '.node': 'empty' },
    ...(options.external ? { packages: 'external' as const } : {}),
  });
  return result.metafile;
}

/** The chain of imports from the entry to the first input matching `bad`, for the failure message. */
function importChain(meta: Metafile, entry: string, bad: RegExp): string[] | undefined {
  const start = relative(process.cwd(), entry);
  const previous = new Map<string, string>();
  const queue = [start];
  const seen = new Set(queue);
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (bad.test(file)) {
      const chain = [file];
      for (let f = previous.get(file); f; f = previous.get(f)) chain.unshift(f);
      return chain;
    }
    for (const imp of meta.inputs[file]?.imports ?? []) {
      if (imp.external || seen.has(imp.path)) continue;
      seen.add(imp.path);
      previous.set(imp.path, file);
      queue.push(imp.path);
    }
  }
  return undefined;
}

describe('Lambda bundles', () => {
  it.each(HANDLERS.map((h) => [h.id, h.entry] as const))('%s (%s) bundles without zstd-napi or the agent', async (_id, file) => {
    const entry = `${HANDLERS_DIR}${file}`;
    const meta = await metafileOf(entry);
    const inputs = Object.keys(meta.inputs);
    expect(inputs.length).toBeGreaterThan(1);
    expect(importChain(meta, entry, /node_modules\/zstd-napi\//), 'import chain to zstd-napi').toBeUndefined();
    expect(importChain(meta, entry, /^lambdas\/agent\//), 'import chain to the agent').toBeUndefined();
  });
});

describe('the library entry point', () => {
  it('imports only the contract and the domain of the runtime, and no SDK code', async () => {
    const meta = await metafileOf(`${PROJECT_ROOT}lib/index.ts`, { external: true });
    const local = Object.keys(meta.inputs).filter((f) => f.startsWith('lambdas/'));
    expect(local.filter((f) => !f.startsWith('lambdas/domain/') && !f.startsWith('lambdas/contract/'))).toEqual([]);
    const packages = Object.values(meta.inputs).flatMap((i) => i.imports.filter((imp) => imp.external).map((imp) => imp.path));
    expect(packages.filter((p) => /^@aws-sdk\/|^@aws-lambda-powertools\/|^zstd-napi/.test(p))).toEqual([]);
  });
});
