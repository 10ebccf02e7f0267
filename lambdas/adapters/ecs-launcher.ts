/**
 * Launching and stopping one-off ECS tasks (restore drills) behind a small interface, so
 * the drill workflow runs the same against ECS, a mocked client, or local mode's launcher.
 *
 * Retry contract: the SDK retries transient faults with the same request, client token
 * included, so a retried RunTask cannot start a second task. Anything thrown is final.
 */
import { type ECSClient, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import type { DrillRunTaskRequest } from '../domain/drills.js';
import { OperationFailedError, UnavailableError } from '../domain/errors.js';
import { errorName, translateAwsError } from './aws.js';

export interface TaskLauncher {
  /**
   * Starts the task (idempotent by `clientToken`) and returns its ARN. Throws
   * OperationFailedError when ECS refuses (bad parameters, no capacity, a `failures`
   * answer) and UnavailableError when ECS cannot be reached or the caller may not use it.
   */
  runTask(request: DrillRunTaskRequest): Promise<{ taskArn: string }>;
  /** Stops the task; a task that is already stopped or gone is not an error. */
  stopTask(cluster: string, taskArn: string, reason: string): Promise<void>;
}

/** StopTask's reason is shown in the console and DescribeTasks; ECS caps it at 255 characters. */
const STOP_REASON_MAX = 255;

export class EcsTaskLauncher implements TaskLauncher {
  constructor(private readonly client: ECSClient) {}

  async runTask(request: DrillRunTaskRequest): Promise<{ taskArn: string }> {
    let out;
    try {
      out = await this.client.send(new RunTaskCommand(request));
    } catch (err) {
      const translated = translateAwsError(err, `ECS cluster ${request.cluster}`);
      if (translated !== err) throw translated;
      const name = errorName(err) ?? 'Error';
      // Client-side faults (bad parameters, missing cluster, a reused client token with other
      // parameters) will not get better by retrying: the drill could not be launched.
      if (
        /^(ClientException|InvalidParameterException|ClusterNotFoundException|ConflictException|PlatformUnknownException|PlatformTaskDefinitionIncompatibilityException|UnsupportedFeatureException|AccessDeniedException|BlockedException)$/.test(
          name,
        )
      ) {
        throw new OperationFailedError(`RunTask on ${request.cluster} was refused: ${name}: ${(err as Error).message}`, {
          hint: "check the service policy's ecs settings (cluster, task definition, subnets) and the task role's ecs:RunTask / iam:PassRole permissions",
          cause: err,
        });
      }
      throw new UnavailableError(`RunTask on ${request.cluster} failed: ${name}: ${(err as Error).message}`, { cause: err });
    }
    const task = out.tasks?.[0];
    if (task?.taskArn) return { taskArn: task.taskArn };
    const failures = (out.failures ?? []).map((f) => [f.reason, f.detail, f.arn].filter(Boolean).join(' ')).join('; ');
    throw new OperationFailedError(`RunTask on ${request.cluster} started no task${failures ? `: ${failures}` : ''}`, {
      hint: 'ECS reports capacity, placement or image problems here; see the failures above',
    });
  }

  async stopTask(cluster: string, taskArn: string, reason: string): Promise<void> {
    try {
      await this.client.send(new StopTaskCommand({ cluster, task: taskArn, reason: reason.slice(0, STOP_REASON_MAX) }));
    } catch (err) {
      // Stopping a task that no longer exists: the goal is already met.
      if (errorName(err) === 'InvalidParameterException' && /not found/i.test((err as Error).message ?? '')) return;
      const translated = translateAwsError(err, `ECS cluster ${cluster}`);
      if (translated !== err) throw translated;
      throw new UnavailableError(`StopTask of ${taskArn} failed: ${errorName(err)}: ${(err as Error).message}`, { cause: err });
    }
  }
}
