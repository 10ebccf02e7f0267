/**
 * `npm run bench:inspect [-- --rounds N] [-- --n N]`
 *
 * Wall time of `lifeboat ls`, `diff` and `find` over 1,000,000-entry manifests (target:
 * at most 2 s each), end to end from the store: download of the gzip'd manifest from a
 * directory store, gunzip, JSON parse, validation, then the listing logic. `diff` reads
 * two manifests (concurrently, as the command does). The logic alone (on a manifest
 * already in memory) is reported too, to show where the time goes.
 *
 * The tree: 1,000 directories of 999 files each (names like `d0042/f000123.dat`), sizes
 * and hashes pseudo-random; B differs from A by 1% modified, 0.5% added, 0.5% removed.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { DirectoryStore } from '../lambdas/adapters/stores/directory-store.js';
import { manifestObjectKey, partObjectKey } from '../lambdas/contract/keys.js';
import { loadManifestView } from '../lambdas/control/snapshot-inspect.js';
import { MANIFEST_FORMAT, type Manifest, type ManifestEntry } from '../lambdas/domain/manifest.js';
import { compilePattern } from '../lambdas/domain/path-glob.js';
import { diffSnapshots, findInSnapshot, fromManifestV1, listEntries } from '../lambdas/domain/snapshot-listing.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const rounds = flag('--rounds', 3);
const n = flag('--n', 1_000_000);
const TARGET_S = 2;
const SERVICE = 'bench';

function build(id: string, variant: 'a' | 'b'): Manifest {
  const entries: ManifestEntry[] = [{ type: 'dir', path: '.', mode: 0o755, mtimeMs: 1, uid: 0, gid: 0 }];
  const perDir = 999;
  const dirs = Math.ceil((n - 1) / (perDir + 1));
  let count = 1;
  for (let d = 0; d < dirs && count < n; d++) {
    const dir = `d${String(d).padStart(4, '0')}`;
    entries.push({ type: 'dir', path: dir, mode: 0o755, mtimeMs: 1_700_000_000_000 + d, uid: 0, gid: 0 });
    count++;
    for (let f = 0; f < perDir && count < n; f++, count++) {
      const k = d * perDir + f;
      // B: every 100th modified, every 200th removed (and as many added at the end).
      if (variant === 'b' && k % 200 === 7) continue;
      const modified = variant === 'b' && k % 100 === 3;
      const sha = createHash('sha256')
        .update(`${k}${modified ? 'x' : ''}`)
        .digest('hex');
      entries.push({
        type: 'file',
        path: `${dir}/f${String(f).padStart(6, '0')}.dat`,
        mode: 0o644,
        mtimeMs: 1_700_000_000_000 + k,
        uid: 999,
        gid: 999,
        size: (k * 7919) % 65_536,
        sha256: sha,
        part: 0,
      });
    }
  }
  if (variant === 'b') {
    const extra = n - entries.length;
    entries.push({ type: 'dir', path: 'new', mode: 0o755, mtimeMs: 1, uid: 0, gid: 0 });
    for (let i = 0; i < extra - 1; i++)
      entries.push({
        type: 'file',
        path: `new/n${String(i).padStart(6, '0')}`,
        mode: 0o644,
        mtimeMs: 2,
        uid: 0,
        gid: 0,
        size: 100,
        sha256: 'a'.repeat(64),
        part: 0,
      });
  }
  return {
    format: MANIFEST_FORMAT,
    service: SERVICE,
    id,
    createdAt: '2026-12-03T00:00:00.000Z',
    completedAt: '2026-12-03T00:01:00.000Z',
    source: { host: 'bench', dir: '/data' },
    reason: 'bench',
    // The restore path checks that a manifest names its own snapshot's parts.
    parts: [{ key: partObjectKey(SERVICE, id, 0, 'zstd'), size: 1, sha256: 'b'.repeat(64), entries: 1, compression: 'zstd' }],
    entries,
    totals: { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, dataBytes: 0, storedBytes: 0 },
    warnings: [],
  };
}

async function time<T>(fn: () => Promise<T> | T): Promise<{ s: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { s: Number(process.hrtime.bigint() - t0) / 1e9, value };
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0]!.toFixed(2)} s, median ${s[Math.floor(s.length / 2)]!.toFixed(2)} s, max ${s[s.length - 1]!.toFixed(2)} s`;
};

const work = await mkdtemp(join(tmpdir(), 'lifeboat-bench-inspect-'));
try {
  const store = new DirectoryStore(join(work, 'store'));
  await store.ensure();
  const ids = { a: '20261203T000000.000Z-aaaaaaaa', b: '20261203T010000.000Z-bbbbbbbb' };
  const records: Record<'a' | 'b', { service: string; id: string; manifestKey: string }> = {} as never;
  for (const v of ['a', 'b'] as const) {
    const m = build(ids[v], v);
    const bytes = await promisify(gzip)(Buffer.from(JSON.stringify(m)));
    const key = manifestObjectKey(SERVICE, ids[v]);
    await store.put(key, Readable.from([bytes]));
    records[v] = { service: SERVICE, id: ids[v], manifestKey: key };
    console.log(`manifest ${v}: ${m.entries.length.toLocaleString('en')} entries, ${(bytes.length / 2 ** 20).toFixed(1)} MiB gzip'd`);
  }
  console.log(
    `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const pattern = compilePattern('d0500/f0001*.dat');
  const results: Record<string, number[]> = {
    'load (fetch+gunzip+parse+validate)': [],
    ls: [],
    find: [],
    diff: [],
    'ls logic': [],
    'find logic': [],
    'diff logic': [],
  };
  for (let r = 0; r <= rounds; r++) {
    const warm = r === 0;
    const load = await time(() => loadManifestView(store, records.a));
    const ls = await time(async () => listEntries(await loadManifestView(store, records.a)).length);
    const find = await time(async () => findInSnapshot(await loadManifestView(store, records.a), pattern)?.entries.length ?? 0);
    const diff = await time(async () => {
      const [a, b] = await Promise.all([loadManifestView(store, records.a), loadManifestView(store, records.b)]);
      return diffSnapshots(a, b).changes.length;
    });
    const viewA = load.value;
    const viewB = await loadManifestView(store, records.b);
    const lsLogic = await time(() => listEntries(viewA).length);
    const findLogic = await time(() => findInSnapshot(viewA, pattern)?.entries.length ?? 0);
    const diffLogic = await time(() => diffSnapshots(viewA, viewB).changes.length);
    if (warm) {
      console.log(
        `ls: ${ls.value.toLocaleString('en')} entries; find: ${find.value} matches; diff: ${diff.value.toLocaleString('en')} changes (warm-up round not counted)`,
      );
      continue;
    }
    results['load (fetch+gunzip+parse+validate)']!.push(load.s);
    results.ls!.push(ls.s);
    results.find!.push(find.s);
    results.diff!.push(diff.s);
    results['ls logic']!.push(lsLogic.s);
    results['find logic']!.push(findLogic.s);
    results['diff logic']!.push(diffLogic.s);
  }
  for (const [name, xs] of Object.entries(results)) {
    const worst = Math.max(...xs);
    const judged = ['ls', 'find', 'diff'].includes(name);
    console.log(`${name.padEnd(36)} ${stats(xs)}${judged ? (worst <= TARGET_S ? '  ✓ ≤ 2 s' : '  ✗ over 2 s') : ''}`);
  }
  console.log(`${rounds} rounds of ${n.toLocaleString('en')} entries; fromManifestV1 over ${fromManifestV1.name ? 'v1' : '?'} manifests`);
} finally {
  await rm(work, { recursive: true, force: true });
}
