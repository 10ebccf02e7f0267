/**
 * The console's server over a fake backend: the page and assets (no external reference),
 * the state, read-only refusal of actions, the confirmation, and a port in use.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConsoleBackend } from '../../lambdas/console/backend.js';
import { failoverTimeline } from '../../lambdas/console/model.js';
import { type ConsoleState, serveConsole } from '../../lambdas/console/server.js';
import { UsageError } from '../../lambdas/domain/errors.js';
import { normalizeServicePolicy } from '../../lambdas/domain/service-policy.js';

const acted: string[] = [];
const backend: ConsoleBackend = {
  mode: 'aws',
  label: 'table t',
  services: async () => ['kv'],
  read: async () => ({
    policy: normalizeServicePolicy({
      service: 'kv',
      targets: { rpoSeconds: 900, rtoSeconds: 60 },
      snapshot: { schedule: 'cron(0 3 * * ? *)', timezone: 'Europe/Berlin' },
    }),
    lease: { service: 'kv', holder: 'arn:aws:ecs:r:1:task/c/bbbb', term: 2, electedAt: Date.parse('2026-12-01T00:00:00Z') },
    members: [
      {
        service: 'kv',
        taskArn: 'arn:aws:ecs:r:1:task/c/aaaa',
        deposedTerm: 1,
        goneAt: Date.parse('2026-11-30T23:59:50Z'),
        lastStatus: 'STOPPED',
        stoppedReason: 'Essential container exited',
        exitCodes: { kv: 137 },
        commands: {},
      },
      { service: 'kv', taskArn: 'arn:aws:ecs:r:1:task/c/bbbb', primaryTerm: 2, lastStatus: 'RUNNING', heartbeatAt: Date.now() - 1000, commands: {} },
    ],
    snapshots: [
      {
        service: 'kv',
        id: '20261201T000000.000Z-00000001',
        status: 'complete',
        createdAt: new Date(Date.now() - 600_000).toISOString(),
        manifestKey: 'k',
        reason: 'schedule',
        size: 10,
      },
    ],
    drills: [],
  }),
  actions: ['snapshot', 'drill'],
  act: async (action, service) => {
    acted.push(`${action}:${service}`);
    return { message: `did ${action}` };
  },
};

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function serve(allowActions: boolean, port = 0) {
  const s = await serveConsole({ backend, allowActions, port });
  close = s.close;
  return s.url;
}

describe('console server', () => {
  it('serves the page and its assets from itself, with a strict CSP', async () => {
    const url = await serve(false);
    const page = await fetch(url);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    for (const [, ref] of html.matchAll(/(?:src|href)="([^"]+)"/g)) expect(ref!.startsWith('/console/assets/')).toBe(true);
    for (const asset of ['console.js', 'console.css', 'icon.svg']) {
      const r = await fetch(`${url}console/assets/${asset}`);
      expect(r.status).toBe(200);
      expect(await r.text()).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    }
  });

  it('gives the state: primary, timeline with causes, snapshots against the RPO, schedules', async () => {
    const url = await serve(false);
    const state = (await (await fetch(`${url}console/api/state`)).json()) as ConsoleState;
    expect(state).toMatchObject({ mode: 'aws', allowActions: false, actions: [] });
    const kv = state.services[0]!;
    expect(kv.primary).toMatchObject({ taskId: 'bbbb', term: 2 });
    expect(kv.timeline).toEqual([
      expect.objectContaining({ term: 1, cause: 'first election', ended: 'task stopped (Essential container exited) exit code 137' }),
      expect.objectContaining({
        term: 2,
        current: true,
        cause: 'failover: the term 1 primary (task aaaa) task stopped (Essential container exited) exit code 137',
      }),
    ]);
    expect(kv.snapshots).toMatchObject({ total: 1, complete: 1, rpoMet: true });
    expect(kv.schedules[0]).toMatchObject({
      name: 'snapshot',
      timezone: 'Europe/Berlin',
      next: [expect.stringMatching(/T02:00:00.000Z$/), expect.any(String), expect.any(String)],
    });
    expect(kv.drills.charts.rto).toContain('<svg class="chart"');
  });

  it('is read-only unless actions are allowed', async () => {
    const url = await serve(false);
    const r = await fetch(`${url}console/api/actions/snapshot?service=kv`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"confirm":"kv"}',
    });
    expect(r.status).toBe(403);
    expect(((await r.json()) as { hint: string }).hint).toMatch(/--allow-actions/);
    expect(acted).toEqual([]);
  });

  it('needs the confirmation, JSON, and the same origin', async () => {
    const url = await serve(true);
    const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
      fetch(`${url}console/api/actions/drill?service=kv`, { method: 'POST', headers, body });
    expect((await post('{}')).status).toBe(400);
    expect((await post('{"confirm":"kv"}', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post('{"confirm":"kv"}', { 'content-type': 'application/json', origin: 'http://evil.example' })).status).toBe(403);
    expect(acted).toEqual([]);
    const ok = await post('{"confirm":"kv"}');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ message: 'did drill' });
    expect(acted).toEqual(['drill:kv']);
  });

  it('names a port in use', async () => {
    const url = await serve(false);
    const port = Number(new URL(url).port);
    const err = await serveConsole({ backend, allowActions: false, port }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(`port ${port} on 127.0.0.1 is in use`);
  });

  it('derives every term it can from the members', () => {
    expect(failoverTimeline(undefined, [])).toEqual([]);
  });
});
