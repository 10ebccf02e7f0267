import { describe, expect, it } from 'vitest';
import type { LocalStatus } from '../../lambdas/local/local-mode.js';
import { renderStatus } from '../../lambdas/local/status-view.js';

const at = Date.parse('2026-11-27T12:00:00Z');
const task = (n: number) => `arn:aws:ecs:us-east-1:000000000000:task/local/${String(n).repeat(32).slice(0, 32)}`;
const status: LocalStatus = {
  at,
  service: 'kv',
  speed: 60,
  ephemeral: false,
  store: 'file:///home/someone/projects/lifeboat/.lifeboat/store',
  stateDir: '/home/someone/projects/lifeboat/.lifeboat',
  apiUrl: 'http://127.0.0.1:41027',
  serviceUrl: 'http://127.0.0.1:41013',
  lease: { service: 'kv', holder: task(1), term: 7, electedAt: at - 5000, cause: 'lease-expired' },
  discovery: { taskArn: task(1), term: 7, port: 35375 },
  members: [1, 2, 3].map((n) => ({
    taskArn: task(n),
    taskId: task(n).split('/').pop()!,
    lastStatus: 'RUNNING',
    desiredStatus: 'RUNNING',
    role: n === 1 ? ('primary' as const) : ('replica' as const),
    ...(n === 1 ? { term: 7 } : {}),
    port: 35000 + n,
    heartbeatAgeMs: 400,
    dataPosition: at - 60_000,
    startedAt: '2026-11-27T11:50:00.000Z',
  })),
  snapshots: [
    {
      id: '20261127T115900.000Z-9f3c2a1b',
      status: 'complete',
      createdAt: '2026-11-27T11:59:00.000Z',
      size: 4096,
      term: 7,
      reason: 'schedule',
      retention: { action: 'keep', reasons: ['last snapshot (1 of 3)', 'daily snapshot (2026-11-27)', 'newest verified snapshot (protected)'] },
    },
  ],
  drills: [
    {
      drillId: 'drill-20261127T115930Z-0000abcd',
      status: 'failed',
      snapshotId: '20261127T115900.000Z-9f3c2a1b',
      createdAt: '2026-11-27T11:59:30.000Z',
      reason: 'restore failed: part part-0000.tar.zst is corrupted or truncated while reading "data/log" and more text to make it long',
      rpoSeconds: 30,
      trigger: 'manual',
    },
  ],
  schedules: [],
  activity: Array.from({ length: 12 }, (_, i) => ({ at: at - (12 - i) * 1000, kind: 'info' as const, text: `event ${i} ${'x'.repeat(250)}` })),
  reports: [],
} as unknown as LocalStatus;

describe('status view fits the terminal', () => {
  it.each([80, 100, 200])('GIVEN %i columns THEN no line is wider, cut lines end in …, and the primary and task tables are there', (width) => {
    const text = renderStatus(status, { width, height: 40, reserved: 3 });
    const lines = text.split('\n');
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(width);
    expect(text).toMatch(/primary: task 11111111, term 7/);
    expect(text).toMatch(/PRIMARY \(term 7\)/);
    expect(lines.some((l) => l.endsWith('…') || l.includes('…'))).toBe(true);
  });

  it('keeps the newest activity lines that fit in the height', () => {
    const text = renderStatus(status, { width: 100, height: 40, reserved: 3 });
    expect(text.split('\n').length).toBeLessThanOrEqual(37);
    expect(text).toMatch(/event 11/);
    expect(text).not.toMatch(/event 0 /);
  });

  it('at 80 columns the least useful columns go first', () => {
    const text = renderStatus(status, { width: 80 });
    expect(text).not.toMatch(/started/);
    expect(text).toMatch(/heartbeat/);
  });
});
