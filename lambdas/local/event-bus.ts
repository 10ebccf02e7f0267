/**
 * Local mode's stand-in for an EventBridge event bus: rules with event patterns, each
 * delivering matching events to a target — the same handler function the deployed rule
 * invokes, with the event as EventBridge would deliver it.
 *
 * Delivery is asynchronous and unordered between events, as on EventBridge (the handlers
 * are written for that: ECS's `version` orders task events). A target that throws is
 * retried a few times with a short backoff, then the failure is reported; EventBridge
 * retries for up to a day before its dead-letter queue.
 *
 * Patterns: the subset of EventBridge's pattern language Lifeboat's rules use — exact
 * values (arrays of strings, numbers, booleans, null), `prefix`, `anything-but` (value or
 * list), `exists`, nested objects, and arrays in the event matching if any element does.
 * Anything else is refused when the rule is added, never silently ignored.
 */

export type EventPattern = { [field: string]: EventPattern | PatternValue[] };
type PatternValue = string | number | boolean | null | { prefix: string } | { 'anything-but': unknown } | { exists: boolean };

export interface EventRule {
  name: string;
  pattern: EventPattern;
  target: (event: unknown) => Promise<unknown>;
}

export interface Delivery {
  rule: string;
  event: unknown;
  result?: unknown;
  error?: Error;
  attempts: number;
  durationMs: number;
}

function checkPattern(pattern: EventPattern, path: string): void {
  for (const [k, v] of Object.entries(pattern)) {
    if (Array.isArray(v)) {
      for (const m of v) {
        if (m === null || typeof m !== 'object') continue;
        const keys = Object.keys(m);
        if (keys.length !== 1 || !['prefix', 'anything-but', 'exists'].includes(keys[0]!)) {
          throw new Error(`event pattern ${path}${k}: unsupported matcher ${JSON.stringify(m)} (local mode knows prefix, anything-but, exists)`);
        }
      }
    } else if (v && typeof v === 'object') {
      checkPattern(v, `${path}${k}.`);
    } else {
      throw new Error(`event pattern ${path}${k}: a pattern field must be an array or an object`);
    }
  }
}

function matchValue(matcher: PatternValue, value: unknown, present: boolean): boolean {
  if (matcher !== null && typeof matcher === 'object') {
    if ('exists' in matcher) return matcher.exists === present;
    if (!present) return false;
    if ('prefix' in matcher) return typeof value === 'string' && value.startsWith(matcher.prefix);
    const but = matcher['anything-but'];
    return Array.isArray(but) ? !but.includes(value) : but !== value;
  }
  return present && matcher === value;
}

/** True when `event` matches `pattern` (EventBridge semantics for the supported subset). */
export function matchesPattern(pattern: EventPattern, event: unknown): boolean {
  const obj = (event ?? {}) as Record<string, unknown>;
  return Object.entries(pattern).every(([k, p]) => {
    const present = Object.hasOwn(obj, k) && obj[k] !== undefined;
    const value = obj[k];
    if (!Array.isArray(p)) return present && typeof value === 'object' && value !== null && matchesPattern(p, value);
    const values = Array.isArray(value) ? value : [value];
    return p.some((m) => (present ? values.some((v) => matchValue(m, v, true)) : matchValue(m, undefined, false)));
  });
}

export interface LocalEventBusOptions {
  onDelivery?: (d: Delivery) => void;
  /** Attempts per delivery (default 3). */
  attempts?: number;
  retryDelayMs?: number;
}

export class LocalEventBus {
  private readonly rules: EventRule[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly o: LocalEventBusOptions = {}) {}

  addRule(rule: EventRule): void {
    checkPattern(rule.pattern, '');
    this.rules.push(rule);
  }

  /** PutEvents: every matching rule gets the event; returns without waiting for targets. */
  put(event: unknown): void {
    if (this.closed) return;
    for (const rule of this.rules) {
      if (!matchesPattern(rule.pattern, event)) continue;
      const p = this.deliver(rule, event).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
  }

  private async deliver(rule: EventRule, event: unknown): Promise<void> {
    const started = Date.now();
    const attempts = this.o.attempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await rule.target(event);
        this.o.onDelivery?.({ rule: rule.name, event, result, attempts: attempt, durationMs: Date.now() - started });
        return;
      } catch (err) {
        if (attempt >= attempts || this.closed) {
          this.o.onDelivery?.({ rule: rule.name, event, error: err as Error, attempts: attempt, durationMs: Date.now() - started });
          return;
        }
        await new Promise((r) => setTimeout(r, (this.o.retryDelayMs ?? 200) * attempt));
      }
    }
  }

  /** Waits until every delivery so far has finished (also those they caused). */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  /** Accepts no more events and waits for deliveries in progress. */
  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
  }
}
