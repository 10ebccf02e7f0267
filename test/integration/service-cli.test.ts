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
      /cannot read the policy file .*missing.json: no such file \(ENOENT\)/,
    );
    expect((await cli(['service', 'list', '--table', table, '--json'])).stdout).toBe('[]\n');
  });

  it.each<[string, object, RegExp]>([
    ['an unknown recipe', { recipe: 'postgress' }, /recipe is "postgress", which is not a recipe[\s\S]*did you mean "postgres"\?/],
    [
      'a sql check without an expectation',
      { recipe: 'postgres', drill: { checks: [{ type: 'sql', query: 'select count(*) from orders' }] } },
      /drill\.checks\[0\]\.expect is missing: a sql check needs an expectation[\s\S]*"expect": \{"rows": N\}/,
    ],
    [
      'a sql check on an engine without SQL (no recipe: plain files)',
      { drill: { checks: [{ type: 'sql', query: 'select 1', expect: { rows: 1 } }] } },
      /drill\.checks\[0\] is a sql check, but the policy has no recipe[\s\S]*"recipe": "postgres"/,
    ],
  ])('GIVEN %s WHEN service put THEN exit 2 naming the value and the fix, nothing stored', async (_what, patch, message) => {
    const file = join(work.path, 'recipe.json');
    await writeFile(file, JSON.stringify({ service: 'recipes', ...patch }));
    const r = await cli(['service', 'put', '--policy', file, '--table', table]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect((await cli(['service', 'show', '--service', 'recipes', '--table', table])).code).toBe(1);
  });

  it.each([
    ['a typo inside a section', { service: 'wiki', retention: { lst: 3 } }, /unknown key "retention.lst" in the policy \(did you mean "last"\?\)/],
    ['a typo of a section', { service: 'wiki', retension: { last: 3 } }, /unknown key "retension" in the policy \(did you mean "retention"\?\)/],
    [
      'a typo two levels down',
      { service: 'wiki', drill: { verifyCommand: 'true', app: { comand: 'serve' } } },
      /unknown key "drill.app.comand" .*did you mean "command"/,
    ],
    [
      "the construct's name for a rule",
      { service: 'wiki', retention: { keepLast: 3 } },
      /unknown key "retention.keepLast" .*did you mean "last"\? "keepLast" is the construct's or the CLI's name; in JSON it is "last"/,
    ],
    [
      'a drill without a verify command',
      { service: 'wiki', drill: { schedule: 'cron(0 3 * * ? *)' } },
      /drill.verifyCommand is null; a drill must verify the restored data/,
    ],
    ['an array', [], /the policy is \[\] \(an array\); it must be a JSON object like \{"service"/],
    ['a section that is not an object', { service: 'wiki', retention: 3 }, /retention is 3 \(a number\); it must be a JSON object/],
  ])('GIVEN %s WHEN service put THEN exit 2 naming it, nothing stored', async (_what, policy, message) => {
    const file = join(work.path, 'strict.json');
    await writeFile(file, JSON.stringify(policy));
    const r = await cli(['service', 'put', '--policy', file, '--table', table]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/is protected/);
    expect((await cli(['service', 'show', '--service', 'wiki', '--table', table])).code).toBe(1);
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
