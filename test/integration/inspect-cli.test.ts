/**
 * `lifeboat ls`, `diff`, `find` (manifests only) and `restore --at` against real snapshots
 * in DynamoDB Local and the S3 server: output, --json, and every bad input's message.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { freshBucket, freshTable, tempDir } from '../support/fixtures.js';

let work: { path: string; cleanup: () => Promise<void> };
let env: Record<string, string>;
let data: string;
let first: string;
let second: string;
let firstCreatedAt: string;

beforeAll(async () => {
  work = await tempDir('lifeboat-inspect');
  const [table, bucket] = await Promise.all([freshTable(), freshBucket()]);
  env = { LIFEBOAT_TABLE: table, LIFEBOAT_STORE: `s3://${bucket}/b`, LIFEBOAT_SERVICE: 'web' };
  data = join(work.path, 'data');
  await mkdir(join(data, 'conf'), { recursive: true });
  await writeFile(join(data, 'conf/app.conf'), 'port=1');
  await writeFile(join(data, 'notes.txt'), 'old notes');
  await writeFile(join(data, 'gone.log'), 'bye');
  const a = await cli(['snapshot', '--dir', data, '--json'], env);
  expect(a.code).toBe(0);
  ({ id: first, createdAt: firstCreatedAt } = JSON.parse(a.stdout));
  await writeFile(join(data, 'conf/app.conf'), 'port=22');
  await rm(join(data, 'gone.log'));
  await writeFile(join(data, 'new.bin'), Buffer.alloc(1000));
  const b = await cli(['snapshot', '--dir', data], env);
  expect(b.code).toBe(0);
  second = b.stdout.trim();
});
afterAll(() => work.cleanup());

describe('lifeboat ls', () => {
  it('lists paths, with --long details and as JSON', async () => {
    const r = await cli(['ls', first], env);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual(['/', '/conf/', '/conf/app.conf', '/gone.log', '/notes.txt', '']);
    const long = await cli(['ls', `web/${first}`, 'conf', '--long'], env);
    expect(long.stdout).toMatch(/^drwx.*\/conf\/\n-rw.* {2}6 B {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}\/conf\/app.conf\n$/);
    const doc = JSON.parse((await cli(['ls', 'latest', 'new.bin', '--json'], env)).stdout);
    expect(doc).toMatchObject({
      service: 'web',
      snapshot: second,
      entries: [{ path: 'new.bin', type: 'file', size: 1000, mode: expect.stringMatching(/^0[0-7]{3}$/) }],
    });
  });

  it('names a path the snapshot does not have', async () => {
    const r = await cli(['ls', first, 'nope'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/has no path "nope"/);
    expect((await cli(['ls', 'not-an-id'], env)).stderr).toMatch(/"not-an-id" is not a snapshot id/);
  });
});

describe('lifeboat diff', () => {
  it('shows added, removed and modified paths with sizes', async () => {
    const r = await cli(['diff', first, second], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^M\s+6 B → 7 B {2}\/conf\/app.conf {2}\(content/m);
    expect(r.stdout).toMatch(/^-\s+3 B {2}\/gone.log$/m);
    expect(r.stdout).toMatch(/^\+\s+1000 B {2}\/new.bin$/m);
    expect(r.stdout).not.toMatch(/notes.txt/);
    expect(r.stderr).toMatch(/1 added \(1000 B\), 1 removed \(3 B\), 1 modified/);
    const doc = JSON.parse((await cli(['diff', first, second, '--json'], env)).stdout);
    expect(doc.summary.added).toEqual({ count: 1, bytes: 1000 });
  });

  it('refuses snapshots of two services', async () => {
    const r = await cli(['diff', `web/${first}`, `db/${second}`], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is a snapshot of web and .* of db; diff compares two snapshots of one service/);
  });
});

describe('lifeboat find', () => {
  it('lists the snapshots holding a path, newest first', async () => {
    const r = await cli(['find', '*.conf'], env);
    expect(r.code).toBe(0);
    const ids = r.stdout
      .split('\n')
      .filter((l) => !l.startsWith(' ') && l)
      .map((l) => l.split(' ')[0]);
    expect(ids).toEqual([second, first]);
    const gone = JSON.parse((await cli(['find', 'gone.log', '--json'], env)).stdout);
    expect(gone.hits.map((h: { snapshotId: string }) => h.snapshotId)).toEqual([first]);
  });

  it('fails when nothing matches, and names a malformed pattern', async () => {
    const r = await cli(['find', 'nothing-*'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no path matching "nothing-\*" in the 2 complete snapshots of web/);
    expect((await cli(['find', '[abc'], env)).stderr).toMatch(/pattern "\[abc" is not valid/);
  });
});

describe('restore --at', () => {
  it('restores the newest snapshot taken at or before the time and says how old it was then', async () => {
    const at = new Date(Date.parse(firstCreatedAt) + 1).toISOString();
    const dir = join(work.path, 'r-at');
    const r = await cli(['restore', '--dir', dir, '--at', at, '--json'], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ snapshot: first, at, snapshotAgeAtSeconds: 0 });
    expect(r.stderr).toMatch(new RegExp(`snapshot ${first.replace('.', '\\.')} taken .*before that time`));
    expect(await readFile(join(dir, 'conf/app.conf'), 'utf8')).toBe('port=1');
    const now = await cli(['restore', '--dir', join(work.path, 'r-now'), '--at', '0s'], env);
    expect(now.stdout.trim()).toBe(second);
  });

  it('refuses a time before the first snapshot, naming the oldest snapshot time', async () => {
    const r = await cli(['restore', '--dir', join(work.path, 'r-early'), '--at', '2020-01-01T00:00:00Z'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`is before the oldest complete snapshot of web, ${first} taken ${firstCreatedAt}`);
    const tz = await cli(['restore', '--dir', join(work.path, 'r-tz'), '--at', 'yesterday 18:00', '--tz', 'Nowhere/City'], env);
    expect(tz.stderr).toMatch(/--tz "Nowhere\/City" is not an IANA time zone/);
  });
});
