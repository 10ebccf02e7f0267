/** The CLI pointed at local mode (LIFEBOAT_LOCAL_API): RunTask/StopTask go to local mode's API, not ECS. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalApiTaskLauncher } from '../../lambdas/adapters/local-launcher-client.js';
import { UnavailableError } from '../../lambdas/domain/errors.js';
import { createRuntime } from '../../lambdas/runtime/runtime.js';

const received: { path: string; body: unknown }[] = [];
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    received.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.url === '/ecs/run-task' ? { taskArn: 'arn:aws:ecs:us-east-1:000000000000:task/local/abc' } : { stopped: true }));
  });
});
let api: string;
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('LocalApiTaskLauncher', () => {
  it("GIVEN LIFEBOAT_LOCAL_API WHEN the runtime's launcher runs and stops a task THEN local mode's API gets both requests", async () => {
    const launcher = createRuntime({ LIFEBOAT_LOCAL_API: api, AWS_REGION: 'us-east-1' }).launcher;
    expect(launcher).toBeInstanceOf(LocalApiTaskLauncher);
    const request = { cluster: 'local', taskDefinition: 'kv', startedBy: 'drill-x', clientToken: 't' } as never;
    expect(await launcher.runTask(request)).toEqual({ taskArn: 'arn:aws:ecs:us-east-1:000000000000:task/local/abc' });
    await launcher.stopTask('local', 'arn:x', 'drill timed out');
    expect(received).toEqual([
      { path: '/ecs/run-task', body: request },
      { path: '/ecs/stop-task', body: { cluster: 'local', taskArn: 'arn:x', reason: 'drill timed out' } },
    ]);
  });

  it('names the API and how to point at a running local mode when nothing answers', async () => {
    const closed = new LocalApiTaskLauncher('http://127.0.0.1:9');
    const err = await closed.runTask({} as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).message).toMatch(/cannot reach local mode's API at http:\/\/127\.0\.0\.1:9/);
    expect((err as UnavailableError).hint).toMatch(/eval "\$\(lifeboat local env\)"/);
  });
});
