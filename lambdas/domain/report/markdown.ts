/**
 * Markdown for `$GITHUB_STEP_SUMMARY` (GitHub-flavoured: tables, <details>). One table of
 * services with their deciding drill, then a section for every service that is not
 * passing, with the failed checks' output in a collapsed block.
 */
import type { DrillReport, DrillSummary, ServiceDrillReport } from '../drill-report.js';
import {
  DRILL_VERDICT_LABEL,
  failedChecks,
  formatMaxAge,
  formatOptionalSeconds,
  formatTime,
  measuredVsTarget,
  SERVICE_VERDICT_LABEL,
  stripControlChars,
  VERDICT_ICON,
} from './format.js';

/** A table cell: one line, pipes escaped. */
function cell(text: string): string {
  return stripControlChars(text).replace(/\r?\n/g, ' ').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;').trim() || '-';
}

/** Inline code that survives backticks inside. */
function code(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** A fenced block longer than any backtick run inside, so output cannot close it. */
function block(text: string): string {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}text\n${stripControlChars(text).replace(/\n+$/, '')}\n${fence}`;
}

const deciding = (s: ServiceDrillReport): DrillSummary | undefined => s.drills.find((d) => d.role === 'deciding') ?? s.drills[0];

function serviceRow(s: ServiceDrillReport): string {
  const d = deciding(s);
  const cells = [
    s.service,
    `${VERDICT_ICON[s.verdict]} ${SERVICE_VERDICT_LABEL[s.verdict]}`,
    d ? `${d.drillId} (${formatTime(d.startedAt)})` : '-',
    d ? d.snapshotId : '-',
    d ? formatOptionalSeconds(d.restoreSeconds) : '-',
    d ? measuredVsTarget(d.rtoSeconds, s.targets.rtoSeconds) : '-',
    d ? measuredVsTarget(d.rpoSeconds, s.targets.rpoSeconds) : '-',
  ];
  return `| ${cells.map(cell).join(' | ')} |`;
}

function serviceSection(s: ServiceDrillReport): string[] {
  const out = [`### ${VERDICT_ICON[s.verdict]} ${s.service}: ${SERVICE_VERDICT_LABEL[s.verdict]}`, '', text(s.reason), ''];
  for (const d of s.drills.filter((x) => x.role !== 'history' && x.verdict !== 'pass')) {
    out.push(
      `- ${VERDICT_ICON[d.verdict]} ${code(d.drillId)} ${DRILL_VERDICT_LABEL[d.verdict]}, snapshot ${code(d.snapshotId)}, started ${formatTime(d.startedAt)}${d.reason ? `: ${text(d.reason)}` : ''}`,
    );
    for (const c of failedChecks(d)) {
      if (!c.output) continue;
      out.push(
        '',
        `  <details><summary>${c.name} output${c.command ? ` of ${escapeHtmlText(c.command)}` : ''}${c.exitCode !== undefined ? ` (exit ${c.exitCode})` : ''}</summary>`,
        '',
      );
      out.push(
        ...block(c.output)
          .split('\n')
          .map((l) => `  ${l}`),
      );
      out.push('', '  </details>');
    }
    out.push('');
  }
  return out;
}

/**
 * Prose from a record: one line, and no '<' that GitHub would take for an HTML tag —
 * except inside `code spans`, where Markdown shows characters as they are.
 */
function text(s: string): string {
  return stripControlChars(s)
    .replace(/\r?\n/g, ' ')
    .split(/(`+[^`]*?`+)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/</g, '&lt;').replace(/>/g, '&gt;')))
    .join('');
}

/** Only inside the <summary> tag, where Markdown is not parsed. */
function escapeHtmlText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function renderMarkdown(report: DrillReport): string {
  const title = { pass: 'all services proven restorable', fail: 'failing', error: 'could not evaluate' }[report.verdict];
  const s = report.summary;
  const lines = [
    `## ${VERDICT_ICON[report.verdict]} Lifeboat restore drills: ${title}`,
    '',
    `${s.services} service${s.services === 1 ? '' : 's'}: ${s.passing} passing, ${s.failing} failing, ${s.errors} could not run · max age ${formatMaxAge(report.maxAgeSeconds)} · generated ${formatTime(report.generatedAt)}`,
    '',
  ];
  if (report.services.length === 0) {
    lines.push('No protected services were found, so nothing was evaluated.', '');
    return lines.join('\n');
  }
  lines.push('| Service | Verdict | Drill | Snapshot | Restore | RTO | RPO |', '| --- | --- | --- | --- | --- | --- | --- |');
  lines.push(...report.services.map(serviceRow), '');
  // Services that are not passing, and passing ones whose newer drills could not run.
  const worthASection = (x: ServiceDrillReport) => x.verdict !== 'pass' || x.drills.some((d) => d.role === 'newer' && d.verdict === 'error');
  for (const svc of report.services.filter(worthASection)) lines.push(...serviceSection(svc));
  return lines.join('\n');
}
