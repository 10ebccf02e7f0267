/** Recipes and typed drill checks: validation (bad input → errors naming value and fix), SQL judging, canary comparison. */
import { describe, expect, it } from 'vitest';
import { compareCanary, judgeSql, suggest, validateRecipeAndChecks } from '../../lambdas/domain/drill-checks.js';
import { drillLaunchSpec } from '../../lambdas/domain/drills.js';
import { UsageError } from '../../lambdas/domain/errors.js';
import { normalizeServicePolicy } from '../../lambdas/domain/service-policy.js';
import { parseQuoted } from '../../lambdas/recipes/sqlite.js';

const errorOf = (fn: () => unknown): UsageError => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
};
const full = (e: UsageError) => `${e.message} ${e.hint ?? ''}`;

describe('recipe and check validation', () => {
  it('GIVEN a misspelt recipe WHEN the policy is normalized THEN the error names it and suggests the closest recipe', () => {
    const e = errorOf(() => normalizeServicePolicy({ service: 'db', recipe: 'postgre' as never }));
    expect(e.message).toContain('"postgre"');
    expect(full(e)).toContain('did you mean "postgres"');
  });

  it('an unknown recipe far from any name lists the valid ones', () => {
    expect(full(errorOf(() => validateRecipeAndChecks({ recipe: 'oracle' })))).toContain('valid values: "postgres", "sqlite"');
  });

  it('GIVEN a sql check without an expectation THEN the error says which check and how to add one', () => {
    const e = errorOf(() => validateRecipeAndChecks({ recipe: 'postgres', checks: [{ type: 'integrity' }, { type: 'sql', query: 'select 1' }] }));
    expect(e.message).toContain('drill.checks[1].expect is missing');
    expect(full(e)).toContain('"expect": {"rows": N}');
  });

  it('GIVEN a sql check and no recipe THEN the error says there is no database to query and how to fix it', () => {
    const e = errorOf(() => validateRecipeAndChecks({ checks: [{ type: 'sql', query: 'select 1', expect: { rows: 1 } }] }));
    expect(e.message).toContain('drill.checks[0] is a sql check, but the policy has no recipe');
    expect(full(e)).toContain('"recipe": "postgres"');
  });

  it('refuses expectations that are ambiguous, of the wrong type, or misspelt', () => {
    const sql = (expect: unknown) => () => validateRecipeAndChecks({ recipe: 'sqlite', checks: [{ type: 'sql', query: 'select 1', expect }] });
    expect(errorOf(sql({ rows: 1, atLeast: 1 })).message).toContain('exactly one of');
    expect(errorOf(sql({ rows: -1 })).message).toContain('rows is -1');
    expect(full(errorOf(sql({ atleast: 3 })))).toContain('did you mean "atLeast"');
    expect(errorOf(sql({ equals: { a: 1 } })).message).toContain('equals is {"a":1}');
  });

  it('refuses an unknown check type with a suggestion, duplicate names, and http checks with nothing to expect', () => {
    expect(full(errorOf(() => validateRecipeAndChecks({ recipe: 'sqlite', checks: [{ type: 'integrety' }] })))).toContain('did you mean "integrity"');
    expect(errorOf(() => validateRecipeAndChecks({ recipe: 'sqlite', checks: [{ type: 'integrity' }, { type: 'integrity' }] })).message).toContain(
      'named "integrity" like an earlier check',
    );
    expect(full(errorOf(() => validateRecipeAndChecks({ checks: [{ type: 'http', url: 'http://x/health' }] })))).toContain('"status": 200');
    expect(errorOf(() => validateRecipeAndChecks({ checks: [{ type: 'http', url: 'ftp://x', status: 200 }] })).message).toContain('"ftp://x"');
    expect(errorOf(() => validateRecipeAndChecks({ checks: [{ type: 'command', command: ' ' }] })).message).toContain('drill.checks[0].command');
    expect(errorOf(() => validateRecipeAndChecks({ checks: [{ type: 'integrity' }] })).message).toContain('no recipe');
  });

  it('refuses database settings without a recipe and unsafe file paths', () => {
    expect(full(errorOf(() => validateRecipeAndChecks({ database: { name: 'app' } })))).toContain('add "recipe"');
    expect(errorOf(() => validateRecipeAndChecks({ recipe: 'sqlite', database: { file: '../etc/passwd' } })).message).toContain(
      'relative to the data directory',
    );
    expect(full(errorOf(() => validateRecipeAndChecks({ recipe: 'postgres', database: { nam: 'x' } })))).toContain('did you mean "name"');
  });

  it('GIVEN a valid policy with a recipe and checks THEN they are kept and copied into the drill launch spec', () => {
    const checks = [{ type: 'integrity' as const }, { type: 'sql' as const, name: 'orders', query: 'select count(*) from orders', expect: { atLeast: 1 } }];
    const p = normalizeServicePolicy({
      service: 'db',
      recipe: 'postgres',
      database: { name: 'app' },
      drill: { checks },
      ecs: { cluster: 'c', taskDefinition: 't', containerName: 'c', launchType: 'EC2' },
    });
    expect(p.recipe).toBe('postgres');
    expect(drillLaunchSpec(p)).toMatchObject({ recipe: 'postgres', database: { name: 'app' }, checks });
  });

  it('suggest() proposes the closest name only when it is close', () => {
    expect(suggest('sqlite3', ['postgres', 'sqlite'])).toContain('did you mean "sqlite"');
    expect(suggest('mysql', ['postgres', 'sqlite'])).toMatch(/^valid values/);
  });
});

