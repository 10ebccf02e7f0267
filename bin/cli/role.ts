/**
 * `lifeboat role`: who is primary of a service, and what every member is. With --task,
 * prints just that task's role (for scripts: `[ "$(lifeboat role --task ...)" = primary ]`).
 */
import type { Command } from 'commander';
import { decideFailover, isEligible, roleOf } from '../../lambdas/domain/election.js';
import { assertServiceName } from '../../lambdas/domain/ids.js';
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import { DynamoCoordinationStore } from '../../lambdas/adapters/coordination.js';
import { DynamoServiceRegistry } from '../../lambdas/adapters/service-registry.js';
import { DEFAULT_FAILOVER } from '../../lambdas/domain/service-policy.js';
import { serviceName, tableName, type CliIO } from './context.js';
import type { CommandResult } from './program.js';
import { formatDuration, formatTable, say } from './output.js';

interface RoleFlags {
  service?: string;
  task?: string;
  table?: string;
  json?: boolean;
}

const shortTask = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);

export function registerRole(program: Command, io: CliIO, _done: (r: CommandResult) => void): void {
  program
    .command('role')
    .description("show the service's primary (lease holder and term) and every member's role")
    .option('--service <name>', 'protected service name (env LIFEBOAT_SERVICE)')
    .option('--task <arn>', 'print only this task\'s role: primary, standby, leaving or unknown (env LIFEBOAT_TASK is not used)')
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--json', 'print one JSON document')
    .action(async (flags: RoleFlags) => {
      const service = assertServiceName(serviceName(flags.service, io.env));
      const table = tableName(flags, io.env);
      const dynamo = createDynamoClient(io.env);
      const [state, policy] = await Promise.all([new DynamoCoordinationStore(dynamo, table).readState(service), new DynamoServiceRegistry(dynamo, table).get(service)]);
      const now = Date.now();
      const decision = decideFailover(service, state.lease, state.members, policy?.failover ?? DEFAULT_FAILOVER, now);
      const members = state.members.map((m) => ({
        task: m.taskArn,
        role: roleOf(m).kind,
        term: m.primaryTerm,
        lastStatus: m.lastStatus,
        desiredStatus: m.desiredStatus,
        ip: m.ip,
        heartbeatAgeMs: m.heartbeatAt !== undefined ? now - m.heartbeatAt : undefined,
        aliveUntil: m.aliveUntil !== undefined ? new Date(m.aliveUntil).toISOString() : undefined,
        dataPosition: m.dataPosition,
        eligible: isEligible(m, now),
        pendingCommands: Object.keys(m.commands).length,
      }));
      if (flags.task) {
        const member = members.find((m) => m.task === flags.task || shortTask(m.task) === flags.task);
        const role = member?.role ?? 'unknown';
        io.stdout.write(flags.json ? `${JSON.stringify({ service, task: member?.task ?? flags.task, role, term: member?.term }, null, 2)}\n` : `${role}\n`);
        return;
      }
      const summary =
        decision.kind === 'healthy'
          ? `primary ${decision.lease.holder} (term ${decision.lease.term}), lease valid for ${formatDuration(decision.expiresAt - now)}`
          : decision.kind === 'wait'
            ? `primary ${decision.lease ? `${decision.lease.holder} (term ${decision.lease.term}) lost` : 'none yet'}; election due in ${formatDuration(Math.max(0, decision.dueAt - now))}`
            : decision.kind === 'elect'
              ? `no live primary${decision.lease ? ` (term ${decision.lease.term} lost)` : ''}; ${shortTask(decision.request.candidate)} is due to be elected`
              : `no live primary${decision.lease ? ` (term ${decision.lease.term} lost)` : ''} and no member can take over`;
      if (flags.json) {
        io.stdout.write(`${JSON.stringify({ service, lease: state.lease ?? null, status: decision.kind, summary, members }, null, 2)}\n`);
        return;
      }
      say(io, `${service}: ${summary}`);
      if (!members.length) {
        say(io, `no members of ${service} yet`);
        return;
      }
      io.stdout.write(
        formatTable(
          ['TASK', 'ROLE', 'TERM', 'STATUS', 'IP', 'HEARTBEAT', 'POSITION'],
          members.map((m) => [
            shortTask(m.task),
            m.role,
            m.term !== undefined ? String(m.term) : '-',
            m.lastStatus ?? '-',
            m.ip ?? '-',
            m.heartbeatAgeMs !== undefined ? `${formatDuration(m.heartbeatAgeMs)} ago` : '-',
            m.dataPosition !== undefined ? String(m.dataPosition) : '-',
          ]),
        ),
      );
    });
}
