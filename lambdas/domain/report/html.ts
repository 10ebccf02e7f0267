/**
 * One self-contained HTML page: inline CSS, inline SVG charts, no script, no font, no
 * link, no URL of any kind — it opens the same from S3, a CI artifact or a laptop offline.
 * Every piece of text from a record goes through escape-html.
 */
import escapeHtml from 'escape-html';
import type { DrillReport, DrillSummary, ServiceDrillReport } from '../drill-report.js';
import {
  CHECK_STATUS_ICON,
  DRILL_VERDICT_LABEL,
  failedChecks,
  formatDataRead,
  formatMaxAge,
  formatOptionalSeconds,
  formatTime,
  hasTypedChecks,
  measuredVsTarget,
  SERVICE_VERDICT_LABEL,
} from './format.js';
import { type ChartPoint, lineChart, verdictIcon } from './svg-chart.js';

const e = (text: string | number | null | undefined) => escapeHtml(text === null || text === undefined ? '-' : String(text));

const STYLE = `
:root { --pass: #1a7f37; --fail: #cf222e; --warn: #bc4c00; --error: #8250df; --muted: #57606a; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; margin: 0 auto; padding: 24px; max-width: 1200px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.meta, .reason { color: var(--muted); margin: 4px 0; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-weight: 600; font-size: 12px; }
.v-pass { background: var(--pass); } .v-fail, .v-timed-out { background: var(--fail); }
.v-over-target, .v-stale, .v-none { background: var(--warn); } .v-error { background: var(--error); } .v-running { background: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.date, th.date { white-space: nowrap; font-variant-numeric: tabular-nums; }
.icon { vertical-align: -3px; margin-right: 6px; background: none !important; }
.icon.v-pass { color: var(--pass); } .icon.v-fail, .icon.v-timed-out { color: var(--fail); } .icon.v-error { color: var(--error); }
.icon.v-over-target, .icon.v-stale, .icon.v-none { color: var(--warn); } .icon.v-running { color: var(--muted); }
.miss { stroke: var(--fail); stroke-width: 2; } .miss.error { stroke: var(--error); } .miss.timed-out { stroke: var(--fail); }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; max-height: 320px; font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
.chart { border: 1px solid var(--line); border-radius: 6px; background: #fff; }
.chart-title { font-size: 12px; font-weight: 600; fill: #1f2328; }
.chart-empty, .tick { font-size: 10px; fill: var(--muted); }
.axis { stroke: var(--muted); stroke-width: 1; } .grid { stroke: var(--line); stroke-width: 1; }
.series { fill: none; stroke: #0969da; stroke-width: 1.5; }
.target { stroke: var(--fail); stroke-width: 1; stroke-dasharray: 4 3; } .target-label { font-size: 10px; fill: var(--fail); }
.dot { stroke: #fff; stroke-width: 1; } .dot.pass { fill: var(--pass); } .dot.fail, .dot.timed-out { fill: var(--fail); }
.dot.over-target { fill: var(--warn); } .dot.error { fill: var(--error); } .dot.running { fill: var(--muted); }
`;

const badge = (verdict: string, label: string) => `<span class="badge v-${e(verdict)}">${e(label)}</span>`;

