/**
 * Worker threads that read files, cut them into content-defined chunks, hash and compress
 * the chunks: the CPU-heavy half of a v2 snapshot, in parallel with the main thread (which
 * dedups, packs and uploads).
 *
 * Why workers read the files themselves: a small file made through Node's thread pool costs
 * several hand-offs (open, read, fstat, close); a worker does them back to back with
 * synchronous calls, which is what makes 20,000 small files fast.
 *
 * Flow control: each worker holds a few "credits" in shared memory; every message it posts
 * costs one and it blocks (Atomics.wait) when it has none. The main thread gives a credit
 * back once the message's data is in a pack and the uploads have room, so memory stays
 * bounded whatever the tree.
 *
 * The worker runs source text built from self-contained functions (`workerMain` below and
 * the chunker's), so it works the same from tsx, vitest and the esbuild bundle.
 */
import { createRequire } from 'node:module';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { type ChunkParams, fastCdcCut, gearTable } from '../../domain/chunker.js';

/** One file for a worker to read. Times and inode as the walk saw them (decimal strings). */
export interface ChunkJobFile {
  /** Caller's handle for the file (index into the walk). */
  file: number;
  path: string;
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  ino: string;
  /** Blob ids the caller already has (e.g. the file's previous version): not sent again. */
  known?: string[];
}

/** A new blob: its stored bytes are `data`. */
export interface ChunkItem {
  k: 'c';
  file: number;
  id: string;
  raw: number;
  /** 0 = stored plain, 1 = zstd. */
  c: 0 | 1;
  data: Buffer;
}

/** A file has been read. */
export interface FileItem {
  k: 'f';
  file: number;
  /** Gone or no longer a regular file: leave it out. */
  vanished?: true;
  blobs: string[];
  size: number;
  /** Whole-file SHA-256. */
  sha256: string;
  /** Changed while being read (stat before ≠ after, or shorter than walked). */
  changed: boolean;
}

export type WorkerItem = ChunkItem | FileItem;

interface WireChunk {
  k: 'c';
  file: number;
  id: string;
  raw: number;
  c: 0 | 1;
  off: number;
  len: number;
}

type WireMessage =
  | { type: 'items'; job: number; buf: ArrayBuffer; items: (WireChunk | FileItem)[] }
  | { type: 'done'; job: number }
  | { type: 'error'; job: number; message: string; code?: string; path?: string };

interface WorkerConfig {
  zstdBinding: string;
  credits: SharedArrayBuffer;
  /** Message buffers the main thread is done with come back here, to be filled again. */
  recycle: MessagePort;
  level: number;
  min: number;
  avg: number;
  max: number;
  messageBytes: number;
}

/**
 * Runs inside the worker. Self-contained: everything it uses comes in as arguments.
 * Slot 0 of `credits`: messages it may still post; slot 1: non-zero = stop.
 */
