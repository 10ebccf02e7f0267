/**
 * One entry point for every report format, so the CLI, the report handler and local mode
 * render the same model the same way.
 */
import type { DrillReport, ReportFormat } from '../drill-report.js';
import { renderHtml } from './html.js';
import { renderJunit } from './junit.js';
import { renderMarkdown } from './markdown.js';

export const REPORT_FORMATS: readonly ReportFormat[] = ['json', 'junit', 'markdown', 'html'];

export const REPORT_CONTENT_TYPES: Record<ReportFormat, string> = {
  json: 'application/json',
  junit: 'application/xml',
  markdown: 'text/markdown; charset=utf-8',
  html: 'text/html; charset=utf-8',
};

/** The JSON document: the model itself, whose shape is docs/drill-report.schema.json. */
export function renderJson(report: DrillReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

export function renderReport(report: DrillReport, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return renderJson(report);
    case 'junit':
      return renderJunit(report);
    case 'markdown':
      return renderMarkdown(report);
    case 'html':
      return renderHtml(report);
  }
}
