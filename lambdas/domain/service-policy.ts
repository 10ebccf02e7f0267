/**
 * A protected service's policy: what the control plane needs to know about one ECS service
 * (snapshot schedule, retention, failover, drills, targets). Written at deploy time (CDK)
 * or with `lifeboat service put`; read by every handler at runtime.
 *
 * Pure: types, defaults and validation. Durations are whole seconds.
 */

import { type CheckSpec, type DatabasePolicy, type RecipeName, validateRecipeAndChecks } from './drill-checks.js';
import { UsageError } from './errors.js';
import { assertServiceName } from './ids.js';
import { KEEP_RULES, KEEP_WITHIN } from './keep-rules.js';
import { DEFAULT_REAP_AFTER_SECONDS, type RetentionPolicy, validateRetentionPolicy } from './retention-policy.js';
import { assertScheduleExpression, assertTimeZone } from './schedule-expression.js';
import { closestName } from './suggest.js';

// The retention section is defined beside its rules; policy readers find it here too.
export type { RetentionPolicy } from './retention-policy.js';

export interface SnapshotPolicy {
  /** EventBridge Scheduler expression: `cron(...)` or `rate(...)`. */
  schedule?: string;
  /** IANA time zone for the schedule. */
  timezone?: string;
  /** A snapshot job not completed within this many seconds fails. */
  deadlineSeconds?: number;
  /** `agent`: the primary's agent streams its data dir; `dump`: a one-off ECS task (RunTask). */
  mode?: 'agent' | 'dump';
  /**
   * Dump mode: the task definition of the one-off dump task (default: `ecs.taskDefinition`).
   * Its container gets LIFEBOAT_MODE=dump, LIFEBOAT_JOB_ID and LIFEBOAT_SERVICE, dumps the
   * data over the network into a directory and runs `lifeboat snapshot --job "$LIFEBOAT_JOB_ID"`.
   */
  dumpTaskDefinition?: string;
  /** Dump mode: the container that runs the dump (default: `ecs.containerName`). */
  dumpContainerName?: string;
  /** Shell commands run by the agent around each snapshot. */
  pre?: string;
  post?: string;
}

export interface FailoverPolicy {
  /** Wait this long after the primary is lost before electing (0 = at once). */
  timeoutSeconds: number;
  /** Lease duration renewed by the primary's heartbeat. */
  leaseSeconds: number;
  /** Agent heartbeat interval. */
  heartbeatSeconds: number;
}

export interface DrillPolicy {
  schedule?: string;
  timezone?: string;
  /** Shell command run in the drill task after the restore; exit 0 = pass. */
  verifyCommand?: string;
  /** A drill running longer than this is stopped and recorded as timed out. */
  timeoutSeconds?: number;
  /** Which snapshot a scheduled drill restores. */
  snapshot?: 'latest' | 'random';
  /** For `random`: pick among complete snapshots of the last N days. */
  randomWindowDays?: number;
  /** Time limit for the verify command (default: what is left of the drill's timeout). */
  verifyTimeoutSeconds?: number;
  /** Optionally start the application on the restored data and wait for its health check. */
  app?: DrillAppCheck;
  /** Typed checks run after the restore (domain/drill-checks.ts); `verifyCommand` runs first as a command check. */
  checks?: CheckSpec[];
}

/** How a drill starts the application and decides it is healthy (a command, a URL, or both). */
export interface DrillAppCheck {
  /** Shell command that starts the application in the foreground (stopped after the check). */
  command: string;
  /** Healthy when this shell command exits 0. */
  healthCheckCommand?: string;
  /** Healthy when a GET of this http(s) URL answers 2xx. */
  healthCheckUrl?: string;
  /** Give up (the drill fails) when not healthy within this many seconds. Default 300. */
  startTimeoutSeconds?: number;
}

export interface TargetsPolicy {
  /** Recovery point objective: the newest complete snapshot must be younger than this. */
  rpoSeconds?: number;
  /** Recovery time objective: a drill's restore-to-verified time must stay below this. */
  rtoSeconds?: number;
}

/** Where the service runs, for RunTask (drills, dumps) and the reconciler. */
export interface EcsPlacement {
  cluster?: string;
  /** The ECS service's name, when it differs from the protected service's name. */
  serviceName?: string;
  taskDefinition?: string;
  containerName?: string;
  launchType?: 'FARGATE' | 'EC2';
  subnets?: string[];
  securityGroups?: string[];
  assignPublicIp?: boolean;
}

/**
 * Where clients find the primary: a Cloud Map service (DNS or API-only) in which
 * Lifeboat keeps exactly one instance, `instanceId`, pointing at the primary's address.
 * Use a Cloud Map service of its own, not the one ECS service discovery registers tasks in.
 */
