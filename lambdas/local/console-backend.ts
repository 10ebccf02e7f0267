/**
 * The console over local mode: the same table reads as against AWS, plus local mode's own
 * actions (kill the primary, damage a snapshot), its scheduler's real next firings (they
 * run --speed times faster) and its activity log.
 */
import { type ActionName, type ActionResult, type ConsoleBackend, TableConsoleBackend } from '../console/backend.js';
import type { ScheduleView, ServiceInputs } from '../console/model.js';
import { UsageError } from '../domain/errors.js';
import type { LocalMode } from './local-mode.js';

export class LocalConsoleBackend implements ConsoleBackend {
  readonly mode = 'local' as const;
  readonly actions: readonly ActionName[] = ['snapshot', 'drill', 'kill-primary', 'damage-snapshot'];
  readonly label: string;
  private readonly table: TableConsoleBackend;

  constructor(private readonly local: LocalMode) {
    this.label = `table ${local.table}, store ${local.storeUrl}${local.speed !== 1 ? `, schedules ×${local.speed}` : ''}`;
    // Local mode's own runtime: the same adapters its handlers and commands use.
    this.table = new TableConsoleBackend({ runtime: local.runtime, label: this.label, retention: true, services: [local.service] });
  }

  services(): Promise<string[]> {
    return this.table.services();
  }

  async read(service: string): Promise<ServiceInputs> {
    const inputs = await this.table.read(service);
    const byName = new Map(this.local.schedules().map((s) => [s.name, s]));
    // The service's own schedules, and the control plane's that act on it.
    const schedules: ScheduleView[] = ['snapshot', 'retention', 'drill', 'watchdog', 'drill-watchdog', 'reconciler']
      .map((name) => byName.get(name))
      .filter((s) => s !== undefined)
      .map((s) => ({
        name: s.name,
        expression: s.expression,
        timezone: s.timezone,
        next: s.nextAt !== undefined ? [new Date(s.nextAt).toISOString()] : [],
        ...(s.lastAt !== undefined ? { lastAt: new Date(s.lastAt).toISOString() } : {}),
      }));
    const ports = new Map(this.local.tasks().map((t) => [t.taskArn, t.port]));
    return { ...inputs, schedules, ports };
  }

  async act(action: ActionName, service: string): Promise<ActionResult> {
    if (service !== this.local.service) throw new UsageError(`local mode runs ${this.local.service}, not ${service}`, { hint: `act on ${this.local.service}` });
    switch (action) {
      case 'kill-primary': {
        const r = await this.local.killPrimary();
        return { message: `killed the primary, task ${r.taskArn.split('/').pop()!.slice(0, 8)} (term ${r.term})`, detail: r };
      }
      case 'damage-snapshot': {
        const r = await this.local.corruptSnapshot();
        return { message: `damaged snapshot ${r.snapshotId} (one byte of ${r.key.split('/').pop()})`, detail: r };
      }
      case 'snapshot': {
        const r = await this.local.requestSnapshot();
        return { message: `snapshot job ${r.job.jobId} ${r.outcome}${r.job.reason ? `: ${r.job.reason}` : ''}`, detail: { outcome: r.outcome, ...r.job } };
      }
      case 'drill': {
        const r = await this.local.drill();
        return { message: `drill ${r.drill.drillId} ${r.outcome} on snapshot ${r.drill.snapshotId}`, detail: r.drill };
      }
    }
  }

  activity(): { at: number; kind: string; text: string }[] {
    return this.local.recentActivity();
  }

  settled(): Promise<void> {
    return this.table.settled();
  }
}
