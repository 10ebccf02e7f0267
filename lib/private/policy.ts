/**
 * From the construct's typed `ProtectionPolicy` to the stored `ServicePolicy` input, and
 * the checks that refuse a bad policy at synth. The rules the runtime also applies live in
 * the domain (`normalizeServicePolicy`: ranges, schedules, time zones) and are reused here;
 * the rules only a construct can state (a drill must verify something, retention must keep
 * something, durations must be whole seconds) are here. Every check skips values that are
 * unresolved tokens: CloudFormation resolves those, and the policy is checked again by the
 * handler that stores it.
 */
import { type Duration, Token } from 'aws-cdk-lib';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { LifeboatError } from '../../lambdas/domain/errors.js';
import { KEEP_RULES, KEEP_WITHIN, type KeepRuleRow } from '../../lambdas/domain/keep-rules.js';
import { parseKeepWithin, type RetentionPolicy } from '../../lambdas/domain/retention-policy.js';
import { type DiscoveryPolicy, type EcsPlacement, normalizeServicePolicy, type ServicePolicyInput } from '../../lambdas/domain/service-policy.js';
import type { ProtectionPolicy, RetentionOptions } from '../protection-policy.js';

/** A protection policy that cannot work; the message names the bad value and the fix. */
export class ProtectionPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtectionPolicyError';
  }
}

/** Where each stored field comes from, so a domain message can name the option the user wrote. */
const OPTION_OF_FIELD: Record<string, string> = {
  'failover.timeoutSeconds': 'failover.timeout',
  'failover.leaseSeconds': 'failover.lease',
  'failover.heartbeatSeconds': 'failover.heartbeat',
  'targets.rpoSeconds': 'targets.rpo',
  'targets.rtoSeconds': 'targets.rto',
  'snapshot.deadlineSeconds': 'snapshot.deadline',
  'drill.timeoutSeconds': 'drill.timeout',
  'drill.verifyTimeoutSeconds': 'drill.verifyTimeout',
  'drill.randomWindowDays': 'drill.randomWindow',
  'drill.app.startTimeoutSeconds': 'drill.app.startTimeout',
  'snapshot.schedule': 'snapshot.schedule',
  'retention.schedule': 'retention.schedule',
  'drill.schedule': 'drill.schedule',
  'retention.timezone': 'retention.timeZone',
  'retention.reapAfterSeconds': 'retention.reapAfter',
  'discovery.port': 'discovery.port',
  'discovery.instanceId': 'discovery.instanceId',
};

export const DEFAULT_DRILL_SCHEDULE = 'cron(0 3 * * ? *)';
export const DEFAULT_RETENTION_SCHEDULE = 'cron(0 4 * * ? *)';
export const UTC = 'Etc/UTC';

/** The construct's count props, one per keep rule (keepDaily → daily). */
type CountProp = KeepRuleRow['cdkProp'];
// Every rule has its prop in RetentionOptions, and every keep prop has its rule: the
// compiler stops a rule added without its documented prop, or a prop without its rule.
type PropsWithoutRule = Exclude<Extract<keyof RetentionOptions, `keep${string}`>, CountProp | typeof KEEP_WITHIN.cdkProp>;
type RulesWithoutProp = Exclude<CountProp | typeof KEEP_WITHIN.cdkProp, keyof RetentionOptions>;
const rulesMatchProps: [PropsWithoutRule, RulesWithoutProp] extends [never, never] ? true : never = true;
void rulesMatchProps;

const unresolved = (v: unknown): boolean => Token.isUnresolved(v);

/** Whole seconds of a duration, or the token itself; a fraction of a second is refused. */
function seconds(fail: (m: string) => never, option: string, d: Duration | undefined): number | undefined {
  if (d === undefined) return undefined;
  if (d.isUnresolved()) return d.toSeconds();
  const s = d.toSeconds({ integral: false });
  if (!Number.isInteger(s)) fail(`${option} is ${d.toHumanString()}; it must be a whole number of seconds (use Duration.seconds(${Math.ceil(s)}))`);
  return s;
}

function schedule(expr: scheduler.ScheduleExpression | undefined): { schedule: string; timezone: string } | undefined {
  return expr ? { schedule: expr.expressionString, timezone: expr.timeZone?.timezoneName ?? UTC } : undefined;
}

