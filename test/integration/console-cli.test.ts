/**
 * `lifeboat console` against a table and a store (DynamoDB Local, the S3 server), as an
 * operator starts it: the URL on stdout, the state of the table's services read through the
 * CLI's runtime, read-only without --allow-actions, a port in use named, Ctrl-C stops it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../bin/cli/program.js';
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import { DynamoServiceRegistry } from '../../lambdas/adapters/service-registry.js';
import type { ConsoleState } from '../../lambdas/console/server.js';
import { normalizeServicePolicy } from '../../lambdas/domain/service-policy.js';
import { cli, waitFor } from '../support/cli.js';
import { freshBucket, freshTable } from '../support/fixtures.js';

let env: Record<string, string>;

beforeAll(async () => {
  const [table, bucket] = await Promise.all([freshTable(), freshBucket()]);
  env = { LIFEBOAT_TABLE: table, LIFEBOAT_STORE: `s3://${bucket}/c` };
  const registry = new DynamoServiceRegistry(createDynamoClient({ ...process.env, ...env }), table);
  await registry.put(normalizeServicePolicy({ service: 'web', targets: { rpoSeconds: 900 } }));
});

/** Starts `lifeboat console ARGS` in-process; resolves with its URL once it printed it. */
async function startConsole(args: string[]) {
  const stop = new AbortController();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (b: Buffer) => (out += b.toString()));
  stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = runCli(['console', ...args], { stdout, stderr, env: { ...process.env, ...env }, signal: stop.signal });
  let code: number | undefined;
  void exited.then((c) => (code = c));
  const url = await waitFor(async () => {
    if (code !== undefined) throw new Error(`lifeboat console exited ${code}: ${err}`);
    return /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out)?.[1];
  }, 'the console URL on stdout');
  return {
    url,
    stderr: () => err,
    stop: async () => {
      stop.abort();
      return exited;
    },
  };
}

let running: Awaited<ReturnType<typeof startConsole>> | undefined;
afterAll(async () => {
  await running?.stop();
});

describe('lifeboat console', () => {
  it('serves the table on 127.0.0.1, read-only without --allow-actions, until Ctrl-C', async () => {
    running = await startConsole(['--port', '0']);
    expect(running.stderr()).toMatch(/lifeboat console: http:\/\/127\.0\.0\.1:\d+\/ {2}\(table \S+, store s3:\/\/\S+; read-only; Ctrl-C stops\)/);
    const page = await fetch(running.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const state = (await (await fetch(`${running.url}console/api/state`)).json()) as ConsoleState;
    expect(state).toMatchObject({ mode: 'aws', allowActions: false, actions: [], errors: [] });
    expect(state.services.map((s) => s.service)).toEqual(['web']);
    const refused = await fetch(`${running.url}console/api/actions/snapshot?service=web`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ confirm: 'web' }),
    });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { hint: string }).hint).toMatch(/--allow-actions/);
    expect(await running.stop()).toBe(0);
    running = undefined;
  });

  it('names a port in use and a bad port, and exits 2', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as AddressInfo).port;
    try {
      const r = await cli(['console', '--port', String(port)], env);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use`));
    } finally {
      busy.close();
    }
    const bad = await cli(['console', '--port', '80000'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--port must be a port number \(0-65535; 0 picks a free one\), not "80000"/);
  });
});
