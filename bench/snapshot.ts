/**
 * `npm run bench:snapshot [-- --rounds N] [-- --skip-s3] [-- --skip-zero] [-- --many-files N [--only-many-files]]`
 *
 * Snapshot format v2 against restic 0.14 on the same generated 1 GiB tree, side by side in
 * one run, both on local directory stores (restic cannot use the local S3 server, see
 * ../shared/LOCAL-SERVICES.md). Per round, for each tool on a fresh repository:
 *   first (full) snapshot → unchanged re-snapshot → restore latest → 1% change
 *   (200 small files rewritten, 8 MiB appended to one large file) → next snapshot →
 *   delta restore into the older restore (lifeboat only: restic 0.14 has none).
 * The change is undone after the round (same bytes, same mtimes). Bytes added are measured
 * on the store directory. A separate leg snapshots and restores a 1 GiB preallocated zero
 * file for peak RSS.
 *
 * Fairness: before every timed command dirty pages are flushed (`sync`), the page cache is
 * dropped and then exactly that command's input is read back in (the tree for a backup,
 * the store or repository for a restore), so each run starts from the same state: inputs
 * warm, nothing else cached. The two tools alternate who goes first and the median of N
 * rounds is reported. Peak memory is the maximum RSS from GNU time.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { startEmbeddedServices } from '../lambdas/local/embedded-services.js';
import { DEFAULT_TREE, ensureTree, treeBytes } from './tree.js';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 3) || 3;
const skipS3 = args.includes('--skip-s3');
const skipZero = args.includes('--skip-zero');
/** `--many-files N` (e.g. 1000000): an extra leg with N tiny files, for both tools. */
const manyFiles = args.includes('--many-files') ? Number(args[args.indexOf('--many-files') + 1]) : 0;
const onlyMany = args.includes('--only-many-files');

const work = resolve('bench/.work');
const tree = join(work, 'tree');
const MiB = 1024 * 1024;

interface Measure {
  wallS: number;
  rssMiB: number;
  userS: number;
  sysS: number;
}

function need(cmd: string, install: string): void {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) {
    console.error(`bench: \`${cmd}\` is missing; install it with: ${install}`);
    process.exit(1);
  }
}

/**
 * Runs a command under GNU time. Asynchronous on purpose: the S3 server lives in this
 * process, and a synchronous spawn would stop it from answering the command it waits for.
 */
let dropWarned = false;

/** Flushes, drops the page cache (root only; otherwise says so once) and reads `warm` back in. */
function settle(warm: string[]): void {
  execFileSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch {
    if (!dropWarned) console.error('bench: cannot drop the page cache (not root): results will be noisier');
    dropWarned = true;
  }
  for (const path of warm) execFileSync('sh', ['-c', 'find "$1" -type f -exec cat {} + > /dev/null', 'sh', path]);
}

/** The tool's own code is warm too (a first `--version` loads what a run loads). */
function warmTool(cmd: string, argv: string[]): void {
  execFileSync(cmd, cmd === 'restic' ? ['version'] : [argv[0]!, '--version'], { stdio: 'ignore' });
}

