/**
 * JUnit XML: a `<testsuite>` per service, a `<testcase>` per drill that decides the
 * service's verdict (the newest conclusive drill and any newer ones), times in seconds.
 *
 * - `<failure>`: a drill that failed a check, timed out, or missed a target, and a
 *   `freshness` testcase when the service is stale or was never drilled;
 * - `<error>`: a drill that could not run (task failed to start, no result, ...);
 * - `<skipped>`: a drill still running, or one that could not run while an earlier passing
 *   drill still stands (it does not change the verdict, and the JUnit file agrees with the
 *   exit code of `lifeboat report`).
 *
 * Older history is left out on purpose: a fixed failure last week should not keep CI red.
 */
import { create } from 'xmlbuilder2';
import type { DrillReport, DrillSummary, ServiceDrillReport } from '../drill-report.js';
import { DRILL_VERDICT_LABEL, formatMaxAge, formatSeconds, measuredVsTarget, stripControlChars } from './format.js';

type XMLBuilder = ReturnType<typeof create>;

/** JUnit's timestamp: ISO 8601 without zone or fraction (the Ant schema's xs:dateTime pattern), UTC. */
const junitTime = (iso: string) => new Date(iso).toISOString().slice(0, 19);
const secs = (n: number | null) => (n === null ? '0' : n.toFixed(3));

type Outcome = { kind: 'pass' } | { kind: 'failure' | 'error' | 'skipped'; type: string; message: string };

function outcomeOf(d: DrillSummary, service: ServiceDrillReport): Outcome {
  const message = d.reason ?? DRILL_VERDICT_LABEL[d.verdict];
  switch (d.verdict) {
    case 'pass':
      return { kind: 'pass' };
    case 'fail':
    case 'timed-out':
    case 'over-target':
      return { kind: 'failure', type: d.verdict, message };
    case 'running':
      return { kind: 'skipped', type: 'running', message: 'still running' };
    case 'error':
      return service.verdict === 'pass'
        ? { kind: 'skipped', type: 'error', message: `could not run (${message}); the earlier passing drill ${service.decidingDrillId} still stands` }
        : { kind: 'error', type: 'error', message };
  }
}

function details(d: DrillSummary, service: ServiceDrillReport): string {
  const lines = [
    `drill ${d.drillId} of ${service.service}: ${DRILL_VERDICT_LABEL[d.verdict]}`,
    `snapshot ${d.snapshotId} (created ${d.snapshotCreatedAt})`,
    `restore ${d.restoreSeconds === null ? '-' : formatSeconds(d.restoreSeconds)}, RTO ${measuredVsTarget(d.rtoSeconds, service.targets.rtoSeconds)}, RPO ${measuredVsTarget(d.rpoSeconds, service.targets.rpoSeconds)}`,
  ];
  if (d.reason) lines.push(`reason: ${d.reason}`);
  if (d.exitCode !== null || d.stopCode !== null) lines.push(`task: exit code ${d.exitCode ?? '-'}, stop code ${d.stopCode ?? '-'}`);
  for (const c of d.checks) {
    lines.push(`${c.name}: ${c.status}${c.exitCode !== undefined ? ` (exit ${c.exitCode})` : ''}${c.message ? ` - ${c.message}` : ''}`);
  }
  return lines.join('\n');
}

function addTestcase(suite: XMLBuilder, d: DrillSummary, service: ServiceDrillReport): Outcome {
  const tc = suite.ele('testcase', {
    name: `drill ${d.drillId} (snapshot ${d.snapshotId})`,
    classname: `lifeboat.drills.${service.service}`,
    time: secs(d.durationSeconds),
    timestamp: junitTime(d.startedAt),
  });
  const outcome = outcomeOf(d, service);
  if (outcome.kind === 'skipped') tc.ele('skipped', { message: stripControlChars(outcome.message) });
  else if (outcome.kind !== 'pass') {
    tc.ele(outcome.kind, { message: stripControlChars(outcome.message), type: outcome.type }).txt(stripControlChars(details(d, service)));
  }
  const outputs = d.checks.filter((c) => c.output).map((c) => `--- ${c.name}${c.command ? `: ${c.command}` : ''} ---\n${c.output}`);
  if (outputs.length > 0) tc.ele('system-out').txt(stripControlChars(outputs.join('\n')));
  return outcome;
}

export function renderJunit(report: DrillReport): string {
  const root = create({ version: '1.0', encoding: 'UTF-8' }).ele('testsuites', { name: 'lifeboat restore drills' });
  let total = { tests: 0, failures: 0, errors: 0, skipped: 0, time: 0 };
  for (const service of report.services) {
    const suite = root.ele('testsuite', { name: service.service, timestamp: junitTime(report.generatedAt), hostname: 'lifeboat' });
    const props = suite.ele('properties');
    const prop = (name: string, value: string | number | null) => props.ele('property', { name, value: value === null ? '' : String(value) });
    prop('verdict', service.verdict);
    prop('reason', stripControlChars(service.reason));
    prop('rtoTargetSeconds', service.targets.rtoSeconds);
    prop('rpoTargetSeconds', service.targets.rpoSeconds);
    prop('maxAge', formatMaxAge(report.maxAgeSeconds));
    const counts = { tests: 0, failures: 0, errors: 0, skipped: 0, time: 0 };
    for (const d of service.drills.filter((x) => x.role !== 'history')) {
      const o = addTestcase(suite, d, service);
      counts.tests++;
      counts.time += d.durationSeconds ?? 0;
      if (o.kind === 'failure') counts.failures++;
      if (o.kind === 'error') counts.errors++;
      if (o.kind === 'skipped') counts.skipped++;
    }
    if (service.verdict === 'stale' || service.verdict === 'none') {
      suite
        .ele('testcase', { name: 'freshness', classname: `lifeboat.drills.${service.service}`, time: '0' })
        .ele('failure', { message: stripControlChars(service.reason), type: service.verdict })
        .txt(`max age: ${formatMaxAge(report.maxAgeSeconds)}; last passing drill: ${service.lastPassedAt ?? 'none'}`);
      counts.tests++;
      counts.failures++;
    }
    suite.att({
      tests: String(counts.tests),
      failures: String(counts.failures),
      errors: String(counts.errors),
      skipped: String(counts.skipped),
      time: counts.time.toFixed(3),
    });
    total = {
      tests: total.tests + counts.tests,
      failures: total.failures + counts.failures,
      errors: total.errors + counts.errors,
      skipped: total.skipped + counts.skipped,
      time: total.time + counts.time,
    };
  }
  root.att({
    tests: String(total.tests),
    failures: String(total.failures),
    errors: String(total.errors),
    skipped: String(total.skipped),
    time: total.time.toFixed(3),
  });
  return `${root.end({ prettyPrint: true })}\n`;
}
