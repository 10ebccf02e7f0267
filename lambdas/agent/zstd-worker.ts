/**
 * zstd compression and decompression on worker threads, with the SHA-256 of the
 * compressed bytes computed there too.
 *
 * Why: zstd-napi works synchronously on the calling thread. On the main thread it competed
 * with reading, hashing and packing files, and a snapshot was CPU-bound on that one thread
 * while the second core idled (profile and numbers in docs/PERFORMANCE.md). zstd's own
 * multi-threading (nbWorkers) was measured slower here. A worker per stream moves the
 * codec and the archive hash to another core and leaves the main thread the file work.
 *
 * Data crosses threads in batches of about 1 MiB whose buffers are transferred, not
 * copied; at most a few batches are in flight per stream, so memory stays bounded.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { Worker } from 'node:worker_threads';

const BATCH = 1024 * 1024;
const MAX_IN_FLIGHT = 4;

/**
 * The worker's code, run with `eval` so it works the same from the TypeScript sources,
 * the esbuild bundle and an installed package; the zstd binding is loaded by absolute path.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const binding = require(workerData.bindingPath);
const BATCH = 1024 * 1024;
// One scratch buffer per worker, reused for every codec call; produced bytes are copied
// into 1 MiB batches that are transferred (allocating per call cost page faults and GC).
const scratch = Buffer.allocUnsafeSlow(256 * 1024);
let ctx, hash, mode, inFrame = false, stored = 0, batch, filled, ready;
function start(m) {
  mode = m.mode;
  hash = createHash('sha256');
  stored = 0;
  inFrame = false;
  ready = [];
  batch = null;
  filled = 0;
  if (mode === 'compress') {
    ctx = new binding.CCtx();
    ctx.setParameter(binding.CParameter.compressionLevel, m.level);
    ctx.setParameter(binding.CParameter.checksumFlag, 1);
  } else {
    ctx = new binding.DCtx();
  }
}
function emit(bytes) {
  while (bytes.length > 0) {
    if (!batch) { batch = Buffer.allocUnsafeSlow(BATCH); filled = 0; }
    const n = Math.min(bytes.length, BATCH - filled);
    bytes.copy(batch, filled, 0, n);
    filled += n;
    bytes = bytes.subarray(n);
    if (filled === BATCH) { ready.push(batch); batch = null; }
  }
}
function flushBatch() {
  if (batch && filled > 0) ready.push(batch.subarray(0, filled));
  batch = null;
  filled = 0;
}
function compress(src, end) {
  const directive = end ? binding.EndDirective.end : binding.EndDirective.continue;
  for (;;) {
    const [ret, produced, consumed] = ctx.compressStream2(scratch, src, directive);
    if (produced > 0) {
      const piece = scratch.subarray(0, produced);
      hash.update(piece);
      stored += produced;
      emit(piece);
    }
    src = src.subarray(consumed);
    if (src.length === 0 && (!end || ret === 0)) return;
  }
}
function decompress(src) {
  hash.update(src);
  stored += src.length;
  for (;;) {
    const [ret, produced, consumed] = ctx.decompressStream(scratch, src);
    if (produced > 0) emit(scratch.subarray(0, produced));
    src = src.subarray(consumed);
    if (src.length === 0 && (produced < scratch.length || ret === 0)) {
      inFrame = ret !== 0;
      return;
    }
  }
}
function send(type, extra) {
  const pieces = ready;
  ready = [];
  parentPort.postMessage(Object.assign({ type, pieces }, extra), pieces.map((p) => p.buffer));
}
parentPort.on('message', (m) => {
  try {
    if (m.type === 'start') return start(m);
    if (m.type === 'data') {
      const src = Buffer.from(m.buf.buffer, m.buf.byteOffset, m.buf.byteLength);
      if (mode === 'compress') compress(src, false);
      else decompress(src);
      return send('out');
    }
    if (m.type === 'end') {
      if (mode === 'compress') compress(Buffer.alloc(0), true);
      else if (inFrame) throw new Error('stream ended in the middle of a zstd frame');
      flushBatch();
      return send('done', { sha256: hash.digest('hex'), stored });
    }
  } catch (err) {
    parentPort.postMessage({ type: 'error', message: err && err.message ? err.message : String(err) });
  }
});
`;

let bindingPath: string | undefined;
function zstdBindingPath(): string {
  if (!bindingPath) {
    const require = createRequire(import.meta.url);
    bindingPath = `${dirname(require.resolve('zstd-napi/package.json'))}/binding.js`;
  }
  return bindingPath;
}

/** Worker threads reused across streams; each stream holds one worker while it runs. */
export class ZstdWorkerPool {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();
  private closed = false;

