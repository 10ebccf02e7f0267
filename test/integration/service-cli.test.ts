/** `lifeboat service put|show|list|remove` against DynamoDB Local. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { freshTable, tempDir } from '../support/fixtures.js';

let table: string;
let work: { path: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  [table, work] = await Promise.all([freshTable(), tempDir('lifeboat-service')]);
});
afterAll(() => work.cleanup());

describe('lifeboat service', () => {
  it('stores a validated policy with defaults, shows, lists and removes it', async () => {
    const file = join(work.path, 'wiki.json');
    await writeFile(file, JSON.stringify({ service: 'wiki', targets: { rpoSeconds: 3600 }, retention: { last: 3, daily: 7 } }));
    const put = await cli(['service', 'put', '--policy', file, '--table', table, '--json']);
    expect(put.code).toBe(0);
    expect(put.stderr).toMatch(/service wiki is protected \(failover after 30 s\)/);
    expect(JSON.parse(put.stdout)).toMatchObject({
      service: 'wiki',
      failover: { timeoutSeconds: 30, leaseSeconds: 15, heartbeatSeconds: 5 },
      targets: { rpoSeconds: 3600 },
    });

    const shown = await cli(['service', 'show', '--service', 'wiki', '--table', table]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ service: 'wiki', retention: { last: 3, daily: 7 } });
    expect((await cli(['service', 'list', '--table', table])).stdout).toBe('wiki\n');

    expect((await cli(['service', 'remove', '--service', 'wiki', '--table', table])).stderr).toMatch(/wiki is no longer protected/);
    expect(await cli(['service', 'show', '--service', 'wiki', '--table', table])).toMatchObject({ code: 1, stdout: '' });
  });

  it('refuses a bad policy with the value and the fix, and stores nothing', async () => {
    const file = join(work.path, 'bad.json');
    await writeFile(file, JSON.stringify({ service: 'db', failover: { timeoutSeconds: -5 } }));
    const r = await cli(['service', 'put', '--policy', file, '--table', table]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/failover.timeoutSeconds is -5/);
    await writeFile(file, '{ not json');
    expect((await cli(['service', 'put', '--policy', file, '--table', table])).stderr).toMatch(/is not valid JSON/);
    expect((await cli(['service', 'put', '--policy', join(work.path, 'missing.json'), '--table', table])).stderr).toMatch(
      /cannot read the policy file .*missing.json: ENOENT/,
    );
    expect((await cli(['service', 'list', '--table', table, '--json'])).stdout).toBe('[]\n');
  });

  it('GIVEN a protected service WHEN snapshots names it with a typo THEN exit 2 with did-you-mean; the protected one without snapshots is an empty list', async () => {
    const file = join(work.path, 'orders.json');
    await writeFile(file, JSON.stringify({ service: 'orders' }));
    expect((await cli(['service', 'put', '--policy', file, '--table', table])).code).toBe(0);
    const typo = await cli(['snapshots', '--service', 'ordres', '--table', table]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/no service "ordres" .* \(did you mean "orders"\?\)/);
    expect(typo.stderr).toMatch(/hint: protected services: orders; /);
    const empty = await cli(['snapshots', '--service', 'orders', '--table', table]);
    expect(empty).toMatchObject({ code: 0, stdout: '' });
    expect(empty.stderr).toMatch(/no snapshots of orders/);
  });
});
