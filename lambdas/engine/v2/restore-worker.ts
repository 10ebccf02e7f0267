/**
 * Worker threads that turn fetched pack ranges into verified files: decompress each blob,
 * check its SHA-256 (and a large file's whole-file SHA-256), and write with synchronous
 * calls. The main thread only fetches ranges and decides what goes where.
 *
 * Why: on the main thread alone a restore of the 963 MiB bench tree spent 4 s hashing and
 * 1.9 s decompressing on one core while the other idled; a worker per core does that work
 * in parallel, and a small file costs no thread-pool round trips (see file-writer.ts).
 *
 * A large file stays on one worker from `open` to `close`, which keeps its running hash.
 * Range buffers are transferred, not copied. The worker runs source text built from the
 * self-contained `workerMain`, so it works the same from tsx, vitest and the esbuild bundle.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Where and how a file is created; `uid`/`gid` only when it must be chowned. */
export interface DestFile {
  path: string;
  size: number;
  mode: number;
  mtimeS: number;
  uid?: number;
  gid?: number;
  /** chmod after writing (the umask or special bits, or chown, require it). */
  chmod: boolean;
}

/**
 * A blob in the message's buffer at `off`, `len` stored bytes: `c` 0 = plain, 1 = zstd,
 * 3 = not in the buffer: the worker holds it in its cache. `keep`: it is used again, so
 * the worker caches the plaintext.
 */
export interface WireBlob {
  id: string;
  /** The pack it came from (named in errors). */
  pack: string;
  off: number;
  len: number;
  raw: number;
  c: 0 | 1 | 3;
  keep?: boolean;
}

/**
 * A least-recently-used set of blob ids with a byte budget. The worker keeps plaintexts in
 * one and the main thread runs an identical one per worker over the same sequence of
 * requests, so it knows what each worker holds without asking. Self-contained (the worker
 * runs its source).
 */
export function blobLru<V>(limit: number) {
  const map = new Map<string, { size: number; value: V }>();
  let bytes = 0;
  return {
    has(id: string): boolean {
      return map.has(id);
    },
    get(id: string): V | undefined {
      const e = map.get(id);
      if (!e) return undefined;
      map.delete(id);
      map.set(id, e);
      return e.value;
    },
    set(id: string, size: number, value: V): void {
      if (size > limit / 4 || map.has(id)) return;
      map.set(id, { size, value });
      bytes += size;
      for (const [k, v] of map) {
        if (bytes <= limit) break;
        map.delete(k);
        bytes -= v.size;
      }
    },
  };
}

export type RestoreRequest =
  | { t: 'smalls'; id: number; buf: ArrayBuffer; blobs: (WireBlob & { files: DestFile[] })[] }
  | { t: 'empties'; id: number; files: DestFile[] }
  | { t: 'open'; id: number; file: number; path: string; mode: number }
  | { t: 'data'; id: number; file: number; buf: ArrayBuffer; blobs: WireBlob[] }
  | { t: 'close'; id: number; file: number; sha256: string; dest: DestFile }
  | { t: 'drop'; id: number; file: number };

/** What went wrong: damaged data (`corrupt`, with the file and what) or the file system. */
export interface RestoreWorkerError {
  kind: 'corrupt' | 'fs';
  message: string;
  path?: string;
  code?: string;
  syscall?: string;
}

interface Reply {
  id: number;
  bytes: number;
  files: number;
  error?: RestoreWorkerError;
}

