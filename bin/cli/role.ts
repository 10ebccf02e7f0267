/**
 * `lifeboat role`: this task's role for scripts — prints `primary`, `replica` or `none`
 * and exits 0, 1 or 2 — or, with --members, the service's primary and every member.
 */
import type { Command } from 'commander';
import { resolveTaskIdentity } from '../../lambdas/agent/task-identity.js';
import { decideFailover, type FailoverDecision, isEligible, roleOf } from '../../lambdas/domain/election.js';
import { assertServiceName } from '../../lambdas/domain/ids.js';
import type { Member } from '../../lambdas/domain/membership.js';
import { DEFAULT_FAILOVER } from '../../lambdas/domain/service-policy.js';
import { type CliIO, cliRuntime, serviceName } from './context.js';
import type { CommandResult } from './options.js';
import { formatDuration, formatTable, say } from './output.js';

interface RoleFlags {
  service?: string;
  task?: string;
  members?: boolean;
  table?: string;
  json?: boolean;
}

export type ScriptRole = 'primary' | 'replica' | 'none';
const EXIT: Record<ScriptRole, 0 | 1 | 2> = { primary: 0, replica: 1, none: 2 };

const shortTask = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);

/** primary: the live lease holder; replica: any other member still running; none: not a member (or stopped). */
export function scriptRole(member: Member | undefined, decision: FailoverDecision): ScriptRole {
  if (!member || member.lastStatus === 'STOPPED') return 'none';
  if (decision.kind === 'healthy' && decision.lease.holder === member.taskArn) return 'primary';
  return 'replica';
}

function summaryOf(decision: FailoverDecision, now: number): string {
  switch (decision.kind) {
    case 'healthy':
      return `primary ${decision.lease.holder} (term ${decision.lease.term}), lease valid for ${formatDuration(decision.expiresAt - now)}`;
    case 'wait':
      return `primary ${decision.lease ? `${decision.lease.holder} (term ${decision.lease.term}) lost` : 'none yet'}; election due in ${formatDuration(Math.max(0, decision.dueAt - now))}`;
    case 'elect':
      return `no live primary${decision.lease ? ` (term ${decision.lease.term} lost)` : ''}; ${shortTask(decision.request.candidate)} is due to be elected`;
    case 'no-candidate':
      return `no live primary${decision.lease ? ` (term ${decision.lease.term} lost)` : ''} and no member can take over`;
  }
}

export function registerRole(program: Command, io: CliIO, done: (r: CommandResult) => void): void {
  program
    .command('role')
    .description("print this task's role: primary (exit 0), replica (exit 1) or none (exit 2); --members shows every member")
    .option('--service <name>', 'protected service name (env LIFEBOAT_SERVICE)')
    .option('--task <arn>', 'the task to ask about (default: env LIFEBOAT_TASK, else the ECS task metadata endpoint)')
    .option('--members', "show the service's primary, term and every member instead (exit 0)")
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--json', 'print one JSON document')
    .action(async (flags: RoleFlags) => {
      const service = assertServiceName(serviceName(flags.service, io.env));
      const rt = cliRuntime(flags, io);
      const taskArn = flags.members ? undefined : (await resolveTaskIdentity(flags.task, io.env)).taskArn;
      const [state, policy] = await Promise.all([rt.coordination.readState(service), rt.registry.get(service)]);
      const now = rt.now();
      const decision = decideFailover(service, state.lease, state.members, policy?.failover ?? DEFAULT_FAILOVER, now);

      if (taskArn !== undefined) {
        const member = state.members.find((m) => m.taskArn === taskArn || shortTask(m.taskArn) === taskArn);
        const role = scriptRole(member, decision);
        io.stdout.write(
          flags.json
            ? `${JSON.stringify({ service, task: member?.taskArn ?? taskArn, role, term: role === 'primary' ? state.lease?.term : undefined, lease: state.lease ?? null }, null, 2)}\n`
            : `${role}\n`,
        );
        done({ exitCode: EXIT[role] });
        return;
      }

      const members = state.members.map((m) => ({
        task: m.taskArn,
        role: scriptRole(m, decision),
        term: m.primaryTerm,
        lastStatus: m.lastStatus,
        desiredStatus: m.desiredStatus,
        ip: m.ip,
        heartbeatAgeMs: m.heartbeatAt !== undefined ? now - m.heartbeatAt : undefined,
        aliveUntil: m.aliveUntil !== undefined ? new Date(m.aliveUntil).toISOString() : undefined,
        dataPosition: m.dataPosition,
        eligible: isEligible(m, now),
        leaving: roleOf(m).kind === 'leaving',
        pendingCommands: Object.keys(m.commands).length,
      }));
      const summary = summaryOf(decision, now);
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
            m.leaving && m.role !== 'none' ? `${m.role} (leaving)` : m.role,
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
