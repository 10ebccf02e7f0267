/**
 * Restore stays bounded and correct under any input (issue 11, findings 1-7): hostile parts
 * and manifests, two restores at once, reserved names, crashes at every step of placing the
 * tree, a full or read-only disk, and manifests that point at another service's objects.
 * On DynamoDB Local and a directory store; memory and crashes are measured in child processes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compress } from 'zstd-napi';
import type { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import { DirectoryStore } from '../../lambdas/adapters/stores/directory-store.js';
import { runDrillAgent } from '../../lambdas/agent/drill-mode.js';
import { manifestObjectKey, partObjectKey } from '../../lambdas/contract/keys.js';
import { EnvironmentError, IntegrityError, TargetBusyError } from '../../lambdas/domain/errors.js';
import { makeSnapshotId } from '../../lambdas/domain/ids.js';
import type { Manifest } from '../../lambdas/domain/manifest.js';
import type { SnapshotRecord } from '../../lambdas/domain/snapshot.js';
import { rebuildCatalog } from '../../lambdas/engine/catalog-rebuild.js';
import { fetchManifest, IN_PROGRESS_MARKER, restoreSnapshot } from '../../lambdas/engine/restore.js';
import { LOCK_STALE_MS, type PlacementStep } from '../../lambdas/engine/restore-target.js';
import { takeSnapshot } from '../../lambdas/engine/snapshot.js';
import { cli } from '../support/cli.js';
import { freshCatalog, tempDir } from '../support/fixtures.js';
import type { RestoreChildArgs, RestoreChildOutput } from '../support/restore-child.js';
import { readObject } from '../support/stores.js';
import { describeTree } from '../support/tree.js';

const MiB = 1024 * 1024;
/** Tests that start child processes: generous, the machine may be busy (no test waits on a timer). */
const CHILD_TIMEOUT_MS = 240_000;
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

let catalog: DynamoSnapshotCatalog;
let store: DirectoryStore;
let storeDir: string;
let work: { path: string; cleanup: () => Promise<void> };
let n = 0;
const newDir = () => join(work.path, `t-${++n}`, 'data');

beforeAll(async () => {
  catalog = await freshCatalog();
  work = await tempDir('lifeboat-hardening');
  storeDir = join(work.path, 'store');
  store = new DirectoryStore(storeDir);
  await store.ensure();
});
afterAll(async () => {
  await work.cleanup();
});

async function writeTree(dir: string, files: Record<string, string | Buffer>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

/** v1 by default: most findings here tamper with v1's tar parts; v2's own are in snapshot-v2.test.ts. */
async function snapshotOf(
  service: string,
  files: Record<string, string | Buffer>,
  format: 'v1' | 'v2' = 'v1',
): Promise<{ record: SnapshotRecord; source: string }> {
  const source = join(work.path, `src-${++n}`);
  await writeTree(source, files);
  const { record } = await takeSnapshot({ catalog, store, service, dir: source, reason: 'test', format });
  return { record, source };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Stores a snapshot the way an attacker with write access to the store (followed by a
 * catalog rebuild) could: a copy of `base` under a new id with replaced part bytes and a
 * changed manifest, every checksum and size made consistent so only restore's own limits
 * and checks stand in the way.
 */
async function forge(
  base: SnapshotRecord,
  change: { service?: string; parts?: (original: Buffer[]) => Buffer[] | Promise<Buffer[]>; manifest?: (m: Manifest) => void; manifestBytes?: Buffer },
): Promise<SnapshotRecord> {
  const service = change.service ?? base.service;
  const id = makeSnapshotId(new Date(Date.parse(base.createdAt) + ++n), Buffer.from(sha256(Buffer.from(`${n}`)).slice(0, 8), 'hex'));
  const { manifest } = await fetchManifest(store, base);
  const original = await Promise.all(manifest.parts.map((p) => readObject(store, p.key)));
  const parts = change.parts ? await change.parts(original) : original;
  const m: Manifest = { ...structuredClone(manifest), service, id };
  m.parts = parts.map((bytes, i) => ({
    ...manifest.parts[i]!,
    key: partObjectKey(service, id, i, manifest.parts[i]!.compression),
    size: bytes.length,
    sha256: sha256(bytes),
  }));
  for (const [i, bytes] of parts.entries()) await store.put(m.parts[i]!.key, Readable.from([bytes]));
  change.manifest?.(m);
  const gz = change.manifestBytes ?? gzipSync(JSON.stringify(m));
  const manifestKey = manifestObjectKey(service, id);
  await store.put(manifestKey, Readable.from([gz]));
  const record: SnapshotRecord = {
    ...base,
    service,
    id,
    createdAt: new Date(Date.parse(base.createdAt) + n).toISOString(),
    manifestKey,
    manifestSha256: sha256(gz),
  };
  await catalog.importComplete(record);
  return record;
}

function tarOf(members: { name: string; data: Buffer }[], trailing = Buffer.alloc(0)): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const m of members) pack.entry({ name: m.name, size: m.data.length, mode: 0o644, mtime: new Date(0) }, m.data);
  pack.finalize();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat([...chunks, trailing])));
    pack.on('error', reject);
  });
}

