/**
 * Running database binaries for the recipes: finding them (Debian keeps the Postgres server
 * binaries in /usr/lib/postgresql/N/bin, off PATH), running them as the database's own user
 * when we are root (Postgres refuses to run as root), with time limits and captured output.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { chmod, chown, stat } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { OperationFailedError, UsageError } from '../domain/errors.js';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface ExecOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
  /** Run as this system user (through setpriv) when the current process is root. */
  asUser?: string;
  signal?: AbortSignal;
}

export const isRoot = (): boolean => process.getuid?.() === 0;

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Newest-version-first Postgres binary directories: $PG_BINDIR, then /usr/lib/postgresql/N/bin. */
function postgresBinDirs(env: NodeJS.ProcessEnv): string[] {
  const dirs: string[] = [];
  if (env.PG_BINDIR) dirs.push(env.PG_BINDIR);
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) dirs.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    // not a Debian-style install
  }
  return dirs;
}

/** The full path of a binary, or undefined. Postgres server binaries are looked up in their own directory first. */
export function findBinary(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [...postgresBinDirs(env), ...(env.PATH ?? '/usr/bin:/bin').split(delimiter)];
  for (const d of dirs) {
    const p = join(d, name);
    if (executable(p)) return p;
  }
  return undefined;
}

/** Like findBinary, but throws a UsageError naming the binary, the recipe and the package to install. */
export function requireBinary(name: string, recipe: string, pkg: string, env: NodeJS.ProcessEnv = process.env): string {
  const p = findBinary(name, env);
  if (p) return p;
  throw new UsageError(
    `the ${recipe} recipe needs ${name}, which is not installed here (looked on PATH${recipe === 'postgres' ? ', in $PG_BINDIR and /usr/lib/postgresql/*/bin' : ''})`,
    {
      hint: `install ${pkg} in the service's image (Debian: apt-get install -y ${pkg}), or set PG_BINDIR`,
    },
  );
}

/** The argv that runs `argv` as `user` when we are root (setpriv), else unchanged. */
export function asUserArgv(argv: string[], user: string | undefined): string[] {
  if (!user || !isRoot()) return argv;
  const ids = userIds(user);
  return ['setpriv', `--reuid=${ids.uid}`, `--regid=${ids.gid}`, '--clear-groups', '--', ...argv];
}

const idCache = new Map<string, { uid: number; gid: number }>();
/** uid and gid of a system user (`id -u`/`id -g`, which read NSS like everything else). */
export function userIds(user: string): { uid: number; gid: number } {
  const hit = idCache.get(user);
  if (hit) return hit;
  const uid = Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || String(uid) === '') {
    throw new UsageError(`there is no system user ${JSON.stringify(user)} to run the database as`, {
      hint: 'install the postgresql package (it creates the postgres user) or run lifeboat as the database user',
    });
  }
  const ids = { uid, gid };
  idCache.set(user, ids);
  return ids;
}

/** Hands a directory we created to the database user (when we are root). */
export async function giveTo(path: string, user: string | undefined, mode = 0o700): Promise<void> {
  if (user && isRoot()) {
    const { uid, gid } = userIds(user);
    await chown(path, uid, gid);
  }
  await chmod(path, mode);
}

/**
 * Makes every ancestor of `path` searchable by others (o+x) where it is not, so a database
 * running as its own user reaches a directory that root created under a private temp dir.
 * Only needed when we are root (local mode, tests); in an image the user owns the path.
 */
export async function makeReachable(path: string): Promise<void> {
  if (!isRoot()) return;
  for (let d = dirname(path); d !== '/' && d !== '.'; d = dirname(d)) {
    const s = await stat(d).catch(() => undefined);
    if (s && (s.mode & 0o001) === 0) await chmod(d, (s.mode & 0o7777) | 0o011);
  }
}

/** Runs a binary (no shell) and resolves with its result whatever the exit code; throws if it cannot start. */
export function exec(argv: string[], o: ExecOptions = {}): Promise<ExecResult> {
  const started = Date.now();
  const full = asUserArgv(argv, o.asUser);
  return new Promise((resolve, reject) => {
    const child = spawn(full[0]!, full.slice(1), { cwd: o.cwd, env: { ...process.env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.input ?? '');
    let why: string | undefined;
    const kill = (w: string) => {
      why ??= w;
      child.kill('SIGKILL');
    };
    const timer = o.timeoutMs ? setTimeout(() => kill(`timed out after ${Math.round(o.timeoutMs! / 1000)} s`), o.timeoutMs) : undefined;
    const onAbort = () => kill('aborted');
    o.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (e) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      reject(new OperationFailedError(`cannot run ${argv[0]}: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      const stderr = Buffer.concat(err).toString('utf8') + (why ? `\n[${why}]` : '');
      resolve({ code: code ?? 128 + (signal === 'SIGKILL' ? 9 : 15), stdout: Buffer.concat(out).toString('utf8'), stderr, durationMs: Date.now() - started });
    });
  });
}

/** Runs and throws an OperationFailedError with the tail of stderr unless it exits 0. */
export async function execOk(argv: string[], what: string, o: ExecOptions = {}): Promise<ExecResult> {
  const r = await exec(argv, o);
  if (r.code !== 0) {
    const tail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' | ');
    throw new OperationFailedError(`${what} failed (${argv[0]!.split('/').pop()} exited ${r.code}): ${tail.slice(0, 600)}`);
  }
  return r;
}

export function exists(path: string): boolean {
  return existsSync(path);
}
