/**
 * ObjectStore on a local directory (`file:///path`): for a shared volume (EFS, NFS), a
 * local second copy, and tests.
 *
 * An object is written to a temporary sibling, fsynced and renamed, so a reader (or a crash)
 * sees either nothing or the whole object, like S3's atomic PUT.
 */

import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AbortedError, UnavailableError, UsageError } from '../../domain/errors.js';
import { type ObjectInfo, ObjectNotFoundError, type ObjectStore, type PutOptions, ShortObjectError, STORE_URL_HINT, type StoreBackend } from './store.js';

const TEMP_MARK = '.lifeboat-tmp-';

export class DirectoryStore implements ObjectStore {
  readonly url: string;

  constructor(private readonly root: string) {
    this.url = pathToFileURL(root).href;
  }

  private pathOf(key: string): string {
    // Keys come from contract/keys.ts, but a store must never write outside its root whatever it is given.
    if (key.split('/').some((s) => s === '..' || s === '.' || s === '') || key.includes('\0')) {
      throw new UsageError(`object key ${JSON.stringify(key)} is not a safe relative key`);
    }
    return join(this.root, ...key.split('/'));
  }

  async check(): Promise<void> {
    const s = await stat(this.root).catch(() => undefined);
    if (!s?.isDirectory()) {
      throw new UnavailableError(`store directory ${this.root} does not exist`, {
        hint: 'create it with `lifeboat init` or fix --store / LIFEBOAT_STORE',
      });
    }
  }

  async ensure(): Promise<'created' | 'exists'> {
    const existed = (await stat(this.root).catch(() => undefined))?.isDirectory() ?? false;
    await mkdir(this.root, { recursive: true });
    return existed ? 'exists' : 'created';
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<{ size: number }> {
    await this.check();
    const final = this.pathOf(key);
    await mkdir(dirname(final), { recursive: true });
    const temp = `${final}${TEMP_MARK}${randomBytes(4).toString('hex')}`;
    let size = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, count, createWriteStream(temp, { flags: 'wx' }), { signal: options.signal });
      const fh = await open(temp, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(temp, final);
      return { size };
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      if (options.signal?.aborted) throw new AbortedError(`write of ${key} aborted`, { cause: err });
      throw err;
    }
  }

  async get(key: string): Promise<Readable> {
    const path = this.pathOf(key);
    // Open first so a missing object is reported here, not later as a stream error.
    const fh = await open(path, 'r').catch(async (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        await this.check();
        throw new ObjectNotFoundError(key, this.url);
      }
      throw err;
    });
    return createReadStream('', { fd: fh, highWaterMark: 1024 * 1024 });
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    const fh = await open(this.pathOf(key), 'r').catch(async (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        await this.check();
        throw new ObjectNotFoundError(key, this.url);
      }
      throw err;
    });
    try {
      const buf = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) throw new ShortObjectError(key, offset, length, got);
        got += bytesRead;
      }
      return buf;
    } finally {
      await fh.close();
    }
  }

  async head(key: string): Promise<{ size: number } | undefined> {
    const s = await stat(this.pathOf(key)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
      throw err;
    });
    return s?.isFile() ? { size: s.size } : undefined;
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    await this.check();
    // Walk only the directory that can hold the prefix, then filter by the rest of it.
    const slash = prefix.lastIndexOf('/');
    const baseKey = slash === -1 ? '' : prefix.slice(0, slash + 1);
    const base = baseKey === '' ? this.root : this.pathOf(baseKey.slice(0, -1));
    const found: ObjectInfo[] = [];
    const walk = async (dir: string, keyPrefix: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [];
        throw err;
      });
      for (const e of entries) {
        const key = keyPrefix + e.name;
        if (e.isDirectory()) {
          if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(join(dir, e.name), `${key}/`);
        } else if (e.isFile() && key.startsWith(prefix) && !e.name.includes(TEMP_MARK)) {
          found.push({ key, size: (await stat(join(dir, e.name))).size });
        }
      }
    };
    await walk(base, baseKey);
    found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* found;
  }

  async delete(keys: readonly string[]): Promise<void> {
    const parents = new Set<string>();
    for (const key of keys) {
      const path = this.pathOf(key);
      await unlink(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      parents.add(dirname(path));
    }
    // Drop directories left empty so the layout mirrors S3, where prefixes are not objects.
    for (const dir of [...parents].sort((a, b) => b.length - a.length)) {
      let d = dir;
      while (d.startsWith(this.root + sep) && d !== this.root) {
        try {
          await rmdir(d);
        } catch {
          break;
        }
        d = dirname(d);
      }
    }
  }
}

/** `file:///path` (and a bare absolute path): the backend the store registry (registry.ts) opens for it. */
export const directoryBackend: StoreBackend = {
  scheme: 'file:',
  open(url) {
    if (isAbsolute(url)) return new DirectoryStore(url);
    let path: string;
    try {
      path = fileURLToPath(url);
    } catch {
      throw new UsageError(`store URL ${JSON.stringify(url)} is not a valid file URL`, { hint: STORE_URL_HINT });
    }
    return new DirectoryStore(resolve(path));
  },
};
