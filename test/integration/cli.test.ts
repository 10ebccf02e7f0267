/**
 * The `lifeboat` CLI: output on the right streams, exit codes (0 ok, 1 failed, 2 usage,
 * 3 unreachable) with one clear line for each bad input, and crash/signal behaviour of
 * the real executable.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient, createS3Client } from '../../lambdas/adapters/aws.js';
import { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import { S3Store } from '../../lambdas/adapters/stores/s3-store.js';
import { cli, exitOf, spawnCli, waitFor } from '../support/cli.js';
import { freshBucket, freshTable, tempDir, uniqueName } from '../support/fixtures.js';
import { flipByteAt, tamper } from '../support/stores.js';

let work: { path: string; cleanup: () => Promise<void> };
let table: string;
let bucket: string;
let env: Record<string, string>;
let data: string;

beforeAll(async () => {
  work = await tempDir('lifeboat-cli');
  [table, bucket] = await Promise.all([freshTable(), freshBucket()]);
  env = { LIFEBOAT_TABLE: table, LIFEBOAT_STORE: `s3://${bucket}/backups` };
  data = join(work.path, 'data');
  await mkdir(join(data, 'sub'), { recursive: true });
  await writeFile(join(data, 'sub/file.txt'), 'hello');
});
afterAll(() => work.cleanup());

const out = (name: string) => join(work.path, name);

describe('lifeboat snapshot / restore / snapshots', () => {
  it('prints only the id on stdout, and a summary on stderr', async () => {
    const r = await cli(['snapshot', '--service', 'web', '--dir', data, '--reason', 'test'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{8}\n$/);
    expect(r.stderr).toMatch(/snapshot .* of web complete: 1 files, 5 B stored as/);

    const restored = await cli(['restore', '--service', 'web', '--dir', out('r1')], env);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toBe(r.stdout);
    expect(await readFile(join(out('r1'), 'sub/file.txt'), 'utf8')).toBe('hello');
  });

  it('prints one JSON document with --json', async () => {
    const r = await cli(['snapshot', '--service', 'web', '--dir', data, '--json'], env);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    // parts: packs this snapshot added (0 when an earlier snapshot of `web` stored the file).
    expect(doc).toMatchObject({ service: 'web', status: 'complete', files: 1, dataBytes: 5, warnings: [] });
    expect(doc.parts).toBeLessThanOrEqual(1);
    expect(doc.store).toBe(`s3://${bucket}/backups/`);

    const listed = await cli(['snapshots', '--service', 'web', '--json'], env);
    const entries = JSON.parse(listed.stdout) as { id: string }[];
    expect(entries[0]!.id).toBe(doc.id);
    expect(entries).toHaveLength(2);

    const restored = JSON.parse((await cli(['restore', '--service', 'web', '--dir', out('r2'), '--json'], env)).stdout);
    expect(restored).toMatchObject({ status: 'restored', snapshot: doc.id, files: 1, method: 'swap' });
  });

  it('lists snapshots as a table, newest first', async () => {
    const r = await cli(['snapshots', '--service', 'web'], env);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+CREATED\s+FILES\s+DATA\s+STORED\s+VERIFIED\s+REASON$/);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/complete .* test$/);
    // Neither snapshots nor protected: a typo is named, not answered with an empty list.
    const none = await cli(['snapshots', '--service', 'nobody'], env);
    expect(none).toMatchObject({ code: 2, stdout: '' });
    expect(none.stderr).toMatch(/no service "nobody" in \S+: it is not protected and has no snapshots/);
  });

  it('--if-empty does nothing (exit 0) for a non-empty directory or a service without snapshots', async () => {
    const busy = out('busy');
    await mkdir(busy);
    await writeFile(join(busy, 'x'), 'mine');
    const r = await cli(['restore', '--service', 'web', '--dir', busy, '--if-empty'], env);
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(r.stderr).toMatch(/is not empty; nothing restored/);
    const first = await cli(['restore', '--service', 'brand-new', '--dir', out('fresh'), '--if-empty'], env);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/has no complete snapshot; starting empty/);
  });

  it('takes settings from LIFEBOAT_SERVICE, LIFEBOAT_DIR and LIFEBOAT_BUCKET', async () => {
    const r = await cli(['snapshot'], {
      LIFEBOAT_TABLE: table,
      LIFEBOAT_BUCKET: bucket,
      LIFEBOAT_PREFIX: 'backups/',
      LIFEBOAT_SERVICE: 'web',
      LIFEBOAT_DIR: data,
    });
    expect(r.code).toBe(0);
  });
});

describe('lifeboat init', () => {
  it('creates the table and the bucket, and is harmless the second time', async () => {
    const t = uniqueName('init');
    const b = uniqueName('init');
    const first = await cli(['init', '--table', t, '--store', `s3://${b}`]);
    expect(first.code).toBe(0);
    expect(first.stderr).toBe(`table ${t}: created\nstore s3://${b}/: created\n`);
    const second = await cli(['init', '--table', t, '--store', `s3://${b}`, '--json']);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual({ table: { name: t, outcome: 'exists' }, store: { url: `s3://${b}/`, outcome: 'exists' } });
  });
});

describe('lifeboat catalog rebuild', () => {
  it('recovers complete snapshots from the store and reports the ones it skips', async () => {
    const store = `file://${out('rebuild-store')}`;
    const e = { LIFEBOAT_TABLE: table, LIFEBOAT_STORE: store };
    expect((await cli(['init'], e)).code).toBe(0);
    const ids: string[] = [];
    // Snapshot 2 has content of its own (so a pack only it uses).
    const own = out('rebuild-own');
    await mkdir(own);
    await writeFile(join(own, 'only-here.txt'), 'unique');
    for (let i = 0; i < 4; i++) ids.push((await cli(['snapshot', '--service', 'lost', '--dir', i === 2 ? own : data, '--reason', `r${i}`], e)).stdout.trim());
    // Damage two: one loses its manifest (an upload that never finished), one its pack.
    const { rm } = await import('node:fs/promises');
    const { gunzipSync } = await import('node:zlib');
    await rm(join(out('rebuild-store'), 'lost/snapshots', ids[1]!, 'manifest-v2.json.zst'));
    const index = JSON.parse(gunzipSync(await readFile(join(out('rebuild-store'), 'lost/index', `${ids[2]}.json.gz`))).toString()) as {
      packs: { id: string }[];
    };
    const lostPack = index.packs[0]!.id;
    await rm(join(out('rebuild-store'), 'lost/packs', lostPack.slice(0, 2), lostPack));

    // A brand-new table: the old catalog is gone.
    const newTable = await freshTable();
    const e2 = { LIFEBOAT_TABLE: newTable, LIFEBOAT_STORE: store };
    const dry = await cli(['catalog', 'rebuild', '--service', 'lost', '--dry-run', '--json'], e2);
    // A v2 snapshot owns only its manifest: without it nothing of the snapshot is left to report.
    expect(JSON.parse(dry.stdout)).toMatchObject({ imported: 2, skipped: 1, dryRun: true });
    // The table knows nothing of `lost` yet: named as unknown, with the way back.
    const unknown = await cli(['snapshots', '--service', 'lost', '--json'], e2);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ error: { type: 'UsageError', hint: expect.stringMatching(/lifeboat catalog rebuild --service lost/) } });

    const r = await cli(['catalog', 'rebuild', '--service', 'lost'], e2);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([`${ids[3]}\timported`, `${ids[2]}\tskipped\tpack ${lostPack} is missing`, `${ids[0]}\timported`]);
    expect(r.stderr).toMatch(/lost: imported 2, already present 0, skipped 1/);
    const listed = JSON.parse((await cli(['snapshots', '--service', 'lost', '--json'], e2)).stdout) as { id: string; reason: string; status: string }[];
    expect(listed.map((s) => [s.id, s.reason, s.status])).toEqual([
      [ids[3], 'r3', 'complete'],
      [ids[0], 'r0', 'complete'],
    ]);
    // The recovered entries restore (the manifest checksum was recorded).
    expect((await cli(['restore', '--service', 'lost', '--dir', out('from-rebuilt')], e2)).code).toBe(0);
    expect((await cli(['catalog', 'rebuild', '--service', 'lost'], e2)).stderr).toMatch(/imported 0, already present 2, skipped 1/);
  });
});

describe('bad input: exit code and one clear line', () => {
  const cases: [string, () => string[], () => Record<string, string>, number, RegExp][] = [
    ['no --dir', () => ['snapshot', '--service', 'web'], () => env, 2, /no data directory given\n {2}hint: pass --dir PATH/],
    ['a missing directory', () => ['snapshot', '--service', 'web', '--dir', out('missing')], () => env, 2, /data directory .*missing does not exist/],
    ['a file as --dir', () => ['snapshot', '--service', 'web', '--dir', join(data, 'sub/file.txt')], () => env, 2, /file\.txt is not a directory/],
    ['a bad service name', () => ['snapshot', '--service', 'web/1', '--dir', data], () => env, 2, /service name "web\/1" is not valid/],
    ['no store configured', () => ['snapshot', '--service', 'web', '--dir', data], () => ({ LIFEBOAT_TABLE: table }), 2, /no snapshot store given/],
    [
      'no table configured',
      () => ['snapshots', '--service', 'web'],
      () => ({}),
      2,
      /no catalog table given\n {2}hint: pass --table NAME or set LIFEBOAT_TABLE/,
    ],
    [
      'an unsupported store URL',
      () => ['snapshot', '--service', 'web', '--dir', data, '--store', 'ftp://x'],
      () => env,
      2,
      /store URL "ftp:\/\/x" is not supported/,
    ],
    [
      'an unknown snapshot id',
      () => ['restore', '--service', 'web', '--dir', out('u1'), '--snapshot', '20200101T000000.000Z-00000000'],
      () => env,
      2,
      /snapshot 20200101T000000\.000Z-00000000 of service web is not in the catalog/,
    ],
    [
      'a malformed snapshot id',
      () => ['restore', '--service', 'web', '--dir', out('u2'), '--snapshot', 'last-tuesday'],
      () => env,
      2,
      /--snapshot "last-tuesday" is not a snapshot id/,
    ],
    [
      'a non-number option',
      () => ['restore', '--service', 'web', '--dir', out('u3'), '--concurrency', 'many'],
      () => env,
      2,
      /--concurrency must be a positive number, not "many"/,
    ],
    ['an unknown option', () => ['snapshot', '--frobnicate'], () => env, 2, /unknown option '--frobnicate'/],
    [
      'a missing bucket',
      () => ['snapshot', '--service', 'web', '--dir', data, '--store', 's3://no-such-bucket-anywhere'],
      () => env,
      3,
      /bucket no-such-bucket-anywhere does not exist\n {2}hint: create it with `lifeboat init`/,
    ],
    [
      'a missing table',
      () => ['snapshots', '--service', 'web', '--table', 'no-such-table'],
      () => env,
      3,
      /table no-such-table does not exist\n {2}hint: create it with `lifeboat init`/,
    ],
    [
      'an unreachable catalog',
      () => ['snapshots', '--service', 'web'],
      () => ({ ...env, AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9', AWS_MAX_ATTEMPTS: '1' }),
      3,
      /cannot reach table/,
    ],
    ['no snapshot to restore', () => ['restore', '--service', 'nobody', '--dir', out('u4')], () => env, 1, /service nobody has no complete snapshot/],
  ];

  it.each(cases)('%s', async (_name, argv, e, code, message) => {
    const r = await cli(argv(), e());
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(code);
    // One error line: ours ("lifeboat: error: ...") or commander's for flag syntax ("error: ...").
    expect(r.stderr.split('\n').filter((l) => /^(lifeboat: )?error: /.test(l))).toHaveLength(1);
  });

  it('refuses to overwrite a non-empty directory and leaves it alone', async () => {
    const busy = out('keep');
    await mkdir(busy);
    await writeFile(join(busy, 'mine'), 'precious');
    const r = await cli(['restore', '--service', 'web', '--dir', busy], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/keep is not empty\n {2}hint: pass --force to replace its contents/);
    expect(await readdir(busy)).toEqual(['mine']);
  });

  it('fails (1) on a corrupted object, names it, and keeps the target as it was', async () => {
    const snap = (await cli(['snapshot', '--service', 'damaged', '--dir', data], env)).stdout.trim();
    const store = new S3Store({ client: createS3Client(), bucket, prefix: 'backups/' });
    let pack = '';
    for await (const o of store.list('damaged/packs/')) pack = o.key;
    await tamper(
      store,
      pack,
      flipByteAt(() => 8),
    ); // the first byte of the first blob
    const target = out('damaged-target');
    await mkdir(target);
    await writeFile(join(target, 'old'), 'old');
    const r = await cli(['restore', '--service', 'damaged', '--dir', target, '--force', '--json'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`lifeboat: error: .*${snap}.*corrupt`));
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { type: 'IntegrityError', exitCode: 1 } });
    expect(await readdir(target)).toEqual(['old']);
  });

  it('exits 1 with the hook output when the pre hook fails', async () => {
    const r = await cli(['snapshot', '--service', 'web', '--dir', data, '--pre', 'echo cannot checkpoint; exit 4'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/pre-snapshot hook `echo cannot checkpoint; exit 4` failed with exit code 4; its output:\n {2}\| cannot checkpoint/);
    expect(r.stdout).toBe('');
  });

  it('prints help and the version with exit 0', async () => {
    expect((await cli(['--help'])).code).toBe(0);
    expect((await cli(['--version'])).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

describe('the real executable', () => {
  let big: string;
  beforeAll(async () => {
    big = out('big');
    await mkdir(big);
    // Random data: large enough that the upload to the local S3 server takes a while.
    for (let i = 0; i < 6; i++) await writeFile(join(big, `blob-${i}`), randomBytes(16 * 1024 * 1024));
  });

  const entries = async (service: string) => {
    const catalog = new DynamoSnapshotCatalog(createDynamoClient(), table);
    const list: { id: string; status: string }[] = [];
    for await (const r of catalog.list(service)) list.push({ id: r.id, status: r.status });
    return list;
  };

  it('a snapshot killed mid-upload leaves no complete entry, and the next run succeeds', async () => {
    const child = spawnCli(['snapshot', '--service', 'crashy', '--dir', big], env);
    await waitFor(async () => ((await entries('crashy')).length > 0 ? true : undefined), 'the uploading entry');
    child.kill('SIGKILL');
    expect((await exitOf(child)).signal).toBe('SIGKILL');
    const after = await entries('crashy');
    expect(after).toHaveLength(1);
    expect(after[0]!.status).toBe('uploading');

    const again = await cli(['snapshot', '--service', 'crashy', '--dir', big], env);
    expect(again.code).toBe(0);
    const restored = await cli(['restore', '--service', 'crashy', '--dir', out('crashy-restored')], env);
    expect(restored.stdout).toBe(again.stdout);
    // Compare digests: a failing toEqual on 16 MiB buffers would make the reporter diff them.
    const digest = async (p: string) =>
      createHash('sha256')
        .update(await readFile(p))
        .digest('hex');
    expect(await digest(join(out('crashy-restored'), 'blob-3'))).toBe(await digest(join(big, 'blob-3')));
  });

  it('SIGTERM during a snapshot aborts the upload and removes everything it wrote', async () => {
    const child = spawnCli(['snapshot', '--service', 'stopped', '--dir', big], env);
    await waitFor(async () => ((await entries('stopped')).length > 0 ? true : undefined), 'the uploading entry');
    child.kill('SIGTERM');
    const { code } = await exitOf(child);
    expect(code).toBe(143);
    expect(child.output().stderr).toMatch(/SIGTERM received, cleaning up[\s\S]*lifeboat: error: snapshot aborted; nothing was kept/);
    expect(await entries('stopped')).toEqual([]);
    const store = new S3Store({ client: createS3Client(), bucket, prefix: 'backups/' });
    const keys: string[] = [];
    for await (const o of store.list('stopped/')) keys.push(o.key);
    expect(keys).toEqual([]);
  });
});