function workerMain(req: (id: string) => unknown, lru: typeof blobLru): void {
  const { parentPort, workerData } = req('node:worker_threads') as typeof import('node:worker_threads');
  const fs = req('node:fs') as typeof import('node:fs');
  const { createHash } = req('node:crypto') as typeof import('node:crypto');
  const { zstdBinding, cacheBytes } = workerData as { zstdBinding: string; cacheBytes: number };
  const zstd = req(zstdBinding) as { decompress(dst: Uint8Array, src: Uint8Array): number };
  const cache = lru<Buffer>(cacheBytes);
  const open = new Map<number, { fd: number; path: string; hash: ReturnType<typeof createHash>; written: number }>();

  class Corrupt extends Error {
    constructor(
      readonly path: string,
      what: string,
    ) {
      super(what);
    }
  }

  /** Stored bytes → verified plaintext (the messages match content.ts's). */
  const decode = (path: string, b: WireBlob, buf: Buffer): Buffer => {
    if (b.c === 3) {
      const held = cache.get(b.id);
      if (!held) throw new Error(`blob ${b.id} was expected in this worker's cache`);
      return held;
    }
    const raw = verify(path, b, buf.subarray(b.off, b.off + b.len));
    // A plain blob is a view of the whole range: keep a copy, not the range.
    if (b.keep) cache.set(b.id, raw.length, b.c === 0 ? Buffer.from(raw) : raw);
    return raw;
  };

  const verify = (path: string, b: WireBlob, stored: Buffer): Buffer => {
    const where = `blob ${b.id} in pack ${b.pack}`;
    if (stored.length !== b.len) throw new Corrupt(path, `${where} is ${stored.length} bytes, the index says ${b.len}`);
    let raw: Buffer;
    if (b.c === 0) {
      if (b.len !== b.raw) throw new Corrupt(path, `${where}: stored and raw sizes differ for an uncompressed blob`);
      raw = stored;
    } else {
      raw = Buffer.allocUnsafe(b.raw);
      let n: number;
      try {
        n = zstd.decompress(raw, stored);
      } catch (err) {
        throw new Corrupt(path, `${where} does not decompress to its declared ${b.raw} bytes (${(err as Error).message})`);
      }
      if (n !== b.raw) throw new Corrupt(path, `${where} decompresses to ${n} bytes, the index says ${b.raw}`);
    }
    if (createHash('sha256').update(raw).digest('hex') !== b.id) throw new Corrupt(path, `content SHA-256 does not match (${where})`);
    return raw;
  };

  const writeAll = (fd: number, data: Buffer) => {
    for (let at = 0; at < data.length; ) at += fs.writeSync(fd, data, at, data.length - at);
  };

  const finish = (fd: number, d: DestFile) => {
    if (d.uid !== undefined) fs.fchownSync(fd, d.uid, d.gid!);
    if (d.chmod) fs.fchmodSync(fd, d.mode);
    fs.futimesSync(fd, d.mtimeS, d.mtimeS);
  };

  const writeSmall = (d: DestFile, data: Buffer) => {
    const fd = fs.openSync(d.path, 'wx', d.mode & 0o777);
    try {
      writeAll(fd, data);
      finish(fd, d);
    } finally {
      fs.closeSync(fd);
    }
  };

  const handle = (m: RestoreRequest, r: Reply) => {
    switch (m.t) {
      case 'smalls': {
        const buf = Buffer.from(m.buf);
        for (const b of m.blobs) {
          const raw = decode(b.files[0]!.path, b, buf);
          for (const d of b.files) {
            if (raw.length !== d.size) throw new Corrupt(d.path, `${raw.length} bytes, the manifest says ${d.size}`);
            writeSmall(d, raw);
            r.bytes += raw.length;
            r.files++;
          }
        }
        return;
      }
      case 'empties':
        for (const d of m.files) {
          writeSmall(d, Buffer.alloc(0));
          r.files++;
        }
        return;
      case 'open':
        open.set(m.file, { fd: fs.openSync(m.path, 'wx', m.mode & 0o777), path: m.path, hash: createHash('sha256'), written: 0 });
        return;
      case 'data': {
        const f = open.get(m.file)!;
        const buf = Buffer.from(m.buf);
        for (const b of m.blobs) {
          const raw = decode(f.path, b, buf);
          f.hash.update(raw);
          writeAll(f.fd, raw);
          f.written += raw.length;
          r.bytes += raw.length;
        }
        return;
      }
      case 'close': {
        const f = open.get(m.file)!;
        if (f.written !== m.dest.size) throw new Corrupt(f.path, `${f.written} bytes, the manifest says ${m.dest.size}`);
        if (f.hash.digest('hex') !== m.sha256) throw new Corrupt(f.path, 'whole-file SHA-256 does not match the manifest');
        finish(f.fd, m.dest);
        open.delete(m.file);
        fs.closeSync(f.fd);
        r.files++;
        return;
      }
      case 'drop': {
        const f = open.get(m.file);
        open.delete(m.file);
        if (f) fs.closeSync(f.fd);
        return;
      }
    }
  };

  parentPort!.on('message', (m: RestoreRequest) => {
    const r: Reply = { id: m.id, bytes: 0, files: 0 };
    try {
      handle(m, r);
      parentPort!.postMessage(r);
    } catch (err) {
      if (m.t === 'close' || m.t === 'data') {
        const f = open.get(m.file);
        open.delete(m.file);
        if (f) fs.closeSync(f.fd);
      }
      const e = err as NodeJS.ErrnoException;
      r.error =
        err instanceof Corrupt
          ? { kind: 'corrupt', message: e.message, path: err.path }
          : { kind: 'fs', message: e.message, code: e.code, syscall: e.syscall, path: e.path };
      parentPort!.postMessage(r);
    }
  });
}

