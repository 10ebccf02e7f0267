/**
 * `lifeboat check` on the real stores (DynamoDB Local; the S3 server and the directory
 * store): a healthy service checks clean; each kind of damage — a deleted pack, a truncated
 * pack, a flipped byte inside a blob (found only by reading data), a blob missing from the
 * index, a damaged v1 part — is exit 1 naming exactly the snapshots it breaks; a subset
 * read reads fewer packs; the JSON document's shape; usage errors are exit 2.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import { DynamoServiceRegistry } from '../../lambdas/adapters/service-registry.js';
import type { ObjectStore } from '../../lambdas/adapters/stores/store.js';
import { condemnedObjectKey, indexObjectKey, packObjectKey, servicePacksPrefix } from '../../lambdas/contract/keys.js';
import type { IndexDocument } from '../../lambdas/domain/blob-index.js';
import type { CheckReport } from '../../lambdas/domain/check.js';
import { normalizeServicePolicy } from '../../lambdas/domain/service-policy.js';
import { takeSnapshot } from '../../lambdas/engine/snapshot.js';
import { MAX_INDEX_JSON_BYTES, readGzipJson, writeGzipJson } from '../../lambdas/engine/v2/repo.js';
import { cli } from '../support/cli.js';
import { freshTable, tempDir } from '../support/fixtures.js';
import { flipByteAt, STORE_CASES, tamper } from '../support/stores.js';

describe.each(STORE_CASES)('lifeboat check through the $name', ({ make }) => {
  let catalog: DynamoSnapshotCatalog;
  let store: ObjectStore;
  let cleanupStore: () => Promise<void>;
  let work: { path: string; cleanup: () => Promise<void> };
  let env: Record<string, string>;
  let n = 0;

  beforeAll(async () => {
    const table = await freshTable();
    catalog = new DynamoSnapshotCatalog(createDynamoClient(), table);
    ({ store, cleanup: cleanupStore } = await make());
    work = await tempDir('lifeboat-check');
    env = { LIFEBOAT_TABLE: table, LIFEBOAT_STORE: store.url };
  });
  afterAll(async () => {
    await work.cleanup();
    await cleanupStore();
  });

  const check = async (service: string, ...flags: string[]) => {
    const r = await cli(['check', '--service', service, ...flags], env);
    return { ...r, lines: r.stdout.split('\n').filter((l) => l.startsWith('damaged ')) };
  };
  const checkJson = async (service: string, ...flags: string[]) => {
    const r = await cli(['check', '--service', service, '--json', ...flags], env);
    return { code: r.code, report: JSON.parse(r.stdout) as CheckReport, stderr: r.stderr };
  };

  /**
   * Two v2 snapshots: the first stores pack A (a 3 MiB file of several chunks and 20 small
   * files); the second adds a file and rewrites two, stored in a new pack B, and reuses the
   * rest from A. So B's damage breaks only the second snapshot; A's breaks both.
   */
  async function twoSnapshots(service: string) {
    const dir = join(work.path, `tree-${++n}`);
    await mkdir(join(dir, 'small'), { recursive: true });
    await writeFile(join(dir, 'big.bin'), randomBytes(3 * 1024 * 1024));
    for (let i = 0; i < 20; i++) await writeFile(join(dir, 'small', `f${i}`), randomBytes(1000 + i));
    const first = await takeSnapshot({ catalog, store, service, dir });
    await writeFile(join(dir, 'new.bin'), randomBytes(200_000));
    for (let i = 0; i < 2; i++) await writeFile(join(dir, 'small', `f${i}`), randomBytes(1500));
    const second = await takeSnapshot({ catalog, store, service, dir });
    const index = async (id: string) => (await readGzipJson(store, indexObjectKey(service, id), MAX_INDEX_JSON_BYTES)).doc as IndexDocument;
    const [a] = (await index(first.record.id)).packs;
    const [b] = (await index(second.record.id)).packs;
    expect(a && b).toBeTruthy();
    return { first: first.record.id, second: second.record.id, packA: a!, packB: b!, index, dir };
  }

  it('a healthy service checks clean, with and without reading data', async () => {
    const s = await twoSnapshots('healthy');
    const quick = await check('healthy');
    expect(quick.code).toBe(0);
    expect(quick.stdout).toMatch(
      /^no damage found: 2 snapshot\(s\) of 1 service\(s\) checked, 2 pack\(s\) and 0 part\(s\) found, 0 pack\(s\) and 0 part\(s\) read/m,
    );
    const full = await checkJson('healthy', '--read-data');
    expect(full.code).toBe(0);
    expect(full.report.summary).toMatchObject({ snapshotsChecked: 2, damagedSnapshots: 0, packsChecked: 2, packsRead: 2 });
    // Both packs were read whole (plus their tails), besides the manifests and index files.
    expect(full.report.summary.bytesRead).toBeGreaterThan(s.packA.size + s.packB.size);
  });

  it('a deleted pack: every snapshot that needs it is damaged, and only those', async () => {
    const s = await twoSnapshots('lost-pack');
    await store.delete([packObjectKey('lost-pack', s.packB.id)]);
    const r = await check('lost-pack');
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toContain(`damaged lost-pack/${s.second} (v2, complete): pack ${s.packB.id} is missing`);

    await store.delete([packObjectKey('lost-pack', s.packA.id)]);
    const both = await check('lost-pack');
    expect(both.code).toBe(1);
    expect(both.lines.map((l) => l.split(' ')[1])).toEqual([`lost-pack/${s.first}`, `lost-pack/${s.second}`]);
    expect(both.lines[0]).toContain(`pack ${s.packA.id} is missing`);
  });

  it('a truncated pack is found without reading data', async () => {
    const s = await twoSnapshots('short-pack');
    await tamper(store, packObjectKey('short-pack', s.packB.id), (b) => b.subarray(0, b.length - 100));
    const r = await check('short-pack');
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([
      expect.stringContaining(
        `damaged short-pack/${s.second} (v2, complete): pack ${s.packB.id} is ${s.packB.size - 100} bytes, the index says ${s.packB.size}`,
      ),
    ]);
  });

  it('a flipped byte inside a blob: only --read-data finds it, and names the blob, its pack and the file', async () => {
    const s = await twoSnapshots('flipped');
    // The first blob of pack B belongs to a file only the second snapshot has.
    const [blob, offset, length] = s.packB.blobs[0]!;
    await tamper(
      store,
      packObjectKey('flipped', s.packB.id),
      flipByteAt(() => offset + Math.floor(length / 2)),
    );
    expect((await check('flipped')).code).toBe(0);
    const r = await check('flipped', '--read-data');
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(
      new RegExp(`^damaged flipped/${s.second} \\(v2, complete\\): blob ${blob} in pack ${s.packB.id}(:| does not decompress).* \\(file "[^"]+"\\)`),
    );
    const doc = await checkJson('flipped', '--read-data');
    expect(doc.report.damagedObjects).toEqual([
      { service: 'flipped', object: s.packB.id, problems: [expect.stringContaining(`blob ${blob} in pack ${s.packB.id}`)] },
    ]);
  });

  it('a blob missing from the index is named with its file', async () => {
    const s = await twoSnapshots('unindexed');
    const doc = await s.index(s.second);
    const dropped = doc.packs[0]!.blobs.shift()!;
    // Stores never overwrite (append-only writers): the damage replaces the object explicitly.
    await store.delete([indexObjectKey('unindexed', s.second)]);
    await writeGzipJson(store, indexObjectKey('unindexed', s.second), doc);
    const r = await check('unindexed');
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([expect.stringMatching(new RegExp(`^damaged unindexed/${s.second} .*: blob ${dropped[0]} \\(file "[^"]+"\\) is in no index`))]);
  });

  it('a damaged v1 part: a short one without reading, a flipped byte with --read-data', async () => {
    const dir = join(work.path, `v1-${++n}`);
    await mkdir(dir);
    await writeFile(join(dir, 'data.bin'), randomBytes(300_000));
    const ok = await takeSnapshot({ catalog, store, service: 'old', dir, format: 'v1' });
    const bad = await takeSnapshot({ catalog, store, service: 'old', dir, format: 'v1' });
    expect((await check('old', '--read-data')).code).toBe(0);
    const { fetchManifest } = await import('../../lambdas/engine/restore.js');
    const part = (await fetchManifest(store, bad.record)).manifest.parts[0]!;
    await tamper(
      store,
      part.key,
      flipByteAt((len) => len - 2000),
    );
    expect((await check('old')).code).toBe(0);
    const flipped = await check('old', '--read-data');
    expect(flipped.code).toBe(1);
    expect(flipped.lines).toEqual([`damaged old/${bad.record.id} (v1, complete): part ${part.key}: SHA-256 does not match the manifest`]);
    await tamper(store, part.key, (b) => b.subarray(0, 1000));
    const short = await check('old');
    expect(short.code).toBe(1);
    expect(short.lines).toEqual([`damaged old/${bad.record.id} (v1, complete): part ${part.key} is 1000 bytes, the manifest says ${part.size}`]);
    expect(short.stdout).not.toContain(ok.record.id);
  });

  it('a blob only in a pack GC condemned is named as such', async () => {
    const s = await twoSnapshots('condemned');
    await writeGzipJson(store, condemnedObjectKey('condemned', 'gc-test'), { createdAt: new Date().toISOString(), packs: [s.packB.id] });
    const r = await check('condemned');
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([
      expect.stringMatching(
        new RegExp(`^damaged condemned/${s.second} .*: blob [0-9a-f]{64} \\(file "[^"]+"\\) is only in pack ${s.packB.id}, which GC condemned`),
      ),
    ]);
  });

  it('an expiring snapshot whose objects retention already removed is "deleting", not damage', async () => {
    const dir = join(work.path, `exp-${++n}`);
    await mkdir(dir);
    await writeFile(join(dir, 'x'), randomBytes(5000));
    const kept = await takeSnapshot({ catalog, store, service: 'expiring', dir, format: 'v1' });
    const gone = await takeSnapshot({ catalog, store, service: 'expiring', dir, format: 'v1' });
    expect(await catalog.markExpiring('expiring', gone.record.id, { status: 'complete' }, new Date().toISOString())).toBe(true);
    const { fetchManifest } = await import('../../lambdas/engine/restore.js');
    const part = (await fetchManifest(store, gone.record)).manifest.parts[0]!;
    await store.delete([part.key]); // retention's deletion, half done
    const r = await checkJson('expiring');
    expect(r.code).toBe(0);
    expect(r.report.snapshots.map((x) => [x.id, x.status, x.result])).toEqual([
      [kept.record.id, 'complete', 'ok'],
      [gone.record.id, 'expiring', 'deleting'],
    ]);
    expect(r.report.summary.deletingSnapshots).toBe(1);
    expect((await check('expiring')).stdout).toContain(`deleting expiring/${gone.record.id} (v1): expiring, its objects are being removed by retention`);
  });

  it('--read-data-subset reads a share of the packs: the same ones for the same seed', async () => {
    const dir = join(work.path, `many-${++n}`);
    await mkdir(dir);
    for (let i = 0; i < 5; i++) {
      await writeFile(join(dir, `f${i}`), randomBytes(100_000));
      await takeSnapshot({ catalog, store, service: 'many', dir });
    }
    let packs = 0;
    for await (const _ of store.list(servicePacksPrefix('many'))) packs++;
    expect(packs).toBe(5);
    const all = await checkJson('many', '--read-data');
    expect(all.report.summary.packsRead).toBe(5);
    const a = await checkJson('many', '--read-data-subset', '40%', '--seed', 'nightly');
    const b = await checkJson('many', '--read-data-subset', '40', '--seed', 'nightly');
    expect(a.code).toBe(0);
    expect(a.report.summary.packsRead).toBe(2);
    expect(a.report.readData).toEqual({ mode: 'subset', percent: 40, seed: 'nightly', selection: 'seeded' });
    expect(b.report.summary.bytesRead).toBe(a.report.summary.bytesRead);
    expect(a.report.summary.bytesRead).toBeLessThan(all.report.summary.bytesRead);
    const random = await check('many', '--read-data-subset', '1%');
    expect(random.code).toBe(0);
    expect(random.stdout).toMatch(/1 pack\(s\) and 0 part\(s\) read/);
    expect(random.stderr).toMatch(/chosen at random \(seed [0-9a-f]{8}; pass --seed [0-9a-f]{8} to read the same ones\)/);
  });

  it('--json prints one document: verdict, exit code, summary, the damaged snapshots and objects', async () => {
    const s = await twoSnapshots('shape');
    await store.delete([packObjectKey('shape', s.packB.id)]);
    const { code, report } = await checkJson('shape');
    expect(code).toBe(1);
    expect(report).toMatchObject({
      schema: 'lifeboat.check/v1',
      verdict: 'damaged',
      exitCode: 1,
      readData: { mode: 'none' },
      services: ['shape'],
      summary: {
        services: 1,
        snapshotsChecked: 2,
        damagedSnapshots: 1,
        deletingSnapshots: 0,
        packsChecked: 2,
        partsChecked: 0,
        packsRead: 0,
        partsRead: 0,
        bytesRead: expect.any(Number),
        durationMs: expect.any(Number),
      },
      damaged: [
        {
          service: 'shape',
          id: s.second,
          status: 'complete',
          format: 'v2',
          result: 'damaged',
          problems: [expect.stringContaining(`pack ${s.packB.id} is missing`)],
          problemCount: 1,
          objects: 2,
        },
      ],
      damagedObjects: [{ service: 'shape', object: s.packB.id, problems: [`pack ${s.packB.id} is missing`] }],
    });
    expect(report.snapshots.map((x) => [x.id, x.result])).toEqual([
      [s.first, 'ok'],
      [s.second, 'damaged'],
    ]);
  });
});