function servicesTable(report: DrillReport): string {
  const rows = report.services.map((s) => {
    const d = s.drills.find((x) => x.role === 'deciding') ?? s.drills[0];
    return `<tr><td><a href="#svc-${e(s.service)}">${e(s.service)}</a></td><td>${badge(s.verdict, SERVICE_VERDICT_LABEL[s.verdict])}</td><td class="date">${e(d ? formatTime(d.startedAt) : null)}</td><td><code>${e(d?.snapshotId)}</code></td><td class="num">${e(d ? formatOptionalSeconds(d.restoreSeconds) : null)}</td><td class="num">${e(d ? formatDataRead(d.packsRead, d.bytesRead) : null)}</td><td class="num">${e(d ? measuredVsTarget(d.rtoSeconds, s.targets.rtoSeconds) : null)}</td><td class="num">${e(d ? measuredVsTarget(d.rpoSeconds, s.targets.rpoSeconds) : null)}</td><td>${e(s.reason)}</td></tr>`;
  });
  return `<table><thead><tr><th>Service</th><th>Verdict</th><th class="date">Last drill</th><th>Snapshot</th><th>Restore</th><th>Read</th><th>RTO</th><th>RPO</th><th>Why</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/**
 * One point per finished drill. A drill without a measurement (a failed drill never became
 * ready, so it has no RTO) is still a point: a cross on the time axis, so a failure is
 * never missing from the trend.
 */
export function points(drills: readonly DrillSummary[], pick: (d: DrillSummary) => number | null, what: string): ChartPoint[] {
  const out: ChartPoint[] = [];
  for (const d of drills) {
    if (d.verdict === 'running') continue;
    const v = pick(d);
    const label =
      v === null
        ? `${d.drillId}: no ${what} (${DRILL_VERDICT_LABEL[d.verdict]})`
        : `${d.drillId}: ${what} ${formatOptionalSeconds(v)} (${DRILL_VERDICT_LABEL[d.verdict]})`;
    out.push({ t: Date.parse(d.startedAt), v, cls: d.verdict, label });
  }
  return out;
}

function drillRows(s: ServiceDrillReport): string {
  return s.drills
    .map((d) => {
      const outputs = failedChecks(d)
        .filter((c) => c.output)
        .map(
          (c) =>
            `<details><summary>${e(c.name)} output${c.command ? ` of <code>${e(c.command)}</code>` : ''}${c.exitCode !== undefined ? ` (exit ${e(c.exitCode)})` : ''}</summary><pre>${e(c.output)}</pre></details>`,
        )
        .join('');
      return `<tr><td><code>${e(d.drillId)}</code></td><td>${badge(d.verdict, DRILL_VERDICT_LABEL[d.verdict])}</td><td class="date">${e(formatTime(d.startedAt))}</td><td><code>${e(d.snapshotId)}</code></td><td class="num">${e(formatOptionalSeconds(d.restoreSeconds))}</td><td class="num">${e(formatDataRead(d.packsRead, d.bytesRead))}</td><td class="num">${e(formatOptionalSeconds(d.rtoSeconds))}</td><td class="num">${e(formatOptionalSeconds(d.rpoSeconds))}${d.rpoSource === 'canary' ? ' <small>(canary)</small>' : ''}</td><td>${e(d.reason)}${outputs}${checksTable(d)}</td></tr>`;
    })
    .join('');
}

/** Every check of a drill that ran typed checks (database recipes), with its canary. */
function checksTable(d: DrillSummary): string {
  if (!hasTypedChecks(d)) return '';
  const canary = d.canary
    ? `<p class="meta">${e(d.canary.matches ? `canary #${d.canary.expected.id} (${formatTime(d.canary.expected.at)}) found: data as of ${formatOptionalSeconds(d.canary.ageSeconds)} before the drill` : `canary mismatch: recorded #${d.canary.expected.id}, found ${d.canary.found ? `#${d.canary.found.id}` : 'none'}`)}</p>`
    : '';
  const rows = d.checks
    .map(
      (c) =>
        `<tr><td>${e(c.name)}</td><td>${e(c.type ?? '-')}</td><td>${e(`${CHECK_STATUS_ICON[c.status] ?? ''} ${c.status}`)}</td><td class="num">${e(formatOptionalSeconds(c.durationSeconds))}</td><td>${e(c.message ?? '')}</td></tr>`,
    )
    .join('');
  return `<details class="checks"><summary>${e(`${d.checks.length} checks`)}</summary>${canary}<table><thead><tr><th>Check</th><th>Type</th><th>Result</th><th>Time</th><th>Message</th></tr></thead><tbody>${rows}</tbody></table></details>`;
}

function serviceSection(s: ServiceDrillReport): string {
  const charts = [
    lineChart({ title: `${s.service}: RTO (task start to verified)`, points: points(s.drills, (d) => d.rtoSeconds, 'RTO'), target: s.targets.rtoSeconds }),
    lineChart({
      title: `${s.service}: RPO (newest snapshot age at drill start)`,
      points: points(s.drills, (d) => d.rpoSeconds, 'RPO'),
      target: s.targets.rpoSeconds,
    }),
  ];
  const table = s.drills.length
    ? `<table><thead><tr><th>Drill</th><th>Result</th><th class="date">Started</th><th>Snapshot</th><th>Restore</th><th>Read</th><th>RTO</th><th>RPO</th><th>Reason</th></tr></thead><tbody>${drillRows(s)}</tbody></table>`
    : '<p class="reason">No drills yet.</p>';
  return `<section id="svc-${e(s.service)}"><h2>${verdictIcon(s.verdict)}${e(s.service)} ${badge(s.verdict, SERVICE_VERDICT_LABEL[s.verdict])}</h2><p class="reason">${e(s.reason)}</p><p class="meta">Targets: RTO ${e(formatOptionalSeconds(s.targets.rtoSeconds))}, RPO ${e(formatOptionalSeconds(s.targets.rpoSeconds))} · last pass ${e(formatTime(s.lastPassedAt))}</p><div class="charts">${charts.join('')}</div>${table}</section>`;
}

export function renderHtml(report: DrillReport): string {
  const s = report.summary;
  const title = `Lifeboat restore drills: ${report.verdict}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>Lifeboat restore drills ${badge(report.verdict, report.verdict)}</h1>
<p class="meta">${e(`${s.services} service${s.services === 1 ? '' : 's'}: ${s.passing} passing, ${s.failing} failing, ${s.errors} could not run · max age ${formatMaxAge(report.maxAgeSeconds)} · generated ${formatTime(report.generatedAt)} · ${report.schema}`)}</p></header>
<main>
${report.services.length ? servicesTable(report) : '<p class="reason">No protected services were found, so nothing was evaluated.</p>'}
${report.services.map(serviceSection).join('\n')}
</main>
</body>
</html>
`;
}
