/**
 * Shared wording and formatting for the report renderers, so JUnit, Markdown and HTML say
 * the same thing in the same words. Pure; times are shown in UTC so output is the same on
 * every machine (and the golden files stay golden).
 */

import type { DrillSummary, DrillVerdict, ReportVerdict, ServiceVerdict } from '../drill-report.js';
import { formatSeconds } from '../drills.js';

export { formatSeconds };

export const SERVICE_VERDICT_LABEL: Record<ServiceVerdict, string> = {
  pass: 'pass',
  fail: 'fail',
  'over-target': 'over target',
  stale: 'stale',
  none: 'never drilled',
  error: 'could not run',
};

export const DRILL_VERDICT_LABEL: Record<DrillVerdict, string> = {
  pass: 'passed',
  fail: 'failed',
  'over-target': 'over target',
  'timed-out': 'timed out',
  error: 'could not run',
  running: 'running',
};

export const VERDICT_ICON: Record<ServiceVerdict | DrillVerdict | ReportVerdict, string> = {
  pass: '✅',
  fail: '❌',
  'over-target': '🟠',
  'timed-out': '⏱️',
  stale: '⏳',
  none: '⚪',
  error: '⚠️',
  running: '🔄',
};

/** 2026-11-27 08:17 UTC */
export function formatTime(iso: string | null): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function formatOptionalSeconds(s: number | null | undefined): string {
  return s === null || s === undefined ? '-' : formatSeconds(s);
}

/** "40 s (target 5.0 min)", "-", "40 s" */
export function measuredVsTarget(value: number | null, target: number | null): string {
  if (value === null) return '-';
  return target === null ? formatSeconds(value) : `${formatSeconds(value)} (target ${formatSeconds(target)})`;
}

/** "26h" style, for max-age. */
export function formatMaxAge(seconds: number | null): string {
  if (seconds === null) return 'unlimited';
  if (seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** The checks worth showing when a drill did not pass: failed ones, with their output. */
export function failedChecks(d: DrillSummary): DrillSummary['checks'] {
  return d.checks.filter((c) => c.status === 'failed' || c.status === 'error');
}

/** XML 1.0 cannot carry most control characters (colour codes from a verify command, say). */
export function stripControlChars(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping terminal escapes and XML-invalid characters is the point
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '');
}