  /** A Transform that compresses; `digest()` gives the SHA-256 of its output after 'end'. */
  compressStream(level: number): ZstdWorkerStream {
    return new ZstdWorkerStream(this, { mode: 'compress', level });
  }

  /** A Transform that decompresses; `digest()` gives the SHA-256 of its input after 'end'. */
  decompressStream(): ZstdWorkerStream {
    return new ZstdWorkerStream(this, { mode: 'decompress', level: 0 });
  }

  /** @internal */
  lease(): Worker {
    if (this.closed) throw new Error('zstd worker pool is closed');
    const w = this.idle.pop();
    if (w) return w;
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bindingPath: zstdBindingPath() } });
    // Idle workers must not keep the process alive.
    worker.unref();
    this.all.add(worker);
    return worker;
  }

  /** @internal */
  release(worker: Worker, healthy: boolean): void {
    worker.removeAllListeners('message');
    worker.removeAllListeners('error');
    if (healthy && !this.closed) this.idle.push(worker);
    else {
      this.all.delete(worker);
      void worker.terminate();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

interface WorkerMessage {
  type: 'out' | 'done' | 'error';
  pieces?: Uint8Array[];
  sha256?: string;
  stored?: number;
  message?: string;
}

export class ZstdWorkerStream extends Transform {
  private worker: Worker | undefined;
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private inFlight = 0;
  /** The consumer is not keeping up (push returned false): hold the producer. */
  private readBlocked = false;
  private waiting: TransformCallback | undefined;
  private finishing: TransformCallback | undefined;
  private result: { sha256: string; stored: number } | undefined;

  constructor(
    private readonly pool: ZstdWorkerPool,
    private readonly job: { mode: 'compress' | 'decompress'; level: number },
  ) {
    super({ highWaterMark: BATCH });
  }

  /** SHA-256 and size of the compressed side; available once the stream has ended. */
  digest(): { sha256: string; stored: number } {
    if (!this.result) throw new Error('digest() before the stream ended');
    return this.result;
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = this.pool.lease();
    w.ref();
    w.on('message', (m: WorkerMessage) => this.onMessage(m));
    w.on('error', (err) => this.fail(err));
    w.postMessage({ type: 'start', mode: this.job.mode, level: this.job.level });
    this.worker = w;
    return w;
  }

  private onMessage(m: WorkerMessage): void {
    if (m.type === 'error') return this.fail(new Error(`zstd: ${m.message}`));
    for (const p of m.pieces ?? []) {
      if (!this.push(Buffer.from(p.buffer, p.byteOffset, p.byteLength))) this.readBlocked = true;
    }
    if (m.type === 'out') {
      this.inFlight--;
      this.release();
      return;
    }
    this.result = { sha256: m.sha256!, stored: m.stored! };
    this.giveBack(true);
    const cb = this.finishing;
    this.finishing = undefined;
    cb?.();
  }

  /** Lets the writer go on once fewer than MAX_IN_FLIGHT batches are out and output drains. */
  private release(): void {
    if (!this.waiting || this.readBlocked || this.inFlight >= MAX_IN_FLIGHT) return;
    const cb = this.waiting;
    this.waiting = undefined;
    cb();
  }

  override _read(size: number): void {
    this.readBlocked = false;
    this.release();
    super._read(size);
  }

  private fail(err: Error): void {
    this.giveBack(false);
    const cb = this.waiting ?? this.finishing;
    this.waiting = this.finishing = undefined;
    if (cb) cb(err);
    else this.destroy(err);
  }

  private giveBack(healthy: boolean): void {
    if (!this.worker) return;
    const w = this.worker;
    this.worker = undefined;
    w.unref();
    this.pool.release(w, healthy);
  }

  private sendBatch(): void {
    if (this.batchBytes === 0) return;
    // One fresh buffer per batch, so it can be transferred instead of cloned.
    const buf = Buffer.allocUnsafeSlow(this.batchBytes);
    let at = 0;
    for (const b of this.batch) {
      b.copy(buf, at);
      at += b.length;
    }
    this.batch = [];
    this.batchBytes = 0;
    this.inFlight++;
    this.ensureWorker().postMessage({ type: 'data', buf }, [buf.buffer]);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.batch.push(chunk);
    this.batchBytes += chunk.length;
    if (this.batchBytes < BATCH) return callback();
    this.sendBatch();
    this.waiting = callback;
    this.release();
  }

  override _flush(callback: TransformCallback): void {
    this.sendBatch();
    this.finishing = callback;
    this.ensureWorker().postMessage({ type: 'end' });
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    // A stream torn down mid-way leaves its worker in an unknown state: do not reuse it.
    if (this.worker) this.giveBack(false);
    callback(err);
  }
}
