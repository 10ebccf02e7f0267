/**
 * `lifeboat status --service S`: one view of a protected service — who is primary, how old
 * its newest complete snapshot is against the RPO target (the RPO watch), recent snapshot
 * jobs and the latest drill. Exit 0 when the service is healthy, 1 when something needs
 * attention (no primary, RPO breached or no snapshot, the latest job or drill not good).
 */
import type { Command } from 'commander';
import type { DrillRecord } from '../../lambdas/domain/drills.js';
import { decideFailover, type FailoverDecision } from '../../lambdas/domain/election.js';
import { UsageError } from '../../lambdas/domain/errors.js';
import { assertServiceName } from '../../lambdas/domain/ids.js';
import { type RpoState, rpoState, type SnapshotJob } from '../../lambdas/domain/snapshot-jobs.js';
import { type CliIO, cliRuntime, openDrillStore, openRegistry, serviceName, tableName } from './context.js';
import type { CommandResult } from './options.js';
import { formatDuration, say } from './output.js';

interface StatusFlags {
  service?: string;
  table?: string;
  json?: boolean;
}

export interface ServiceStatus {
  service: string;
  healthy: boolean;
  attention: string[];
  primary: { task: string; term: number; leaseExpiresInSeconds: number } | null;
  failover: FailoverDecision['kind'];
  members: number;
  rpo: RpoState;
  jobs: Pick<SnapshotJob, 'jobId' | 'status' | 'requestedAt' | 'reason' | 'snapshotId'>[];
  lastDrill: Pick<DrillRecord, 'drillId' | 'status' | 'createdAt' | 'snapshotId'> | null;
}

export function registerStatus(program: Command, io: CliIO, done: (r: CommandResult) => void): void {
  program
    .command('status')
    .description(
      'show a service at a glance: primary and term, snapshot age against the RPO, recent snapshot jobs, the latest drill; exit 1 when it needs attention',
    )
    .option('--service <name>', 'protected service name (env LIFEBOAT_SERVICE)')
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--json', 'print one JSON document')
    .action(async (flags: StatusFlags) => {
      const service = assertServiceName(serviceName(flags.service, io.env));
      const table = tableName(flags, io.env);
      const policy = await openRegistry(flags, io).get(service);
      if (!policy)
        throw new UsageError(`service ${service} is not protected: table ${table} has no policy for it`, { hint: 'check --service and LIFEBOAT_TABLE' });
      const rt = cliRuntime(flags, io);
      const now = rt.now();
      const [state, newest, jobs, drill] = await Promise.all([
        rt.coordination.readState(service),
        rt.catalog.latest(service),
        rt.jobs.recent(service, 5),
        (async () => {
          for await (const d of openDrillStore(flags, io).list(service, { limit: 1 })) return d;
          return undefined;
        })(),
      ]);
      const decision = decideFailover(service, state.lease, state.members, policy.failover, now);
      const rpo = rpoState(newest, policy.targets.rpoSeconds, new Date(now));
      const attention: string[] = [];
      if (decision.kind !== 'healthy') attention.push('no live primary');
      if (rpo.state === 'breached')
        attention.push(
          `RPO breached: newest complete snapshot is ${formatDuration((rpo.ageSeconds ?? 0) * 1000)} old (target ${formatDuration((rpo.targetSeconds ?? 0) * 1000)})`,
        );
      if (rpo.state === 'no-snapshot') attention.push('no complete snapshot (RPO target set)');
      const lastJob = jobs[0];
      if (lastJob && (lastJob.status === 'failed' || lastJob.status === 'error')) attention.push(`latest snapshot job ${lastJob.status}: ${lastJob.reason}`);
      if (drill && drill.status !== 'passed' && drill.status !== 'running') attention.push(`latest drill ${drill.status}`);

      const status: ServiceStatus = {
        service,
        healthy: attention.length === 0,
        attention,
        primary:
          decision.kind === 'healthy'
            ? { task: decision.lease.holder, term: decision.lease.term, leaseExpiresInSeconds: Math.round((decision.expiresAt - now) / 1000) }
            : null,
        failover: decision.kind,
        members: state.members.filter((m) => m.lastStatus !== 'STOPPED').length,
        rpo,
        jobs: jobs.map((j) => ({
          jobId: j.jobId,
          status: j.status,
          requestedAt: j.requestedAt,
          ...(j.reason ? { reason: j.reason } : {}),
          ...(j.snapshotId ? { snapshotId: j.snapshotId } : {}),
        })),
        lastDrill: drill ? { drillId: drill.drillId, status: drill.status, createdAt: drill.createdAt, snapshotId: drill.snapshotId } : null,
      };
      if (flags.json) {
        io.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      } else {
        const lines = [
          `service   ${service}: ${status.healthy ? 'healthy' : 'NEEDS ATTENTION'}`,
          `primary   ${status.primary ? `${status.primary.task} (term ${status.primary.term}), lease valid for ${status.primary.leaseExpiresInSeconds} s` : `none (${decision.kind})`}; ${status.members} running member(s)`,
          `snapshot  ${rpo.newestSnapshotId ? `${rpo.newestSnapshotId}, ${formatDuration((rpo.ageSeconds ?? 0) * 1000)} old` : 'none complete'}${rpo.targetSeconds !== undefined ? `; RPO target ${formatDuration(rpo.targetSeconds * 1000)}: ${rpo.state}` : ''}`,
          `jobs      ${jobs.length ? jobs.map((j) => `${j.jobId} ${j.status}`).join(', ') : 'none'}`,
          `drill     ${drill ? `${drill.drillId} ${drill.status}` : 'none'}`,
          ...attention.map((a) => `attention ${a}`),
        ];
        io.stdout.write(`${lines.join('\n')}\n`);
      }
      if (!status.healthy) say(io, `${service} needs attention: ${attention.join('; ')}`);
      done({ exitCode: status.healthy ? 0 : 1 });
    });
}