function workerMain(req: (id: string) => unknown, makeGear: () => Int32Array, cut: typeof fastCdcCut): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { parentPort, workerData, receiveMessageOnPort } = req('node:worker_threads') as typeof import('node:worker_threads');
  const fs = req('node:fs') as typeof import('node:fs');
  const { createHash } = req('node:crypto') as typeof import('node:crypto');
  const config = workerData as WorkerConfig;
  const zstd = req(config.zstdBinding) as { compress(dst: Uint8Array, src: Uint8Array, level: number): number; compressBound(n: number): number };
  const credits = new Int32Array(config.credits);
  const gear = makeGear();
  const { min, avg, max, level } = config;
  const sent = new Set<string>();
  const window = Buffer.allocUnsafeSlow(max * 2);
  const flags = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
  // Compression writes here first; a message buffer then holds only stored bytes. Message
  // buffers circulate: the main thread sends each back once its blobs are copied into packs,
  // so a snapshot touches a few fresh pages instead of faulting in every byte twice.
  const scratch = Buffer.allocUnsafeSlow(zstd.compressBound(max));
  const takeBuffer = (min: number): Buffer => {
    for (;;) {
      const back = receiveMessageOnPort(config.recycle);
      if (!back) return Buffer.allocUnsafeSlow(Math.max(min, config.messageBytes));
      const b = Buffer.from(back.message as ArrayBuffer);
      if (b.length >= min) return b;
    }
  };
  let buf = takeBuffer(config.messageBytes);
  let used = 0;
  let items: unknown[] = [];

  const flush = (job: number) => {
    if (items.length === 0) return;
    for (;;) {
      const have = Atomics.load(credits, 0);
      if (Atomics.load(credits, 1) !== 0) throw Object.assign(new Error('stopped'), { code: 'LIFEBOAT_STOPPED' });
      if (have > 0) break;
      Atomics.wait(credits, 0, have, 1000);
    }
    Atomics.sub(credits, 0, 1);
    const out = buf.buffer as ArrayBuffer;
    parentPort!.postMessage({ type: 'items', job, buf: out, items }, [out]);
    buf = takeBuffer(config.messageBytes);
    used = 0;
    items = [];
  };

  // Stored plain when a 64 KiB sample (or the whole chunk) does not shrink by 3 %.
  const store = (job: number, file: number, id: string, chunk: Buffer) => {
    let c: 0 | 1 = 0;
    let stored = chunk;
    if (level > 0 && chunk.length >= 128) {
      let worth = true;
      if (chunk.length > 128 * 1024) {
        const sample = chunk.subarray(0, 64 * 1024);
        worth = zstd.compress(scratch, sample, level) < sample.length * 0.97;
      }
      if (worth) {
        const n = zstd.compress(scratch, chunk, level);
        if (n < chunk.length * 0.97) {
          c = 1;
          stored = scratch.subarray(0, n);
        }
      }
    }
    if (used + stored.length > buf.length) {
      flush(job);
      if (stored.length > buf.length) buf = takeBuffer(stored.length);
    }
    stored.copy(buf, used);
    items.push({ k: 'c', file, id, raw: chunk.length, c, off: used, len: stored.length });
    used += stored.length;
    if (used >= config.messageBytes) flush(job);
  };

  const readFile = (job: number, f: ChunkJobFile) => {
    let fd: number;
    try {
      fd = fs.openSync(f.path, flags);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ELOOP') {
        items.push({ k: 'f', file: f.file, vanished: true, blobs: [], size: 0, sha256: '', changed: false });
        return;
      }
      throw err;
    }
    try {
      const before = fs.fstatSync(fd, { bigint: true });
      if (!before.isFile()) {
        items.push({ k: 'f', file: f.file, vanished: true, blobs: [], size: 0, sha256: '', changed: false });
        return;
      }
      const known = f.known ? new Set(f.known) : undefined;
      const whole = createHash('sha256');
      const blobs: string[] = [];
      let pos = 0;
      let start = 0;
      let end = 0;
      let eof = false;
      let short = false;
      for (;;) {
        if (!eof && end - start < max) {
          if (start > 0) {
            window.copy(window, 0, start, end);
            end -= start;
            start = 0;
          }
          while (end < window.length && pos < f.size) {
            const n = fs.readSync(fd, window, end, Math.min(window.length - end, f.size - pos), pos);
            if (n === 0) {
              short = true;
              break;
            }
            end += n;
            pos += n;
          }
          if (pos >= f.size || short) eof = true;
        }
        if (start === end) break;
        const len = cut(gear, window, start, end, min, avg, max);
        const chunk = window.subarray(start, start + len);
        const id = createHash('sha256').update(chunk).digest('hex');
        // A file up to the minimum chunk is one blob whose id is its hash: no second pass.
        if (f.size > min) whole.update(chunk);
        blobs.push(id);
        if (!known?.has(id) && !sent.has(id)) {
          sent.add(id);
          store(job, f.file, id, chunk);
        }
        start += len;
      }
      const sha256 = blobs.length === 1 ? blobs[0]! : whole.digest('hex');
      const after = fs.fstatSync(fd, { bigint: true });
      const changed =
        short ||
        after.size !== BigInt(f.size) ||
        after.mtimeNs.toString() !== f.mtimeNs ||
        after.ctimeNs.toString() !== f.ctimeNs ||
        after.ino.toString() !== f.ino;
      items.push({ k: 'f', file: f.file, blobs, size: pos, sha256, changed });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EISDIR' || code === 'EAGAIN') {
        items.push({ k: 'f', file: f.file, vanished: true, blobs: [], size: 0, sha256: '', changed: false });
        return;
      }
      throw err;
    } finally {
      fs.closeSync(fd);
    }
  };

  parentPort!.on('message', (msg: { job: number; files: ChunkJobFile[] }) => {
    let current: string | undefined;
    try {
      for (const f of msg.files) {
        current = f.path;
        readFile(msg.job, f);
      }
      current = undefined;
      flush(msg.job);
      parentPort!.postMessage({ type: 'done', job: msg.job });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      items = [];
      used = 0;
      parentPort!.postMessage({ type: 'error', job: msg.job, message: e.message, code: e.code, path: e.path ?? current });
    }
  });
}

/**
 * The worker's source. esbuild (tsx, vitest) may wrap named functions in `__name(...)`
 * to keep their names; the stub keeps that harmless inside the worker.
 */
