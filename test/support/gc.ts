/**
 * A small world for GC tests: one service on a real catalog (DynamoDB Local) and a real
 * store, snapshots taken with small packs (so packs mix live and dead blobs), retention-like
 * deletion, GC runs, and a check that every complete snapshot restores bit-exact.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import type { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import { DynamoGcLease } from '../../lambdas/adapters/gc-lease.js';
import type { ObjectStore } from '../../lambdas/adapters/stores/store.js';
import { parsePackObjectKey, serviceCondemnedPrefix, serviceIndexPrefix, servicePacksPrefix, snapshotPrefix } from '../../lambdas/contract/keys.js';
import { collectGarbage, type GcOptions, type GcResult } from '../../lambdas/control/gc.js';
import { makeSnapshotId } from '../../lambdas/domain/ids.js';
import { restoreSnapshot } from '../../lambdas/engine/restore.js';
import { loadIndex } from '../../lambdas/engine/v2/repo.js';
import { uploadSnapshotV2 } from '../../lambdas/engine/v2/snapshot-v2.js';
import { type Described, describeTree } from './tree.js';

export async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list(prefix)) out.push(o.key);
  return out;
}

export class GcWorld {
  readonly lease: DynamoGcLease;
  /** What each snapshot held when it was taken, by id. */
  readonly expected = new Map<string, Record<string, Described>>();
  private n = 0;

  constructor(
    readonly catalog: DynamoSnapshotCatalog,
    public store: ObjectStore,
    readonly service: string,
    readonly work: string,
    readonly now: () => Date = () => new Date(),
  ) {
    this.lease = new DynamoGcLease(createDynamoClient(), catalog.name, now);
  }

  /** A v2 snapshot of `dir` with 64 KiB packs; records what it should restore to. */
  async snapshot(dir: string, store: ObjectStore = this.store): Promise<string> {
    const createdAt = new Date();
    const id = makeSnapshotId(createdAt, randomBytes(4));
    const before = await describeTree(dir);
    await uploadSnapshotV2({
      catalog: this.catalog,
      store,
      service: this.service,
      id,
      root: dir,
      createdAt,
      now: () => new Date(),
      signal: new AbortController().signal,
      packBytes: 64 * 1024,
      workers: 1,
    });
    this.expected.set(id, before);
    return id;
  }

  /** What retention does to a snapshot: mark expiring, delete its prefix, delete the entry. */
  async expire(id: string): Promise<void> {
    const rec = await this.catalog.get(this.service, id);
    if (rec?.status === 'complete')
      await this.catalog.markExpiring(this.service, id, { status: 'complete', verifiedAt: rec.verifiedAt }, new Date().toISOString());
    await this.store.delete(await keysUnder(this.store, snapshotPrefix(this.service, id)));
    await this.catalog.deleteExpiring(this.service, id);
    this.expected.delete(id);
  }

  gc(options: Partial<GcOptions> = {}): Promise<GcResult> {
    return collectGarbage(
      { catalog: this.catalog, objects: this.store, gcLease: this.lease, now: this.now },
      { service: this.service, graceMs: 0, ...options },
    );
  }

  async completeIds(): Promise<string[]> {
    const out: string[] = [];
    for await (const r of this.catalog.list(this.service)) if (r.status === 'complete') out.push(r.id);
    return out;
  }

  /** Restores one snapshot into a fresh directory and returns what it holds. */
  async restored(id: string): Promise<Record<string, Described>> {
    const dir = join(this.work, `restore-${++this.n}`);
    await restoreSnapshot({ catalog: this.catalog, store: this.store, service: this.service, dir, snapshot: id });
    const got = await describeTree(dir);
    await rm(dir, { recursive: true, force: true });
    return got;
  }

  /** Every complete snapshot restores to exactly what it held; throws naming the first that does not. */
  async assertAllRestore(context = ''): Promise<number> {
    const ids = await this.completeIds();
    for (const id of ids) {
      const want = this.expected.get(id);
      if (!want) continue;
      let got: Record<string, Described>;
      try {
        got = await this.restored(id);
      } catch (err) {
        throw new Error(`${context}snapshot ${id} does not restore: ${(err as Error).message}`);
      }
      const strip = (t: Record<string, Described>) => JSON.stringify(Object.entries(t).map(([p, d]) => [p, d.type, d.size, d.sha256, d.target, d.mode]));
      if (strip(got) !== strip(want)) throw new Error(`${context}snapshot ${id} restored different content`);
    }
    return ids.length;
  }

  /** The store's GC-visible state: packs, index files, condemned lists. */
  async state(): Promise<{ packs: string[]; indexFiles: string[]; lists: string[]; indexedPacks: Set<string> }> {
    const packs = (await keysUnder(this.store, servicePacksPrefix(this.service))).map((k) => parsePackObjectKey(this.service, k)!).filter(Boolean);
    const { index } = await loadIndex(this.store, this.service);
    return {
      packs,
      indexFiles: await keysUnder(this.store, serviceIndexPrefix(this.service)),
      lists: await keysUnder(this.store, serviceCondemnedPrefix(this.service)),
      indexedPacks: new Set(index.packs.keys()),
    };
  }

  async freshDir(): Promise<string> {
    const dir = join(this.work, `src-${++this.n}`);
    await mkdir(dir, { recursive: true });
    return dir;
  }
}
