/**
 * The model of `lifeboat check` (control/check.ts does the reading): what a check found,
 * per snapshot, the subset of packs a `--read-data-subset` run reads, and the verdict.
 * Pure: no I/O.
 *
 *   verdict    when                                                          exit
 *   ok         every complete and expiring snapshot has all it needs            0
 *   damaged    at least one snapshot misses something or reads back wrong      1
 *
 * An `expiring` snapshot whose own objects are gone is being deleted by retention: it is
 * reported as `deleting`, not damaged (v2 packs are shared, so a missing pack still is).
 */
import { createHash } from 'node:crypto';
import { UsageError } from './errors.js';

export const CHECK_REPORT_SCHEMA = 'lifeboat.check/v1';

/** How much data is read back: none (existence and sizes only), every pack, or a subset. */
export type ReadDataMode = { mode: 'none' } | { mode: 'all' } | { mode: 'subset'; percent: number; seed: string; selection: 'seeded' | 'random' };

export type SnapshotCheckResult = 'ok' | 'damaged' | 'deleting';

export interface SnapshotCheck {
  service: string;
  id: string;
  status: 'complete' | 'expiring';
  format: 'v1' | 'v2';
  result: SnapshotCheckResult;
  /** What is wrong, one line each (at most MAX_PROBLEMS_LISTED; `problemCount` has them all). */
  problems: string[];
  problemCount: number;
  /** Data objects the snapshot needs: packs (v2) or parts (v1). */
  objects: number;
}

export interface PackProblem {
  service: string;
  /** The pack id (v2) or the part's key (v1). */
  object: string;
  problems: string[];
}

export interface CheckSummary {
  services: number;
  snapshotsChecked: number;
  damagedSnapshots: number;
  /** Snapshots of the check whose objects retention is deleting (expiring, manifest gone). */
  deletingSnapshots: number;
  /** Distinct packs (v2) and parts (v1) whose existence and size were checked. */
  packsChecked: number;
  partsChecked: number;
  /** Read back whole and verified (with --read-data or a subset). */
  packsRead: number;
  partsRead: number;
  /** Every byte fetched from the store: manifests, index files, packs and parts. */
  bytesRead: number;
  durationMs: number;
}

export interface CheckReport {
  schema: typeof CHECK_REPORT_SCHEMA;
  verdict: 'ok' | 'damaged';
  exitCode: 0 | 1;
  readData: ReadDataMode;
  services: string[];
  summary: CheckSummary;
  /** Only the damaged snapshots, oldest first per service. */
  damaged: SnapshotCheck[];
  /** Packs and parts found damaged (one entry per object, whichever snapshots use it). */
  damagedObjects: PackProblem[];
  /** Every snapshot checked. */
  snapshots: SnapshotCheck[];
}

/** Per snapshot, the report lists this many problems; the count says how many there were. */
export const MAX_PROBLEMS_LISTED = 50;

/** `10%`, `10`, `2.5%` → 10, 10, 2.5. Anything else, or outside (0, 100], is a UsageError. */
export function parsePercent(text: string, flag = '--read-data-subset'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(text);
  const n = m ? Number(m[1]) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0 || n > 100) {
    throw new UsageError(`${flag} ${JSON.stringify(text)} is not a percentage between 0 and 100`, { hint: `e.g. ${flag} 10% (read a tenth of the packs)` });
  }
  return n;
}

/**
 * The `percent` % of `keys` a subset check reads: the ones whose SHA-256 of `seed:key` is
 * lowest. The same seed and keys always pick the same objects (so a run can be repeated),
 * different seeds pick independently, and a key keeps its rank as others come and go.
 * At least one key is picked when there is any.
 */
export function selectSubset(keys: Iterable<string>, percent: number, seed: string): Set<string> {
  const ranked = [...new Set(keys)].map((k) => ({ k, r: createHash('sha256').update(`${seed}:${k}`).digest('hex') }));
  ranked.sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : 0));
  const n = ranked.length === 0 ? 0 : Math.max(1, Math.ceil((ranked.length * percent) / 100));
  return new Set(ranked.slice(0, n).map((x) => x.k));
}

/** Collects a snapshot's problems without letting a badly damaged one grow without bound. */
export class ProblemList {
  readonly items: string[] = [];
  count = 0;
  add(problem: string): void {
    this.count++;
    if (this.items.length < MAX_PROBLEMS_LISTED) this.items.push(problem);
  }
}

export function buildCheckReport(input: {
  readData: ReadDataMode;
  services: string[];
  snapshots: SnapshotCheck[];
  damagedObjects: PackProblem[];
  counts: Omit<CheckSummary, 'services' | 'snapshotsChecked' | 'damagedSnapshots' | 'deletingSnapshots'>;
}): CheckReport {
  const damaged = input.snapshots.filter((s) => s.result === 'damaged');
  const exitCode = damaged.length > 0 ? 1 : 0;
  return {
    schema: CHECK_REPORT_SCHEMA,
    verdict: exitCode === 0 ? 'ok' : 'damaged',
    exitCode,
    readData: input.readData,
    services: input.services,
    summary: {
      services: input.services.length,
      snapshotsChecked: input.snapshots.length,
      damagedSnapshots: damaged.length,
      deletingSnapshots: input.snapshots.filter((s) => s.result === 'deleting').length,
      ...input.counts,
    },
    damaged,
    damagedObjects: input.damagedObjects,
    snapshots: input.snapshots,
  };
}

/** How the data was read, in words: "no data read", "every pack read", "10% of packs (seeded: --seed x)". */
export function describeReadData(r: ReadDataMode): string {
  switch (r.mode) {
    case 'none':
      return 'existence and sizes only (no data read; --read-data reads it)';
    case 'all':
      return 'every pack and part read and verified';
    case 'subset':
      return r.selection === 'seeded'
        ? `${r.percent}% of packs and parts read and verified, chosen by --seed ${r.seed}`
        : `${r.percent}% of packs and parts read and verified, chosen at random (seed ${r.seed}; pass --seed ${r.seed} to read the same ones)`;
  }
}
