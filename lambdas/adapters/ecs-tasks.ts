/**
 * ECS as the reconciler sees it: the tasks a service runs now, and what became of tasks
 * the table still thinks are running (events can be lost; DescribeTasks knows stopped
 * tasks for about an hour, and after that they are simply missing).
 */
import { DescribeTasksCommand, type ECSClient, paginateListTasks } from '@aws-sdk/client-ecs';
import { parseEcsTask } from '../domain/ecs-task.js';
import { observationFromEcsTask, type TaskObservation } from '../domain/membership.js';
import { translateAwsError } from './aws.js';

export interface EcsTasks {
  /** Observations of every task the service wants running. */
  serviceTasks(cluster: string, serviceName: string): Promise<TaskObservation[]>;
  /** Observations of the given tasks, and the ARNs ECS does not know any more. */
  describe(cluster: string, taskArns: readonly string[]): Promise<{ found: TaskObservation[]; missing: string[] }>;
}

const DESCRIBE_BATCH = 100;

export class EcsTaskReader implements EcsTasks {
  constructor(private readonly client: ECSClient) {}

  async serviceTasks(cluster: string, serviceName: string): Promise<TaskObservation[]> {
    const arns: string[] = [];
    try {
      for await (const page of paginateListTasks({ client: this.client }, { cluster, serviceName, desiredStatus: 'RUNNING' }))
        arns.push(...(page.taskArns ?? []));
    } catch (err) {
      throw translateAwsError(err, `ECS cluster ${cluster}`);
    }
    return (await this.describe(cluster, arns)).found;
  }

  async describe(cluster: string, taskArns: readonly string[]): Promise<{ found: TaskObservation[]; missing: string[] }> {
    const found: TaskObservation[] = [];
    const missing: string[] = [];
    for (let i = 0; i < taskArns.length; i += DESCRIBE_BATCH) {
      const batch = taskArns.slice(i, i + DESCRIBE_BATCH);
      let out;
      try {
        out = await this.client.send(new DescribeTasksCommand({ cluster, tasks: batch }));
      } catch (err) {
        throw translateAwsError(err, `ECS cluster ${cluster}`);
      }
      for (const task of out.tasks ?? []) {
        // The SDK's task, read by the one ECS task schema (Dates become ISO strings).
        const parsed = parseEcsTask(task);
        if (parsed) found.push(observationFromEcsTask(parsed));
      }
      for (const f of out.failures ?? []) if (f.arn && f.reason === 'MISSING') missing.push(f.arn);
    }
    return { found, missing };
  }
}