describe('lifeboat check: which services, and usage errors', () => {
  let env: Record<string, string>;
  let work: { path: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    const table = await freshTable();
    work = await tempDir('lifeboat-check-cli');
    env = { LIFEBOAT_TABLE: table, LIFEBOAT_STORE: `file://${join(work.path, 'store')}` };
    const registry = new DynamoServiceRegistry(createDynamoClient(), table);
    await registry.put(normalizeServicePolicy({ service: 'billing' }));
    await registry.put(normalizeServicePolicy({ service: 'search' }));
    await mkdir(join(work.path, 'd'));
    await writeFile(join(work.path, 'd', 'x'), 'x');
    expect((await cli(['init', '--store', env.LIFEBOAT_STORE!, '--table', table], env)).code).toBe(0);
    expect((await cli(['snapshot', '--service', 'billing', '--dir', join(work.path, 'd')], env)).code).toBe(0);
  });
  afterAll(() => work.cleanup());

  it('without --service checks every protected service', async () => {
    const r = await cli(['check', '--json'], env);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as CheckReport;
    expect(report.services).toEqual(['billing', 'search']);
    expect(report.summary.snapshotsChecked).toBe(1);
  });

  it.each([
    ['an unknown service', ['--service', 'biling'], /no service "biling" in \S+: it is not protected and has no snapshots \(did you mean "billing"\?\)/],
    [
      'a percentage over 100',
      ['--read-data-subset', '150%'],
      /--read-data-subset "150%" is not a percentage between 0 and 100\n {2}hint: e\.g\. --read-data-subset 10%/,
    ],
    ['a percentage that is not a number', ['--read-data-subset', 'some'], /--read-data-subset "some" is not a percentage/],
    ['zero percent', ['--read-data-subset', '0%'], /--read-data-subset "0%" is not a percentage/],
    ['both read-data flags', ['--read-data', '--read-data-subset', '10%'], /--read-data and --read-data-subset exclude each other/],
    ['a seed without a subset', ['--seed', 'x'], /--seed only applies to --read-data-subset/],
  ])('%s is exit 2 with one clear line', async (_name, flags, message) => {
    const r = await cli(['check', ...flags], env);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').filter((l) => /^(lifeboat: )?error: /.test(l))).toHaveLength(1);
  });

  it('an unreachable store is exit 3', async () => {
    const r = await cli(['check', '--service', 'billing', '--store', 's3://no-such-bucket-anywhere'], env);
    expect(r.code).toBe(3);
  });
});
