/**
 * The report model: one verdict per service, one exit code per report, and --max-age.
 */
import { describe, expect, it } from 'vitest';
import { buildDrillReport, evaluateService, parseMaxAge } from '../../lambdas/domain/drill-report.js';
import { UsageError } from '../../lambdas/domain/errors.js';
import { fixtureDrill, mixedServices, NOW, passingServices } from '../support/drill-fixtures.js';

const H = 3600;

describe('service verdicts', () => {
  const verdicts = () => Object.fromEntries(buildDrillReport(mixedServices(), { now: NOW, maxAgeSeconds: 26 * H }).services.map((s) => [s.service, s.verdict]));

  it('gives every case its verdict', () => {
    expect(verdicts()).toEqual({
      'billing-db': 'pass',
      wiki: 'fail',
      search: 'over-target',
      queue: 'stale',
      cache: 'none',
      ledger: 'fail',
    });
  });

  it('lets the newest conclusive drill decide, and marks newer and older drills', () => {
    const svc = buildDrillReport(mixedServices(), { now: NOW, maxAgeSeconds: 26 * H }).services.find((s) => s.service === 'billing-db')!;
    expect(svc.drills.map((d) => [d.verdict, d.role])).toEqual([
      ['error', 'newer'],
      ['pass', 'deciding'],
      ['pass', 'history'],
    ]);
    expect(svc.reason).toMatch(/passed within targets; 1 newer drill could not run/);
    expect(svc.decidingDrillId).toBe(svc.drills[1]!.drillId);
  });

  it('is an error when no drill could run, or when the last pass is stale and the drills since could not run', () => {
    const errorDrill = (h: number) => fixtureDrill('x', h, { status: 'error', reason: 'the drill task failed to start', withinTargets: false });
    expect(evaluateService({ service: 'x', targets: {}, drills: [errorDrill(1), errorDrill(2)] }, NOW, null)).toMatchObject({
      verdict: 'error',
      reason: expect.stringMatching(/no drill could run \(2 attempts\)/),
    });
    expect(evaluateService({ service: 'x', targets: {}, drills: [errorDrill(1), fixtureDrill('x', 40)] }, NOW, 26 * H).verdict).toBe('error');
    // Without max-age, the old pass still counts.
    expect(evaluateService({ service: 'x', targets: {}, drills: [errorDrill(1), fixtureDrill('x', 40)] }, NOW, null).verdict).toBe('pass');
  });

  it('is none while the very first drill runs, and a failure stays a failure however old', () => {
    expect(
      evaluateService({ service: 'x', targets: {}, drills: [fixtureDrill('x', 0.1, { status: 'running', finishedAt: undefined })] }, NOW, null),
    ).toMatchObject({
      verdict: 'none',
      reason: 'the first drill is still running',
    });
    expect(evaluateService({ service: 'x', targets: {}, drills: [fixtureDrill('x', 500, { status: 'failed', reason: 'bad' })] }, NOW, 26 * H).verdict).toBe(
      'fail',
    );
  });

  it('counts age from when the drill finished', () => {
    const d = fixtureDrill('x', 26); // finished 25h55m ago
    expect(evaluateService({ service: 'x', targets: {}, drills: [d] }, NOW, 26 * H).verdict).toBe('pass');
    expect(evaluateService({ service: 'x', targets: {}, drills: [d] }, NOW, 25 * H).verdict).toBe('stale');
  });
});

describe('report exit codes', () => {
  it('0 when every service passes', () => {
    const r = buildDrillReport(passingServices(), { now: NOW, maxAgeSeconds: 26 * H });
    expect(r).toMatchObject({ verdict: 'pass', exitCode: 0, summary: { services: 2, passing: 2, failing: 0, errors: 0, drills: 3 } });
  });

  it('1 when any service failed, is stale, over target or never drilled — even next to errors', () => {
    expect(buildDrillReport(mixedServices(), { now: NOW, maxAgeSeconds: 26 * H })).toMatchObject({ exitCode: 1, verdict: 'fail', summary: { failing: 5 } });
    const stale = passingServices();
    expect(buildDrillReport(stale, { now: new Date(NOW.getTime() + 48 * H * 1000), maxAgeSeconds: 26 * H }).exitCode).toBe(1);
  });

  it('3 when nothing failed but something could not be evaluated, or there is no service', () => {
    const inputs = [
      ...passingServices(),
      { service: 'new', targets: {}, drills: [fixtureDrill('new', 1, { status: 'error', reason: 'the drill task failed to start', withinTargets: false })] },
    ];
    expect(buildDrillReport(inputs, { now: NOW, maxAgeSeconds: 26 * H })).toMatchObject({ exitCode: 3, verdict: 'error' });
    expect(buildDrillReport([], { now: NOW })).toMatchObject({ exitCode: 3, verdict: 'error', summary: { services: 0 } });
  });
});

describe('parseMaxAge', () => {
  it.each([
    ['26h', 26 * H],
    ['7d', 7 * 86_400],
    ['90m', 5400],
    ['3600s', 3600],
    ['1.5h', 5400],
  ])('%s → %d seconds', (text, seconds) => expect(parseMaxAge(text)).toBe(seconds));

  it.each(['26', 'h', '-1h', 'soon', '', '0h'])('refuses %j with a usage error', (text) => expect(() => parseMaxAge(text)).toThrow(UsageError));
});