function workerSource(): string {
  return `const __name = (f) => f;
const blobLru = (${blobLru.toString()});
(${workerMain.toString()})(require, blobLru);`;
}

/** The outcome of one request: bytes and files written. */
export interface RestoreResult {
  bytes: number;
  files: number;
}

export class RestoreWorkerFailure extends Error {
  constructor(readonly detail: RestoreWorkerError) {
    super(detail.message);
  }
}

interface Slot {
  worker: Worker;
  /** What the worker's cache holds, replayed here (see blobLru). */
  cache: ReturnType<typeof blobLru<true>>;
  pending: Map<number, { resolve: (r: RestoreResult) => void; reject: (e: Error) => void }>;
  load: number;
}

/** A fixed set of restore workers. */
export class RestorePool {
  private readonly slots: Slot[] = [];
  private nextId = 0;
  private failure: Error | undefined;

  constructor(workers: number, cacheBytes: number) {
    const zstdBinding = createRequire(import.meta.url).resolve('zstd-napi/binding');
    const source = workerSource();
    for (let i = 0; i < workers; i++) {
      const worker = new Worker(source, { eval: true, workerData: { zstdBinding, cacheBytes } });
      const slot: Slot = { worker, cache: blobLru<true>(cacheBytes), pending: new Map(), load: 0 };
      worker.on('message', (r: Reply) => {
        const p = slot.pending.get(r.id);
        if (!p) return;
        slot.pending.delete(r.id);
        slot.load--;
        if (r.error) p.reject(new RestoreWorkerFailure(r.error));
        else p.resolve({ bytes: r.bytes, files: r.files });
      });
      worker.on('error', (err) => this.fail(err));
      worker.on('exit', (code) => {
        if (slot.pending.size > 0) this.fail(new Error(`restore worker exited (code ${code}) with work pending`));
      });
      this.slots.push(slot);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const s of this.slots) {
      for (const p of s.pending.values()) p.reject(this.failure);
      s.pending.clear();
    }
  }

  /** The least busy worker (a large file keeps the one it was given). */
  pick(): number {
    let best = 0;
    for (let i = 1; i < this.slots.length; i++) if (this.slots[i]!.load < this.slots[best]!.load) best = i;
    return best;
  }

  /**
   * Whether worker `slot` holds blob `id`. Send the request that uses it before awaiting
   * anything: another request to that worker could evict it in between.
   */
  holds(slot: number, id: string): boolean {
    return this.slots[slot]!.cache.has(id);
  }

  /**
   * Sends a request (its buffer transferred) to worker `slot`, and replays on that worker's
   * cache mirror what the request does to its cache.
   */
  send(slot: number, m: RestoreRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never): Promise<RestoreResult> {
    if (this.failure) return Promise.reject(this.failure);
    const s = this.slots[slot]!;
    const id = this.nextId++;
    const msg = { ...m, id } as RestoreRequest;
    if (msg.t === 'smalls' || msg.t === 'data') {
      for (const b of msg.blobs) {
        if (b.c === 3 && s.cache.get(b.id) === undefined) return Promise.reject(new Error(`restore worker ${slot} no longer holds blob ${b.id}`));
        if (b.keep && b.c !== 3) s.cache.set(b.id, b.raw, true);
      }
    }
    s.load++;
    return new Promise<RestoreResult>((resolve, reject) => {
      s.pending.set(id, { resolve, reject });
      s.worker.postMessage(msg, 'buf' in msg ? [msg.buf] : []);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