export interface DiscoveryPolicy {
  namespaceId?: string;
  serviceId?: string;
  /** @default 'primary' */
  instanceId?: string;
  /** Registered as AWS_INSTANCE_PORT (needed for SRV records). */
  port?: number;
}

export interface ServicePolicy {
  service: string;
  /** Data directory inside the task. */
  dataDir?: string;
  ecs?: EcsPlacement;
  snapshot: SnapshotPolicy;
  retention: RetentionPolicy;
  failover: FailoverPolicy;
  drill: DrillPolicy;
  targets: TargetsPolicy;
  /** Cloud Map service to point at the primary. */
  discovery?: DiscoveryPolicy;
  // --- database recipes (domain/drill-checks.ts) ---
  /** The engine in the data directory: snapshots go through it (consistent copy + canary), drills open it. */
  recipe?: RecipeName;
  database?: DatabasePolicy;
}

export const DEFAULT_FAILOVER: FailoverPolicy = { timeoutSeconds: 30, leaseSeconds: 15, heartbeatSeconds: 5 };

export type ServicePolicyInput = Partial<Omit<ServicePolicy, 'service' | 'failover'>> & {
  service: string;
  failover?: Partial<FailoverPolicy>;
};

function wholeSeconds(path: string, v: unknown, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new UsageError(`${path} is ${JSON.stringify(v)}; it must be a whole number of seconds between ${min} and ${max}`);
  }
}

// The keys each section may have. `satisfies Record<keyof …, true>` makes the compiler
// refuse a list that misses a field of the type or names one it does not have.
const TOP_KEYS = {
  service: true,
  dataDir: true,
  ecs: true,
  snapshot: true,
  retention: true,
  failover: true,
  drill: true,
  targets: true,
  discovery: true,
  recipe: true,
  database: true,
} satisfies Record<keyof ServicePolicy, true>;
const SNAPSHOT_KEYS = {
  schedule: true,
  timezone: true,
  deadlineSeconds: true,
  mode: true,
  dumpTaskDefinition: true,
  dumpContainerName: true,
  pre: true,
  post: true,
} satisfies Record<keyof SnapshotPolicy, true>;
const RETENTION_KEYS = [
  'schedule',
  'timezone',
  'reapAfterSeconds',
  'gcGraceSeconds',
  ...KEEP_RULES.map((r) => r.jsonKey),
  KEEP_WITHIN.jsonKey,
] as const satisfies readonly (keyof RetentionPolicy)[];
const FAILOVER_KEYS = { timeoutSeconds: true, leaseSeconds: true, heartbeatSeconds: true } satisfies Record<keyof FailoverPolicy, true>;
const DRILL_KEYS = {
  schedule: true,
  timezone: true,
  verifyCommand: true,
  timeoutSeconds: true,
  snapshot: true,
  randomWindowDays: true,
  verifyTimeoutSeconds: true,
  app: true,
  checks: true,
} satisfies Record<keyof DrillPolicy, true>;
const DATABASE_KEYS = { name: true, user: true, file: true, canary: true } satisfies Record<keyof DatabasePolicy, true>;
const APP_KEYS = { command: true, healthCheckCommand: true, healthCheckUrl: true, startTimeoutSeconds: true } satisfies Record<keyof DrillAppCheck, true>;
const TARGETS_KEYS = { rpoSeconds: true, rtoSeconds: true } satisfies Record<keyof TargetsPolicy, true>;
const ECS_KEYS = {
  cluster: true,
  serviceName: true,
  taskDefinition: true,
  containerName: true,
  launchType: true,
  subnets: true,
  securityGroups: true,
  assignPublicIp: true,
} satisfies Record<keyof EcsPlacement, true>;
const DISCOVERY_KEYS = { namespaceId: true, serviceId: true, instanceId: true, port: true } satisfies Record<keyof DiscoveryPolicy, true>;

/** Each section's path and its keys, checked in this order. */
const SECTIONS: readonly (readonly [path: string, keys: readonly string[]])[] = [
  ['snapshot', Object.keys(SNAPSHOT_KEYS)],
  ['retention', RETENTION_KEYS],
  ['failover', Object.keys(FAILOVER_KEYS)],
  ['drill', Object.keys(DRILL_KEYS)],
  ['drill.app', Object.keys(APP_KEYS)],
  ['targets', Object.keys(TARGETS_KEYS)],
  ['ecs', Object.keys(ECS_KEYS)],
  ['discovery', Object.keys(DISCOVERY_KEYS)],
  ['database', Object.keys(DATABASE_KEYS)],
];

const describeValue = (v: unknown): string => {
  const text = JSON.stringify(v) ?? String(v);
  const kind = Array.isArray(v) ? 'an array' : v === null ? 'null' : `a ${typeof v}`;
  return `${text.length > 60 ? `${text.slice(0, 57)}...` : text} (${kind})`;
};