async function runChild(
  args: Omit<RestoreChildArgs, 'table' | 'storeDir'>,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output?: RestoreChildOutput; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/restore-child.ts', JSON.stringify({ ...args, table: catalog.name, storeDir })], {
    cwd: repoRoot,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once('close', (c, s) => r([c, s])));
  const line = stdout.trim().split('\n').pop();
  return { code, signal, stderr, ...(line ? { output: JSON.parse(line) as RestoreChildOutput } : {}) };
}

/** Restore bookkeeping left beside or inside a target (there must be none after a restore). */
async function leftovers(dir: string): Promise<string[]> {
  const beside = (await readdir(join(dir, '..'))).filter((x) => x.includes('lifeboat'));
  const inside = await readdir(dir).then(
    (names) => names.filter((x) => x.startsWith('.lifeboat')),
    () => [],
  );
  return [...beside, ...inside];
}

describe('1. memory and decompressed size are bounded by the manifest', () => {
  it(
    'a part that expands far beyond what its manifest declares is refused early, in bounded memory',
    async () => {
      const { record } = await snapshotOf('bomb', { f: 'hello' });
      // 5 declared bytes, then 512 MiB of zeros from 64 tiny zstd frames (about 20 KB stored).
      const head = compress(await tarOf([{ name: 'f', data: Buffer.from('hello') }]));
      const zeros = compress(Buffer.alloc(8 * MiB));
      const hostile = await forge(record, { parts: () => [Buffer.concat([head, ...Array.from({ length: 64 }, () => zeros)])] });
      expect(hostile.manifestKey).toContain(hostile.id);

      const run = await runChild({ service: 'bomb', snapshot: hostile.id, dir: newDir() });
      expect(run.output?.error).toMatchObject({
        name: 'IntegrityError',
        message: expect.stringMatching(/expands to more than the \d+ bytes its manifest entries account for/),
      });
      expect(run.output!.rssPeakBytes - run.output!.rssBeforeBytes).toBeLessThan(128 * MiB);
    },
    CHILD_TIMEOUT_MS,
  );

  it('refuses data after the end of an archive', async () => {
    const { record } = await snapshotOf('trailing', { f: 'hello' });
    for (const extra of [20 * 512, 128 * 512]) {
      const part = compress(await tarOf([{ name: 'f', data: Buffer.from('hello') }], Buffer.alloc(extra)));
      const hostile = await forge(record, { parts: () => [part] });
      const err = await restoreSnapshot({ catalog, store, service: 'trailing', snapshot: hostile.id, dir: newDir() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IntegrityError);
      expect((err as Error).message).toMatch(/bytes follow the end of its archive|expands to more than/);
    }
    // The same members with only the standard trailer restore: the limit is not in the way.
    const fine = await forge(record, { parts: async () => [compress(await tarOf([{ name: 'f', data: Buffer.from('hello') }]))] });
    const dir = newDir();
    expect((await restoreSnapshot({ catalog, store, service: 'trailing', snapshot: fine.id, dir })).status).toBe('restored');
    expect(await readFile(join(dir, 'f'), 'utf8')).toBe('hello');
  });

  it(
    'restores a 256 MiB all-zero file with bounded memory',
    async () => {
      const source = join(work.path, 'zeros-src');
      await mkdir(source);
      await writeFile(join(source, 'zero.img'), '');
      await truncate(join(source, 'zero.img'), 256 * MiB);
      const { record } = await takeSnapshot({ catalog, store, service: 'zeros', dir: source });
      expect(record.size!).toBeLessThan(MiB);

      const dir = newDir();
      const run = await runChild({ service: 'zeros', dir });
      expect(run.output?.result).toEqual({ status: 'restored' });
      expect((await stat(join(dir, 'zero.img'))).size).toBe(256 * MiB);
      // Today's engine buffered the whole decompressed file: +256 MiB and more.
      expect(run.output!.rssPeakBytes - run.output!.rssBeforeBytes).toBeLessThan(128 * MiB);
    },
    CHILD_TIMEOUT_MS,
  );
});

describe('2. one restore at a time per target', () => {
  it('a second restore into the same directory fails naming the holder, and the first completes', async () => {
    const files = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`d${i % 7}/f${i}`, `content ${i}\n`]));
    const { source } = await snapshotOf('twice', files);
    const dir = newDir();
    let second: unknown;
    const first = await restoreSnapshot({
      catalog,
      store,
      service: 'twice',
      dir,
      onStep: async (step) => {
        if (step === 'staging-created') second = await restoreSnapshot({ catalog, store, service: 'twice', dir }).catch((e: unknown) => e);
      },
    });
    expect(second).toBeInstanceOf(TargetBusyError);
    expect((second as Error).message).toMatch(
      new RegExp(`another restore into ${dir} is running: pid ${process.pid} on host ${hostname()} since \\S+ \\(restore of twice/`),
    );
    expect(first.status).toBe('restored');
    expect(await describeTree(dir)).toEqual(await describeTree(source));
    expect(await leftovers(dir)).toEqual([]);
  });

  it('breaks the lock of a holder that is gone; one held elsewhere only once it is no longer refreshed', async () => {
    await snapshotOf('stale', { f: 'x' });
    const dir = newDir();
    await mkdir(join(dir, '..'), { recursive: true });
    const lock = join(dir, '..', '.data.lifeboat-lock');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const info = (host: string) => JSON.stringify({ lifeboat: 'restore-lock', token: 'ab'.repeat(8), pid: dead, host, startedAt: '2026-01-01T00:00:00.000Z' });

    await writeFile(lock, info('elsewhere'));
    const busy = await restoreSnapshot({ catalog, store, service: 'stale', dir }).catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(TargetBusyError);
    expect((busy as TargetBusyError).message).toContain(`pid ${dead} on host elsewhere`);
    expect((busy as TargetBusyError).hint).toContain(lock);
    // ... until it has not been touched for a minute: its holder stopped refreshing it.
    const old = new Date(Date.now() - LOCK_STALE_MS - 5000);
    await utimes(lock, old, old);
    expect((await restoreSnapshot({ catalog, store, service: 'stale', dir, force: true })).status).toBe('restored');
    await rm(dir, { recursive: true });

    // Same host, no pid namespace recorded (an older agent): the dead pid alone decides.
    const here = JSON.parse(info(hostname())) as Record<string, unknown>;
    const ns = await import('node:fs').then((fs) => fs.readlinkSync('/proc/self/ns/pid'));
    await writeFile(lock, JSON.stringify({ ...here, pidNs: ns }));
    expect((await restoreSnapshot({ catalog, store, service: 'stale', dir })).status).toBe('restored');
    expect(await leftovers(dir)).toEqual([]);
  });
});

