/**
 * Retention policies: the restic-style keep rules of a service, their text form
 * (`last=3,daily=7,weekly=4,monthly=12,yearly=2,within=2d`) and the checks that refuse a
 * policy before it can delete anything. Pure. The counted rules are the rows of
 * keep-rules.ts; this file iterates them.
 *
 * `within` uses restic's duration grammar, `<n>y<n>m<n>d<n>h` (years, months, days,
 * hours; `m` is months), because its meaning is restic's too: calendar arithmetic back
 * from the newest snapshot (see retention.ts). No general-purpose duration library has
 * calendar months and years, so the 20-line grammar lives here.
 */
import { IANAZone } from 'luxon';
import { RetentionPolicyError } from './errors.js';
import { KEEP_RULES, KEEP_WITHIN, type KeepCounts, type KeepRuleName } from './keep-rules.js';

/**
 * The `retention` section of a service policy: restic-style keep rules (see
 * keep-rules.ts and retention.ts); any rule left out keeps nothing by itself, and a
 * policy with no rule is refused rather than applied.
 */
export interface RetentionPolicy extends KeepCounts {
  /** EventBridge Scheduler expression for the sweep. */
  schedule?: string;
  /** Keep everything newer than this (relative to the newest snapshot), e.g. "2d", "36h". */
  within?: string;
  /** IANA time zone for calendar periods (default UTC). */
  timezone?: string;
  /**
   * `uploading` catalog entries and incomplete multipart uploads older than this are
   * reaped by the sweep (default 86400). Must exceed the longest snapshot upload.
   */
  reapAfterSeconds?: number;
}

/** restic's `Duration`: calendar years, months and days, then hours. */
export interface KeepWithin {
  years: number;
  months: number;
  days: number;
  hours: number;
}

/** A checked policy, ready for the planner. */
export interface RetentionRules {
  /** By rule name; 0 = rule off. */
  counts: Readonly<Record<KeepRuleName, number>>;
  within?: { text: string; duration: KeepWithin };
  /** IANA time zone the calendar periods are computed in. */
  timezone: string;
}

export const DEFAULT_RETENTION_TIMEZONE = 'UTC';
/** `uploading` entries and incomplete multipart uploads older than this are reaped. */
export const DEFAULT_REAP_AFTER_SECONDS = 24 * 3600;
export const MIN_REAP_AFTER_SECONDS = 3600;

const COUNT_TOKENS = KEEP_RULES.map((r) => r.token).join(', ');
const SPEC_TOKENS = `${COUNT_TOKENS}, ${KEEP_WITHIN.token}`;

const POLICY_HINT = `give at least one keep rule, e.g. "last=7,daily=14,weekly=8,monthly=12" (rules: ${COUNT_TOKENS} = counts; ${KEEP_WITHIN.token} = a duration like 2d, 36h, 1y6m)`;

/** Each rule and what it keeps, for the message about an unknown one. */
const RULES_HINT = [...KEEP_RULES, KEEP_WITHIN].map((r) => `${r.token}=${r === KEEP_WITHIN ? 'd' : 'n'} keeps ${r.description}`).join('; ');

/** Parses restic's duration grammar: `2d`, `36h`, `1y6m`, `1m14d`. Units y, m (months), d, h, each at most once. */
export function parseKeepWithin(text: string, what = 'within'): KeepWithin {
  const s = text.trim();
  const bad = (why: string) =>
    new RetentionPolicyError(`${what} ${JSON.stringify(text)} is not a valid duration: ${why}`, {
      hint: 'write it like restic does: a number and a unit, repeated: y (years), m (months), d (days), h (hours), e.g. 2d, 36h, 1y6m',
    });
  if (s === '') throw bad('it is empty');
  const d: KeepWithin = { years: 0, months: 0, days: 0, hours: 0 };
  const seen = new Set<string>();
  const unitOf = { y: 'years', m: 'months', d: 'days', h: 'hours' } as const;
  const re = /(\d+)([a-zA-Z]?)/y;
  let at = 0;
  while (at < s.length) {
    re.lastIndex = at;
    const m = re.exec(s);
    if (!m) throw bad(`expected a number at "${s.slice(at)}"`);
    const unit = m[2] as keyof typeof unitOf | '';
    if (unit === '') throw bad(`no unit after ${m[1]}`);
    if (!(unit in unitOf)) throw bad(`unknown unit "${unit}"`);
    if (seen.has(unit)) throw bad(`unit "${unit}" given twice`);
    seen.add(unit);
    const n = Number(m[1]);
    if (!Number.isSafeInteger(n)) throw bad(`${m[1]} is too large`);
    d[unitOf[unit as keyof typeof unitOf]] = n;
    at = re.lastIndex;
  }
  return d;
}

export function formatKeepWithin(d: KeepWithin): string {
  const s = `${d.years ? `${d.years}y` : ''}${d.months ? `${d.months}m` : ''}${d.days ? `${d.days}d` : ''}${d.hours ? `${d.hours}h` : ''}`;
  return s === '' ? '0h' : s;
}

const isZeroDuration = (d: KeepWithin) => d.years === 0 && d.months === 0 && d.days === 0 && d.hours === 0;

/**
 * Parses the text form `last=3,daily=7,within=2d` (a `keep-` prefix is accepted too, as in
 * restic's flags). Returns the policy as stored in the service policy; does not judge
 * whether it keeps anything (see `retentionRules`).
 */
