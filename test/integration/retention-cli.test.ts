/**
 * `lifeboat retention plan|apply` and `lifeboat snapshot --min-interval`: output on the
 * right streams, one JSON document from the same model as the table, exit codes, and the
 * offline what-if running with no AWS at all.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient, createS3Client } from '../../lambdas/adapters/aws.js';
import { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import { DynamoServiceRegistry } from '../../lambdas/adapters/service-registry.js';
import { S3Store } from '../../lambdas/adapters/stores/s3-store.js';
import { normalizeServicePolicy } from '../../lambdas/domain/service-policy.js';
import { cli } from '../support/cli.js';
import { freshBucket, freshTable, tempDir } from '../support/fixtures.js';
import { seedSnapshot } from '../support/retention.js';

let work: { path: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  work = await tempDir('lifeboat-retention-cli');
});
afterAll(() => work.cleanup());

/** No table, no store, and endpoints that refuse connections: anything touching AWS would fail. */
const OFFLINE = {
  LIFEBOAT_TABLE: undefined,
  LIFEBOAT_STORE: undefined,
  LIFEBOAT_BUCKET: undefined,
  AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
  AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
  AWS_MAX_ATTEMPTS: '1',
};

async function snapshotsFile(name: string, content: unknown): Promise<string> {
  const path = join(work.path, name);
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('lifeboat retention plan --snapshots (offline what-if)', () => {
  const SNAPS = [
    { id: 'mon-1', time: '2026-11-23T08:00:00Z' },
    { id: 'mon-2', time: '2026-11-23T20:00:00Z' },
    { id: 'wed', time: '2026-11-25T08:00:00+01:00' },
    { id: 'thu-late', time: '2026-11-26T23:30:00Z' }, // 00:30 on Friday in Berlin
    { id: 'fri', time: '2026-11-27T06:00:00' }, // no offset: read in --tz (05:00Z)
    { id: 'oct', time: '2026-10-01T12:00:00Z' },
    { id: 'last-year', time: '2025-06-01T12:00:00Z' },
    { id: 'ancient', time: '2023-01-01T12:00:00Z' },
  ];
  const POLICY = 'last=1,daily=3,monthly=2,yearly=2,within=1d';

  it('lists every id with keep or delete and the reasons, with no AWS reachable', async () => {
    const file = await snapshotsFile('snaps.json', SNAPS);
    const r = await cli(
      ['retention', 'plan', '--policy', POLICY, '--snapshots', file, '--json', '--tz', 'Europe/Berlin', '--now', '2026-11-27T12:00:00Z'],
      OFFLINE,
    );
    expect(r.stderr).toBe('what-if: keep 6, delete 2 (policy last=1,daily=3,monthly=2,yearly=2,within=1d, Europe/Berlin); nothing was deleted\n');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({
      policy: 'last=1,daily=3,monthly=2,yearly=2,within=1d',
      timezone: 'Europe/Berlin',
      now: '2026-11-27T12:00:00.000Z',
      newest: '2026-11-27T05:00:00.000Z',
      withinCutoff: '2026-11-26T05:00:00.000Z',
      summary: { keep: 6, delete: 2 },
    });
    // Newest first. thu-late is 00:30 on Friday in Berlin: same day, month and year as fri,
    // so only keep-within keeps it. daily=3 then takes Wednesday and Monday's newest; the
    // rules are used up before the oldest, so it goes.
    expect(doc.snapshots.map((s: { id: string; action: string; reasons: string[] }) => [s.id, s.action, s.reasons])).toEqual([
      ['fri', 'keep', ['within 1d of the newest', 'last snapshot', 'daily snapshot (2026-11-27)', 'monthly snapshot (2026-11)', 'yearly snapshot (2026)']],
      ['thu-late', 'keep', ['within 1d of the newest']],
      ['wed', 'keep', ['daily snapshot (2026-11-25)']],
      ['mon-2', 'keep', ['daily snapshot (2026-11-23)']],
      ['mon-1', 'delete', []],
      ['oct', 'keep', ['monthly snapshot (2026-10)']],
      ['last-year', 'keep', ['yearly snapshot (2025)']],
      ['ancient', 'delete', []],
    ]);
  });

  it('keeps calendar quarters (quarterly=N, written in its canonical place)', async () => {
    const file = await snapshotsFile('snaps-quarterly.json', SNAPS);
    const r = await cli(
      ['retention', 'plan', '--policy', 'yearly=1,keep-quarterly=2', '--snapshots', file, '--json', '--tz', 'Europe/Berlin', '--now', '2026-11-27T12:00:00Z'],
      OFFLINE,
    );
    expect(r.stderr).toBe('what-if: keep 2, delete 6 (policy quarterly=2,yearly=1, Europe/Berlin); nothing was deleted\n');
    expect(r.code).toBe(0);
    // Everything from October on is 2026-Q4, so fri (the newest) stands for it; last-year is 2025-Q2.
    const kept = JSON.parse(r.stdout).snapshots.filter((s: { action: string }) => s.action === 'keep');
    expect(kept.map((s: { id: string; reasons: string[] }) => [s.id, s.reasons])).toEqual([
      ['fri', ['quarterly snapshot (2026-Q4)', 'yearly snapshot (2026)']],
      ['last-year', ['quarterly snapshot (2025-Q2)']],
    ]);
  });

  it('prints the same plan as a table without --json', async () => {
    const file = await snapshotsFile('snaps-table.json', SNAPS);
    const r = await cli(['retention', 'plan', '--policy', 'last=2', '--snapshots', file, '--now', '2026-11-27T12:00:00Z'], OFFLINE);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+TIME\s+ACTION\s+REASONS$/);
    expect(lines[1]).toMatch(/^fri\s+2026-11-27T06:00:00.000Z\s+keep\s+last snapshot$/);
    expect(lines.at(-1)).toMatch(/^ancient\s+2023-01-01T12:00:00.000Z\s+delete\s+-$/);
    expect(r.stderr).toMatch(/what-if: keep 2, delete 6 \(policy last=2, UTC\)/);
  });

  it.each([
    [['--policy', ''], /the retention policy of --policy is empty/],
    [['--policy', 'daily=0'], /the retention policy "daily=0" of --policy keeps nothing: it would delete every snapshot; refusing/],
    [['--policy', 'dayly=3'], /unknown retention rule "dayly"/],
    [['--policy', 'last=1', '--tz', 'Mars/Base'], /time zone "Mars\/Base" is not an IANA time zone/],
    [[], /--snapshots needs --policy/],
    [['--policy', 'last=1', '--now', 'yesterday'], /--now "yesterday" is not an ISO-8601 time/],
  ])('refuses %j with exit 2 and a clear message', async (args, message) => {
    const file = await snapshotsFile('ok.json', SNAPS);
    const r = await cli(['retention', 'plan', '--snapshots', file, ...args, '--json'], OFFLINE);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(JSON.parse(r.stdout).error.exitCode).toBe(2);
  });

  it.each([
    ['not json', '{', /is not valid JSON/],
    ['an object', { id: 'a' }, /is not a JSON array/],
    ['a bad time', [{ id: 'a', time: '2026-13-01' }], /entry 0 of .* \("a"\) has time "2026-13-01", which is not ISO-8601/],
    ['a missing time', [{ id: 'a', time: '2026-01-01T00:00:00Z' }, { id: 'b' }], /entry 1 of .* \("b"\) has no "time" string/],
    [
      'a repeated id',
      [
        { id: 'a', time: '2026-01-01T00:00:00Z' },
        { id: 'a', time: '2026-01-02T00:00:00Z' },
      ],
      /entry 1 of .* repeats the id "a"/,
    ],
  ])('names the problem in a file with %s', async (_what, content, message) => {
    const file = await snapshotsFile('bad.json', content);
    const r = await cli(['retention', 'plan', '--policy', 'last=1', '--snapshots', file], OFFLINE);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('says which file it cannot read', async () => {
    const r = await cli(['retention', 'plan', '--policy', 'last=1', '--snapshots', join(work.path, 'missing.json')], OFFLINE);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read --snapshots .*missing.json: ENOENT/);
  });
});

describe('lifeboat retention plan|apply --service', () => {
  let env: Record<string, string>;
  let catalog: DynamoSnapshotCatalog;
  let store: S3Store;
  let registry: DynamoServiceRegistry;
  const ago = (hours: number) => new Date(Date.now() - hours * 3_600_000);

  beforeAll(async () => {
    const [table, bucket] = await Promise.all([freshTable(), freshBucket()]);
    env = { LIFEBOAT_TABLE: table, LIFEBOAT_STORE: `s3://${bucket}/b` };
    catalog = new DynamoSnapshotCatalog(createDynamoClient(), table);
    store = new S3Store({ client: createS3Client(), bucket, prefix: 'b/' });
    registry = new DynamoServiceRegistry(createDynamoClient(), table);
  });

  it('plans with the stored policy (a dry run), then applies it', async () => {
    await registry.put(normalizeServicePolicy({ service: 'wiki', retention: { last: 2, timezone: 'America/New_York' } }));
    const ids = [];
    for (const h of [72, 48, 24, 1]) ids.push(await seedSnapshot(catalog, store, 'wiki', ago(h)));
    const plan = await cli(['retention', 'plan', '--service', 'wiki', '--json'], env);
    expect(plan.code).toBe(0);
    const doc = JSON.parse(plan.stdout);
    expect(doc).toMatchObject({ service: 'wiki', policy: 'last=2', timezone: 'America/New_York', summary: { keep: 2, delete: 2 } });
    expect(doc.snapshots.map((s: { action: string }) => s.action)).toEqual(['keep', 'keep', 'delete', 'delete']);
    expect(plan.stderr).toMatch(/wiki: keep 2, delete 2 \(policy last=2, America\/New_York\); dry run, nothing was deleted/);
    expect((await catalog.get('wiki', ids[0]!))?.status).toBe('complete');

    const human = await cli(['retention', 'plan', '--service', 'wiki', '--policy', 'last=3'], env);
    expect(human.stdout.trimEnd().split('\n')).toHaveLength(5);
    expect(human.stderr).toMatch(/keep 3, delete 1 \(policy last=3/);

    const applied = await cli(['retention', 'apply', '--service', 'wiki', '--json'], env);
    expect(applied.code).toBe(0);
    const result = JSON.parse(applied.stdout);
    expect(result.snapshots).toEqual([
      { id: ids[0], outcome: 'deleted' },
      { id: ids[1], outcome: 'deleted' },
    ]);
    expect(applied.stderr).toMatch(/wiki: deleted 2, finished 0, reaped 0, aborted 0 upload\(s\), skipped 0, failed 0/);
    const listed = JSON.parse((await cli(['snapshots', '--service', 'wiki', '--json'], env)).stdout) as { id: string }[];
    expect(listed.map((s) => s.id)).toEqual([ids[3], ids[2]]);
  });

  it('refuses a service without a policy, and an empty stored policy (exit 2, nothing deleted)', async () => {
    const missing = await cli(['retention', 'apply', '--service', 'nobody'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/service nobody is not protected: table .* has no policy for it/);

    await registry.put(normalizeServicePolicy({ service: 'bare' }));
    const id = await seedSnapshot(catalog, store, 'bare', ago(100));
    const r = await cli(['retention', 'apply', '--service', 'bare', '--json'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the retention policy of service bare is empty: it has no keep rule, so it would delete every snapshot; refusing/);
    expect(r.stderr).toMatch(/hint: give at least one keep rule/);
    expect(JSON.parse(r.stdout).error.type).toBe('RetentionPolicyError');
    expect((await catalog.get('bare', id))?.status).toBe('complete');
  });
});

describe('lifeboat snapshot --min-interval', () => {
  let env: Record<string, string>;
  let data: string;
  let catalog: DynamoSnapshotCatalog;
  let store: S3Store;

  beforeAll(async () => {
    const [table, bucket] = await Promise.all([freshTable(), freshBucket()]);
    env = { LIFEBOAT_TABLE: table, LIFEBOAT_STORE: `s3://${bucket}/b` };
    catalog = new DynamoSnapshotCatalog(createDynamoClient(), table);
    store = new S3Store({ client: createS3Client(), bucket, prefix: 'b/' });
    data = join(work.path, 'data');
    await mkdir(data);
    await writeFile(join(data, 'f'), 'x');
  });

  it('snapshots when the newest complete snapshot is older, and skips (exit 0) when it is younger', async () => {
    const old = await seedSnapshot(catalog, store, 'hooked', new Date(Date.now() - 2 * 3_600_000));
    const taken = await cli(['snapshot', '--service', 'hooked', '--dir', data, '--reason', 'hook', '--min-interval', '1h'], env);
    expect(taken.code).toBe(0);
    const id = taken.stdout.trim();
    expect(id).not.toBe(old);

    const skipped = await cli(['snapshot', '--service', 'hooked', '--dir', data, '--reason', 'hook', '--min-interval', '1h', '--json'], env);
    expect(skipped.code).toBe(0);
    expect(JSON.parse(skipped.stdout)).toMatchObject({
      status: 'skipped',
      reason: 'min-interval',
      service: 'hooked',
      recentSnapshot: id,
      minIntervalMs: 3_600_000,
    });
    expect(skipped.stderr).toMatch(new RegExp(`^skipped: snapshot ${id} of hooked is \\d+m?s? old, younger than --min-interval 1h\\n$`));

    const quiet = await cli(['snapshot', '--service', 'hooked', '--dir', data, '--min-interval', '90m'], env);
    expect(quiet.stdout).toBe('');
    expect(quiet.stderr).toMatch(/^skipped: /);
    const listed = JSON.parse((await cli(['snapshots', '--service', 'hooked', '--json'], env)).stdout) as unknown[];
    expect(listed).toHaveLength(2);
  });

  it('ignores snapshots that are not complete', async () => {
    await seedSnapshot(catalog, store, 'uploading-only', new Date(), { status: 'uploading' });
    const r = await cli(['snapshot', '--service', 'uploading-only', '--dir', data, '--min-interval', '1d', '--json'], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).status).toBe('complete');
  });

  it.each(['10', 'soon', '-5m', '0s'])('refuses --min-interval %j (exit 2)', async (value) => {
    const r = await cli(['snapshot', '--service', 'hooked', '--dir', data, '--min-interval', value], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--min-interval must be a duration with a unit like 90s, 10m, 2h or 1d/);
  });
});
