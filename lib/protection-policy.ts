import type { Duration, TimeZone } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as cloudmap from 'aws-cdk-lib/aws-servicediscovery';

/**
 * How Lifeboat protects one ECS service: what `Lifeboat.protect(service, policy)` takes.
 *
 * It is stored (as the service's policy, `lambdas/domain/service-policy.ts`) where the
 * handlers and the agent read it at runtime, and it decides which schedules and alarms the
 * service gets. Every schedule carries its own time zone:
 * `ScheduleExpression.cron({ hour: '3', minute: '0', timeZone: TimeZone.EUROPE_PARIS })`.
 */
export interface ProtectionPolicy {
  /**
   * Lifeboat's name for the service: its catalog partition (`SVC#<name>`), its S3 prefix
   * (`<name>/`) and the `service` dimension of its metrics. Letters, digits, `.`, `_` and `-`,
   * starting with a letter or digit. It is the address of the service's backups: renaming
   * starts an empty history.
   */
  readonly name: string;

  /** The data directory inside the container that Lifeboat snapshots and restores. */
  readonly dataDirectory: string;

  /**
   * The container that runs the Lifeboat agent; it receives the agent's settings as
   * environment variables, and drills run their checks in it.
   *
   * @default - the task definition's default container (its first essential container)
   */
  readonly containerName?: string;

  /**
   * Scheduled snapshots.
   *
   * @default - no snapshot schedule: snapshots are taken by the application's hooks or `lifeboat snapshot`
   */
  readonly snapshot?: SnapshotOptions;

  /**
   * Which snapshots to keep (restic-style keep rules, never the newest verified one).
   *
   * @default - no retention: every snapshot is kept
   */
  readonly retention?: RetentionOptions;

  /**
   * When a new primary is elected after the current one is lost.
   *
   * @default - elect 30 seconds after the primary is lost, 15-second lease, 5-second heartbeat
   */
  readonly failover?: FailoverOptions;

  /**
   * Scheduled restore drills: a fresh task restores the newest snapshot and runs the verify
   * command; failed and stale drills raise alarms.
   *
   * @default - no scheduled drills (`lifeboat drill` still starts one by hand)
   */
  readonly drill?: DrillOptions;

  /**
   * Recovery targets that drills are judged against, and that the RPO alarm watches.
   *
   * @default - no targets: drills pass on their checks alone
   */
  readonly targets?: RecoveryTargets;

  /**
   * Where clients find the primary: a Cloud Map service in which Lifeboat keeps one
   * instance pointed at the primary task.
   *
   * @default - no discovery: clients find the primary some other way (`lifeboat role`)
   */
  readonly discovery?: PrimaryDiscovery;
}

/**
 * A Cloud Map service that always points at the primary. Use a service of its own, not
 * the one ECS service discovery registers every task in, and without Route 53 health
 * checks (Lifeboat re-points its one instance itself).
 */
export interface PrimaryDiscovery {
  /** The Cloud Map service (DNS or API-only namespace). */
  readonly service: cloudmap.IService;

  /**
   * The id of the one instance Lifeboat keeps registered.
   *
   * @default 'primary'
   */
  readonly instanceId?: string;

  /**
   * Port registered with the instance (`AWS_INSTANCE_PORT`, needed for SRV records).
   *
   * @default - no port
   */
  readonly port?: number;
}

/** Scheduled snapshots of a protected service. */
export interface SnapshotOptions {
  /**
   * When to take a snapshot, with its time zone.
   *
   * @default - no schedule
   */
  readonly schedule?: scheduler.ScheduleExpression;

  /**
   * A snapshot that has not completed by then fails.
   *
   * @default - no deadline beyond the agent's own
   */
  readonly deadline?: Duration;

  /**
   * `agent`: the primary's agent streams its data directory; `dump`: a one-off ECS task
   * backs up data reachable over the network.
   *
   * @default 'agent'
   */
  readonly mode?: 'agent' | 'dump';

  /**
   * Dump mode: the task definition of the one-off dump task. Its container gets the
   * agent's settings, its task role the service's snapshot access; it dumps the data over
   * the network and runs `lifeboat snapshot --job "$LIFEBOAT_JOB_ID"`.
   *
   * @default - the service's own task definition
   */
  readonly dumpTaskDefinition?: ecs.TaskDefinition;

  /**
   * Dump mode: the container of `dumpTaskDefinition` that runs the dump.
   *
   * @default - that task definition's default container
   */
  readonly dumpContainerName?: string;

  /**
   * Shell command the agent runs before each snapshot (flush, freeze).
   *
   * @default - none
   */
  readonly preCommand?: string;

  /**
   * Shell command the agent runs after each snapshot, whatever its outcome.
   *
   * @default - none
   */
  readonly postCommand?: string;
}

/**
 * restic-style keep rules: a snapshot is kept when any rule keeps it. At least one rule is
 * required — a retention policy that keeps nothing is refused.
 */
