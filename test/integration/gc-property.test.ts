/**
 * The property of issue 11: random interleavings of snapshot, retention, GC (grace 0, so
 * condemnation bites at once), GC crashing at a random step, a snapshot running alongside
 * GC, and restore, over DynamoDB Local and the real stores. After every step, every complete
 * snapshot restores bit-exact. Seeded and reproducible: a failure prints its seed and the
 * steps so far; LIFEBOAT_GC_SEED=<n> replays one seed.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import type { GcStep } from '../../lambdas/control/gc.js';
import { freshCatalog, tempDir, uniqueName } from '../support/fixtures.js';
import { GcWorld } from '../support/gc.js';
import { STORE_CASES } from '../support/stores.js';

/** mulberry32: small, seedable, good enough to pick steps. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STEPS_PER_SEED = Number(process.env.LIFEBOAT_GC_STEPS ?? 8);
const SEEDS = process.env.LIFEBOAT_GC_SEED ? [Number(process.env.LIFEBOAT_GC_SEED)] : [Math.floor(Math.random() * 2 ** 31)];
const GC_STEPS: GcStep[] = ['sweep-index-write', 'sweep-index-delete', 'sweep-packs', 'sweep-list', 'repack-packs', 'repack-index', 'condemn', 'unindexed'];

class Crash extends Error {}

describe.each(STORE_CASES)('random interleavings of snapshot, retention, GC and restore on the $name', ({ make }) => {
  let catalog: DynamoSnapshotCatalog;
  let cleanupStore: () => Promise<void>;
  let store: Awaited<ReturnType<typeof make>>['store'];
  let work: { path: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    catalog = await freshCatalog();
    ({ store, cleanup: cleanupStore } = await make());
    work = await tempDir('lifeboat-gcprop');
  });
  afterAll(async () => {
    await work.cleanup();
    await cleanupStore();
  });

  it.each(SEEDS)('seed %i: every complete snapshot restores bit-exact after every step', { timeout: 120_000 }, async (seed) => {
    const random = rng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const w = new GcWorld(catalog, store, uniqueName('prop'), work.path);
    const dir = await w.freshDir();
    const files = 8;
    // Deterministic content from the seed, so a replay stores the same bytes.
    const content = (n: number) => {
      const b = Buffer.alloc(4 * (1024 + Math.floor(random() * 2048)));
      for (let i = 0; i < b.length; i += 4) b.writeUInt32LE(Math.floor(random() * 2 ** 32), i);
      return Buffer.concat([b, Buffer.from(String(n))]);
    };
    const mutate = async () => {
      const k = 1 + Math.floor(random() * 5);
      for (let j = 0; j < k; j++) await writeFile(join(dir, `f${Math.floor(random() * files)}`), content(j));
    };
    for (let i = 0; i < files; i++) await writeFile(join(dir, `f${i}`), content(i));

    const log: string[] = [];
    const fail = (err: unknown): never => {
      throw new Error(
        `GC property failed with seed ${seed} (replay: LIFEBOAT_GC_SEED=${seed}) after steps:\n  ${log.join('\n  ')}\n${(err as Error).message}`,
        {
          cause: err,
        },
      );
    };
    try {
      await w.snapshot(dir);
      log.push('snapshot');
      for (let step = 0; step < STEPS_PER_SEED; step++) {
        const ids = await w.completeIds();
        const op = pick(['snapshot', 'snapshot', 'expire', 'gc', 'gc', 'gc-crash', 'concurrent', 'restore'] as const);
        // Retention keeps at most three (two plus the new one): restoring all of them after every step stays cheap.
        if (ids.length > 2 && (op === 'snapshot' || op === 'concurrent')) {
          await w.expire(ids[ids.length - 1]!);
          log.push('expire oldest');
        }
        if (op === 'snapshot') {
          await mutate();
          await w.snapshot(dir);
        } else if (op === 'expire' && ids.length > 1) {
          await w.expire(pick(ids));
        } else if (op === 'gc') {
          await w.gc();
        } else if (op === 'gc-crash') {
          const at = pick(GC_STEPS);
          await w
            .gc({
              fault: (s) => {
                if (s === at) throw new Crash(at);
              },
            })
            .catch((err: unknown) => {
              if (!(err instanceof Crash)) throw err;
            });
          log.push(`(crash before ${at})`);
        } else if (op === 'concurrent') {
          // A snapshot and a GC at once: GC may condemn what the snapshot is about to reuse.
          await mutate();
          if (ids.length > 1 && random() < 0.5) await w.expire(pick(ids));
          await Promise.all([w.snapshot(dir), w.gc()]);
        } else if (op === 'restore' && ids.length > 0) {
          await w.restored(pick(ids));
        }
        log.push(op);
        await w.assertAllRestore();
      }
      // Settle: GC until nothing is left to do, then everything still restores.
      for (let i = 0; i < 3; i++) await w.gc();
      log.push('gc ×3');
      await w.assertAllRestore();
    } catch (err) {
      fail(err);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