describe('3. reserved names never come from snapshot content', () => {
  it('a live directory holding a file named like the marker is not an interrupted restore', async () => {
    await snapshotOf('reserved', { f: 'from the snapshot' });
    for (const content of [
      'x',
      JSON.stringify({ lifeboat: 'restore-in-progress', token: 'ab'.repeat(8), phase: 'clearing', root: { mode: 493, mtimeMs: 0, uid: 0, gid: 0 } }),
    ]) {
      const dir = newDir();
      await writeTree(dir, { 'live.db': 'precious', [IN_PROGRESS_MARKER]: content });
      const r = await restoreSnapshot({ catalog, store, service: 'reserved', dir, ifEmpty: true });
      expect(r).toMatchObject({ status: 'skipped', reason: 'not-empty' });
      expect(await readFile(join(dir, 'live.db'), 'utf8')).toBe('precious');
      expect((await readdir(dir)).sort()).toEqual([IN_PROGRESS_MARKER, 'live.db']);
    }
  });

  it('a user file named .lifeboat-staging-notes makes a directory non-empty', async () => {
    const dir = newDir();
    await writeTree(dir, { '.lifeboat-staging-notes': 'mine' });
    expect(await restoreSnapshot({ catalog, store, service: 'reserved', dir, ifEmpty: true })).toMatchObject({ status: 'skipped', reason: 'not-empty' });
    expect(await readFile(join(dir, '.lifeboat-staging-notes'), 'utf8')).toBe('mine');
  });

  it('a snapshot whose manifest holds a reserved top-level name is refused', async () => {
    const { record } = await snapshotOf('reserved-content', { f: 'x' });
    for (const name of [IN_PROGRESS_MARKER, '.lifeboat-staging-0123abcd', '.lifeboat-restore-lock']) {
      const hostile = await forge(record, { manifest: (m) => void m.entries.push({ type: 'dir', path: name, mode: 0o755, mtimeMs: 0, uid: 0, gid: 0 }) });
      await expect(restoreSnapshot({ catalog, store, service: 'reserved-content', snapshot: hostile.id, dir: newDir() })).rejects.toThrow(
        /is a name restore reserves for its own bookkeeping/,
      );
    }
  });
});

