/**
 * The header of lambdas/contract/keys.ts is the one description of the key layout (the
 * README and docs/ARCHITECTURE.md link to it). These checks keep it true to the code:
 * every key the module builds appears in the header, with the same spelling.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as keys from '../../lambdas/contract/keys.js';

const source = readFileSync(new URL('../../lambdas/contract/keys.ts', import.meta.url), 'utf8');
const header = source.slice(0, source.indexOf('*/'));
const rows = header.split('\n').filter((l) => /^ \* {3}\S/.test(l));
const tableRow = (pk: string, sk: string) =>
  rows.some((l) => new RegExp(`^ \\*   ${pk.replace(/[$#<>]/g, '\\$&')}\\s+${sk.replace(/[$#<>]/g, '\\$&')}\\s`).test(l));

describe('the key layout in the header of contract/keys.ts', () => {
  it.each([
    ['service policy', keys.serviceConfigKey('<service>')],
    ['registry entry', keys.registryKey('<service>')],
    ['snapshot', keys.snapshotKey('<service>', '<snapshotId>')],
    ['snapshot job', keys.jobKey('<service>', '<jobId>')],
    ['drill', keys.drillKey('<service>', '<drillId>')],
    ['snapshot hold', keys.snapshotUseKey('<service>', '<snapshotId>', '<holder>')],
    ['lease', keys.leaseKey('<service>')],
    ['member', keys.memberKey('<service>', '<taskArn>')],
  ])('lists the %s item as the code builds it', (_what, key) => {
    expect(tableRow(key[keys.TABLE_KEY.partition], key[keys.TABLE_KEY.sort]), JSON.stringify(key)).toBe(true);
  });

  it('lists exactly as many table rows as the code has item kinds', () => {
    expect(rows.filter((l) => /^ \* {3}(SVC#|REGISTRY)/.test(l))).toHaveLength(8);
  });

  it.each([
    ['a compressed part', keys.partObjectKey('<service>', '<snapshotId>', 0)],
    ['an uncompressed part', keys.partObjectKey('<service>', '<snapshotId>', 1, 'none')],
    ['the manifest', keys.manifestObjectKey('<service>', '<snapshotId>')],
    ['a v2 manifest', keys.manifestV2ObjectKey('<service>', '<snapshotId>')],
    ['a pack', keys.packObjectKey('<service>', '<packId>').replace(/\/packs\/[^/]+\//, '/packs/<xx>/')],
    ['an index', keys.indexObjectKey('<service>', '<indexId>')],
    ['a condemned list', keys.condemnedObjectKey('<service>', '<id>')],
    ['the report of every service', keys.reportObjectKey('json', undefined).replace(/\.json$/, '.<ext>')],
    ['the report of one service', keys.reportObjectKey('json', '<service>').replace(/\.json$/, '.<ext>')],
  ])('lists %s in the store as the code builds it', (_what, key) => {
    expect(
      rows.some((l) => l.startsWith(` *   ${key} `)),
      key,
    ).toBe(true);
  });

  it(`names the TTL attribute (${keys.TTL_ATTRIBUTE}) and the primary's instance id (${keys.PRIMARY_INSTANCE_ID})`, () => {
    expect(header).toContain(`\`${keys.TTL_ATTRIBUTE}\``);
    expect(header).toContain(`instance \`${keys.PRIMARY_INSTANCE_ID}\``);
  });
});
