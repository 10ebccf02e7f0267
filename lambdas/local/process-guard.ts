/**
 * Local mode must leave nothing behind, however it ends (Ctrl-C, a closed terminal, SIGKILL),
 * and two runs must never share one state directory. Three guards:
 *
 * - **Lifeline** (adapters/lifeline.ts): every process local mode starts (DynamoDB Local,
 *   each task) dies with it; the agent starts its application the same way, so a task's
 *   whole tree follows.
 * - **Ledger**: each started process group is written to `<state>/processes` with its start
 *   time; a later start kills whatever of a crashed run is still alive (where no lifeline
 *   exists, or a grandchild escaped it).
 * - **Lock**: `<state>/local.lock` (proper-lockfile, refreshed while running) names its holder;
 *   a second start on the same directory fails naming it, and takes over a dead holder's lock.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isAbsolute, join, resolve, sep } from 'node:path';
import lockfile from 'proper-lockfile';
import { LifeboatError, UsageError } from '../domain/errors.js';

/** Another run holds the state directory (exit code 2: the user chose the directory). */
export class StateDirectoryInUseError extends UsageError {}

/**
 * Creates `dir` and its parents one level at a time. (Node's recursive mkdir never returns
 * for a path under /proc; a file in the way gives a bare ENOTDIR.) Errors name the path.
 */
export async function ensureDirectory(dir: string, what = 'state directory'): Promise<string> {
  const abs = resolve(dir);
  const parts = abs.split(sep).filter(Boolean);
  let path = isAbsolute(abs) ? sep : '';
  for (const part of parts) {
    path = join(path, part);
    try {
      const s = await stat(path);
      if (!s.isDirectory())
        throw new UsageError(`${what} ${abs}: ${path} is a file, not a directory`, { hint: 'choose a writable --state-dir (or use --ephemeral)' });
      continue;
    } catch (err) {
      if (err instanceof LifeboatError) throw err;
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw unusable(abs, what, err);
    }
    try {
      await mkdir(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw unusable(abs, what, err);
    }
  }
  // A directory we cannot write to (read-only mounts, /proc) is found now, not halfway through.
  const probe = join(abs, `.lifeboat-probe-${process.pid}`);
  try {
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (err) {
    throw unusable(abs, what, err);
  }
  return abs;
}

function unusable(dir: string, what: string, err: unknown): UsageError {
  const e = err as NodeJS.ErrnoException;
  return new UsageError(`${what} ${dir} cannot be used: ${e.code ?? ''} ${e.message ?? String(err)}`.replace(/\s+/g, ' ').trim(), {
    hint: 'choose a writable --state-dir (or use --ephemeral)',
  });
}

interface Holder {
  pid: number;
  host: string;
  startedAt: string;
  /** The holder's start time in clock ticks since boot (Linux), so a reused pid is not mistaken for it. */
  start?: number;
}

/** A process's start time (clock ticks since boot) from /proc, or undefined when unknown. */
function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces), which ends at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

function isAlive(h: Holder): boolean {
  if (h.host !== hostname()) return true; // cannot tell: assume it is
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const start = processStart(h.pid);
  return h.start === undefined || start === undefined || start === h.start;
}

export class StateDirectoryLock {
  private constructor(
    private readonly dir: string,
    private readonly release: () => Promise<void>,
  ) {}

  /** Takes the lock on `dir` or throws StateDirectoryInUseError naming the live holder. */
  static async acquire(dir: string, onLost: (err: Error) => void): Promise<StateDirectoryLock> {
    const lockPath = join(dir, 'local.lock');
    const holderPath = join(dir, 'local.lock.json');
    const take = () => lockfile.lock(dir, { lockfilePath: lockPath, realpath: false, stale: 15_000, update: 5_000, onCompromised: onLost });
    let release: () => Promise<void>;
    try {
      release = await take();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
      const holder = await readHolder(holderPath);
      if (holder && isAlive(holder)) {
        throw new StateDirectoryInUseError(
          `state directory ${dir} is in use by lifeboat local (pid ${holder.pid} on ${holder.host}, started ${holder.startedAt})`,
          {
            hint: 'stop that run first (Ctrl-C in its terminal), or start this one with another --state-dir or --ephemeral',
          },
        );
      }
      // Its holder is gone (killed before it could release): take the lock over.
      await rm(lockPath, { recursive: true, force: true });
      release = await take();
    }
    const me: Holder = {
      pid: process.pid,
      host: hostname(),
      startedAt: new Date().toISOString(),
      ...(processStart(process.pid) !== undefined ? { start: processStart(process.pid)! } : {}),
    };
    await writeFile(holderPath, `${JSON.stringify(me)}\n`);
    return new StateDirectoryLock(dir, async () => {
      await rm(holderPath, { force: true });
      await release();
    });
  }

  async unlock(): Promise<void> {
    await this.release().catch(() => undefined);
  }

  get directory(): string {
    return this.dir;
  }
}

async function readHolder(path: string): Promise<Holder | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Holder;
  } catch {
    return undefined;
  }
}

/**
 * Process groups local mode started, one line each (`pgid start`), so that the next start can
 * stop what a crashed run left running.
 */
export class ProcessLedger {
  constructor(private readonly path: string) {}

  async record(pid: number | undefined): Promise<void> {
    if (pid === undefined) return;
    await appendFile(this.path, `${pid} ${processStart(pid) ?? 0}\n`);
  }

  /** Kills every live process of a recorded group that started no earlier than it; returns how many. */
  async reap(): Promise<number> {
    if (!existsSync(this.path)) return 0;
    const groups = (await readFile(this.path, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ').map(Number) as [number, number]);
    let killed = 0;
    if (groups.length && process.platform === 'linux') {
      const wanted = new Map(groups);
      for (const name of readdirSync('/proc')) {
        if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
        let stat: string;
        try {
          stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        } catch {
          continue;
        }
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const pgid = Number(fields[2]);
        const start = Number(fields[19]);
        const since = wanted.get(pgid);
        if (since === undefined || start < since) continue;
        try {
          process.kill(Number(name), 'SIGKILL');
          killed++;
        } catch {
          // gone already
        }
      }
    }
    await rm(this.path, { force: true });
    return killed;
  }
}
