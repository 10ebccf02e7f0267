/**
 * The election rules are data (ELIGIBILITY, LOSS in domain/election.ts). Here, without a
 * table: the derived helpers agree with the rules, the failover decision only asks for
 * what the rules allow, and the DynamoDB rendering is well-formed for any rule. That the
 * rendering means the same as `holds` is checked against DynamoDB Local in
 * test/integration/election-rule.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Expr, renderRule } from '../../lambdas/adapters/dynamo-condition.js';
import { decideFailover, ELIGIBILITY, holds, isEligible, isLostAt, LOSS, primaryLostAt } from '../../lambdas/domain/election.js';
import type { Member } from '../../lambdas/domain/membership.js';
import { ruleArb, ruleMemberArb, timesArb } from '../support/election-cases.js';

const asMember = (taskArn: string, fields: object): Member => ({ service: 's', taskArn, commands: {}, ...fields });
const SEED = { seed: 20261127, numRuns: 2000 };

describe('election rules as data', () => {
  it('reads the rules as written: running, meant to run, not leaving, alive; lost when gone or expired by the cutoff', () => {
    const m = asMember('a', { lastStatus: 'RUNNING', desiredStatus: 'RUNNING', aliveUntil: 10 });
    expect(holds(ELIGIBILITY, m, { now: 9 })).toBe(true);
    expect(holds(ELIGIBILITY, m, { now: 10 })).toBe(false);
    expect(holds(ELIGIBILITY, { ...m, goneAt: 1 }, { now: 9 })).toBe(false);
    expect(holds(LOSS, m, { cutoff: 9 })).toBe(false);
    expect(holds(LOSS, m, { cutoff: 10 })).toBe(true);
    expect(holds(LOSS, { ...m, goneAt: 5 }, { cutoff: 5 })).toBe(true);
    expect(holds(LOSS, {}, { cutoff: 5 })).toBe(false);
    expect(() => holds(LOSS, m, { now: 1 })).toThrow(/needs the time "cutoff"/);
  });

  it('primaryLostAt is the earliest cutoff at which LOSS holds', () => {
    fc.assert(
      fc.property(ruleMemberArb, timesArb, (fields, { cutoff }) => {
        const holder = asMember('h', fields);
        const lease = { service: 's', holder: 'h', term: 1, electedAt: 0 };
        expect(primaryLostAt(lease, holder) <= cutoff).toBe(isLostAt(holder, cutoff));
      }),
      SEED,
    );
  });

  it('decideFailover deposes only a primary that LOSS says is lost, for a candidate ELIGIBILITY allows', () => {
    fc.assert(
      fc.property(ruleMemberArb, ruleMemberArb, timesArb, fc.integer({ min: 0, max: 3 }), (holderFields, otherFields, { now }, timeoutMs) => {
        const holder = asMember('h', { ...holderFields, primaryTerm: 1 });
        const other = asMember('o', otherFields);
        const lease = { service: 's', holder: 'h', term: 1, electedAt: 0 };
        const d = decideFailover('s', lease, [holder, other], { timeoutSeconds: timeoutMs / 1000 }, now);
        if (d.kind === 'healthy') expect(isLostAt(holder, now)).toBe(false);
        if (d.kind === 'elect') {
          expect(d.request).toMatchObject({ previousHolder: 'h', candidate: 'o', lostCutoff: now - timeoutMs });
          expect(isLostAt(holder, d.request.lostCutoff)).toBe(true);
          expect(isEligible(other, now)).toBe(true);
        }
        if (d.kind === 'no-candidate') expect(isEligible(other, now)).toBe(false);
        if (d.kind === 'wait') expect(isLostAt(holder, now - timeoutMs)).toBe(false);
      }),
      SEED,
    );
  });

  it('renders any rule with exactly the placeholders it declares (DynamoDB rejects unused or missing ones)', () => {
    fc.assert(
      fc.property(ruleArb, timesArb, (rule, times) => {
        const e = new Expr();
        const text = renderRule(rule, times, e);
        expect(new Set(text.match(/#\w+/g) ?? [])).toEqual(new Set(Object.keys(e.names)));
        expect(new Set(text.match(/:\w+/g) ?? [])).toEqual(new Set(Object.keys(e.values)));
        let depth = 0;
        for (const ch of text) {
          depth += ch === '(' ? 1 : ch === ')' ? -1 : 0;
          expect(depth).toBeGreaterThanOrEqual(0);
        }
        expect(depth).toBe(0);
      }),
      { seed: 20261127, numRuns: 500 },
    );
  });

  it('renders the two election rules as the conditions the transaction needs', () => {
    const e = new Expr();
    expect(renderRule(ELIGIBILITY, { now: 7 }, e)).toBe('(#lastStatus = :v0 AND #desiredStatus = :v1 AND attribute_not_exists(#goneAt) AND #aliveUntil > :v2)');
    expect(e.values).toEqual({ ':v0': 'RUNNING', ':v1': 'RUNNING', ':v2': 7 });
    expect(renderRule(LOSS, { cutoff: 3 }, new Expr())).toBe('(#goneAt <= :v0 OR #aliveUntil <= :v1)');
    expect(() => renderRule({ test: 'any', of: [] }, {}, new Expr())).toThrow(/empty "any"/);
    // DynamoDB rejects redundant parentheses: a one-element AND/OR is its element.
    expect(renderRule({ test: 'all', of: [{ test: 'any', of: [{ test: 'absent', field: 'goneAt' }] }] }, {}, new Expr())).toBe('attribute_not_exists(#goneAt)');
  });
});
