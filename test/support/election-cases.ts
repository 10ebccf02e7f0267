/**
 * Generated inputs for the election rules: member fields (any combination, including ones
 * the stores never write, and values on the boundaries of `now` and the cutoff), times,
 * and arbitrary rule trees, for checking that every evaluation of a rule agrees.
 */
import fc from 'fast-check';
import type { MemberRule, RuleMember, RuleTimes } from '../../lambdas/domain/election.js';

export const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);

/** Times within a few ms of T0, so equality with now/cutoff comes up often. */
const near = fc.integer({ min: -2, max: 2 }).map((d) => T0 + d);
/** Weighted towards the values that make a rule hold, so its boundaries are reached. */
const weighted = <T>(likely: T, others: fc.Arbitrary<T | undefined>) =>
  fc.oneof({ arbitrary: fc.constant(likely), weight: 4 }, { arbitrary: others, weight: 2 });
const status = weighted<string | undefined>('RUNNING', fc.constantFrom(undefined, 'PENDING', 'STOPPED'));
const time = (absentWeight: number) => fc.oneof({ arbitrary: near, weight: 3 }, { arbitrary: fc.constant(undefined), weight: absentWeight });

export const ruleMemberArb: fc.Arbitrary<RuleMember> = fc
  .record({ lastStatus: status, desiredStatus: status, goneAt: time(4), aliveUntil: time(1) })
  .map((m) => Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined)) as RuleMember);

export const timesArb: fc.Arbitrary<Required<RuleTimes>> = fc
  .record({ now: near, timeoutMs: fc.integer({ min: 0, max: 3 }) })
  .map(({ now, timeoutMs }) => ({ now, cutoff: now - timeoutMs }));

/** Any rule over the member fields (non-empty combinators: DynamoDB has no empty AND/OR). */
export const ruleArb: fc.Arbitrary<MemberRule> = fc.letrec<{ rule: MemberRule }>((tie) => ({
  rule: fc.oneof(
    { maxDepth: 3, depthSize: 'small' },
    fc.record({
      test: fc.constant('equals' as const),
      field: fc.constantFrom('lastStatus' as const, 'desiredStatus' as const),
      value: fc.constantFrom('RUNNING', 'STOPPED'),
    }),
    fc.record({
      test: fc.constant('absent' as const),
      field: fc.constantFrom('lastStatus' as const, 'desiredStatus' as const, 'goneAt' as const, 'aliveUntil' as const),
    }),
    fc.record({
      test: fc.constantFrom('after' as const, 'notAfter' as const),
      field: fc.constantFrom('goneAt' as const, 'aliveUntil' as const),
      time: fc.constantFrom('now' as const, 'cutoff' as const),
    }),
    fc.record({ test: fc.constantFrom('all' as const, 'any' as const), of: fc.array(tie('rule'), { minLength: 1, maxLength: 3 }) }),
  ),
})).rule;
