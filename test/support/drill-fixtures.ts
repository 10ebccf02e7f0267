/**
 * Drill records for report tests: fixed times, every verdict, and text that renderers
 * must escape (pipes, backticks, angle brackets, colour codes).
 */

import type { ServiceDrillInput } from '../../lambdas/domain/drill-report.js';
import type { DrillAgentResult, DrillRecord } from '../../lambdas/domain/drills.js';

export const NOW = new Date('2026-11-27T12:00:00.000Z');
let base = NOW;
const at = (hoursAgo: number) => new Date(base.getTime() - hoursAgo * 3_600_000).toISOString();
const stamp = (hoursAgo: number) =>
  at(hoursAgo)
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');

/** Runs `make` with fixture times relative to `now` instead of NOW (for tests on the real clock). */
export function fixturesAt<T>(now: Date, make: () => T): T {
  const saved = base;
  base = new Date(Math.floor(now.getTime() / 1000) * 1000);
  try {
    return make();
  } finally {
    base = saved;
  }
}

let counter = 0;

/** A finished drill `hoursAgo` hours before NOW (the drill took 5 minutes). */
export function fixtureDrill(service: string, hoursAgo: number, overrides: Partial<DrillRecord> = {}, agent?: Partial<DrillAgentResult>): DrillRecord {
  counter++;
  const drillId = `drill-${stamp(hoursAgo)}-${counter.toString(16).padStart(8, '0')}`;
  const createdAt = at(hoursAgo);
  const record: DrillRecord = {
    service,
    drillId,
    status: 'passed',
    trigger: 'schedule',
    createdAt,
    deadline: at(hoursAgo - 1),
    timeoutSeconds: 3600,
    snapshotId: `${stamp(hoursAgo + 2).replace('Z', '.000Z')}-${'a'.repeat(8)}`,
    snapshotCreatedAt: at(hoursAgo + 2),
    selection: 'latest',
    snapshotAgeSeconds: 7200,
    newestSnapshotId: `${stamp(hoursAgo + 2).replace('Z', '.000Z')}-${'a'.repeat(8)}`,
    rpoSeconds: 7200,
    targets: { rtoSeconds: 600, rpoSeconds: 14_400 },
    launch: { cluster: 'prod', taskDefinition: `${service}:3`, containerName: service, subnets: ['subnet-1'] },
    taskArn: `arn:aws:ecs:eu-west-1:123456789012:task/prod/${counter.toString(16).padStart(32, '0')}`,
    launchedAt: createdAt,
    finishedAt: new Date(Date.parse(createdAt) + 300_000).toISOString(),
    finishedBy: 'task-stopped',
    reason: 'restored 120 files in 42.5 s; verify command passed',
    exitCode: 0,
    stopCode: 'EssentialContainerExited',
    restoreSeconds: 42.5,
    rtoSeconds: 95.25,
    overTarget: [],
    withinTargets: true,
    agent: {
      outcome: 'passed',
      reason: 'restored 120 files in 42.5 s; verify command passed',
      startedAt: createdAt,
      restoreSeconds: 42.5,
      checks: [
        { name: 'restore', status: 'passed', durationSeconds: 42.5, message: '120 files, 1048576 bytes, every checksum verified' },
        { name: 'verify', status: 'passed', durationSeconds: 3.1, command: 'check-db', exitCode: 0, output: 'ok\n', message: 'exited 0' },
      ],
      reportedAt: createdAt,
      ...agent,
    },
  };
  return { ...record, ...overrides };
}

/** Every verdict at once, plus escaping hazards. */
export function mixedServices(): ServiceDrillInput[] {
  counter = 0;
  const targets = { rtoSeconds: 600, rpoSeconds: 14_400 };
  return [
    {
      // Passing, with a newer drill that could not run: still pass (the proof stands).
      service: 'billing-db',
      targets,
      drills: [
        fixtureDrill('billing-db', 30, { rtoSeconds: 120, rpoSeconds: 5400 }),
        fixtureDrill('billing-db', 6, { rtoSeconds: 101.5 }),
        fixtureDrill('billing-db', 1, {
          status: 'error',
          reason: 'the drill task failed to start (CannotPullContainerError: pull access denied)',
          exitCode: undefined,
          stopCode: 'TaskFailedToStart',
          rtoSeconds: undefined,
          restoreSeconds: undefined,
          withinTargets: false,
          agent: undefined,
        }),
      ],
    },
    {
      // The newest conclusive drill failed its verify command; output with Markdown/HTML hazards.
      service: 'wiki',
      targets,
      drills: [
        fixtureDrill('wiki', 28),
        fixtureDrill(
          'wiki',
          4,
          {
            status: 'failed',
            reason: 'verify command `wiki-check --all | grep -q ok` exited with code 2: table <pages> is missing',
            exitCode: 1,
            rtoSeconds: undefined,
            withinTargets: false,
          },
          {
            outcome: 'failed',
            checks: [
              { name: 'restore', status: 'passed', durationSeconds: 40, message: '120 files' },
              {
                name: 'verify',
                status: 'failed',
                durationSeconds: 1.2,
                command: 'wiki-check --all | grep -q ok',
                exitCode: 2,
                output: 'checking pages\n```\n\x1b[31mERROR\x1b[0m table <pages> is missing | rows=0\n',
                message: 'exited with code 2',
              },
            ],
          },
        ),
      ],
    },
    {
      // Passed, but slower than the RTO target.
      service: 'search',
      targets: { rtoSeconds: 60 },
      drills: [
        fixtureDrill('search', 3, {
          rtoSeconds: 180,
          overTarget: ['rto'],
          withinTargets: false,
          targets: { rtoSeconds: 60 },
          reason: 'restored 120 files in 42.5 s; over target: RTO 3.0 min > 60 s',
        }),
      ],
    },
    {
      // Passed within targets, but two days ago.
      service: 'queue',
      targets,
      drills: [fixtureDrill('queue', 50)],
    },
    { service: 'cache', targets: {}, drills: [] },
    {
      // Timed out: counts as failed.
      service: 'ledger',
      targets,
      drills: [
        fixtureDrill('ledger', 2, {
          status: 'timed-out',
          finishedBy: 'watchdog',
          reason: 'the drill did not finish within 60.0 min (deadline 2026-11-27T11:00:00.000Z); its task was stopped',
          exitCode: undefined,
          rtoSeconds: undefined,
          withinTargets: false,
          agent: undefined,
        }),
      ],
    },
  ];
}

export function passingServices(): ServiceDrillInput[] {
  counter = 100;
  const targets = { rtoSeconds: 600, rpoSeconds: 14_400 };
  return [
    { service: 'billing-db', targets, drills: [fixtureDrill('billing-db', 26), fixtureDrill('billing-db', 2, { rtoSeconds: 88.5, rpoSeconds: 3600 })] },
    { service: 'wiki', targets: { rpoSeconds: 86_400 }, drills: [fixtureDrill('wiki', 5, { targets: { rpoSeconds: 86_400 }, rtoSeconds: 240 })] },
  ];
}