function workerSource(): string {
  return `const __name = (f) => f;
const gearTable = (${gearTable.toString()});
const fastCdcCut = (${fastCdcCut.toString()});
(${workerMain.toString()})(require, gearTable, fastCdcCut);`;
}

export interface ChunkPoolOptions {
  workers: number;
  level: number;
  params: ChunkParams;
  /** Messages a worker may have posted and not yet had given back. */
  credits?: number;
  /** A worker posts once this many stored bytes are gathered. */
  messageBytes?: number;
}

export interface JobHandlers {
  /**
   * Called for each message, in order; resolve to give the worker its credit back. The
   * items' `data` is lent: it is reused once the promise resolves, so copy what you keep.
   */
  onItems(items: WorkerItem[]): Promise<void> | void;
}

export class JobError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly path: string | undefined,
  ) {
    super(message);
  }
}

interface Slot {
  worker: Worker;
  recycle: MessagePort;
  credits: Int32Array;
  queue: Promise<void>;
  pending: Map<number, { resolve: () => void; reject: (e: Error) => void }>;
  load: number;
}

/** A fixed set of chunk workers; `run` sends a job to the least busy one. */
export class ChunkPool {
  private readonly slots: Slot[] = [];
  private nextJob = 0;
  private failure: Error | undefined;

  constructor(
    options: ChunkPoolOptions,
    private readonly handlers: JobHandlers,
  ) {
    const zstdBinding = createRequire(import.meta.url).resolve('zstd-napi/binding');
    const source = workerSource();
    for (let i = 0; i < options.workers; i++) {
      const credits = new Int32Array(new SharedArrayBuffer(8));
      credits[0] = options.credits ?? 3;
      const channel = new MessageChannel();
      const config: WorkerConfig = {
        zstdBinding,
        credits: credits.buffer as SharedArrayBuffer,
        recycle: channel.port2,
        level: options.level,
        min: options.params.min,
        avg: options.params.avg,
        max: options.params.max,
        messageBytes: options.messageBytes ?? 4 * 1024 * 1024,
      };
      const worker = new Worker(source, { eval: true, workerData: config, transferList: [channel.port2] });
      const slot: Slot = { worker, recycle: channel.port1, credits, queue: Promise.resolve(), pending: new Map(), load: 0 };
      worker.on('message', (m: WireMessage) => this.onMessage(slot, m));
      worker.on('error', (err) => this.fail(err));
      worker.on('exit', (code) => {
        if (slot.pending.size > 0) this.fail(new Error(`chunk worker exited (code ${code}) with work pending`));
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

  private onMessage(slot: Slot, m: WireMessage): void {
    if (m.type === 'items') {
      const base = Buffer.from(m.buf);
      const items: WorkerItem[] = m.items.map((it) =>
        it.k === 'c' ? { k: 'c', file: it.file, id: it.id, raw: it.raw, c: it.c, data: base.subarray(it.off, it.off + it.len) } : it,
      );
      slot.queue = slot.queue
        .then(() => this.handlers.onItems(items))
        .then(
          () => {
            // The handler has copied what it keeps (JobHandlers.onItems): the bytes go back.
            slot.recycle.postMessage(m.buf, [m.buf]);
            Atomics.add(slot.credits, 0, 1);
            Atomics.notify(slot.credits, 0);
          },
          (err: unknown) => this.fail(err instanceof Error ? err : new Error(String(err))),
        );
      return;
    }
    const p = slot.pending.get(m.job);
    if (!p) return;
    slot.pending.delete(m.job);
    slot.load--;
    if (m.type === 'done') {
      // Settle after every earlier message of the job was handled.
      void slot.queue.then(() => (this.failure ? p.reject(this.failure) : p.resolve()));
    } else {
      p.reject(new JobError(m.message, m.code, m.path));
    }
  }

  /** Reads the files in one worker; resolves once all their items were handled. */
  run(files: ChunkJobFile[]): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const slot = this.slots.reduce((a, b) => (b.load < a.load ? b : a));
    const job = this.nextJob++;
    slot.load++;
    return new Promise<void>((resolve, reject) => {
      slot.pending.set(job, { resolve, reject });
      slot.worker.postMessage({ job, files });
    });
  }

  /** Jobs waiting or running in the least busy worker. */
  get minLoad(): number {
    return Math.min(...this.slots.map((s) => s.load));
  }

  /** Stops every worker (also one blocked waiting for a credit). */
  async close(): Promise<void> {
    for (const s of this.slots) {
      Atomics.store(s.credits, 1, 1);
      Atomics.notify(s.credits, 0);
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    for (const s of this.slots) s.recycle.close();
  }
}