async function timed(cmd: string, argv: string[], env: NodeJS.ProcessEnv, cwd = process.cwd(), warm: string[] = []): Promise<Measure> {
  settle(warm);
  warmTool(cmd, argv);
  const child = spawn('/usr/bin/time', ['-f', 'TIME %e %M %U %S', cmd, ...argv], { env, cwd });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  const line = err.split('\n').find((l) => l.startsWith('TIME '));
  if (code !== 0 || !line) throw new Error(`${cmd} ${argv.join(' ')} failed (${code}):\n${out}\n${err}`);
  const [, e, m, u, s] = line.split(' ');
  return { wallS: Number(e), rssMiB: Number(m) / 1024, userS: Number(u), sysS: Number(s) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summarize = (ms: Measure[]) => ({
  wallS: median(ms.map((m) => m.wallS)),
  rssMiB: Math.max(...ms.map((m) => m.rssMiB)),
  cpuS: median(ms.map((m) => m.userS + m.sysS)),
  runs: ms.map((m) => m.wallS),
});

function sameTree(a: string, b: string): void {
  const r = spawnSync('diff', ['-r', '--no-dereference', a, b], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`restored tree differs from the source:\n${r.stdout.slice(0, 2000)}`);
}

interface Change {
  undo(): Promise<void>;
}

/** The issue's 1% change: 200 small files rewritten, 8 MiB appended to one large file. */
async function applyChange(root: string, round: number): Promise<Change> {
  const saved: { path: string; body: Buffer }[] = [];
  const mtime = new Date('2026-01-01T00:00:00Z');
  for (let i = 0; i < 200; i++) {
    const f = i * 97 + round;
    const path = join(root, 'small', `d${String(f % DEFAULT_TREE.smallDirs).padStart(3, '0')}`, `f${String(f).padStart(5, '0')}.dat`);
    saved.push({ path, body: await readFile(path) });
    await writeFile(path, randomBytes(DEFAULT_TREE.smallBytes));
  }
  const big = join(root, 'large', 'random-1.bin');
  await appendFile(big, randomBytes(8 * MiB));
  return {
    async undo() {
      for (const s of saved) {
        await writeFile(s.path, s.body);
        await utimes(s.path, mtime, mtime);
      }
      await truncate(big, DEFAULT_TREE.randomBytes);
      await utimes(big, mtime, mtime);
    },
  };
}

function duBytesOrZero(path: string): number {
  try {
    return duBytes(path);
  } catch {
    return 0;
  }
}

function duBytes(path: string): number {
  return Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);
}

type Key =
  | 'lbFirst'
  | 'lbUnchanged'
  | 'lbRestore'
  | 'lbNext'
  | 'lbDelta'
  | 'rsFirst'
  | 'rsUnchanged'
  | 'rsRestore'
  | 'rsNext'
  | 'lbZeroSnap'
  | 'lbZeroRestore'
  | 's3First'
  | 's3Restore'
  | 'lbManyFirst'
  | 'lbManyUnchanged'
  | 'lbManyRestore'
  | 'rsManyFirst'
  | 'rsManyUnchanged'
  | 'rsManyRestore';

async function main() {
  need('restic', 'apt-get install -y restic');
  need('/usr/bin/time', 'apt-get install -y time');
  console.error('bench: preparing the tree (generated once, then reused)');
  const { generated } = await ensureTree(tree);
  console.error(`bench: tree ${generated ? 'generated' : 'reused'}: ${(treeBytes(DEFAULT_TREE) / MiB).toFixed(0)} MiB`);
  execFileSync('node', ['scripts/build-cli.mjs']);

  const services = await startEmbeddedServices();
  const lifeboat = resolve('dist/lifeboat.mjs');
  const baseEnv = { ...process.env, ...services.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', LIFEBOAT_TABLE: 'bench-catalog' };
  const fileStore = join(work, 'lifeboat-store');
  const resticRepo = join(work, 'restic-repo');
  const resticEnv = { ...process.env, RESTIC_PASSWORD: 'bench', RESTIC_REPOSITORY: resticRepo };
  const result: Record<Key, Measure[]> = {
    lbFirst: [],
    lbUnchanged: [],
    lbRestore: [],
    lbNext: [],
    lbDelta: [],
    rsFirst: [],
    rsUnchanged: [],
    rsRestore: [],
    rsNext: [],
    lbZeroSnap: [],
    lbZeroRestore: [],
    s3First: [],
    s3Restore: [],
    lbManyFirst: [],
    lbManyUnchanged: [],
    lbManyRestore: [],
    rsManyFirst: [],
    rsManyUnchanged: [],
    rsManyRestore: [],
  };
  const added: Record<string, number[]> = { lbFirst: [], lbUnchanged: [], lbNext: [], rsFirst: [], rsUnchanged: [], rsNext: [] };
  const lbOut = join(work, 'lifeboat-restored');
  const rsOut = join(work, 'restic-restored');

  try {
    await rm(fileStore, { recursive: true, force: true });
    await timed('node', [lifeboat, 'init', '--store', `file://${fileStore}`], baseEnv);
    await timed('node', [lifeboat, 'init', '--store', 's3://bench-bucket'], baseEnv);
    const lifeboatEnv = { ...baseEnv, LIFEBOAT_STORE: `file://${fileStore}` };

    for (let round = 0; round < (onlyMany ? 0 : rounds); round++) {
      const service = `bench${round}`;
      await rm(fileStore, { recursive: true, force: true });
      await mkdir(fileStore);
      await rm(resticRepo, { recursive: true, force: true });
      execFileSync('restic', ['init', '-q'], { env: resticEnv });
      await rm(lbOut, { recursive: true, force: true });
      await rm(rsOut, { recursive: true, force: true });
      const lb = (argv: string[], warm: string[]) => timed('node', [lifeboat, ...argv, '--service', service], lifeboatEnv, undefined, warm);
      // restic stores paths as given; back up from inside the tree's parent like lifeboat's --dir.
      const rs = (argv: string[], warm: string[]) => timed('restic', argv, resticEnv, work, warm);
      const step = async (lbKey: Key, lbRun: () => Promise<Measure>, rsKey: Key | undefined, rsRun: (() => Promise<Measure>) | undefined) => {
        const legs: (() => Promise<void>)[] = [
          async () => {
            const before = duBytes(fileStore);
            const m = await lbRun();
            result[lbKey].push(m);
            if (lbKey in added) added[lbKey]!.push(duBytes(fileStore) - before);
            console.error(`bench: ${lbKey} ${m.wallS} s, RSS ${m.rssMiB.toFixed(0)} MiB, added ${((duBytes(fileStore) - before) / MiB).toFixed(2)} MiB`);
          },
        ];
        if (rsKey && rsRun) {
          legs.push(async () => {
            const before = duBytes(resticRepo);
            const m = await rsRun();
            result[rsKey].push(m);
            if (rsKey in added) added[rsKey]!.push(duBytes(resticRepo) - before);
            console.error(`bench: ${rsKey} ${m.wallS} s, RSS ${m.rssMiB.toFixed(0)} MiB, added ${((duBytes(resticRepo) - before) / MiB).toFixed(2)} MiB`);
          });
        }
        if (round % 2 === 1) legs.reverse();
        for (const leg of legs) await leg();
      };
      await step(
        'lbFirst',
        () => lb(['snapshot', '--dir', tree], [tree]),
        'rsFirst',
        () => rs(['backup', '-q', 'tree'], [tree]),
      );
      await step(
        'lbUnchanged',
        () => lb(['snapshot', '--dir', tree], [tree]),
        'rsUnchanged',
        () => rs(['backup', '-q', 'tree'], [tree]),
      );
      await step(
        'lbRestore',
        () => lb(['restore', '--dir', lbOut], [fileStore]),
        'rsRestore',
        () => rs(['restore', 'latest', '-q', '--target', rsOut], [resticRepo]),
      );
      if (round === 0) {
        sameTree(tree, lbOut);
        sameTree(tree, join(rsOut, 'tree'));
      }
      const change = await applyChange(tree, round);
      try {
        await step(
          'lbNext',
          () => lb(['snapshot', '--dir', tree], [tree]),
          'rsNext',
          () => rs(['backup', '-q', 'tree'], [tree]),
        );
        // The older restore is the replica: bring it to the new snapshot.
        await step('lbDelta', () => lb(['restore', '--delta', '--dir', lbOut], [fileStore, lbOut]), undefined, undefined);
        if (round === 0) sameTree(tree, lbOut);
      } finally {
        await change.undo();
      }
      await rm(lbOut, { recursive: true, force: true });
      await rm(rsOut, { recursive: true, force: true });
      console.error(`bench: round ${round + 1}/${rounds} done`);
    }

    if (manyFiles > 0) {
      // N tiny files in 1,000 directories: the per-file cost of walking, change detection
      // and the manifest, for both tools, one run each.
      const many = join(work, 'many');
      const files = join(many, 'files');
      const per = Math.ceil(manyFiles / 1000);
      if (duBytesOrZero(files) === 0) {
        console.error(`bench: generating ${manyFiles} files`);
        for (let d = 0; d < 1000; d++) {
          const dir = join(files, `d${String(d).padStart(3, '0')}`);
          await mkdir(dir, { recursive: true });
          for (let f = 0; f < per && d * per + f < manyFiles; f++) writeFileSync(join(dir, `f${f}`), `file ${d}/${f}\n`);
        }
      }
      const store = join(work, 'many-store');
      const repo = join(work, 'many-repo');
      await rm(store, { recursive: true, force: true });
      await mkdir(store);
      await rm(repo, { recursive: true, force: true });
      const env = { ...baseEnv, LIFEBOAT_STORE: `file://${store}` };
      const rsEnv = { ...resticEnv, RESTIC_REPOSITORY: repo };
      execFileSync('restic', ['init', '-q'], { env: rsEnv });
      const lbOut2 = join(work, 'many-lb-restored');
      const rsOut2 = join(work, 'many-rs-restored');
      await rm(lbOut2, { recursive: true, force: true });
      await rm(rsOut2, { recursive: true, force: true });
      const run = async (key: Key, m: Promise<Measure>) => {
        const r = await m;
        result[key].push(r);
        console.error(`bench: ${key} ${r.wallS} s, RSS ${r.rssMiB.toFixed(0)} MiB`);
      };
      await run('lbManyFirst', timed('node', [lifeboat, 'snapshot', '--service', 'many', '--dir', files], env, undefined, []));
      await run('rsManyFirst', timed('restic', ['backup', '-q', 'files'], rsEnv, many, []));
      await run('lbManyUnchanged', timed('node', [lifeboat, 'snapshot', '--service', 'many', '--dir', files], env, undefined, []));
      await run('rsManyUnchanged', timed('restic', ['backup', '-q', 'files'], rsEnv, many, []));
      await run('lbManyRestore', timed('node', [lifeboat, 'restore', '--service', 'many', '--dir', lbOut2], env, undefined, []));
      await run('rsManyRestore', timed('restic', ['restore', 'latest', '-q', '--target', rsOut2], rsEnv, undefined, []));
      sameTree(files, lbOut2);
      await rm(lbOut2, { recursive: true, force: true });
      await rm(rsOut2, { recursive: true, force: true });
      await rm(store, { recursive: true, force: true });
      await rm(repo, { recursive: true, force: true });
    }

    if (!skipZero) {
      // Peak memory with data that compresses without limit: a preallocated 1 GiB zero file.
      const zeroTree = join(work, 'zero-tree');
      await rm(zeroTree, { recursive: true, force: true });
      await mkdir(zeroTree);
      execFileSync('fallocate', ['-l', String(1024 * MiB), join(zeroTree, 'zero.bin')]);
      const out = join(work, 'zero-restored');
      await rm(out, { recursive: true, force: true });
      result.lbZeroSnap.push(await timed('node', [lifeboat, 'snapshot', '--service', 'zero', '--dir', zeroTree], lifeboatEnv, undefined, [zeroTree]));
      result.lbZeroRestore.push(await timed('node', [lifeboat, 'restore', '--service', 'zero', '--dir', out], lifeboatEnv, undefined, [fileStore]));
      sameTree(zeroTree, out);
      await rm(out, { recursive: true, force: true });
      await rm(zeroTree, { recursive: true, force: true });
    }

    if (!skipS3) {
      const s3Env = { ...baseEnv, LIFEBOAT_STORE: 's3://bench-bucket/lifeboat' };
      result.s3First.push(await timed('node', [lifeboat, 'snapshot', '--service', 's3bench', '--dir', tree], s3Env, undefined, [tree]));
      const out = join(work, 's3-restored');
      await rm(out, { recursive: true, force: true });
      result.s3Restore.push(await timed('node', [lifeboat, 'restore', '--service', 's3bench', '--dir', out], s3Env));
      sameTree(tree, out);
      await rm(out, { recursive: true, force: true });
    }
  } finally {
    await services.stop();
  }

  const sizeMiB = treeBytes(DEFAULT_TREE) / MiB;
  const s = Object.fromEntries(
    Object.entries(result)
      .filter(([, v]) => v.length)
      .map(([k, v]) => [k, summarize(v)]),
  );
  const mib = (k: string) => (added[k]?.length ? `${(median(added[k]!) / MiB).toFixed(1)} MiB` : '');
  const row = (name: string, lbKey: Key, rsKey?: Key, goal = '') => {
    const l = s[lbKey];
    const r = rsKey ? s[rsKey] : undefined;
    if (!l) return undefined;
    const ratio = r ? (l.wallS / r.wallS).toFixed(2) : '';
    return `| ${name} | ${l.wallS.toFixed(2)} s | ${mib(lbKey)} | ${l.rssMiB.toFixed(0)} MiB | ${r ? `${r.wallS.toFixed(2)} s` : ''} | ${rsKey ? mib(rsKey) : ''} | ${r ? `${r.rssMiB.toFixed(0)} MiB` : ''} | ${ratio} | ${goal} |`;
  };
  const report = [
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}; ${new Date().toISOString()}; ${rounds} round(s), medians; load average at the end ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}.`,
    `Tree: ${sizeMiB.toFixed(0)} MiB (${DEFAULT_TREE.randomFiles} × ${DEFAULT_TREE.randomBytes / MiB} MiB random, ${DEFAULT_TREE.textFiles} × ${DEFAULT_TREE.textBytes / MiB} MiB text, ${DEFAULT_TREE.smallFiles} × ${DEFAULT_TREE.smallBytes / 1024} KiB files).`,
    '',
    '| figure | lifeboat wall | lifeboat added | lifeboat RSS | restic wall | restic added | restic RSS | lifeboat / restic | goal |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    row('first (full) snapshot', 'lbFirst', 'rsFirst', '≤ 0.8×'),
    row('next snapshot after a 1% change', 'lbNext', 'rsNext', '≤ 0.5×, bytes ≤ 1.2×'),
    row('snapshot of an unchanged tree', 'lbUnchanged', 'rsUnchanged', '≤ 0.5×, < 1 MiB'),
    row('restore of the latest snapshot', 'lbRestore', 'rsRestore', '≤ 0.8×'),
    row('delta restore after the 1% change (vs lifeboat full restore)', 'lbDelta', undefined, '≤ 0.2× full'),
    row('1 GiB zero file: snapshot', 'lbZeroSnap', undefined, 'RSS < 512 MiB'),
    row('1 GiB zero file: restore', 'lbZeroRestore', undefined, 'RSS < 512 MiB'),
    row(`${manyFiles.toLocaleString('en')} tiny files: first snapshot`, 'lbManyFirst', 'rsManyFirst', 'RSS < 1 GiB'),
    row(`${manyFiles.toLocaleString('en')} tiny files: unchanged re-snapshot`, 'lbManyUnchanged', 'rsManyUnchanged', '≤ 1.0×, RSS < 1 GiB'),
    row(`${manyFiles.toLocaleString('en')} tiny files: restore`, 'lbManyRestore', 'rsManyRestore', 'RSS < 1 GiB'),
    row('first snapshot → S3 (fauxqs, in memory)', 's3First'),
    row('restore ← S3 (fauxqs)', 's3Restore'),
    '',
    s.lbDelta && s.lbRestore ? `Delta restore / full restore: ${(s.lbDelta.wallS / s.lbRestore.wallS).toFixed(2)}.` : '',
    `All runs (wall s): ${Object.entries(s)
      .map(([k, v]) => `${k} ${v.runs.map((r) => r.toFixed(2)).join('/')}`)
      .join('; ')}.`,
  ]
    .filter((l) => l !== undefined)
    .join('\n');
  console.log(report);
  await writeFile(join(work, 'snapshot-results.json'), JSON.stringify({ date: new Date().toISOString(), rounds, summary: s, added, raw: result }, null, 2));
}

await main();