export function parseRetentionSpec(text: string): RetentionPolicy {
  const policy: RetentionPolicy = {};
  const seen = new Set<string>();
  const hint = `write it as comma-separated rules, e.g. "last=3,daily=7,weekly=4,monthly=12,yearly=2,within=2d"`;
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq === -1) throw new RetentionPolicyError(`retention rule ${JSON.stringify(item)} has no "="`, { hint });
    const token = item
      .slice(0, eq)
      .trim()
      .replace(/^keep-/, '');
    const value = item.slice(eq + 1).trim();
    const rule = KEEP_RULES.find((r) => r.token === token); // undefined: within, or unknown
    if (rule === undefined && token !== KEEP_WITHIN.token) {
      throw new RetentionPolicyError(`unknown retention rule ${JSON.stringify(item.slice(0, eq).trim())}; rules are ${SPEC_TOKENS}`, {
        hint: `${hint}; ${RULES_HINT}`,
      });
    }
    if (seen.has(token)) throw new RetentionPolicyError(`retention rule "${token}" is given twice`, { hint });
    seen.add(token);
    if (rule === undefined) {
      parseKeepWithin(value, token);
      policy.within = value;
    } else {
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
        throw new RetentionPolicyError(`retention rule ${token}=${JSON.stringify(value)} must be a whole number (0 or more)`, { hint });
      }
      policy[rule.jsonKey] = Number(value);
    }
  }
  return policy;
}

/** The canonical text form of a policy's keep rules, for messages and output. */
export function formatRetentionSpec(policy: RetentionPolicy): string {
  const parts: string[] = [];
  for (const rule of KEEP_RULES) if (policy[rule.jsonKey] !== undefined) parts.push(`${rule.token}=${policy[rule.jsonKey]}`);
  if (policy.within !== undefined) parts.push(`${KEEP_WITHIN.token}=${policy.within}`);
  return parts.join(',');
}

export function isValidTimeZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

/**
 * Checks the values of a retention section (used when a service policy is stored). An
 * empty section is allowed here: a service without retention is simply never swept.
 */
export function validateRetentionPolicy(policy: RetentionPolicy, path = 'retention'): void {
  for (const { jsonKey } of KEEP_RULES) {
    const v = policy[jsonKey];
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) {
      throw new RetentionPolicyError(`${path}.${jsonKey} is ${JSON.stringify(v)}; it must be a whole number (0 or more)`, { hint: POLICY_HINT });
    }
  }
  if (policy.within !== undefined) {
    if (typeof policy.within !== 'string') throw new RetentionPolicyError(`${path}.within must be a duration string like "2d"`, { hint: POLICY_HINT });
    parseKeepWithin(policy.within, `${path}.within`);
  }
  if (policy.timezone !== undefined && (typeof policy.timezone !== 'string' || !isValidTimeZone(policy.timezone))) {
    throw new RetentionPolicyError(`${path}.timezone ${JSON.stringify(policy.timezone)} is not an IANA time zone`, {
      hint: 'use a name like Europe/Berlin, America/New_York or UTC',
    });
  }
  const reap = policy.reapAfterSeconds;
  if (reap !== undefined && (typeof reap !== 'number' || !Number.isSafeInteger(reap) || reap < MIN_REAP_AFTER_SECONDS)) {
    throw new RetentionPolicyError(
      `${path}.reapAfterSeconds is ${JSON.stringify(reap)}; it must be a whole number of seconds, at least ${MIN_REAP_AFTER_SECONDS}`,
      {
        hint: 'it must exceed the longest snapshot upload, or a running snapshot would be reaped',
      },
    );
  }
}

/**
 * Turns a policy into planner rules, refusing one that keeps nothing: an empty policy, or
 * one whose rules are all zero (it would delete every snapshot). `owner` names where the
 * policy came from (`service db`, `--policy`) so the message can say which one to fix.
 */
export function retentionRules(policy: RetentionPolicy, owner: string, timezoneOverride?: string): RetentionRules {
  validateRetentionPolicy(policy);
  const timezone = timezoneOverride ?? policy.timezone ?? DEFAULT_RETENTION_TIMEZONE;
  if (!isValidTimeZone(timezone)) {
    throw new RetentionPolicyError(`time zone ${JSON.stringify(timezone)} is not an IANA time zone`, {
      hint: 'use a name like Europe/Berlin, America/New_York or UTC',
    });
  }
  const spec = formatRetentionSpec(policy);
  if (spec === '') {
    throw new RetentionPolicyError(`the retention policy of ${owner} is empty: it has no keep rule, so it would delete every snapshot; refusing`, {
      hint: POLICY_HINT,
    });
  }
  const counts = Object.fromEntries(KEEP_RULES.map((r) => [r.name, policy[r.jsonKey] ?? 0])) as Record<KeepRuleName, number>;
  const duration = policy.within === undefined ? undefined : parseKeepWithin(policy.within);
  const keepsSomething = KEEP_RULES.some((r) => counts[r.name] > 0) || (duration !== undefined && !isZeroDuration(duration));
  if (!keepsSomething) {
    throw new RetentionPolicyError(`the retention policy "${spec}" of ${owner} keeps nothing: it would delete every snapshot; refusing`, {
      hint: POLICY_HINT,
    });
  }
  return {
    counts,
    ...(duration && !isZeroDuration(duration) ? { within: { text: policy.within!.trim(), duration } } : {}),
    timezone,
  };
}