/** Drops every unresolved value, so the domain checks only what is known at synth. */
function withoutTokens<T>(value: T): T {
  if (Array.isArray(value)) return value.filter((v) => !unresolved(v)).map(withoutTokens) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => !unresolved(v))
        .map(([k, v]) => [k, withoutTokens(v)]),
    ) as T;
  }
  return value;
}

/** The keep counts the construct was given, keyed as the stored policy has them (keepDaily → daily). */
function countsOf(retention: RetentionOptions): RetentionPolicy {
  const counts: RetentionPolicy = {};
  for (const { cdkProp, jsonKey } of KEEP_RULES) if (retention[cdkProp] !== undefined) counts[jsonKey] = retention[cdkProp];
  return counts;
}

/**
 * The stored policy of a protected service, checked. Throws ProtectionPolicyError naming
 * `protect('<name>')`, the option, its value and what would be right.
 */
export function buildServicePolicy(
  policy: ProtectionPolicy,
  ecs: EcsPlacement,
  discovery?: DiscoveryPolicy,
  dump?: { taskDefinition: string; containerName: string },
): ServicePolicyInput {
  if (unresolved(policy.name)) {
    throw new ProtectionPolicyError(
      `protect(): name must be a literal string, not a token (${policy.name}); it names the service's backups and IAM conditions`,
    );
  }
  const fail = (message: string): never => {
    throw new ProtectionPolicyError(`protect('${policy.name}'): ${message}`);
  };

  const drill = policy.drill;
  if (drill) {
    if (drill.verifyCommand === undefined || (!unresolved(drill.verifyCommand) && drill.verifyCommand.trim() === '')) {
      fail(
        `drill.verifyCommand is ${JSON.stringify(drill.verifyCommand ?? null)}; a drill must verify the restored data: give the shell command that checks it (exit 0 = pass), e.g. verifyCommand: 'pg_verifybackup /data'`,
      );
    }
    if (drill.randomWindow && !drill.randomWindow.isUnresolved() && !Number.isInteger(drill.randomWindow.toDays({ integral: false }))) {
      fail(`drill.randomWindow is ${drill.randomWindow.toHumanString()}; it must be whole days, e.g. Duration.days(7)`);
    }
    if (drill.staleAfter && !drill.staleAfter.isUnresolved()) {
      const h = drill.staleAfter.toHours({ integral: false });
      if (!Number.isInteger(h) || h < 1 || h > 168)
        fail(`drill.staleAfter is ${drill.staleAfter.toHumanString()}; it must be whole hours between 1 hour and 7 days, e.g. Duration.hours(26)`);
    }
  }

  if (policy.snapshot?.dumpTaskDefinition && policy.snapshot.mode !== 'dump') {
    fail(
      `snapshot.dumpTaskDefinition is set but snapshot.mode is ${JSON.stringify(policy.snapshot.mode ?? 'agent')}; set mode: 'dump' to take snapshots with the dump task, or leave dumpTaskDefinition out`,
    );
  }

  const retention = policy.retention;
  if (retention) {
    for (const { cdkProp } of KEEP_RULES) {
      const n = retention[cdkProp];
      if (n !== undefined && !unresolved(n) && (!Number.isInteger(n) || n < 0)) {
        fail(`retention.${cdkProp} is ${n}; it must be a whole number of snapshots, 0 or more (e.g. ${cdkProp}: 7)`);
      }
    }
    const given = KEEP_RULES.map(({ cdkProp }) => [cdkProp, retention[cdkProp]] as const).filter(([, v]) => v !== undefined);
    const keepsSomething = given.some(([, v]) => unresolved(v) || v! > 0) || retention.keepWithin !== undefined;
    if (!keepsSomething) {
      fail(
        `retention is ${JSON.stringify(Object.fromEntries(given))}, which keeps nothing: give at least one keep rule, e.g. retention: { keepDaily: 7, keepWeekly: 4, keepMonthly: 12 }, or leave retention out to keep every snapshot`,
      );
    }
    const within = retention.keepWithin;
    if (within !== undefined && !unresolved(within)) {
      // The runtime's own parser, so synth accepts exactly what the sweep will read.
      try {
        parseKeepWithin(within, `retention.${KEEP_WITHIN.cdkProp}`);
      } catch (err) {
        if (!(err instanceof LifeboatError)) throw err;
        fail(err.hint ? `${err.message}; ${err.hint}` : err.message);
      }
    }
  }

  const snapshotSchedule = schedule(policy.snapshot?.schedule);
  const retentionSchedule = retention ? (schedule(retention.schedule) ?? { schedule: DEFAULT_RETENTION_SCHEDULE, timezone: UTC }) : undefined;
  const drillSchedule = drill ? (schedule(drill.schedule) ?? { schedule: DEFAULT_DRILL_SCHEDULE, timezone: UTC }) : undefined;

  const input: ServicePolicyInput = {
    service: policy.name,
    dataDir: policy.dataDirectory,
    ecs,
    snapshot: {
      ...snapshotSchedule,
      ...(policy.snapshot?.deadline ? { deadlineSeconds: seconds(fail, 'snapshot.deadline', policy.snapshot.deadline) } : {}),
      ...(policy.snapshot?.mode ? { mode: policy.snapshot.mode } : {}),
      ...(dump ? { dumpTaskDefinition: dump.taskDefinition, dumpContainerName: dump.containerName } : {}),
      ...(policy.snapshot?.preCommand ? { pre: policy.snapshot.preCommand } : {}),
      ...(policy.snapshot?.postCommand ? { post: policy.snapshot.postCommand } : {}),
    },
    retention: retention
      ? {
          ...retentionSchedule,
          ...countsOf(retention),
          ...(retention.keepWithin !== undefined ? { [KEEP_WITHIN.jsonKey]: retention.keepWithin.trim() } : {}),
          // The planner's calendar: its own time zone, else the sweep's.
          timezone: retention.timeZone?.timezoneName ?? retentionSchedule!.timezone,
          ...(retention.reapAfter ? { reapAfterSeconds: seconds(fail, 'retention.reapAfter', retention.reapAfter) } : {}),
        }
      : {},
    failover: {
      ...(policy.failover?.timeout ? { timeoutSeconds: seconds(fail, 'failover.timeout', policy.failover.timeout) } : {}),
      ...(policy.failover?.lease ? { leaseSeconds: seconds(fail, 'failover.lease', policy.failover.lease) } : {}),
      ...(policy.failover?.heartbeat ? { heartbeatSeconds: seconds(fail, 'failover.heartbeat', policy.failover.heartbeat) } : {}),
    },
    drill: drill
      ? {
          ...drillSchedule,
          verifyCommand: drill.verifyCommand,
          ...(drill.timeout ? { timeoutSeconds: seconds(fail, 'drill.timeout', drill.timeout) } : {}),
          ...(drill.verifyTimeout ? { verifyTimeoutSeconds: seconds(fail, 'drill.verifyTimeout', drill.verifyTimeout) } : {}),
          ...(drill.snapshot ? { snapshot: drill.snapshot } : {}),
          ...(drill.randomWindow ? { randomWindowDays: drill.randomWindow.toDays() } : {}),
          ...(drill.app
            ? {
                app: {
                  command: drill.app.command,
                  ...(drill.app.healthCheckCommand ? { healthCheckCommand: drill.app.healthCheckCommand } : {}),
                  ...(drill.app.healthCheckUrl ? { healthCheckUrl: drill.app.healthCheckUrl } : {}),
                  ...(drill.app.startTimeout ? { startTimeoutSeconds: seconds(fail, 'drill.app.startTimeout', drill.app.startTimeout) } : {}),
                },
              }
            : {}),
        }
      : {},
    targets: {
      ...(policy.targets?.rpo ? { rpoSeconds: seconds(fail, 'targets.rpo', policy.targets.rpo) } : {}),
      ...(policy.targets?.rto ? { rtoSeconds: seconds(fail, 'targets.rto', policy.targets.rto) } : {}),
    },
    ...(discovery ? { discovery } : {}),
  };

  // The runtime's own rules (ranges, schedules, time zones), on everything known at synth.
  try {
    normalizeServicePolicy(withoutTokens(input));
  } catch (err) {
    if (!(err instanceof LifeboatError)) throw err;
    const field = Object.keys(OPTION_OF_FIELD).find((f) => err.message.startsWith(`${f} `));
    const option = field ? ` (the ${OPTION_OF_FIELD[field]} option)` : '';
    fail(`${err.message}${option}${err.hint ? `; ${err.hint}` : ''}`);
  }
  return input;
}
