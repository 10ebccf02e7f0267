/**
 * Typed drill checks and the canary in every report format: each check's name, result,
 * duration and message; the canary and where the RPO came from. JSON still matches the schema.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { buildDrillReport } from '../../lambdas/domain/drill-report.js';
import type { DrillCheck } from '../../lambdas/domain/drills.js';
import { renderReport } from '../../lambdas/domain/report/render.js';
import { fixtureDrill, NOW } from '../support/drill-fixtures.js';

const checks: DrillCheck[] = [
  { name: 'restore', type: 'restore', status: 'passed', durationSeconds: 2.5, message: '976 files, every checksum verified' },
  { name: 'open', type: 'open', status: 'passed', durationSeconds: 1.25, message: 'postgres opened the restored data directory: recovery completed' },
  { name: 'canary', type: 'canary', status: 'passed', durationSeconds: 0.1, message: 'restored database holds canary #12' },
  { name: 'integrity', type: 'integrity', status: 'passed', durationSeconds: 3.5, message: 'pg_amcheck --all --heapallindexed: no corruption found' },
  {
    name: 'orders exist',
    type: 'sql',
    status: 'failed',
    durationSeconds: 0.2,
    command: 'select count(*) from orders',
    message: 'value 0 (expected at least 1)',
  },
];
const canary = {
  expected: { id: 12, at: '2026-11-27T09:58:00.000Z', rows: 12 },
  found: { id: 12, at: '2026-11-27T09:58:00.000Z', rows: 12 },
  matches: true,
  ageSeconds: 120,
};

function report() {
  const passed = fixtureDrill('orders', 2, { rpoSource: 'canary', rpoSeconds: 120 }, { checks: checks.slice(0, 4), canary });
  const failed = fixtureDrill(
    'orders',
    1,
    { status: 'failed', reason: 'check orders exist failed: value 0 (expected at least 1)', withinTargets: false },
    { outcome: 'failed', checks, canary },
  );
  return buildDrillReport([{ service: 'orders', targets: { rpoSeconds: 900, rtoSeconds: 600 }, drills: [failed, passed] }], { now: NOW, maxAgeSeconds: null });
}

describe('typed checks in the reports', () => {
  it('JSON carries every check with its type, and the canary, and matches the schema', () => {
    const schema = JSON.parse(readFileSync(fileURLToPath(new URL('../../docs/drill-report.schema.json', import.meta.url)), 'utf8'));
    const validate = (addFormatsModule as unknown as (ajv: Ajv) => Ajv)(new Ajv({ allErrors: true, strict: true })).compile(schema);
    const doc = JSON.parse(renderReport(report(), 'json'));
    expect(validate(doc), JSON.stringify(validate.errors, null, 2)).toBe(true);
    const drills = doc.services[0].drills;
    expect(drills[0].checks.map((c: DrillCheck) => `${c.name}/${c.type}/${c.status}`)).toEqual([
      'restore/restore/passed',
      'open/open/passed',
      'canary/canary/passed',
      'integrity/integrity/passed',
      'orders exist/sql/failed',
    ]);
    expect(drills[1].canary.matches).toBe(true);
    expect(drills[1].rpoSource).toBe('canary');
  });

  it('Markdown has a checks table with result, duration and message of each, and the canary', () => {
    const md = renderReport(report(), 'markdown');
    expect(md).toContain('| Check | Type | Result | Time | Message |');
    expect(md).toContain('| orders exist | sql | ❌ failed | 0.20 s | value 0 (expected at least 1) |');
    expect(md).toContain('| integrity | integrity | ✅ passed | 3.50 s | pg_amcheck --all --heapallindexed: no corruption found |');
    expect(md).toContain('Canary #12');
  });

  it('JUnit lists every check with its duration, passed ones too', () => {
    const xml = renderReport(report(), 'junit');
    expect(xml).toContain('orders exist [sql]: failed in 0.20 s - value 0 (expected at least 1)');
    expect(xml).toContain('integrity [integrity]: passed in 3.50 s - pg_amcheck --all --heapallindexed: no corruption found');
    expect(xml).toContain('canary: recorded #12');
  });

  it('HTML has the checks table and marks a canary RPO', () => {
    const html = renderReport(report(), 'html');
    expect(html).toContain('<th>Check</th><th>Type</th><th>Result</th><th>Time</th><th>Message</th>');
    expect(html).toContain('<td>orders exist</td><td>sql</td><td>❌ failed</td><td class="num">0.20 s</td><td>value 0 (expected at least 1)</td>');
    expect(html).toContain('(canary)');
  });
});
