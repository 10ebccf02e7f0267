/**
 * TaskLauncher over a running local mode's API (`POST /ecs/run-task`, `/ecs/stop-task`):
 * what `lifeboat drill` uses when LIFEBOAT_LOCAL_API is set, so a drill started from the
 * CLI runs as one of local mode's child processes instead of calling ECS.
 */
import type { DrillRunTaskRequest } from '../domain/drills.js';
import { OperationFailedError, UnavailableError } from '../domain/errors.js';
import type { TaskLauncher } from './ecs-launcher.js';

export class LocalApiTaskLauncher implements TaskLauncher {
  constructor(private readonly apiUrl: string) {}

  private async post(path: string, body: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.apiUrl.replace(/\/+$/, '')}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new UnavailableError(`cannot reach local mode's API at ${this.apiUrl}: ${(err as Error).message}`, {
        hint: 'is `lifeboat local` (npm start) running? `eval "$(lifeboat local env)"` exports the address of the running one',
      });
    }
    const doc = (await res.json().catch(() => ({}))) as { error?: string };
    if (!res.ok) throw new OperationFailedError(`local mode refused ${path}: ${doc.error ?? `HTTP ${res.status}`}`);
    return doc;
  }

  async runTask(request: DrillRunTaskRequest): Promise<{ taskArn: string }> {
    const doc = (await this.post('/ecs/run-task', request)) as { taskArn?: string };
    if (!doc.taskArn) throw new OperationFailedError("local mode's launcher answered without a task ARN");
    return { taskArn: doc.taskArn };
  }

  async stopTask(cluster: string, taskArn: string, reason: string): Promise<void> {
    await this.post('/ecs/stop-task', { cluster, taskArn, reason });
  }
}
