/**
 * Retention policies: the restic-style keep rules of a service, their text form
 * (`last=3,daily=7,weekly=4,monthly=12,yearly=2,within=2d`) and the checks that refuse a
 * policy before it can delete anything. Pure.
 *
 * `within` uses restic's duration grammar, `<n>y<n>m<n>d<n>h` (years, months, days,
 * hours; `m` is months), because its meaning is restic's too: calendar arithmetic back
 * from the newest snapshot (see retention.ts). No general-purpose duration library has
 * calendar months and years, so the 20-line grammar lives here.
 */
import { IANAZone } from 'luxon';
import { RetentionPolicyError } from './errors.js';
import type { RetentionPolicy } from './service-policy.js';

/** The counted rules, in restic's order (which is also the order reasons are listed in). */
export const KEEP_COUNT_RULES = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
export type KeepCountRule = (typeof KEEP_COUNT_RULES)[number];

/** restic's `Duration`: calendar years, months and days, then hours. */
export interface KeepWithin {
  years: number;
  months: number;
  days: number;
  hours: number;
}

/** A checked policy, ready for the planner. */
export interface RetentionRules {
  /** 0 = rule off. */
  counts: Readonly<Record<KeepCountRule, number>>;
  within?: { text: string; duration: KeepWithin };
  /** IANA time zone the calendar periods are computed in. */
  timezone: string;
}

export const DEFAULT_RETENTION_TIMEZONE = 'UTC';
/** `uploading` entries and incomplete multipart uploads older than this are reaped. */
export const DEFAULT_REAP_AFTER_SECONDS = 24 * 3600;
export const MIN_REAP_AFTER_SECONDS = 3600;

const SPEC_KEYS = [...KEEP_COUNT_RULES, 'within'] as const;
type SpecKey = (typeof SPEC_KEYS)[number];

const POLICY_HINT =
  'give at least one keep rule, e.g. "last=7,daily=14,weekly=8,monthly=12" (rules: last, hourly, daily, weekly, monthly, yearly = counts; within = a duration like 2d, 36h, 1y6m)';

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
  const seen = new Set<SpecKey>();
  const hint = `write it as comma-separated rules, e.g. "last=3,daily=7,weekly=4,monthly=12,yearly=2,within=2d"`;
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq === -1) throw new RetentionPolicyError(`retention rule ${JSON.stringify(item)} has no "="`, { hint });
    const key = item.slice(0, eq).trim().replace(/^keep-/, '') as SpecKey;
    const value = item.slice(eq + 1).trim();
    if (!SPEC_KEYS.includes(key)) {
      throw new RetentionPolicyError(`unknown retention rule ${JSON.stringify(item.slice(0, eq).trim())}; rules are ${SPEC_KEYS.join(', ')}`, { hint });
    }
    if (seen.has(key)) throw new RetentionPolicyError(`retention rule "${key}" is given twice`, { hint });
    seen.add(key);
    if (key === 'within') {
      parseKeepWithin(value, 'within');
      policy.within = value;
    } else {
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
        throw new RetentionPolicyError(`retention rule ${key}=${JSON.stringify(value)} must be a whole number (0 or more)`, { hint });
      }
      policy[key] = Number(value);
    }
  }
  return policy;
}

/** The canonical text form of a policy's keep rules, for messages and output. */
export function formatRetentionSpec(policy: RetentionPolicy): string {
  const parts: string[] = [];
  for (const rule of KEEP_COUNT_RULES) if (policy[rule] !== undefined) parts.push(`${rule}=${policy[rule]}`);
  if (policy.within !== undefined) parts.push(`within=${policy.within}`);
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
  for (const rule of KEEP_COUNT_RULES) {
    const v = policy[rule];
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) {
      throw new RetentionPolicyError(`${path}.${rule} is ${JSON.stringify(v)}; it must be a whole number (0 or more)`, { hint: POLICY_HINT });
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
    throw new RetentionPolicyError(`${path}.reapAfterSeconds is ${JSON.stringify(reap)}; it must be a whole number of seconds, at least ${MIN_REAP_AFTER_SECONDS}`, {
      hint: 'it must exceed the longest snapshot upload, or a running snapshot would be reaped',
    });
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
    throw new RetentionPolicyError(`time zone ${JSON.stringify(timezone)} is not an IANA time zone`, { hint: 'use a name like Europe/Berlin, America/New_York or UTC' });
  }
  const spec = formatRetentionSpec(policy);
  if (spec === '') {
    throw new RetentionPolicyError(`the retention policy of ${owner} is empty: it has no keep rule, so it would delete every snapshot; refusing`, {
      hint: POLICY_HINT,
    });
  }
  const counts = Object.fromEntries(KEEP_COUNT_RULES.map((r) => [r, policy[r] ?? 0])) as Record<KeepCountRule, number>;
  const duration = policy.within === undefined ? undefined : parseKeepWithin(policy.within);
  const keepsSomething = KEEP_COUNT_RULES.some((r) => counts[r] > 0) || (duration !== undefined && !isZeroDuration(duration));
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
