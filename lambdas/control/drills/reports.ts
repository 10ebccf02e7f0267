/**
 * Drill reports from the table: load the records of one service or all, build the model
 * (domain/drill-report.ts), and render it — to the CLI's stdout or a file, or to the
 * object store in every format after each drill (the report handler).
 */
import { Readable } from 'node:stream';
import type { DrillStore } from '../../adapters/drill-store.js';
import type { ServiceRegistry } from '../../adapters/service-registry.js';
import type { ObjectStore } from '../../adapters/stores/store.js';
import { reportObjectKey } from '../../contract/keys.js';
import { buildDrillReport, type DrillReport, type ServiceDrillInput } from '../../domain/drill-report.js';
import type { DrillRecord } from '../../domain/drills.js';
import { UsageError } from '../../domain/errors.js';
import { assertServiceName } from '../../domain/ids.js';
import { REPORT_CONTENT_TYPES, REPORT_FORMATS, renderReport } from '../../domain/report/render.js';

export interface ReportDeps {
  drills: DrillStore;
  registry: ServiceRegistry;
  clock?: () => Date;
}

/** Drills per service a report reads: enough for trends, bounded for speed. */
export const DEFAULT_REPORT_HISTORY = 30;

export interface LoadReportOptions {
  /** One service; all protected services when omitted. */
  service?: string;
  /** Passing drills older than this do not count (seconds); any age when omitted. */
  maxAgeSeconds?: number | null;
  /** Newest drills read per service. */
  history?: number;
}

/** Reads the registry and drill records and builds the report model. */
export async function loadDrillReport(deps: ReportDeps, options: LoadReportOptions = {}): Promise<DrillReport> {
  const now = (deps.clock ?? (() => new Date()))();
  return buildDrillReport(await loadInputs(deps, options), { now, maxAgeSeconds: options.maxAgeSeconds ?? null });
}

async function loadInputs(deps: ReportDeps, options: LoadReportOptions): Promise<ServiceDrillInput[]> {
  let services: string[];
  if (options.service !== undefined) {
    const service = assertServiceName(options.service);
    if (!(await deps.registry.get(service))) {
      throw new UsageError(`service ${service} is not protected by Lifeboat`, {
        hint: 'run `lifeboat report` without --service to see every protected service',
      });
    }
    services = [service];
  } else {
    services = await deps.registry.list();
  }
  return Promise.all(
    services.map(async (service) => {
      const [policy, drills] = await Promise.all([
        deps.registry.get(service),
        collect(deps.drills.list(service, { limit: options.history ?? DEFAULT_REPORT_HISTORY })),
      ]);
      return { service, targets: policy?.targets ?? {}, drills };
    }),
  );
}

async function collect(it: AsyncIterable<DrillRecord>): Promise<DrillRecord[]> {
  const out: DrillRecord[] = [];
  for await (const d of it) out.push(d);
  return out;
}

export interface PublishedReports {
  /** Store keys written, every format of each scope. */
  keys: string[];
  /** The all-services report that was written. */
  report: DrillReport;
}

/**
 * Writes the report of every service (and, with `service`, that service's own report) to
 * the store in all four formats, under the keys of contract/keys.ts. Each object replaces
 * the previous one atomically, so readers see an old report or a new one, never half.
 */
export async function publishDrillReports(
  deps: ReportDeps & { objects: ObjectStore },
  options: { service?: string; maxAgeSeconds?: number | null } = {},
): Promise<PublishedReports> {
  const now = (deps.clock ?? (() => new Date()))();
  const maxAgeSeconds = options.maxAgeSeconds ?? null;
  const inputs = await loadInputs(deps, {});
  const all = buildDrillReport(inputs, { now, maxAgeSeconds });
  const scopes: { report: DrillReport; service?: string }[] = [{ report: all }];
  // The one-service report is built from the same records at the same instant, so the two agree.
  const own = inputs.find((i) => i.service === options.service);
  if (own) scopes.push({ report: buildDrillReport([own], { now, maxAgeSeconds }), service: own.service });
  const keys: string[] = [];
  for (const scope of scopes) {
    await Promise.all(
      REPORT_FORMATS.map(async (format) => {
        const key = reportObjectKey(format, scope.service);
        await deps.objects.put(key, Readable.from([Buffer.from(renderReport(scope.report, format), 'utf8')]), { contentType: REPORT_CONTENT_TYPES[format] });
        keys.push(key);
      }),
    );
  }
  return { keys: keys.sort(), report: all };
}
