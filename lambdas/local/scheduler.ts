/**
 * Local mode's stand-in for EventBridge Scheduler (and EventBridge's own schedule rules):
 * each schedule has an expression (rate/cron/at) in a time zone and a target, the same
 * handler function the deployed schedule invokes, with the same input.
 *
 * Acceleration (`speed`): schedules are evaluated on a clock that runs `speed` times faster
 * than the real one, starting now — with speed 60, rate(5 minutes) fires every 5 real
 * seconds and a daily cron every 24 real minutes. Only *when* schedules fire is
 * accelerated: the handlers, the agents and the catalog see real time, and the input's
 * `scheduledTime` is the real firing time (drill ids derive from it, and they must sort
 * with manual ones). A schedule never fires more often than `minIntervalMs` of real time,
 * and never while its previous invocation is still running (fires in between are coalesced
 * and counted).
 */
import { UsageError } from '../domain/errors.js';
import { nextFireTime, parseScheduleExpression, type ScheduleExpression } from '../domain/schedule-expression.js';

export interface LocalScheduleSpec {
  name: string;
  expression: string;
  timezone?: string;
  /** What the deployed schedule would invoke. */
  target: (input: unknown) => Promise<unknown>;
  /** The schedule's input, given the real firing time. */
  input: (scheduledTime: Date) => unknown;
}

export interface ScheduleFiring {
  name: string;
  scheduledTime: Date;
  /** Firings on the accelerated clock that were folded into this one. */
  coalesced: number;
  result?: unknown;
  error?: Error;
  durationMs: number;
}

export interface ScheduleStatus {
  name: string;
  expression: string;
  timezone: string;
  /** Real time of the next firing. */
  nextAt?: number;
  lastAt?: number;
  fired: number;
  running: boolean;
}

interface Entry {
  spec: LocalScheduleSpec;
  parsed: ScheduleExpression;
  timer?: NodeJS.Timeout;
  nextVirtual?: number;
  nextReal?: number;
  lastReal?: number;
  fired: number;
  running?: Promise<ScheduleFiring>;
}

export interface LocalSchedulerOptions {
  speed?: number;
  minIntervalMs?: number;
  now?: () => number;
  onFiring?: (firing: ScheduleFiring) => void;
}

export class LocalScheduler {
  private readonly entries: Entry[] = [];
  private readonly speed: number;
  private readonly minIntervalMs: number;
  private readonly now: () => number;
  private readonly start: number;
  private stopped = false;

  constructor(private readonly o: LocalSchedulerOptions = {}) {
    this.speed = o.speed ?? 1;
    if (!(this.speed > 0)) throw new RangeError(`speed must be positive, not ${this.speed}`);
    this.minIntervalMs = o.minIntervalMs ?? 1000;
    this.now = o.now ?? Date.now;
    this.start = this.now();
  }

  /** Real instant → instant on the accelerated clock, and back. */
  private toVirtual(real: number): number {
    return this.start + (real - this.start) * this.speed;
  }
  private toReal(virtual: number): number {
    return this.start + (virtual - this.start) / this.speed;
  }

  /** Adds a schedule; throws UsageError for a bad expression or time zone. */
  add(spec: LocalScheduleSpec): void {
    const entry: Entry = { spec, parsed: parseScheduleExpression(spec.expression, spec.timezone ?? 'UTC', `schedule ${spec.name}`), fired: 0 };
    this.entries.push(entry);
    this.arm(entry, this.now());
  }

  private arm(entry: Entry, afterReal: number): void {
    if (this.stopped) return;
    const earliest = entry.lastReal === undefined ? afterReal : Math.max(afterReal, entry.lastReal + this.minIntervalMs);
    const nextVirtual = nextFireTime(entry.parsed, this.toVirtual(earliest) - 1, this.start);
    entry.nextVirtual = nextVirtual;
    if (nextVirtual === undefined) {
      entry.nextReal = undefined;
      return;
    }
    entry.nextReal = Math.max(earliest, this.toReal(nextVirtual));
    entry.timer = setTimeout(() => void this.fire(entry), Math.max(0, entry.nextReal - this.now()));
  }

  private async fire(entry: Entry): Promise<ScheduleFiring> {
    entry.timer = undefined;
    const at = this.now();
    // Virtual firings since the last one, beyond this one, are coalesced into it.
    let coalesced = 0;
    if (entry.lastReal !== undefined && entry.parsed.kind !== 'at') {
      let t = this.toVirtual(entry.lastReal);
      const until = entry.nextVirtual ?? this.toVirtual(at);
      for (
        let n = nextFireTime(entry.parsed, t, this.start);
        n !== undefined && n < until && coalesced < 10_000;
        n = nextFireTime(entry.parsed, t, this.start)
      ) {
        coalesced++;
        t = n;
      }
    }
    entry.lastReal = at;
    entry.fired++;
    const scheduledTime = new Date(at);
    const run = (async (): Promise<ScheduleFiring> => {
      const started = this.now();
      let firing: ScheduleFiring;
      try {
        const result = await entry.spec.target(entry.spec.input(scheduledTime));
        firing = { name: entry.spec.name, scheduledTime, coalesced, result, durationMs: this.now() - started };
      } catch (err) {
        firing = { name: entry.spec.name, scheduledTime, coalesced, error: err as Error, durationMs: this.now() - started };
      }
      this.o.onFiring?.(firing);
      return firing;
    })();
    entry.running = run;
    const firing = await run;
    entry.running = undefined;
    // The next firing after this one finished: a slow target is never invoked twice at once.
    this.arm(entry, this.now());
    return firing;
  }

  /** Fires a schedule now (a key or API command), as if its time had come. */
  async fireNow(name: string): Promise<ScheduleFiring> {
    const entry = this.entries.find((e) => e.spec.name === name);
    if (!entry) throw new UsageError(`no schedule named ${name}`, { hint: `schedules: ${this.entries.map((e) => e.spec.name).join(', ')}` });
    // Running now: wait for it, then fire (the caller wants a run that starts after asking).
    while (entry.running) await entry.running;
    if (entry.timer) clearTimeout(entry.timer);
    entry.nextVirtual = this.toVirtual(this.now());
    return this.fire(entry);
  }

  status(): ScheduleStatus[] {
    return this.entries.map((e) => ({
      name: e.spec.name,
      expression: e.spec.expression,
      timezone: e.parsed.timezone,
      ...(e.nextReal !== undefined ? { nextAt: e.nextReal } : {}),
      ...(e.lastReal !== undefined ? { lastAt: e.lastReal } : {}),
      fired: e.fired,
      running: e.running !== undefined,
    }));
  }

  /** Stops firing and waits for invocations in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const e of this.entries) if (e.timer) clearTimeout(e.timer);
    await Promise.all(this.entries.map((e) => e.running));
  }
}
