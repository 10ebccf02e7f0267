/**
 * The four report formats from one model: JSON against its schema, JUnit parsed back, the
 * HTML page self-contained, and Markdown against golden files
 * (UPDATE_GOLDEN=1 npx vitest run test/unit/report-render.test.ts rewrites them; read the
 * diff before committing).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { buildDrillReport, type DrillReport } from '../../lambdas/domain/drill-report.js';
import { renderHtml } from '../../lambdas/domain/report/html.js';
import { renderJunit } from '../../lambdas/domain/report/junit.js';
import { renderMarkdown } from '../../lambdas/domain/report/markdown.js';
import { renderReport } from '../../lambdas/domain/report/render.js';
import { fixtureDrill, mixedServices, NOW, passingServices } from '../support/drill-fixtures.js';

const H = 3600;
const mixed = (): DrillReport => buildDrillReport(mixedServices(), { now: NOW, maxAgeSeconds: 26 * H });
const passing = (): DrillReport => buildDrillReport(passingServices(), { now: NOW, maxAgeSeconds: 26 * H });
const empty = (): DrillReport => buildDrillReport([], { now: NOW });

describe('JSON', () => {
  const schema = JSON.parse(readFileSync(fileURLToPath(new URL('../../docs/drill-report.schema.json', import.meta.url)), 'utf8'));
  const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
  const validate = addFormats(new Ajv({ allErrors: true, strict: true })).compile(schema);

  it.each([
    ['mixed', mixed],
    ['passing', passing],
    ['empty', empty],
  ])('the %s report matches the versioned schema and round-trips', (_name, make) => {
    const report = make();
    const doc = JSON.parse(renderReport(report, 'json'));
    expect(validate(doc), JSON.stringify(validate.errors, null, 2)).toBe(true);
    expect(doc).toEqual(JSON.parse(JSON.stringify(report)));
    expect(doc.schema).toBe('lifeboat.drill-report/v1');
  });

  it('the schema rejects what it should (so the check above means something)', () => {
    const doc = JSON.parse(renderReport(mixed(), 'json'));
    doc.services[0].verdict = 'great';
    expect(validate(doc)).toBe(false);
    const doc2 = JSON.parse(renderReport(mixed(), 'json'));
    delete doc2.services[0].drills[0].rpoSeconds;
    expect(validate(doc2)).toBe(false);
  });
});

describe('JUnit XML', () => {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testsuite', 'testcase', 'property'].includes(name) });
  type Case = {
    name: string;
    classname: string;
    time: string;
    failure?: { message: string; type: string; '#text': string };
    error?: { message: string };
    skipped?: { message: string };
    'system-out'?: string;
  };
  type Suite = {
    name: string;
    tests: string;
    failures: string;
    errors: string;
    skipped: string;
    time: string;
    timestamp: string;
    testcase?: Case[];
    properties: { property: { name: string; value: string }[] };
  };
  const parse = (xml: string) => parser.parse(xml).testsuites as { tests: string; failures: string; errors: string; skipped: string; testsuite: Suite[] };

  it('has a testsuite per service and a testcase per deciding or newer drill, times in seconds', () => {
    const xml = renderJunit(mixed());
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    const root = parse(xml);
    const suites = Object.fromEntries(root.testsuite.map((s) => [s.name, s]));
    expect(Object.keys(suites)).toEqual(['billing-db', 'cache', 'ledger', 'queue', 'search', 'wiki']);

    // billing-db: the passing deciding drill, and the newer one that could not run is skipped (the pass stands).
    const billing = suites['billing-db']!;
    expect(billing).toMatchObject({ tests: '2', failures: '0', errors: '0', skipped: '1' });
    expect(billing.testcase!.map((c) => c.time)).toEqual(['300.000', '300.000']);
    expect(billing.testcase![0]!.skipped!.message).toMatch(
      /could not run \(the drill task failed to start .*\); the earlier passing drill drill-\S+ still stands/,
    );
    expect(billing.testcase![1]!.failure).toBeUndefined();
    expect(billing.testcase![1]!.classname).toBe('lifeboat.drills.billing-db');
    expect(billing.properties.property).toContainEqual({ name: 'verdict', value: 'pass' });

    // wiki: <failure> with the reason, and the verify output in system-out without colour codes.
    const wiki = suites.wiki!;
    expect(wiki).toMatchObject({ tests: '1', failures: '1', errors: '0' });
    const failure = wiki.testcase![0]!.failure!;
    expect(failure.type).toBe('fail');
    expect(failure.message).toBe('verify command `wiki-check --all | grep -q ok` exited with code 2: table <pages> is missing');
    expect(failure['#text']).toMatch(/verify: failed \(exit 2\)/);
    expect(wiki.testcase![0]!['system-out']).toContain('ERROR table <pages> is missing | rows=0');
    expect(wiki.testcase![0]!['system-out']).not.toContain('\x1b');

    // Over target and timed out are failures; stale and never drilled get a failing freshness testcase.
    expect(suites.search!.testcase![0]!.failure!.type).toBe('over-target');
    expect(suites.ledger!.testcase![0]!.failure!.type).toBe('timed-out');
    expect(suites.queue!).toMatchObject({ tests: '2', failures: '1' });
    expect(suites.queue!.testcase!.map((c) => c.name)).toEqual([expect.stringMatching(/^drill /), 'freshness']);
    expect(suites.cache!.testcase!.map((c) => [c.name, c.failure?.type])).toEqual([['freshness', 'none']]);

    // Totals add up.
    expect(root).toMatchObject({ tests: '8', failures: '5', errors: '0', skipped: '1' });
    for (const s of root.testsuite)
      expect(Number(s.time)).toBeCloseTo(
        (s.testcase ?? []).reduce((n, c) => n + Number(c.time), 0),
        3,
      );
    expect(billing.timestamp).toBe('2026-11-27T12:00:00');
  });

  it('uses <error> for a drill that could not run when no earlier pass stands', () => {
    const report = buildDrillReport(
      [
        {
          service: 'new',
          targets: {},
          drills: [fixtureDrill('new', 1, { status: 'error', reason: 'the drill task failed to start', withinTargets: false, agent: undefined })],
        },
      ],
      { now: NOW },
    );
    const suite = parse(renderJunit(report)).testsuite[0]!;
    expect(suite).toMatchObject({ tests: '1', failures: '0', errors: '1' });
    expect(suite.testcase![0]!.error!.message).toBe('the drill task failed to start');
  });

  it('is an empty, valid document with no services', () => {
    expect(parse(renderJunit(empty()))).toMatchObject({ tests: '0', failures: '0', errors: '0' });
  });
});

describe('HTML', () => {
  it('is one self-contained page: no URL of any kind, no script, no external resource', () => {
    for (const report of [mixed(), passing(), empty()]) {
      const html = renderHtml(report);
      expect(html).not.toMatch(/https?:/i);
      expect(html).not.toContain('//');
      expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(/i);
      expect(html).not.toMatch(/\ssrc=/i);
      for (const [, href] of html.matchAll(/href="([^"]*)"/g)) expect(href!.startsWith('#')).toBe(true);
    }
  });

  it('has the services table and RTO/RPO trend charts as inline SVG, with targets', () => {
    const html = renderHtml(mixed());
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<table>');
    // Two charts per service.
    expect(html.match(/<svg class="chart"/g)).toHaveLength(2 * 6);
    expect(html).toContain('billing-db: RTO (task start to verified)');
    // billing-db has two passed drills with an RTO: a line through them and a dot each, and its target.
    const billing = html.slice(html.indexOf('id="svc-billing-db"'), html.indexOf('</section>', html.indexOf('id="svc-billing-db"')));
    const rtoChart = billing.slice(billing.indexOf('<svg class="chart"'), billing.indexOf('</svg>', billing.indexOf('<svg class="chart"')));
    expect(rtoChart).toContain('<polyline class="series"');
    expect(rtoChart.match(/<circle class="dot pass"/g)).toHaveLength(2);
    expect(rtoChart).toContain('target 10.0 min');
    expect(html).toContain('no measurements yet');
  });

  it('escapes everything that comes from a record', () => {
    const inputs = mixedServices();
    inputs[1]!.drills[1]!.reason = 'bad <script>alert(1)</script> & "quotes"';
    const html = renderHtml(buildDrillReport(inputs, { now: NOW, maxAgeSeconds: 26 * H }));
    expect(html).not.toContain('<script>');
    expect(html).toContain('bad &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;');
    expect(html).toContain('table &lt;pages&gt; is missing');
  });
});

describe('HTML: fixes of the drill report page', () => {
  it('says "1 service", not "1 services"', () => {
    const one = buildDrillReport(passingServices().slice(0, 1), { now: NOW, maxAgeSeconds: 26 * H });
    expect(renderHtml(one)).toMatch(/>1 service: /);
    expect(renderHtml(mixed())).toMatch(/>6 services: /);
  });

  it('draws verdicts as inline SVG, with no emoji that a browser without an emoji font shows as a box', () => {
    const html = renderHtml(mixed());
    expect(html).not.toMatch(/\p{Extended_Pictographic}/u);
    expect(html).toMatch(/<h2><svg class="icon v-fail"[^>]*aria-label="fail"/);
  });

  it('keeps date columns on one line', () => {
    const html = renderHtml(mixed());
    expect(html).toMatch(/td\.date, th\.date \{ white-space: nowrap;/);
    expect(html).toMatch(/<td class="date">2026-\d\d-\d\d \d\d:\d\d UTC<\/td>/);
    expect(html).not.toMatch(/<td>2026-\d\d-\d\d \d\d:\d\d UTC<\/td>/);
  });

  it('shows a failed drill in the RTO chart, as a cross on the time axis', () => {
    const html = renderHtml(mixed());
    const wiki = html.slice(html.indexOf('id="svc-wiki"'), html.indexOf('</section>', html.indexOf('id="svc-wiki"')));
    const rtoChart = wiki.slice(wiki.indexOf('<svg class="chart"'), wiki.indexOf('</svg>', wiki.indexOf('<svg class="chart"')));
    expect(rtoChart).toMatch(/<path class="miss fail"[^>]*><title>drill-[^:]+: no RTO \(failed\)<\/title>/);
    expect(rtoChart.match(/<circle class="dot pass"/g)).toHaveLength(1);
  });

  it('gives drills seconds apart their own places on the axis, labelled to the second', () => {
    const base = Date.parse('2026-11-27T08:00:00Z');
    const drills = [0, 5, 12].map((s, i) =>
      fixtureDrill('quick', 1, {
        createdAt: new Date(base + s * 1000).toISOString(),
        drillId: `drill-20261127T0800${String(s).padStart(2, '0')}Z-0000000${i}`,
        rtoSeconds: 30 + i,
      }),
    );
    const report = buildDrillReport([{ service: 'quick', targets: { rtoSeconds: 600, rpoSeconds: 14_400 }, drills }], { now: new Date(base + 60_000) });
    const html = renderHtml(report);
    const chart = html.slice(html.indexOf('<svg class="chart"'), html.indexOf('</svg>', html.indexOf('<svg class="chart"')));
    const xs = [...chart.matchAll(/<circle class="dot pass" cx="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(xs).toHaveLength(3);
    expect(new Set(xs).size).toBe(3);
    expect(chart).toContain('>08:00:00</text>');
    expect(chart).toContain('>08:00:12</text>');
    // Even at the very same instant, two drills are two points.
    const same = buildDrillReport([{ service: 'quick', targets: {}, drills: drills.map((d) => ({ ...d, createdAt: new Date(base).toISOString() })) }], {
      now: new Date(base + 60_000),
    });
    const sameChart = renderHtml(same);
    expect(new Set([...sameChart.matchAll(/<circle class="dot pass" cx="([\d.]+)"/g)].map((m) => m[1])).size).toBe(3);
  });
});

describe('Markdown (golden files)', () => {
  const golden = (name: string) => fileURLToPath(new URL(`../golden/drill-report/${name}.md`, import.meta.url));
  it.each([
    ['mixed', mixed],
    ['passing', passing],
    ['empty', empty],
  ])('%s', (name, make) => {
    const md = renderMarkdown(make());
    if (process.env.UPDATE_GOLDEN) writeFileSync(golden(name), md);
    expect(md).toBe(readFileSync(golden(name), 'utf8'));
  });

  it('keeps table cells on one line with pipes escaped, and fences longer than any backtick run', () => {
    const md = renderMarkdown(mixed());
    const rows = md.split('\n').filter((l) => l.startsWith('| '));
    for (const row of rows) expect(row.replace(/\\\|/g, '').split('|').length).toBe(10);
    // The wiki verify output contains ``` itself, so its block is fenced with four.
    expect(md).toContain('  ````text\n  checking pages\n  ```\n  ERROR table <pages> is missing | rows=0\n  ````');
  });
});