describe('judging SQL results', () => {
  it('rows counts rows; equals compares the first value (numbers and their text alike); atLeast is numeric', () => {
    expect(judgeSql({ rows: 2 }, [[1], [2]]).passed).toBe(true);
    expect(judgeSql({ rows: 0 }, [[1]])).toEqual({ passed: false, message: '1 row (expected 0)' });
    expect(judgeSql({ equals: 'wal' }, [['wal']]).passed).toBe(true);
    expect(judgeSql({ equals: 42 }, [['42']]).passed).toBe(true);
    expect(judgeSql({ equals: null }, [[null]]).passed).toBe(true);
    expect(judgeSql({ equals: 'x' }, [[null]]).passed).toBe(false);
    expect(judgeSql({ atLeast: 10 }, [[9]])).toEqual({ passed: false, message: 'value 9 (expected at least 10)' });
    expect(judgeSql({ atLeast: 10 }, [['12']]).passed).toBe(true);
    expect(judgeSql({ atLeast: 0 }, []).passed).toBe(false);
  });
});

describe('the canary', () => {
  const expected = { id: 7, at: '2026-12-03T10:00:00.000Z', rows: 7 };
  it('matches only the same row (id, time, count), and its age at drill start is the RPO', () => {
    const r = compareCanary(expected, { ...expected }, '2026-12-03T10:01:30.000Z');
    expect(r).toMatchObject({ matches: true, ageSeconds: 90 });
    expect(compareCanary(expected, { ...expected, id: 6 }, '2026-12-03T10:01:30.000Z').matches).toBe(false);
    expect(compareCanary(expected, { ...expected, rows: 8 }, '2026-12-03T10:01:30.000Z').matches).toBe(false);
    expect(compareCanary(expected, undefined, '2026-12-03T10:01:30.000Z').matches).toBe(false);
  });
});

describe('sqlite3 -quote output', () => {
  it('parses numbers, NULL, quoted strings with quotes, commas and newlines, and blobs, row by row', () => {
    expect(parseQuoted("1,'x',NULL\n2.5,'it''s, two\nlines',X'00ff'\n")).toEqual([
      [1, 'x', null],
      [2.5, "it's, two\nlines", "X'00ff'"],
    ]);
    expect(parseQuoted('')).toEqual([]);
  });
});
