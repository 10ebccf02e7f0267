import { describe, expect, it } from 'vitest';
import { normalizeServicePolicy } from '../../lambdas/domain/service-policy.js';
import { concludeDumpJob, dumpLaunchSpec, isJobId, isOverdue, jobDeadline, makeJobId, rpoState, scheduledJobId } from '../../lambdas/domain/snapshot-jobs.js';

const at = new Date('2026-11-27T08:17:35.123Z');

describe('snapshot job ids', () => {
  it('sort by time, fit ECS startedBy, and are the same for the same schedule slot', () => {
    const id = makeJobId(at, Uint8Array.of(0xde, 0xad, 0xbe, 0xef));
    expect(id).toBe('job-20261127T081735Z-deadbeef');
    expect(id.length).toBeLessThanOrEqual(36);
    expect(isJobId(id)).toBe(true);
    expect(scheduledJobId('db', at)).toBe(scheduledJobId('db', new Date(at)));
    expect(scheduledJobId('db', at)).not.toBe(scheduledJobId('wiki', at));
    expect(isJobId('drill-20261127T081735Z-deadbeef')).toBe(false);
  });
});

describe('dump jobs', () => {
  const job = { jobId: 'job-x', launch: { cluster: 'c', taskDefinition: 't', containerName: 'dump' } };
  it.each([
    [{ exitCode: 0 }, 'complete', 'the dump task exited 0'],
    [{ exitCode: 3, stoppedReason: 'Essential container in task exited' }, 'failed', 'the dump task exited with code 3 (Essential container in task exited)'],
    [{ stopCode: 'TaskFailedToStart', stoppedReason: 'CannotPullContainerError' }, 'error', 'the dump task failed to start (CannotPullContainerError)'],
    [{ stopCode: 'EssentialContainerExited' }, 'error', 'the dump container dump stopped without an exit code'],
  ])('%j → %s', (end, status, reason) => {
    expect(concludeDumpJob(job, end, at)).toMatchObject({ status, reason });
  });

  it('needs a cluster, a task definition, a container and (on Fargate) subnets, and says which is missing', () => {
    expect(() => dumpLaunchSpec(normalizeServicePolicy({ service: 'db', snapshot: { mode: 'dump' } }))).toThrow(
      /no ecs.cluster, snapshot.dumpTaskDefinition \(or ecs.taskDefinition\), snapshot.dumpContainerName .* a dump task .* cannot be launched/,
    );
    expect(() => dumpLaunchSpec(normalizeServicePolicy({ service: 'db', ecs: { cluster: 'c', taskDefinition: 't', containerName: 'x' } }))).toThrow(
      /no ecs.subnets/,
    );
    expect(
      dumpLaunchSpec(
        normalizeServicePolicy({
          service: 'db',
          ecs: { cluster: 'c', taskDefinition: 't', containerName: 'x', launchType: 'EC2' },
          snapshot: { dumpTaskDefinition: 'd', dumpContainerName: 'dc' },
        }),
      ),
    ).toEqual({
      cluster: 'c',
      taskDefinition: 'd',
      containerName: 'dc',
      launchType: 'EC2',
    });
  });
});

describe('deadlines and the RPO watch', () => {
  it('puts the deadline deadlineSeconds after the request (1 h by default)', () => {
    expect(jobDeadline(normalizeServicePolicy({ service: 'db' }), at).toISOString()).toBe('2026-11-27T09:17:35.123Z');
    expect(jobDeadline(normalizeServicePolicy({ service: 'db', snapshot: { deadlineSeconds: 60 } }), at).toISOString()).toBe('2026-11-27T08:18:35.123Z');
    expect(isOverdue({ status: 'requested', deadline: at.toISOString() }, at)).toBe(true);
    expect(isOverdue({ status: 'complete', deadline: at.toISOString() }, at)).toBe(false);
  });

  it('compares the newest complete snapshot with the target', () => {
    const newest = { id: 's', createdAt: '2026-11-27T07:17:35.123Z' };
    expect(rpoState(newest, 7200, at)).toEqual({ state: 'ok', ageSeconds: 3600, targetSeconds: 7200, newestSnapshotId: 's' });
    expect(rpoState(newest, 1800, at)).toMatchObject({ state: 'breached', ageSeconds: 3600 });
    expect(rpoState(undefined, 1800, at)).toEqual({ state: 'no-snapshot', targetSeconds: 1800 });
    expect(rpoState(newest, undefined, at)).toEqual({ state: 'no-target', ageSeconds: 3600, newestSnapshotId: 's' });
  });
});
