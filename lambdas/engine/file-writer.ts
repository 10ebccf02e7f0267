/**
 * Writes many small files from a worker thread, in batches, with synchronous system calls.
 *
 * Why: a small file costs four system calls (open, write, futimes, close). Made one by one
 * through Node's thread pool, each is a hand-off to a pool thread and a wake-up back — for
 * 20,000 files that is some 80,000 round trips, and the profile of a restore was mostly
 * futex and epoll, not file I/O (docs/PERFORMANCE.md). A worker that runs the calls
 * back to back for a whole batch needs one message per batch instead, and keeps the main
 * thread free to parse and verify the archive.
 *
 * Batches pack the files' bytes into one buffer that is transferred, not copied again.
 */
import { Worker } from 'node:worker_threads';
import { asEnvironmentError, type LifeboatError, OperationFailedError } from '../domain/errors.js';

export interface SmallFile {
  path: string;
  data: Buffer;
  /** Final permission bits (mode & 0o7777). */
  mode: number;
  mtimeMs: number;
  /** Set the owner (only when running as root and it differs). */
  chown?: { uid: number; gid: number };
  /** chmod after writing: the umask or special bits, or chown, require it. */
  chmod: boolean;
}

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
parentPort.on('message', ({ id, buf, files }) => {
  try {
    let at = 0;
    for (const f of files) {
      const fd = fs.openSync(f.path, 'wx', f.mode & 0o777);
      try {
        const end = at + f.size;
        while (at < end) at += fs.writeSync(fd, buf, at, end - at);
        if (f.uid !== undefined) fs.fchownSync(fd, f.uid, f.gid);
        if (f.chmod) fs.fchmodSync(fd, f.mode);
        fs.futimesSync(fd, f.mtimeMs / 1000, f.mtimeMs / 1000);
      } finally {
        fs.closeSync(fd);
      }
    }
    parentPort.postMessage({ id });
  } catch (err) {
    parentPort.postMessage({ id, error: { message: err.message, code: err.code, path: err.path } });
  }
});
`;

/**
 * A worker's failed write as the error a user sees: a full disk or a read-only target says
 * so (EnvironmentError, exit 4), anything else names the file.
 */
export function writeFailure(error: { message: string; code?: string; path?: string }, action: string): LifeboatError {
  const cause = Object.assign(new Error(error.message), { code: error.code, path: error.path });
  const env = asEnvironmentError(cause, action, 'the snapshot is fine and the target directory was not changed');
  return env !== cause
    ? (env as LifeboatError)
    : new OperationFailedError(`cannot write ${error.path ?? 'a restored file'}: ${error.code ?? error.message}`, {
        hint: "check the free space and permissions of the target's filesystem; the target directory was not changed",
      });
}

const BATCH_BYTES = 4 * 1024 * 1024;
const BATCH_FILES = 512;
const MAX_IN_FLIGHT = 3;

export class SmallFileWriter {
  private readonly worker: Worker;
  private batch: SmallFile[] = [];
  private batchBytes = 0;
  private nextId = 0;
  private readonly inFlight = new Map<number, { resolve: () => void; reject: (e: Error) => void; files: SmallFile[] }>();
  private failure: Error | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly onWritten: (bytes: number, files: number) => void = () => undefined,
    /** Names the operation in an environment error, e.g. "restore of snapshot <id>". */
    private readonly action = 'writing a restored file',
  ) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    // Only work in flight keeps the process alive; an abandoned writer never holds it open.
    this.worker.unref();
    this.worker.on('message', (m: { id: number; error?: { message: string; code?: string; path?: string } }) => {
      const job = this.inFlight.get(m.id);
      if (!job) return;
      this.inFlight.delete(m.id);
      if (m.error) {
        const err = writeFailure(m.error, this.action);
        this.failure ??= err;
        job.reject(err);
      } else {
        this.onWritten(
          job.files.reduce((n, f) => n + f.data.length, 0),
          job.files.length,
        );
        job.resolve();
      }
      if (this.inFlight.size === 0) this.worker.unref();
      for (const w of this.waiters.splice(0)) w();
    });
    this.worker.on('error', (err) => {
      this.failure ??= err;
      for (const job of this.inFlight.values()) job.reject(err);
      this.inFlight.clear();
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Queues a file; resolves once there is room (bounded memory), rejects after a failure. */
  async add(file: SmallFile): Promise<void> {
    if (this.failure) throw this.failure;
    this.batch.push(file);
    this.batchBytes += file.data.length;
    if (this.batchBytes >= BATCH_BYTES || this.batch.length >= BATCH_FILES) await this.send();
  }

  private async send(): Promise<void> {
    while (this.inFlight.size >= MAX_IN_FLIGHT && !this.failure) await new Promise<void>((r) => this.waiters.push(r));
    if (this.failure) throw this.failure;
    const files = this.batch;
    if (files.length === 0) return;
    this.batch = [];
    const buf = Buffer.allocUnsafeSlow(this.batchBytes);
    this.batchBytes = 0;
    let at = 0;
    for (const f of files) {
      f.data.copy(buf, at);
      at += f.data.length;
    }
    const id = this.nextId++;
    const done = new Promise<void>((resolve, reject) => this.inFlight.set(id, { resolve, reject, files }));
    this.worker.ref();
    done.catch(() => undefined); // surfaced through `failure` by add()/drain()
    this.worker.postMessage(
      {
        id,
        buf,
        files: files.map((f) => ({
          path: f.path,
          size: f.data.length,
          mode: f.mode,
          mtimeMs: f.mtimeMs,
          chmod: f.chmod,
          ...(f.chown ? { uid: f.chown.uid, gid: f.chown.gid } : {}),
        })),
      },
      [buf.buffer],
    );
  }

  /** Writes what is queued and waits for every batch; throws the first failure. */
  async drain(): Promise<void> {
    if (!this.failure) await this.send();
    while (this.inFlight.size > 0) await new Promise<void>((r) => this.waiters.push(r));
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