describe('4. manifest size is bounded', () => {
  it('a gzip bomb manifest is refused before it is inflated, by restore and by catalog rebuild --dry-run', async () => {
    const { record } = await snapshotOf('gzbomb', { f: 'x' });
    // 3 MB of gzip members that would inflate to 3 GiB of JSON text.
    const member = gzipSync(Buffer.alloc(MiB, 0x20), { level: 9 });
    const bomb = Buffer.concat([gzipSync('{"format":"lifeboat.manifest/v1","pad":"'), ...Array.from({ length: 3072 }, () => member)]);
    expect(bomb.length).toBeLessThan(4 * MiB);
    const hostile = await forge(record, { manifestBytes: bomb });
    const before = process.memoryUsage().rss;
    const err = await restoreSnapshot({ catalog, store, service: 'gzbomb', snapshot: hostile.id, dir: newDir() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toMatch(/manifest .* expands to more than the limit of \d+ bytes; it is not read/);
    expect(process.memoryUsage().rss - before).toBeLessThan(1024 * MiB);

    const small = await restoreSnapshot({ catalog, store, service: 'gzbomb', snapshot: hostile.id, dir: newDir(), manifestLimits: { jsonBytes: MiB } }).catch(
      (e: unknown) => e,
    );
    expect((small as Error).message).toMatch(/more than the limit of 1048576 bytes/);

    const rebuilt = await rebuildCatalog({ catalog, store, service: 'gzbomb', dryRun: true, manifestLimits: { jsonBytes: 16 * MiB } });
    expect(rebuilt.snapshots.find((s) => s.id === hostile.id)).toMatchObject({
      outcome: 'skipped',
      reason: expect.stringMatching(/more than the limit of 16777216 bytes/),
    });
    expect(rebuilt.snapshots.find((s) => s.id === record.id)).toMatchObject({ outcome: 'present' });
  });

  it('a manifest with more entries, or longer paths, than the limits is refused with a clear error', async () => {
    const { record } = await snapshotOf('many', { f: 'x' });
    const hostile = await forge(record, {
      manifest: (m) => {
        for (let i = 0; i < 2000; i++) m.entries.push({ type: 'dir', path: `d${i}`, mode: 0o755, mtimeMs: 0, uid: 0, gid: 0 });
      },
    });
    await expect(restoreSnapshot({ catalog, store, service: 'many', snapshot: hostile.id, dir: newDir(), manifestLimits: { entries: 2000 } })).rejects.toThrow(
      /manifest is invalid: 2002 entries, more than the limit of 2000/,
    );
    const long = await forge(record, {
      manifest: (m) => void m.entries.push({ type: 'dir', path: 'x'.repeat(5000), mode: 0o755, mtimeMs: 0, uid: 0, gid: 0 }),
    });
    await expect(restoreSnapshot({ catalog, store, service: 'many', snapshot: long.id, dir: newDir() })).rejects.toThrow(/is longer than 4096 bytes/);
  });
});

describe('5. placing the tree is crash-atomic', () => {
  const NEW = { 'db/rows': 'new rows\n', 'db/index': 'new index\n', top: 'new\n' };
  let want: Record<string, unknown>;
  beforeAll(async () => {
    const { source } = await snapshotOf('crash', NEW);
    want = await describeTree(source);
  });

  const cases: { placement: 'swap' | 'in-place'; step: PlacementStep; after: 'old' | 'new' }[] = [
    { placement: 'swap', step: 'staging-created', after: 'old' },
    { placement: 'swap', step: 'journal-written', after: 'old' },
    { placement: 'swap', step: 'target-aside', after: 'new' },
    { placement: 'swap', step: 'staging-placed', after: 'new' },
    { placement: 'in-place', step: 'staging-created', after: 'old' },
    { placement: 'in-place', step: 'marker-written', after: 'new' },
    { placement: 'in-place', step: 'clearing', after: 'new' },
    { placement: 'in-place', step: 'cleared', after: 'new' },
    { placement: 'in-place', step: 'moving', after: 'new' },
    { placement: 'in-place', step: 'moved', after: 'new' },
  ];
  it.each(cases)(
    '$placement: killed at $step, the next --if-empty restore leaves the $after tree and no leftovers',
    async ({ placement, step, after }) => {
      const dir = newDir();
      await writeTree(dir, { 'old/a': 'old a', 'old/b': 'old b', keep: 'old' });
      const old = await describeTree(dir);
      const killed = await runChild({ service: 'crash', dir, force: true, placement, killAt: step });
      expect(killed.signal).toBe('SIGKILL');

      const notices: string[] = [];
      const next = await restoreSnapshot({ catalog, store, service: 'crash', dir, ifEmpty: true, placement, onNotice: (l) => notices.push(l) });
      expect(next).toMatchObject({ status: 'skipped', reason: 'not-empty' });
      // The root's own mtime moves when staging inside it comes and goes; all else is exact.
      const { '.': root, ...rest } = await describeTree(dir);
      const { '.': wantRoot, ...wantRest } = after === 'old' ? old : want;
      expect(rest).toEqual(wantRest);
      expect((root as { mode: number }).mode).toBe((wantRoot as { mode: number }).mode);
      if (after === 'new') expect(notices.join('\n')).toMatch(/finished an interrupted/);
      expect(await leftovers(dir)).toEqual([]);
    },
    CHILD_TIMEOUT_MS,
  );

  it(
    'a killed restore into a missing directory leaves nothing behind for the next one',
    async () => {
      const dir = newDir();
      const killed = await runChild({ service: 'crash', dir, killAt: 'staging-created' });
      expect(killed.signal).toBe('SIGKILL');
      expect(await leftovers(dir)).not.toEqual([]);
      expect((await restoreSnapshot({ catalog, store, service: 'crash', dir, ifEmpty: true })).status).toBe('restored');
      expect(await leftovers(dir)).toEqual([]);
    },
    CHILD_TIMEOUT_MS,
  );

  it('a tree moved aside by an older version is moved back when the target is missing', async () => {
    const dir = newDir();
    const aside = join(dir, '..', '.data.lifeboat-replaced-0badf00d');
    await writeTree(aside, { 'old/a': 'old a' });
    await mkdir(join(dir, '..', '.data.lifeboat-staging-0badf00d'));
    const r = await restoreSnapshot({ catalog, store, service: 'crash', dir, ifEmpty: true });
    expect(r).toMatchObject({ status: 'skipped', reason: 'not-empty' });
    expect(await readFile(join(dir, 'old/a'), 'utf8')).toBe('old a');
    expect(await leftovers(dir)).toEqual([]);
  });
});

describe('6. a full or read-only disk is an environment error, not corruption', () => {
  const mounts: string[] = [];
  const mountTmpfs = (dir: string, opts: string): boolean => {
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir]).status !== 0) return false;
    mounts.push(dir);
    return true;
  };
  afterAll(() => {
    for (const m of mounts) spawnSync('umount', [m]);
  });

  it.for(['v1', 'v2'] as const)(
    'ENOSPC (%s): exit 4, a message that says so, no "corrupted" and no stack trace; a drill records error, not failed',
    async (format, ctx) => {
      const service = `full-${format}`;
      const { record } = await snapshotOf(service, { 'big.bin': Buffer.from(Array.from({ length: 2 * MiB }, (_, i) => (i * 7919) % 251)), small: 'x' }, format);
      const mnt = join(work.path, `${service}-mnt`);
      await mkdir(mnt);
      if (!mountTmpfs(mnt, 'size=1m')) ctx.skip(); // needs root (CI and this machine run as root)

      for (const dir of [join(mnt, 'data'), mnt]) {
        const err = await restoreSnapshot({ catalog, store, service, dir, ifEmpty: true }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(EnvironmentError);
        expect(err).toMatchObject({ code: 'ENOSPC', exitCode: 4 });
        expect((err as Error).message).toMatch(/no space left on device \(ENOSPC\)/);
        expect((err as Error).message).not.toMatch(/corrupt/);
        expect((err as EnvironmentError).hint).not.toMatch(/older snapshot/);
        expect(await readdir(mnt)).toEqual([]);
      }

      const run = await cli(['restore', '--service', service, '--dir', join(mnt, 'data'), '--table', catalog.name, '--store', store.url]);
      expect(run.code).toBe(4);
      expect(run.stderr, run.stderr).toMatch(/^lifeboat: error: restore of snapshot \S+ failed: no space left on device \(ENOSPC\)/);
      expect(run.stderr).not.toMatch(/unexpected error|corrupt| {4}at /);

      const drills = { recordAgentResult: async () => 'recorded' as const } as unknown as Parameters<typeof runDrillAgent>[0]['drills'];
      const drill = await runDrillAgent({
        drills,
        catalog,
        objects: store,
        service,
        drillId: 'drill-20261203T120000Z-0badf00d',
        snapshotId: record.id,
        dir: join(mnt, 'drill'),
      });
      expect(drill.result).toMatchObject({ outcome: 'error', checks: [expect.objectContaining({ name: 'restore', status: 'error' })] });
      expect(drill.result.reason).toMatch(/could not run: .*ENOSPC/);
    },
  );

  it('EROFS: a read-only volume is exit 4 too', async (ctx) => {
    await snapshotOf('readonly', { f: 'x' });
    const mnt = join(work.path, 'ro-mnt');
    await mkdir(mnt);
    if (!mountTmpfs(mnt, 'ro,size=1m')) ctx.skip();
    const err = await restoreSnapshot({ catalog, store, service: 'readonly', dir: mnt, ifEmpty: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'EnvironmentError', code: 'EROFS', exitCode: 4, message: expect.stringMatching(/read-only file system \(EROFS\)/) });
  });
});

