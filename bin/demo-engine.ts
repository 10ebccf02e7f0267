/**
 * `npm run demo:engine`: a short, real run of the snapshot engine on embedded local services
 * (what `npm start` showed before local mode).
 *
 * Starts DynamoDB Local and the S3-compatible server on loopback, then drives the same
 * `lifeboat` commands a user would type (in-process, same code as the executable):
 * init, snapshot a sample data directory, list, change the data, snapshot again, restore
 * both snapshots, compare them with what was snapshotted, and show that a damaged
 * snapshot is refused without touching the target. Everything it starts, it stops.
 */
import { createHash } from 'node:crypto';
import { link, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { startEmbeddedServices } from '../lambdas/local/embedded-services.js';
import { runCli } from './cli/program.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const step = (s: string) => console.log(`\n${bold(`== ${s}`)}`);

/** A fingerprint of a tree: every path with its type, mode and content hash or link target. */
async function fingerprint(root: string): Promise<string> {
  const lines: string[] = [];
  const walk = async (rel: string) => {
    const abs = join(root, rel);
    for (const name of (await readdir(abs)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const s = await lstat(join(root, p));
      if (s.isDirectory()) {
        lines.push(`${p}/ ${(s.mode & 0o7777).toString(8)}`);
        await walk(p);
      } else if (s.isSymbolicLink()) lines.push(`${p} -> ${await readlink(join(root, p))}`);
      else
        lines.push(
          `${p} ${(s.mode & 0o7777).toString(8)} ${createHash('sha256')
            .update(await readFile(join(root, p)))
            .digest('hex')
            .slice(0, 16)}`,
        );
    }
  };
  await walk('');
  return lines.join('\n');
}

async function main(): Promise<number> {
  const started = Date.now();
  step('starting DynamoDB Local and an S3-compatible server on loopback');
  const services = await startEmbeddedServices();
  console.log(`DynamoDB: ${services.dynamoEndpoint}\nS3:       ${services.s3Endpoint}`);
  const work = await mkdtemp(join(tmpdir(), 'lifeboat-demo-'));
  const env = { ...process.env, ...services.env, LIFEBOAT_TABLE: 'lifeboat-demo', LIFEBOAT_STORE: 's3://lifeboat-demo/snapshots' };
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);

  const run = async (argv: string[], expectFailure: boolean): Promise<string> => {
    console.log(`$ lifeboat ${argv.map((a) => (/[\s;|&$]/.test(a) ? `'${a}'` : a)).join(' ')}`);
    let stdout = '';
    const sink = (write: (s: string) => void) =>
      new Writable({
        write: (c: Buffer, _e, cb) => {
          write(c.toString());
          cb();
        },
      });
    const code = await runCli(argv, {
      stdout: sink((s) => {
        stdout += s;
        process.stdout.write(s);
      }),
      stderr: sink((s) => process.stdout.write(s.replace(/^(?=.)/gm, '  '))),
      env,
      signal: controller.signal,
    });
    console.log(`  (exit ${code})`);
    if ((code !== 0) !== expectFailure) throw new Error(`lifeboat ${argv[0]} exited ${code}`);
    return stdout.trim();
  };
  const lifeboat = (...argv: string[]) => run(argv, false);

  try {
    step('creating the catalog table and the bucket');
    await lifeboat('init');

    step('a sample data directory (a tiny "database": files, an empty dir, a symlink, a hard link)');
    const data = join(work, 'data');
    await mkdir(join(data, 'base/16384'), { recursive: true });
    await mkdir(join(data, 'pg_wal/archive_status'), { recursive: true });
    await writeFile(join(data, 'PG_VERSION'), '16\n');
    await writeFile(join(data, 'base/16384/1259'), Buffer.alloc(64 * 1024, 7));
    await writeFile(join(data, 'postgresql.conf'), 'shared_buffers = 128MB\n', { mode: 0o600 });
    await symlink('postgresql.conf', join(data, 'current.conf'));
    await link(join(data, 'PG_VERSION'), join(data, 'base/PG_VERSION'));
    console.log(await fingerprint(data));
    const v1 = await fingerprint(data);

    step('snapshot 1, with a pre-snapshot hook (a checkpoint would go here)');
    const first = await lifeboat('snapshot', '--service', 'demo-db', '--dir', data, '--reason', 'demo', '--pre', 'echo checkpoint done');

    step('the data changes, snapshot 2');
    await writeFile(join(data, 'base/16384/1259'), Buffer.alloc(64 * 1024, 9));
    await writeFile(join(data, 'base/16384/2610'), 'new table\n');
    const v2 = await fingerprint(data);
    const second = await lifeboat('snapshot', '--service', 'demo-db', '--dir', data, '--reason', 'demo');

    step('the catalog, newest first');
    await lifeboat('snapshots', '--service', 'demo-db');

    step('restore the latest snapshot into a fresh directory (as a new task would on start)');
    const fresh = join(work, 'new-task-data');
    await lifeboat('restore', '--service', 'demo-db', '--dir', fresh, '--if-empty');
    const latestOk = (await fingerprint(fresh)) === v2;
    console.log(`restored tree ${latestOk ? 'matches' : 'DOES NOT match'} the data at snapshot 2`);

    step('restore snapshot 1 by id');
    const older = join(work, 'older');
    await lifeboat('restore', '--service', 'demo-db', '--dir', older, '--snapshot', first);
    const olderOk = (await fingerprint(older)) === v1;
    console.log(`restored tree ${olderOk ? 'matches' : 'DOES NOT match'} the data at snapshot 1`);

    step('damage snapshot 2 in the store: the restore is refused and the target left alone');
    const { openStore } = await import('../lambdas/adapters/stores/registry.js');
    const store = openStore('s3://lifeboat-demo/snapshots/', { env });
    const key = `demo-db/snapshots/${second}/part-0000.tar.zst`;
    const chunks: Buffer[] = [];
    for await (const c of await store.get(key)) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = bytes[middle]! ^ 0xff;
    await store.put(key, Readable.from([bytes]));
    const before = await fingerprint(older);
    await run(['restore', '--service', 'demo-db', '--dir', older, '--force'], true);
    const untouched = (await fingerprint(older)) === before;
    console.log(`target ${untouched ? 'left exactly as it was' : 'WAS CHANGED'}`);

    step('done');
    const ok = latestOk && olderOk && untouched;
    console.log(
      `${ok ? 'All checks passed' : 'SOME CHECKS FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s: 2 snapshots streamed to S3 and recorded in DynamoDB, ` +
        `both restored and compared, a corrupted snapshot detected. Next: \`npm test\`, and the README for using lifeboat in a container.`,
    );
    return ok ? 0 : 1;
  } finally {
    process.removeListener('SIGINT', onSigint);
    await rm(work, { recursive: true, force: true });
    await services.stop();
  }
}

process.exitCode = await main().catch((err: unknown) => {
  console.error(`demo failed: ${(err as Error).stack ?? String(err)}`);
  return 1;
});