/**
 * A key a user wrote in another vocabulary, and its JSON name with a note: the construct's
 * `keepLast` or the CLI's `keep-last` for `last`, the construct's `timeout` (a Duration) for
 * `timeoutSeconds`.
 */
function otherVocabulary(path: string, key: string, keys: readonly string[]): { jsonKey: string; note: string } | undefined {
  const rule = path === 'retention' ? [...KEEP_RULES, KEEP_WITHIN].find((r) => r.cdkProp === key || `keep-${r.token}` === key) : undefined;
  if (rule) return { jsonKey: rule.jsonKey, note: ` "${key}" is the construct's or the CLI's name; in JSON it is "${rule.jsonKey}"` };
  for (const unit of ['Seconds', 'Days']) {
    if (keys.includes(`${key}${unit}`)) return { jsonKey: `${key}${unit}`, note: ` in JSON durations are whole ${unit.toLowerCase()}` };
  }
  return undefined;
}

function assertObject(path: string, value: unknown): asserts value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const example = path === 'the policy' ? ' like {"service": "wiki", "retention": {"last": 3}}' : ' like {"key": value}';
    throw new UsageError(`${path} is ${describeValue(value)}; it must be a JSON object${example}`);
  }
}

function assertKnownKeys(path: string, value: Record<string, unknown>, keys: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (keys.includes(key)) continue;
    const name = path === '' ? key : `${path}.${key}`;
    const other = otherVocabulary(path, key, keys);
    const best = other?.jsonKey ?? closestName(key, keys);
    const mean = best === undefined ? '' : ` (did you mean ${JSON.stringify(best)}?${other?.note ?? ''})`;
    throw new UsageError(`unknown key ${JSON.stringify(name)} in the policy${mean}`, {
      hint: `${path === '' ? 'a policy' : path} may have: ${keys.join(', ')}`,
    });
  }
}

/**
 * Checks the policy's shape: an object whose sections are objects with only known keys, at
 * every level. A typo (`"retension"`, `{"retention": {"lst": 3}}`) is refused with the key
 * it was probably meant to be, never stored and silently ignored. Undefined values count
 * as absent (the construct leaves options out that way).
 */
export function assertPolicyShape(input: unknown): asserts input is ServicePolicyInput {
  assertObject('the policy', input);
  assertKnownKeys('', input, Object.keys(TOP_KEYS));
  for (const [path, keys] of SECTIONS) {
    const [head, sub] = path.split('.') as [string, string | undefined];
    const parent = sub === undefined ? input : (input[head] as Record<string, unknown> | undefined);
    const value = parent?.[sub ?? head];
    if (value === undefined) continue;
    assertObject(path, value);
    assertKnownKeys(path, value, keys);
  }
}

/** Fills defaults and checks what can be checked without knowing other components. */
export function normalizeServicePolicy(input: ServicePolicyInput): ServicePolicy {
  assertPolicyShape(input);
  const service = assertServiceName(input.service);
  const failover = { ...DEFAULT_FAILOVER, ...(input.failover ?? {}) };
  wholeSeconds('failover.timeoutSeconds', failover.timeoutSeconds, { max: 3600 });
  wholeSeconds('failover.leaseSeconds', failover.leaseSeconds, { min: 3, max: 600 });
  wholeSeconds('failover.heartbeatSeconds', failover.heartbeatSeconds, { min: 1, max: 300 });
  if (failover.heartbeatSeconds * 2 > failover.leaseSeconds) {
    throw new UsageError(`failover.heartbeatSeconds (${failover.heartbeatSeconds}) must be at most half of failover.leaseSeconds (${failover.leaseSeconds})`, {
      hint: 'a primary must get at least two heartbeats in before its lease runs out',
    });
  }
  const targets = input.targets ?? {};
  wholeSeconds('targets.rpoSeconds', targets.rpoSeconds, { min: 1 });
  wholeSeconds('targets.rtoSeconds', targets.rtoSeconds, { min: 1 });
  wholeSeconds('snapshot.deadlineSeconds', input.snapshot?.deadlineSeconds, { min: 1 });
  const mode = input.snapshot?.mode;
  if (mode !== undefined && mode !== 'agent' && mode !== 'dump') {
    throw new UsageError(`snapshot.mode is ${JSON.stringify(mode)}; it must be "agent" or "dump"`);
  }
  wholeSeconds('drill.timeoutSeconds', input.drill?.timeoutSeconds, { min: 1 });
  validateRetentionPolicy(input.retention ?? {});
  const reapAfter = input.retention?.reapAfterSeconds ?? DEFAULT_REAP_AFTER_SECONDS;
  const deadline = input.snapshot?.deadlineSeconds;
  if (deadline !== undefined && reapAfter <= deadline) {
    throw new UsageError(`retention.reapAfterSeconds (${reapAfter}) must be longer than snapshot.deadlineSeconds (${deadline})`, {
      hint: 'otherwise the sweep could reap a snapshot that is still uploading within its deadline',
    });
  }
  validateDrill(input.drill);
  validateRecipeAndChecks({ recipe: input.recipe, database: input.database, checks: input.drill?.checks });
  validateSchedules(input);
  assertDrillVerifies(input.drill);
  const port = input.discovery?.port;
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new UsageError(`discovery.port is ${JSON.stringify(port)}; it must be a whole number between 1 and 65535`);
  }
  const instanceId = input.discovery?.instanceId;
  if (instanceId !== undefined && !/^[A-Za-z0-9_.:-]{1,64}$/.test(instanceId)) {
    throw new UsageError(`discovery.instanceId ${JSON.stringify(instanceId)} is not a valid Cloud Map instance id`, {
      hint: 'use 1-64 letters, digits, "_", ".", ":" or "-"',
    });
  }
  return {
    service,
    ...(input.dataDir ? { dataDir: input.dataDir } : {}),
    ...(input.ecs ? { ecs: input.ecs } : {}),
    snapshot: input.snapshot ?? {},
    retention: input.retention ?? {},
    failover,
    drill: input.drill ?? {},
    targets,
    ...(input.discovery ? { discovery: input.discovery } : {}),
    ...(input.recipe ? { recipe: input.recipe } : {}),
    ...(input.database ? { database: input.database } : {}),
  };
}

