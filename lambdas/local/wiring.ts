/**
 * Local mode's topology, read from the trigger table (lambdas/contract/triggers.ts) — the
 * same table the CDK construct builds its rules, schedules and event source mapping from.
 * `localWiring` is plain data (no servers), so a test can compare it with the synthesized
 * template (test/cdk/local-wiring.test.ts); LocalMode wires exactly this to its event bus,
 * scheduler and queue poller.
 */
import {
  type EventPattern,
  ecsTaskEventPattern,
  HANDLER_IDS,
  type HandlerId,
  rateExpression,
  renderScheduleInput,
  SERVICE_SCHEDULE_KINDS,
  type ServiceScheduleKind,
  TRIGGERS,
} from '../contract/triggers.js';
import type { ServicePolicy } from '../domain/service-policy.js';

/** An event bus rule: ECS task state changes of the local cluster matching `pattern` go to `handler`. */
export interface LocalRule {
  id: string;
  handler: HandlerId;
  pattern: EventPattern;
}

/** A scheduler entry: `handler` runs on `expression`, with the input made for each firing. */
export interface LocalSchedule {
  /** Local mode's name of the schedule (the status view, `runSchedule`). */
  name: string;
  handler: HandlerId;
  expression: string;
  timezone?: string;
  input: (at: Date) => unknown;
  /** Per protected service (its policy section), or one for the control plane. */
  policy?: ServiceScheduleKind;
}

/** A queue consumer: the failover queue's messages go to `handler` in batches. */
export interface LocalQueueSource {
  handler: HandlerId;
  batchSize: number;
  reportBatchItemFailures: boolean;
}

export interface LocalWiring {
  rules: LocalRule[];
  /** The control plane's own schedules: start with local mode. */
  schedules: LocalSchedule[];
  /** The protected service's schedules: start once it has a primary. */
  serviceSchedules: LocalSchedule[];
  queues: LocalQueueSource[];
}

/** `WatchdogSchedule` → `watchdog`, `DrillWatchdogSchedule` → `drill-watchdog`. */
function localName(triggerId: string): string {
  return triggerId
    .replace(/Schedule$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase();
}

/** Everything the trigger table says, for one cluster and one protected service. */
export function localWiring(o: { clusterArn: string; policy: ServicePolicy }): LocalWiring {
  const wiring: LocalWiring = { rules: [], schedules: [], serviceSchedules: [], queues: [] };
  for (const handler of HANDLER_IDS) {
    for (const trigger of TRIGGERS[handler]) {
      switch (trigger.kind) {
        case 'ecs-task-state-change':
          wiring.rules.push({ id: trigger.id, handler, pattern: ecsTaskEventPattern(trigger, [o.clusterArn]) });
          break;
        case 'schedule':
          // Scheduler invokes the function with the target's input, which is `{}` for these.
          wiring.schedules.push({ name: localName(trigger.id), handler, expression: rateExpression(trigger.everySeconds), input: () => ({}) });
          break;
        case 'service-schedule': {
          const section = o.policy[trigger.policy] as { schedule?: string; timezone?: string };
          if (!section.schedule) break;
          const input = trigger.input;
          wiring.serviceSchedules.push({
            name: trigger.policy,
            handler,
            expression: section.schedule,
            ...(section.timezone ? { timezone: section.timezone } : {}),
            input: (t) => renderScheduleInput(input, { service: o.policy.service, scheduledTime: t.toISOString() }),
            policy: trigger.policy,
          });
          break;
        }
        case 'failover-queue':
          wiring.queues.push({ handler, batchSize: trigger.batchSize, reportBatchItemFailures: trigger.reportBatchItemFailures });
          break;
        case 'custom-resource':
          // Local mode stores the policy itself; there is no CloudFormation to answer.
          break;
      }
    }
  }
  // Service schedules in the table's policy order (snapshot, retention, drill).
  wiring.serviceSchedules.sort((a, b) => SERVICE_SCHEDULE_KINDS.indexOf(a.policy!) - SERVICE_SCHEDULE_KINDS.indexOf(b.policy!));
  return wiring;
}
