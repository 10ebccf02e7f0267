/**
 * `npm run bench:check [-- --rounds N]`
 *
 * `lifeboat check` on a 1 GiB v2 repository (the generated tree of bench/tree.ts, snapshotted
 * once into a local directory store; catalog on DynamoDB Local), side by side with
 * `restic check` on a restic repository of the same tree, both on local disks:
 *
 *   lifeboat check                                  existence and sizes only
 *   lifeboat check --read-data                      every pack read and verified
 *   lifeboat check --read-data-subset 10% --seed    a tenth of the packs
 *   restic check / --read-data / --read-data-subset 10%   (when restic is installed)
 *
 * Before each timed command the page cache is dropped (root only) and the repository read
 * back in, as in bench/snapshot.ts, so every run starts with its input warm and nothing else.
 * Medians of N rounds (default 3); peak RSS is the maximum over the rounds (GNU time).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { startEmbeddedServices } from '../lambdas/local/embedded-services.js';
import { DEFAULT_TREE, ensureTree, treeBytes } from './tree.js';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 3) || 3;
const work = resolve('bench/.work');
const tree = join(work, 'tree');
const store = join(work, 'check-store');
const resticRepo = join(work, 'check-restic');
const MiB = 1024 * 1024;

interface Run {
  wallS: number;
  /** user + system CPU seconds: steadier than wall time on a shared machine. */
  cpuS: number;
  rssMiB: number;
  stdout: string;
}

let dropWarned = false;
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

/** Under GNU time; asynchronous so the in-process DynamoDB Local keeps answering. */
async function timed(cmd: string, argv: string[], env: NodeJS.ProcessEnv, warm: string[], okCodes = [0]): Promise<Run> {
  settle(warm);
  const child = spawn('/usr/bin/time', ['-f', 'TIME %e %M %U %S', cmd, ...argv], { env });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  const line = err.split('\n').find((l) => l.startsWith('TIME '));
  if (!okCodes.includes(code ?? -1) || !line) throw new Error(`${cmd} ${argv.join(' ')} failed (${code}):\n${out}\n${err}`);
  const [, e, m, u, s] = line.split(' ');
  return { wallS: Number(e), cpuS: Number(u) + Number(s), rssMiB: Number(m) / 1024, stdout: out };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  if (spawnSync('sh', ['-c', 'command -v /usr/bin/time']).status !== 0) throw new Error('GNU time is missing: apt-get install time');
  const hasRestic = spawnSync('sh', ['-c', 'command -v restic']).status === 0;
  await mkdir(work, { recursive: true });
  const { generated } = await ensureTree(tree);
  console.error(`bench: tree ${tree} (${(treeBytes(DEFAULT_TREE) / MiB).toFixed(0)} MiB${generated ? ', generated' : ''})`);
  const services = await startEmbeddedServices();
  try {
    const lifeboat = resolve('dist/lifeboat.mjs');
    const env = {
      ...process.env,
      ...services.env,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      LIFEBOAT_TABLE: 'bench-check',
      LIFEBOAT_STORE: `file://${store}`,
    };
    await rm(store, { recursive: true, force: true });
    await timed('node', [lifeboat, 'init'], env, []);
    const snap = await timed('node', [lifeboat, 'snapshot', '--service', 'bench', '--dir', tree], env, [tree]);
    console.error(`bench: lifeboat snapshot ${snap.wallS} s`);
    const resticEnv = { ...process.env, RESTIC_REPOSITORY: resticRepo, RESTIC_PASSWORD: 'bench' };
    if (hasRestic) {
      await rm(resticRepo, { recursive: true, force: true });
      execFileSync('restic', ['init'], { env: resticEnv, stdio: 'ignore' });
      execFileSync('restic', ['backup', '--quiet', '.'], { env: resticEnv, cwd: tree, stdio: 'ignore' });
    }

    const legs: { name: string; argv: string[]; tool: 'lifeboat' | 'restic' }[] = [
      { name: 'check (existence and sizes)', argv: ['check', '--service', 'bench', '--json'], tool: 'lifeboat' },
      { name: 'check --read-data', argv: ['check', '--service', 'bench', '--read-data', '--json'], tool: 'lifeboat' },
      {
        name: 'check --read-data-subset 10%',
        argv: ['check', '--service', 'bench', '--read-data-subset', '10%', '--seed', 'bench', '--json'],
        tool: 'lifeboat',
      },
      ...(hasRestic
        ? [
            { name: 'restic check', argv: ['check', '--no-cache'], tool: 'restic' as const },
            { name: 'restic check --read-data', argv: ['check', '--no-cache', '--read-data'], tool: 'restic' as const },
            { name: 'restic check --read-data-subset 10%', argv: ['check', '--no-cache', '--read-data-subset', '10%'], tool: 'restic' as const },
          ]
        : []),
    ];
    const results: Record<
      string,
      { wallS: number; cpuS: number; load1: number; rssMiB: number; runs: number[]; packsRead?: number; bytesRead?: number; packs?: number }
    > = {};
    for (const leg of legs) {
      const runs: Run[] = [];
      for (let r = 0; r < rounds; r++) {
        runs.push(
          leg.tool === 'lifeboat' ? await timed('node', [lifeboat, ...leg.argv], env, [store]) : await timed('restic', leg.argv, resticEnv, [resticRepo]),
        );
      }
      const doc = leg.tool === 'lifeboat' ? (JSON.parse(runs[0]!.stdout) as { verdict: string; summary: Record<string, number> }) : undefined;
      if (doc && doc.verdict !== 'ok') throw new Error(`${leg.name}: verdict ${doc.verdict}`);
      results[leg.name] = {
        wallS: median(runs.map((x) => x.wallS)),
        cpuS: median(runs.map((x) => x.cpuS)),
        load1: loadavg()[0]!,
        rssMiB: Math.round(Math.max(...runs.map((x) => x.rssMiB))),
        runs: runs.map((x) => x.wallS),
        ...(doc ? { packsRead: doc.summary.packsRead, packs: doc.summary.packsChecked, bytesRead: doc.summary.bytesRead } : {}),
      };
      console.error(
        `bench: ${leg.name}: ${results[leg.name]!.wallS} s wall (runs ${results[leg.name]!.runs.join(', ')}), ${results[leg.name]!.cpuS.toFixed(2)} s CPU, ${results[leg.name]!.rssMiB} MiB RSS, load ${loadavg()[0]!.toFixed(1)}`,
      );
    }
    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, node ${process.version}`;
    const out = { date: new Date().toISOString(), machine, rounds, treeBytes: treeBytes(DEFAULT_TREE), results };
    writeFileSync(join(work, 'check-results.json'), `${JSON.stringify(out, null, 2)}\n`);
    console.log('| command | wall (median) | CPU (user+sys) | peak RSS | packs read | bytes read | load avg |');
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    for (const [name, r] of Object.entries(results)) {
      const read = r.packsRead === undefined ? '-' : `${r.packsRead} of ${r.packs}`;
      const bytes = r.bytesRead === undefined ? '-' : `${(r.bytesRead / MiB).toFixed(0)} MiB`;
      console.log(`| ${name} | ${r.wallS.toFixed(2)} s | ${r.cpuS.toFixed(2)} s | ${r.rssMiB} MiB | ${read} | ${bytes} | ${r.load1.toFixed(1)} |`);
    }
    console.log(`\n${out.date}, ${machine}, ${rounds} rounds`);
  } finally {
    await services.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