/** Schedules and time zones are checked here, so a bad one is refused before it is stored or deployed. */
function validateSchedules(input: ServicePolicyInput): void {
  for (const [section, policy] of [
    ['snapshot', input.snapshot],
    ['retention', input.retention],
    ['drill', input.drill],
  ] as const) {
    if (policy?.schedule !== undefined) assertScheduleExpression(`${section}.schedule`, policy.schedule);
    if (policy?.timezone !== undefined) assertTimeZone(`${section}.timezone`, policy.timezone);
  }
}

function validateDrill(drill: DrillPolicy | undefined): void {
  if (!drill) return;
  if (drill.snapshot !== undefined && drill.snapshot !== 'latest' && drill.snapshot !== 'random') {
    throw new UsageError(`drill.snapshot is ${JSON.stringify(drill.snapshot)}; it must be "latest" or "random"`);
  }
  if (drill.randomWindowDays !== undefined && (!Number.isInteger(drill.randomWindowDays) || drill.randomWindowDays < 1)) {
    throw new UsageError(`drill.randomWindowDays is ${JSON.stringify(drill.randomWindowDays)}; it must be a whole number of days, at least 1`);
  }
  wholeSeconds('drill.verifyTimeoutSeconds', drill.verifyTimeoutSeconds, { min: 1 });
  const app = drill.app;
  if (!app) return;
  if (typeof app.command !== 'string' || app.command.trim() === '') {
    throw new UsageError('drill.app.command is empty; it must be the shell command that starts the application');
  }
  if (!app.healthCheckCommand && !app.healthCheckUrl) {
    throw new UsageError('drill.app has neither healthCheckCommand nor healthCheckUrl', {
      hint: 'say how the drill knows the application is up, e.g. healthCheckUrl: "http://127.0.0.1:8080/health"',
    });
  }
  if (app.healthCheckUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(app.healthCheckUrl)) {
    throw new UsageError(`drill.app.healthCheckUrl ${JSON.stringify(app.healthCheckUrl)} is not an http(s) URL`);
  }
  wholeSeconds('drill.app.startTimeoutSeconds', app.startTimeoutSeconds, { min: 1 });
}

/**
 * A drill section that says anything must say how the restored data is checked (a verify
 * command, or typed checks): a drill that only restores proves the archive unpacks, not
 * that the service could use it. An empty or absent section means no scheduled drills.
 * The construct applies this same rule.
 */
function assertDrillVerifies(drill: DrillPolicy | undefined): void {
  if (!drill || Object.values(drill).every((v) => v === undefined)) return;
  const verify = drill.verifyCommand;
  if ((drill.checks?.length ?? 0) > 0 && verify === undefined) return;
  if (typeof verify !== 'string' || verify.trim() === '') {
    throw new UsageError(
      `drill.verifyCommand is ${JSON.stringify(verify ?? null)}; a drill must verify the restored data: give the shell command that checks it (exit 0 = pass), e.g. "pg_verifybackup /data", or typed checks (drill.checks)`,
      { hint: 'or leave the drill section out to schedule no drills' },
    );
  }
}
