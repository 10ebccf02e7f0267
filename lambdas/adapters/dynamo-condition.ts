/**
 * DynamoDB expression building for the coordination store: placeholders for names and
 * values, and the election rules of domain/election.ts rendered as ConditionExpressions.
 *
 * Why the rendering lives here and not in the domain: the domain says what the rule is
 * (plain data, evaluated by `holds`); how DynamoDB spells it — `#name`/`:value`
 * placeholders, `attribute_not_exists`, a comparison with a missing attribute being false —
 * is the table's business, next to the store's other expressions. A second backend renders
 * the same rule its own way without the domain knowing.
 */
import type { MemberRule, RuleTimes } from '../domain/election.js';

/** Generated placeholders for one expression; undefined values are never added. */
export class Expr {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private n = 0;
  name(attr: string): string {
    const key = `#${attr.replace(/[^A-Za-z0-9_]/g, '_')}`;
    this.names[key] = attr;
    return key;
  }
  value(v: unknown): string {
    const key = `:v${this.n++}`;
    this.values[key] = v;
    return key;
  }
}

/**
 * The rule as a ConditionExpression over the item's attributes, with its names and values
 * added to `e`. DynamoDB, like `holds`, treats a comparison with a missing attribute as
 * false; `absent` is `attribute_not_exists`. An AND/OR of two or more comes back in
 * parentheses, so the result can be joined into a larger condition as it is; a one-element
 * AND/OR is its element, because DynamoDB rejects redundant parentheses.
 */
export function renderRule(rule: MemberRule, times: RuleTimes, e: Expr): string {
  const time = (name: keyof RuleTimes): string => {
    const t = times[name];
    if (t === undefined) throw new Error(`election rule needs the time "${name}", which was not given`);
    return e.value(t);
  };
  switch (rule.test) {
    case 'equals':
      return `${e.name(rule.field)} = ${e.value(rule.value)}`;
    case 'absent':
      return `attribute_not_exists(${e.name(rule.field)})`;
    case 'after':
      return `${e.name(rule.field)} > ${time(rule.time)}`;
    case 'notAfter':
      return `${e.name(rule.field)} <= ${time(rule.time)}`;
    case 'all':
    case 'any': {
      if (!rule.of.length) throw new Error(`an empty "${rule.test}" election rule cannot be written as a DynamoDB condition`);
      if (rule.of.length === 1) return renderRule(rule.of[0]!, times, e);
      return `(${rule.of.map((r) => renderRule(r, times, e)).join(rule.test === 'all' ? ' AND ' : ' OR ')})`;
    }
  }
}
