/**
 * `npm run bench:snapshot [-- --rounds N] [-- --skip-s3]`
 *
 * Snapshot and restore wall time, throughput and peak memory of the `lifeboat` CLI against
 * restic 0.14 on the same 1 GiB tree, side by side in one run. restic cannot use the local
 * S3 server (see ../shared/LOCAL-SERVICES.md), so both are compared on local directory
 * stores; lifeboat's S3 figures (through fauxqs, in memory) are reported on their own.
 *
 * Fairness: before every timed command dirty pages are flushed (`sync`), the page cache is
 * dropped and then exactly that command's input is read back in (the tree for a backup,
 * the store or repository for a restore), so each run starts from the same state: inputs
 * warm, nothing else cached. (Measured here: with a page cache full of a previous run's
 * freed pages, a restore's kernel time tripled for both tools, run to run.) The two tools
 * alternate who goes first, every backup is a full one into an empty repository, and the
 * median of N rounds is reported. Peak memory is the maximum RSS from GNU time.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { startEmbeddedServices } from '../lambdas/local/embedded-services.js';
import { DEFAULT_TREE, ensureTree, treeBytes } from './tree.js';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 3) || 3;
const skipS3 = args.includes('--skip-s3');

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
  const result: Record<string, Measure[]> = { lifeboatSnapshot: [], lifeboatRestore: [], resticBackup: [], resticRestore: [], s3Snapshot: [], s3Restore: [] };

  try {
    await rm(fileStore, { recursive: true, force: true });
    await timed('node', [lifeboat, 'init', '--store', `file://${fileStore}`], baseEnv);
    await timed('node', [lifeboat, 'init', '--store', 's3://bench-bucket'], baseEnv);
    const lifeboatEnv = { ...baseEnv, LIFEBOAT_STORE: `file://${fileStore}` };

    for (let round = 0; round < rounds; round++) {
      const legs = [
        async () => {
          await rm(fileStore, { recursive: true, force: true });
          await mkdir(fileStore);
          result.lifeboatSnapshot!.push(
            await timed('node', [lifeboat, 'snapshot', '--service', `bench${round}`, '--dir', tree], lifeboatEnv, undefined, [tree]),
          );
          const out = join(work, 'lifeboat-restored');
          await rm(out, { recursive: true, force: true });
          result.lifeboatRestore!.push(
            await timed('node', [lifeboat, 'restore', '--service', `bench${round}`, '--dir', out], lifeboatEnv, undefined, [fileStore]),
          );
          if (round === 0) sameTree(tree, out);
          await rm(out, { recursive: true, force: true });
        },
        async () => {
          await rm(resticRepo, { recursive: true, force: true });
          execFileSync('restic', ['init', '-q'], { env: resticEnv });
          // restic stores paths as given; back up from inside the tree's parent like lifeboat's --dir.
          result.resticBackup!.push(await timed('restic', ['backup', '-q', 'tree'], resticEnv, work, [tree]));
          const out = join(work, 'restic-restored');
          await rm(out, { recursive: true, force: true });
          result.resticRestore!.push(await timed('restic', ['restore', 'latest', '-q', '--target', out], resticEnv, undefined, [resticRepo]));
          if (round === 0) sameTree(tree, join(out, 'tree'));
          await rm(out, { recursive: true, force: true });
        },
      ];
      if (round % 2 === 1) legs.reverse();
      for (const leg of legs) await leg();
      console.error(`bench: round ${round + 1}/${rounds} done`);
    }

    if (!skipS3) {
      const s3Env = { ...baseEnv, LIFEBOAT_STORE: 's3://bench-bucket/lifeboat' };
      for (let round = 0; round < rounds; round++) {
        result.s3Snapshot!.push(await timed('node', [lifeboat, 'snapshot', '--service', `s3bench${round}`, '--dir', tree], s3Env, undefined, [tree]));
        const out = join(work, 's3-restored');
        await rm(out, { recursive: true, force: true });
        result.s3Restore!.push(await timed('node', [lifeboat, 'restore', '--service', `s3bench${round}`, '--dir', out], s3Env));
        if (round === 0) sameTree(tree, out);
        await rm(out, { recursive: true, force: true });
      }
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
  const row = (name: string, k: string) => {
    const m = s[k];
    return m
      ? `| ${name} | ${m.wallS.toFixed(2)} s | ${(sizeMiB / m.wallS).toFixed(0)} MiB/s | ${m.cpuS.toFixed(2)} s | ${m.rssMiB.toFixed(0)} MiB | ${m.runs.map((r) => r.toFixed(2)).join(', ')} |`
      : '';
  };
  const ratio = (a: string, b: string) => (s[a] && s[b] ? (s[a].wallS / s[b].wallS).toFixed(2) : 'n/a');
  const report = [
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}; ${new Date().toISOString().slice(0, 10)}; ${rounds} rounds, medians.`,
    `Tree: ${sizeMiB.toFixed(0)} MiB (${DEFAULT_TREE.randomFiles} × ${DEFAULT_TREE.randomBytes / MiB} MiB random, ${DEFAULT_TREE.textFiles} × ${DEFAULT_TREE.textBytes / MiB} MiB text, ${DEFAULT_TREE.smallFiles} × ${DEFAULT_TREE.smallBytes / 1024} KiB files).`,
    '',
    '| run | wall (median) | throughput | CPU (user+sys) | peak RSS | all runs |',
    '| --- | --- | --- | --- | --- | --- |',
    row('lifeboat snapshot → directory store', 'lifeboatSnapshot'),
    row('restic backup → local repository', 'resticBackup'),
    row('lifeboat restore ← directory store', 'lifeboatRestore'),
    row('restic restore ← local repository', 'resticRestore'),
    row('lifeboat snapshot → S3 (fauxqs)', 's3Snapshot'),
    row('lifeboat restore ← S3 (fauxqs)', 's3Restore'),
    '',
    `Ratios (lifeboat / restic wall time): snapshot ${ratio('lifeboatSnapshot', 'resticBackup')}, restore ${ratio('lifeboatRestore', 'resticRestore')}.`,
  ]
    .filter((l) => l !== undefined)
    .join('\n');
  console.log(report);
  await writeFile(join(work, 'snapshot-results.json'), JSON.stringify({ date: new Date().toISOString(), rounds, summary: s, raw: result }, null, 2));
}

await main();
