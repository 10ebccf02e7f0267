/**
 * The backends every shared suite runs against, and helpers that tamper with stored
 * objects through the same interface (so corruption tests work on any backend).
 */
import { Readable } from 'node:stream';
import type { ObjectStore } from '../../lambdas/adapters/stores/store.js';
import { freshDirectoryStore, freshS3Store } from './fixtures.js';

export interface StoreCase {
  name: string;
  make: () => Promise<{ store: ObjectStore; cleanup: () => Promise<void> }>;
}

export const STORE_CASES: StoreCase[] = [
  { name: 'S3 store', make: async () => ({ store: await freshS3Store(), cleanup: async () => undefined }) },
  { name: 'directory store', make: freshDirectoryStore },
];

export async function readObject(store: ObjectStore, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await store.get(key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Rewrites an object with `mutate` applied to its bytes. */
export async function tamper(store: ObjectStore, key: string, mutate: (b: Buffer) => Buffer): Promise<void> {
  const bytes = await readObject(store, key);
  // Tests play an operator here: the append-only rule is the writers', not the store owner's.
  await store.put(key, Readable.from([mutate(Buffer.from(bytes))]), { existing: 'replace' });
}

export const flipByteAt = (offset: (len: number) => number) => (b: Buffer) => {
  const i = offset(b.length);
  b[i] = b[i]! ^ 0xff;
  return b;
};