export interface RetentionOptions {
  /**
   * When the retention sweep runs, with its time zone.
   *
   * @default - daily at 04:00 UTC
   */
  readonly schedule?: scheduler.ScheduleExpression;

  /**
   * Keep the newest N snapshots.
   *
   * @default - no such rule
   */
  readonly keepLast?: number;

  /**
   * Keep the newest snapshot of each of the last N hours.
   *
   * @default - no such rule
   */
  readonly keepHourly?: number;

  /**
   * Keep the newest snapshot of each of the last N days.
   *
   * @default - no such rule
   */
  readonly keepDaily?: number;

  /**
   * Keep the newest snapshot of each of the last N weeks.
   *
   * @default - no such rule
   */
  readonly keepWeekly?: number;

  /**
   * Keep the newest snapshot of each of the last N months.
   *
   * @default - no such rule
   */
  readonly keepMonthly?: number;

  /**
   * Keep the newest snapshot of each of the last N calendar quarters (January to March,
   * April to June, July to September, October to December).
   *
   * @default - no such rule
   */
  readonly keepQuarterly?: number;

  /**
   * Keep the newest snapshot of each of the last N years.
   *
   * @default - no such rule
   */
  readonly keepYearly?: number;

  /**
   * Keep every snapshot younger than this, counted back from the newest snapshot, in
   * restic's notation: `2d`, `36h`, `1y6m` (y years, m months, d days, h hours).
   *
   * @default - no such rule
   */
  readonly keepWithin?: string;

  /**
   * The time zone that hours, days, weeks, months, quarters and years are counted in.
   *
   * @default - the time zone of `schedule`
   */
  readonly timeZone?: TimeZone;

  /**
   * Snapshots still uploading after this long, and incomplete multipart uploads as old,
   * are a dead writer's and are removed by the sweep. Must exceed the longest snapshot
   * upload (and `snapshot.deadline`); at least 1 hour.
   *
   * @default Duration.hours(24)
   */
  readonly reapAfter?: Duration;
}

/** When a new primary is elected. */
export interface FailoverOptions {
  /**
   * How long to wait after the primary is lost before electing another (0 to 1 hour).
   *
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;

  /**
   * How long the primary's lease lasts without a heartbeat (3 seconds to 10 minutes).
   *
   * @default Duration.seconds(15)
   */
  readonly lease?: Duration;

  /**
   * How often the agent heartbeats; at most half of `lease`.
   *
   * @default Duration.seconds(5)
   */
  readonly heartbeat?: Duration;
}

/** Scheduled restore drills. */
export interface DrillOptions {
  /**
   * When to drill, with its time zone.
   *
   * @default - daily at 03:00 UTC
   */
  readonly schedule?: scheduler.ScheduleExpression;

  /**
   * Shell command run in the drill task, in the restored data directory; exit 0 is a pass.
   * This is what proves the data, not just the bytes: for example `pg_verifybackup` or an
   * application's own check.
   */
  readonly verifyCommand: string;

  /**
   * Time limit for the verify command.
   *
   * @default - what is left of `timeout`
   */
  readonly verifyTimeout?: Duration;

  /**
   * A drill still running after this is stopped and recorded as timed out.
   *
   * @default Duration.hours(1)
   */
  readonly timeout?: Duration;

  /**
   * Which snapshot a scheduled drill restores: the newest, or a random one of the last
   * `randomWindow`.
   *
   * @default 'latest'
   */
  readonly snapshot?: 'latest' | 'random';

  /**
   * For `snapshot: 'random'`: how far back to pick from (whole days).
   *
   * @default Duration.days(7)
   */
  readonly randomWindow?: Duration;

  /**
   * Also start the application on the restored data and wait for its health check.
   *
   * @default - the verify command alone decides
   */
  readonly app?: DrillAppCheck;

  /**
   * The stale-drill alarm fires when no drill has passed within its targets for this long
   * (whole hours, 1 hour to 7 days).
   *
   * @default Duration.hours(26) - a daily drill plus slack
   */
  readonly staleAfter?: Duration;
}

/** How a drill starts the application and decides it is healthy. */
export interface DrillAppCheck {
  /** Shell command that starts the application in the foreground. */
  readonly command: string;

  /**
   * Healthy when this shell command exits 0.
   *
   * @default - `healthCheckUrl` decides
   */
  readonly healthCheckCommand?: string;

  /**
   * Healthy when a GET of this http(s) URL answers 2xx.
   *
   * @default - `healthCheckCommand` decides
   */
  readonly healthCheckUrl?: string;

  /**
   * The drill fails when the application is not healthy within this time.
   *
   * @default Duration.minutes(5)
   */
  readonly startTimeout?: Duration;
}

/** Recovery objectives. */
export interface RecoveryTargets {
  /**
   * Recovery point objective: the newest complete snapshot must be younger than this.
   *
   * @default - no RPO target and no RPO alarm
   */
  readonly rpo?: Duration;

  /**
   * Recovery time objective: a drill's restore-to-verified time must stay below this.
   *
   * @default - no RTO target
   */
  readonly rto?: Duration;
}
