/**
 * A policy that cannot work is refused when protect() is called, before anything is
 * synthesized or deployed; the message names the service, the option, the bad value and
 * what would be right. Values that are unresolved tokens are left to the deploy-time check.
 */
import { Duration, Lazy, TimeZone, Token } from 'aws-cdk-lib';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { describe, expect, it } from 'vitest';
import { Lifeboat, type ProtectionPolicy, ProtectionPolicyError } from '../../lib/index.js';
import { buildServicePolicy } from '../../lib/private/policy.js';
import { fargateService, testStack } from '../support/cdk.js';

function protect(patch: Partial<ProtectionPolicy>): void {
  const stack = testStack();
  new Lifeboat(stack, 'Lifeboat', { dashboard: false }).protect(fargateService(stack).service, { name: 'wiki', dataDirectory: '/data', ...patch });
}

function errorOf(patch: Partial<ProtectionPolicy>): Error {
  try {
    protect(patch);
  } catch (err) {
    return err as Error;
  }
  throw new Error('protect() accepted the policy');
}

describe('protect() validation', () => {
  it.each<[string, Partial<ProtectionPolicy>, RegExp]>([
    [
      'a cron with both day fields',
      { drill: { verifyCommand: 'check', schedule: ScheduleExpression.expression('cron(0 3 * * * *)') } },
      /drill.schedule "cron\(0 3 \* \* \* \*\)" is not a valid schedule: exactly one of day-of-month and day-of-week must be "\?" \(the drill.schedule option\); write cron\(minutes hours day-of-month month day-of-week year\)/,
    ],
    [
      'a cron with 5 fields',
      { snapshot: { schedule: ScheduleExpression.expression('cron(0 * * * ?)') } },
      /snapshot.schedule "cron\(0 \* \* \* \?\)" is not a valid schedule: cron needs 6 fields, this one has 5/,
    ],
    [
      'an hour out of range',
      { retention: { keepDaily: 7, schedule: ScheduleExpression.expression('cron(0 25 * * ? *)') } },
      /retention.schedule .* hours: 25 is out of range for hours \(0-23\)/,
    ],
    [
      'a one-time schedule',
      { drill: { verifyCommand: 'check', schedule: ScheduleExpression.at(new Date('2027-01-01T00:00:00Z')) } },
      /at\(\.\.\.\) is a one-time schedule; a policy needs a recurring one/,
    ],
    [
      'an unknown time zone',
      { drill: { verifyCommand: 'check', schedule: ScheduleExpression.cron({ hour: '3', minute: '0', timeZone: TimeZone.of('Mars/Olympus_Mons') }) } },
      /drill.timezone "Mars\/Olympus_Mons" is not an IANA time zone; use a name such as "UTC"/,
    ],
    [
      'a negative retention count',
      { retention: { keepDaily: -1 } },
      /retention.keepDaily is -1; it must be a whole number of snapshots, 0 or more \(e.g. keepDaily: 7\)/,
    ],
    ['a fractional retention count', { retention: { keepLast: 2.5 } }, /retention.keepLast is 2.5; it must be a whole number/],
    [
      'an empty retention policy',
      { retention: {} },
      /retention is \{\}, which keeps nothing: give at least one keep rule, e.g. retention: \{ keepDaily: 7, keepWeekly: 4, keepMonthly: 12 \}, or leave retention out/,
    ],
    ['a retention policy of zeros', { retention: { keepLast: 0, keepDaily: 0 } }, /retention is \{"keepLast":0,"keepDaily":0\}, which keeps nothing/],
    [
      'a bad keepWithin',
      { retention: { keepWithin: '2 days' } },
      /retention.keepWithin "2 days" is not a valid duration: no unit after 2; write it like restic does: .* y \(years\), m \(months\), d \(days\), h \(hours\), e.g. 2d, 36h, 1y6m$/,
    ],
    [
      'a keepWithin with a unit twice',
      { retention: { keepWithin: '1d2d' } },
      /retention.keepWithin "1d2d" is not a valid duration: unit "d" given twice; write it like restic does/,
    ],
    ['a keepWithin with an unknown unit', { retention: { keepWithin: '2w' } }, /retention.keepWithin "2w" is not a valid duration: unknown unit "w"/],
    [
      'a negative quarterly count',
      { retention: { keepQuarterly: -4 } },
      /retention.keepQuarterly is -4; it must be a whole number of snapshots, 0 or more \(e.g. keepQuarterly: 7\)/,
    ],
    ['a retention policy of zero quarters', { retention: { keepQuarterly: 0 } }, /retention is \{"keepQuarterly":0\}, which keeps nothing/],
    [
      'a reap age shorter than the snapshot deadline',
      { snapshot: { deadline: Duration.hours(2) }, retention: { keepDaily: 7, reapAfter: Duration.hours(1) } },
      /retention.reapAfterSeconds \(3600\) must be longer than snapshot.deadlineSeconds \(7200\) \(the retention.reapAfter option\); otherwise the sweep could reap a snapshot that is still uploading/,
    ],
    [
      'an RTO target of 0',
      { targets: { rto: Duration.seconds(0) } },
      /targets.rtoSeconds is 0; it must be a whole number of seconds between 1 and \d+ \(the targets.rto option\)/,
    ],
    ['an RPO target of 0', { targets: { rpo: Duration.minutes(0) } }, /targets.rpoSeconds is 0; .* \(the targets.rpo option\)/],
    [
      'a failover timeout over an hour',
      { failover: { timeout: Duration.hours(2) } },
      /failover.timeoutSeconds is 7200; it must be a whole number of seconds between 0 and 3600 \(the failover.timeout option\)/,
    ],
    [
      'a heartbeat longer than half the lease',
      { failover: { lease: Duration.seconds(10), heartbeat: Duration.seconds(6) } },
      /failover.heartbeatSeconds \(6\) must be at most half of failover.leaseSeconds \(10\) \(the failover.heartbeat option\); a primary must get at least two heartbeats in/,
    ],
    [
      'a fraction of a second',
      { failover: { timeout: Duration.millis(1500) } },
      /failover.timeout is 1 second 500 millis; it must be a whole number of seconds \(use Duration.seconds\(2\)\)/,
    ],
    [
      'a drill without a verify command',
      { drill: { verifyCommand: '' } },
      /drill.verifyCommand is ""; a drill must verify the restored data: give the shell command that checks it \(exit 0 = pass\)/,
    ],
    ['a drill whose verify command is blank', { drill: { verifyCommand: '   ' } }, /drill.verifyCommand is " {3}"; a drill must verify the restored data/],
    [
      'a drill staleness beyond 7 days',
      { drill: { verifyCommand: 'check', staleAfter: Duration.days(8) } },
      /drill.staleAfter is 8 days; it must be whole hours between 1 hour and 7 days/,
    ],
    [
      'a random window in hours',
      { drill: { verifyCommand: 'check', snapshot: 'random', randomWindow: Duration.hours(36) } },
      /drill.randomWindow is 1 day 12 hours; it must be whole days/,
    ],
    [
      'an app check without a health check',
      { drill: { verifyCommand: 'check', app: { command: 'serve' } } },
      /drill.app has neither healthCheckCommand nor healthCheckUrl/,
    ],
    [
      'a dump task without dump mode',
      { snapshot: { dumpTaskDefinition: {} as never } },
      /snapshot.dumpTaskDefinition is set but snapshot.mode is "agent"; set mode: 'dump'/,
    ],
    ['a bad service name', { name: 'wiki/prod' }, /protect\('wiki\/prod'\): service name "wiki\/prod" is not valid/],
  ])('refuses %s, naming the value and the fix', (_what, patch, message) => {
    const error = errorOf(patch);
    expect(error).toBeInstanceOf(ProtectionPolicyError);
    expect(error.message).toMatch(new RegExp(`^protect\\('${(patch.name ?? 'wiki').replace('/', '\\/')}'\\): `));
    expect(error.message).toMatch(message);
  });

  it('accepts every keepWithin the runtime reads, in any unit order', () => {
    for (const keepWithin of ['2d', '36h', '1y6m', '6m1y', ' 1m14d ', '0y1h']) expect(() => protect({ retention: { keepWithin } }), keepWithin).not.toThrow();
  });

  it('stores every keep rule under its key in the service policy (keepQuarterly → quarterly)', () => {
    // The mapping alone (no synth): the stored policy's JSON is checked end to end in lifeboat.test.ts.
    const stored = buildServicePolicy(
      {
        name: 'wiki',
        dataDirectory: '/data',
        retention: { keepLast: 1, keepHourly: 2, keepDaily: 3, keepWeekly: 4, keepMonthly: 5, keepQuarterly: 6, keepYearly: 7, keepWithin: ' 2d ' },
      },
      {},
    );
    expect(stored.retention).toEqual({
      schedule: 'cron(0 4 * * ? *)',
      timezone: 'Etc/UTC',
      last: 1,
      hourly: 2,
      daily: 3,
      weekly: 4,
      monthly: 5,
      quarterly: 6,
      yearly: 7,
      within: '2d',
    });
  });

  it('refuses a name that is a token: it addresses the backups and the IAM conditions', () => {
    expect(() => protect({ name: Lazy.string({ produce: () => 'wiki' }) })).toThrow(/name must be a literal string, not a token/);
  });

  it('leaves values that are tokens to the deploy-time check', () => {
    expect(() =>
      protect({
        dataDirectory: Lazy.string({ produce: () => '/data' }),
        retention: { keepDaily: Token.asNumber(Lazy.number({ produce: () => 7 })) },
        failover: { timeout: Duration.seconds(Lazy.number({ produce: () => 7200 })) },
        targets: { rpo: Duration.seconds(Lazy.number({ produce: () => 0 })) },
        drill: { verifyCommand: Lazy.string({ produce: () => '' }), schedule: ScheduleExpression.expression(Lazy.string({ produce: () => 'cron(bad)' })) },
      }),
    ).not.toThrow();
  });

  it('accepts a complete, sensible policy', () => {
    expect(() =>
      protect({
        snapshot: { schedule: ScheduleExpression.rate(Duration.hours(1)), deadline: Duration.minutes(30), preCommand: 'sync', postCommand: 'true' },
        retention: {
          keepLast: 24,
          keepDaily: 7,
          keepWeekly: 4,
          keepMonthly: 12,
          keepQuarterly: 4,
          keepYearly: 2,
          keepWithin: '2d',
          timeZone: TimeZone.EUROPE_PARIS,
          reapAfter: Duration.hours(6),
        },
        failover: { timeout: Duration.seconds(0), lease: Duration.seconds(15), heartbeat: Duration.seconds(5) },
        drill: {
          schedule: ScheduleExpression.cron({ hour: '3', minute: '30', weekDay: 'MON-FRI' }),
          verifyCommand: 'check',
          verifyTimeout: Duration.minutes(5),
          timeout: Duration.minutes(30),
          snapshot: 'random',
          randomWindow: Duration.days(14),
          app: { command: 'serve', healthCheckUrl: 'http://127.0.0.1:8080/health', startTimeout: Duration.minutes(2) },
          staleAfter: Duration.days(7),
        },
        targets: { rpo: Duration.hours(2), rto: Duration.minutes(15) },
      }),
    ).not.toThrow();
  });
});
