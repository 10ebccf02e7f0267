/**
 * An ObjectStore wrapper that counts the requests made through it, by kind (S3 request
 * pricing is per request: LIST and PUT cost ~12× a GET). `list` counts one request per
 * 1,000 keys returned (ListObjectsV2's page), `delete` one per 1,000 keys (DeleteObjects).
 * Used by `lifeboat gc` to report what a run cost and by bench/gc.ts.
 */
import type { Readable } from 'node:stream';
import type { ObjectInfo, ObjectStore, PutOptions } from './store.js';

export interface RequestCounts {
  get: number;
  put: number;
  head: number;
  list: number;
  delete: number;
  other: number;
}

const PAGE = 1000;

export function countingStore<S extends ObjectStore>(inner: S): { store: S; counts: RequestCounts; total: () => number } {
  const counts: RequestCounts = { get: 0, put: 0, head: 0, list: 0, delete: 0, other: 0 };
  const wrapped: ObjectStore = {
    url: inner.url,
    check: () => inner.check(),
    ensure: () => inner.ensure(),
    put(key: string, body: Readable, options?: PutOptions) {
      counts.put++;
      return inner.put(key, body, options);
    },
    get(key: string, options?: { signal?: AbortSignal }) {
      counts.get++;
      return inner.get(key, options);
    },
    getRange(key: string, offset: number, length: number, options?: { signal?: AbortSignal }) {
      counts.get++;
      return inner.getRange(key, offset, length, options);
    },
    head(key: string) {
      counts.head++;
      return inner.head(key);
    },
    async *list(prefix: string): AsyncIterable<ObjectInfo> {
      let n = 0;
      counts.list++;
      for await (const o of inner.list(prefix)) {
        if (++n % PAGE === 0) counts.list++;
        yield o;
      }
    },
    delete(keys: readonly string[]) {
      counts.delete += Math.ceil(keys.length / PAGE);
      return inner.delete(keys);
    },
  };
  // Optional capabilities (incomplete uploads, temp files, Object Lock) pass through, counted as `other`.
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop in wrapped) return (wrapped as unknown as Record<string | symbol, unknown>)[prop];
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        counts.other++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, counts, total: () => Object.values(counts).reduce((a, b) => a + b, 0) };
}