describe('7. catalog entry, manifest and parts agree on service and id', () => {
  it("refuses a manifest that points at another service's parts", async () => {
    const { record: theirs } = await snapshotOf('victim', { secret: 'their data' });
    const { manifest: victim } = await fetchManifest(store, theirs);
    const { record } = await snapshotOf('attacker', { secret: 'x' });
    const hostile = await forge(record, {
      manifest: (m) => {
        // Same entries and checksums as the victim's snapshot, parts pointing at its objects.
        m.entries = victim.entries;
        m.parts = victim.parts;
      },
    });
    const err = await restoreSnapshot({ catalog, store, service: 'attacker', snapshot: hostile.id, dir: newDir() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toMatch(
      new RegExp(`lists part 0 as victim/snapshots/${theirs.id}/part-0000.tar.zst, not attacker/snapshots/${hostile.id}/part-0000`),
    );
  });

  it('refuses a catalog entry whose manifest key is not its own', async () => {
    const { record } = await snapshotOf('keys', { f: 'x' });
    const wrong = await forge(record, {});
    await expect(fetchManifest(store, { ...wrong, manifestKey: `other/snapshots/${wrong.id}/manifest.json.gz` })).rejects.toThrow();
    const moved = `keys/snapshots/${wrong.id}/manifest-copy.json.gz`;
    await store.put(moved, Readable.from([await readObject(store, wrong.manifestKey)]));
    await expect(fetchManifest(store, { ...wrong, manifestKey: moved })).rejects.toThrow(/points at keys\/snapshots\/.*manifest-copy\.json\.gz, not at/);
  });

  it('a bad uid in a manifest is an integrity error, not a stack trace', async () => {
    const { record } = await snapshotOf('uid', { f: 'x' });
    const hostile = await forge(record, { manifest: (m) => void (m.entries[1]!.uid = -5) });
    await expect(restoreSnapshot({ catalog, store, service: 'uid', snapshot: hostile.id, dir: newDir() })).rejects.toThrow(
      /manifest is invalid: bad uid or gid for "f": -5\/0/,
    );
  });
});
