/**
 * Retention for one service, against the real catalog and store: gather the planner's
 * inputs (catalog entries, live snapshot holds, Object Lock dates), plan, and sweep.
 *
 * The sweep is two-phase and resumable. For each snapshot to delete:
 *
 *   1. mark     catalog entry complete → expiring (conditional: still complete, and still
 *               as verified as when planned). From here nothing can restore or lease it.
 *   2. recheck  look for a live snapshot hold once more (a restore that started after the
 *               plan); if there is one, put the entry back to complete and skip it.
 *   3. objects  delete every object under the snapshot's prefix (DeleteObjects, at most
 *               1,000 keys a request).
 *   4. entry    delete the catalog entry (conditional: still expiring).
 *
 * A crash anywhere leaves either an untouched entry (re-planned next time) or an
 * `expiring` one, which the next run finishes first (steps 2–4). Stale `uploading` entries
 * (a writer that died) take the same path from `uploading`, and their incomplete multipart
 * uploads are aborted; so are any other incomplete uploads older than the threshold.
 * With `reapOnly` (a service whose policy is refused) only that reaping and the finishing
 * of interrupted deletions happen; no complete snapshot is planned for deletion.
 *
 * Used by the scheduled handler (handlers/retention.ts), `lifeboat retention plan|apply`
 * and local mode.
 */
import pLimit from 'p-limit';
import type { SnapshotCatalog } from '../adapters/catalog.js';
import type { SnapshotHolds } from '../adapters/snapshot-holds.js';
import { canReadObjectLock, canReapIncompleteUploads, type IncompleteUpload, type ObjectStore } from '../adapters/stores/store.js';
import { parseSnapshotObjectKey, serviceSnapshotsPrefix, snapshotPrefix } from '../contract/keys.js';
import { isLifeboatError, type LifeboatError } from '../domain/errors.js';
import { snapshotIdTime } from '../domain/ids.js';
import { type PlanEntry, planEntries, plannedDeletions, planRetention, type RetentionCandidate, type RetentionPlan } from '../domain/retention.js';
import {
  DEFAULT_REAP_AFTER_SECONDS,
  DEFAULT_RETENTION_TIMEZONE,
  formatRetentionSpec,
  type RetentionPolicy,
  retentionRules,
} from '../domain/retention-policy.js';
import type { SnapshotSummary } from '../domain/snapshot.js';

export interface RetentionContext {
  catalog: SnapshotCatalog;
  objects: ObjectStore;
  holds: SnapshotHolds;
  now?: () => Date;
}

export interface ServiceRetentionOptions {
  service: string;
  policy: RetentionPolicy;
  /**
   * Only finish interrupted deletions and reap dead uploads; plan no new deletions. For a
   * service whose policy is refused (empty): its complete snapshots are never touched.
   */
  reapOnly?: boolean;
  /** Whose policy it is, for error messages ("service wiki", "--policy"). */
  owner?: string;
  /** Overrides the policy's time zone. */
  timezone?: string;
}

/** A catalog entry that is not a complete snapshot, and what the sweep does with it. */
export interface PendingEntry {
  id: string;
  status: 'uploading' | 'expiring';
  createdAt: string;
  /** resume: finish an interrupted deletion; reap: a dead writer's upload; wait: an upload in progress. */
  action: 'resume' | 'reap' | 'wait';
  reason: string;
}

export interface UploadVerdict {
  key: string;
  uploadId: string;
  initiated?: string;
  action: 'abort' | 'wait';
}

export interface ServiceRetentionPlan {
  service: string;
  policy: string;
  timezone: string;
  now: string;
  /** Complete snapshots, newest first, keep or delete with reasons. */
  snapshots: PlanEntry[];
  pending: PendingEntry[];
  /** Incomplete multipart uploads; undefined when the store has none (directory store). */
  incompleteUploads?: UploadVerdict[];
  summary: { keep: number; delete: number; resume: number; reap: number; abortUploads: number };
}

interface PlanState {
  plan: ServiceRetentionPlan;
  deletions: SnapshotSummary[];
  resumes: SnapshotSummary[];
  reaps: SnapshotSummary[];
  staleUploads: IncompleteUpload[];
}

const LOCK_LOOKUPS = 8;

function snapshotTime(s: SnapshotSummary): number {
  const t = Date.parse(s.createdAt);
  return Number.isNaN(t) ? snapshotIdTime(s.id).getTime() : t;
}

async function gather(ctx: RetentionContext, options: ServiceRetentionOptions): Promise<PlanState> {
  const { service } = options;
  // Refuses an empty policy or one that keeps nothing before anything is read or deleted.
  const rules = options.reapOnly ? undefined : retentionRules(options.policy, options.owner ?? `service ${service}`, options.timezone);
  const now = (ctx.now ?? (() => new Date()))();
  const reapBefore = now.getTime() - (options.policy.reapAfterSeconds ?? DEFAULT_REAP_AFTER_SECONDS) * 1000;

  const [summaries, uses] = await Promise.all([
    (async () => {
      const all: SnapshotSummary[] = [];
      for await (const s of ctx.catalog.summaries(service)) all.push(s);
      return all;
    })(),
    ctx.holds.live(service),
  ]);
  const holders = new Map<string, string[]>();
  for (const u of uses) holders.set(u.snapshotId, [...(holders.get(u.snapshotId) ?? []), `${u.purpose}:${u.holder}`]);

  const complete = rules ? summaries.filter((s) => s.status === 'complete') : [];
  const candidates: RetentionCandidate[] = complete.map((s) => ({
    id: s.id,
    time: snapshotTime(s),
    verified: s.verifiedAt !== undefined,
    ...(holders.has(s.id) ? { inUseBy: holders.get(s.id)! } : {}),
  }));
  let planned: RetentionPlan | undefined = rules && planRetention(candidates, rules, { now: now.getTime() });

  // Object Lock dates are asked for the deletion candidates only (a HEAD of each manifest):
  // the manifest is written last, so its retain-until is the latest of the snapshot's objects.
  const store = ctx.objects;
  if (rules && planned && canReadObjectLock(store) && planned.deleted > 0) {
    const limit = pLimit(LOCK_LOOKUPS);
    let locked = false;
    await Promise.all(
      plannedDeletions(planned).map((i: number) =>
        limit(async () => {
          const lock = await store.objectLock(complete[i]!.manifestKey);
          if (!lock) return;
          const c = candidates[i]!;
          if (lock.retainUntil) c.retainUntil = lock.retainUntil.getTime();
          if (lock.legalHold) c.legalHold = true;
          locked ||= (c.retainUntil ?? 0) > now.getTime() || lock.legalHold;
        }),
      ),
    );
    if (locked) planned = planRetention(candidates, rules, { now: now.getTime() });
  }

  const pending: PendingEntry[] = [];
  const resumes: SnapshotSummary[] = [];
  const reaps: SnapshotSummary[] = [];
  for (const s of summaries) {
    if (s.status === 'expiring') {
      resumes.push(s);
      pending.push({
        id: s.id,
        status: 'expiring',
        createdAt: s.createdAt,
        action: 'resume',
        reason: `deletion started ${s.expiringAt ?? 'earlier'} and not finished`,
      });
    } else if (s.status === 'uploading') {
      const stale = snapshotTime(s) < reapBefore;
      if (stale) reaps.push(s);
      pending.push({
        id: s.id,
        status: 'uploading',
        createdAt: s.createdAt,
        action: stale ? 'reap' : 'wait',
        reason: stale ? 'upload started before the reap threshold: its writer is gone' : 'upload in progress',
      });
    }
  }

  let incompleteUploads: UploadVerdict[] | undefined;
  const staleUploads: IncompleteUpload[] = [];
  if (canReapIncompleteUploads(store)) {
    incompleteUploads = [];
    for await (const u of store.listIncompleteUploads(serviceSnapshotsPrefix(service))) {
      const stale = u.initiated !== undefined && u.initiated.getTime() < reapBefore;
      if (stale) staleUploads.push(u);
      incompleteUploads.push({
        key: u.key,
        uploadId: u.uploadId,
        ...(u.initiated ? { initiated: u.initiated.toISOString() } : {}),
        action: stale ? 'abort' : 'wait',
      });
    }
  }

  const deletions = planned ? plannedDeletions(planned).map((i) => complete[i]!) : [];
  const snapshots = planned ? planEntries(candidates, planned) : [];
  return {
    deletions,
    resumes,
    reaps,
    staleUploads,
    plan: {
      service,
      policy: options.reapOnly ? '(reaping only)' : formatRetentionSpec(options.policy),
      timezone: rules?.timezone ?? options.timezone ?? options.policy.timezone ?? DEFAULT_RETENTION_TIMEZONE,
      now: now.toISOString(),
      snapshots,
      pending,
      ...(incompleteUploads ? { incompleteUploads } : {}),
      summary: { keep: planned?.kept ?? 0, delete: planned?.deleted ?? 0, resume: resumes.length, reap: reaps.length, abortUploads: staleUploads.length },
    },
  };
}

/** The dry run: what a sweep would do now, with reasons. Changes nothing. */
export async function planServiceRetention(ctx: RetentionContext, options: ServiceRetentionOptions): Promise<ServiceRetentionPlan> {
  return (await gather(ctx, options)).plan;
}

/** The points between the sweep's writes, where tests inject crashes. */
export type SweepStep = 'mark' | 'recheck' | 'objects' | 'objects-batch' | 'entry' | 'abort-upload';

export interface SweepOptions extends ServiceRetentionOptions {
  /** Called before each step; a throw here stops the run like a crash would (tests). */
  fault?: (step: SweepStep, id: string) => void | Promise<void>;
  /** Epoch ms: start no new deletion after this (a Lambda's remaining time); the rest waits for the next run. */
  deadline?: number;
  /** Snapshots deleted at once. */
  concurrency?: number;
}

export interface SweepOutcome {
  id: string;
  outcome: 'deleted' | 'resumed' | 'reaped' | 'skipped' | 'failed';
  reason?: string;
}

export interface SweepResult {
  service: string;
  plan: ServiceRetentionPlan;
  snapshots: SweepOutcome[];
  deleted: number;
  resumed: number;
  reaped: number;
  skipped: number;
  failed: number;
  abortedUploads: number;
  /** The deadline stopped the run; what is left is done by the next one. */
  stoppedEarly: boolean;
}

const DELETE_BATCH = 1000;

/**
 * Applies the plan: finishes interrupted deletions, deletes what the policy does not keep,
 * reaps stale uploads. Per-snapshot failures (store or catalog errors) are recorded and the
 * sweep goes on; the next run retries them.
 */
export async function sweepServiceRetention(ctx: RetentionContext, options: SweepOptions): Promise<SweepResult> {
  const state = await gather(ctx, options);
  const { service } = options;
  const { catalog, objects: store, holds } = ctx;
  const now = ctx.now ?? (() => new Date());
  const fault = options.fault ?? (() => undefined);
  const results: SweepOutcome[] = [];
  let stoppedEarly = false;

  const deleteObjects = async (id: string) => {
    if (canReapIncompleteUploads(store)) {
      for await (const u of store.listIncompleteUploads(snapshotPrefix(service, id))) {
        await fault('abort-upload', id);
        await store.abortIncompleteUpload(u);
      }
    }
    const keys: string[] = [];
    for await (const o of store.list(snapshotPrefix(service, id))) keys.push(o.key);
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      if (i > 0) await fault('objects-batch', id);
      await store.delete(keys.slice(i, i + DELETE_BATCH));
    }
  };

  /** Steps 2–4 for an entry that is already `expiring`. Returns a skip reason, or undefined when deleted. */
  const finish = async (id: string, from: 'complete' | 'uploading' | undefined): Promise<string | undefined> => {
    if (from !== 'uploading') {
      await fault('recheck', id);
      const users = await holds.live(service, id);
      if (users.length > 0) {
        const who = users.map((u) => `${u.purpose}:${u.holder}`).join(', ');
        // Back to complete, so it stays restorable; the next plan decides again.
        await catalog.unmarkExpiring(service, id);
        return `in use by ${who}`;
      }
    }
    await fault('objects', id);
    await deleteObjects(id);
    await fault('entry', id);
    await catalog.deleteExpiring(service, id);
    return undefined;
  };

  const limit = pLimit(Math.max(1, options.concurrency ?? 4));
  // The first error that is not a store/catalog failure (a bug, or a crash a test simulates)
  // stops the run: nothing new starts, work in flight finishes, then it is thrown.
  let fatal: { error: unknown } | undefined;
  const guarded = async (id: string, work: () => Promise<SweepOutcome>): Promise<SweepOutcome | undefined> => {
    if (fatal) return undefined;
    if (options.deadline !== undefined && Date.now() > options.deadline) {
      stoppedEarly = true;
      return undefined;
    }
    try {
      return await work();
    } catch (err) {
      // Store or catalog trouble with one snapshot: note it, carry on, retry next run.
      if (isLifeboatError(err)) return { id, outcome: 'failed', reason: (err as LifeboatError).message };
      fatal ??= { error: err };
      return undefined;
    }
  };
  /** Runs `work` for each entry (a few at a time); outcomes are listed in the entries' order. */
  const phase = async (entries: SnapshotSummary[], work: (s: SnapshotSummary) => Promise<SweepOutcome>) => {
    const outcomes = await Promise.all(entries.map((s) => limit(() => guarded(s.id, () => work(s)))));
    for (const o of outcomes) if (o) results.push(o);
    if (fatal) throw fatal.error;
  };

  // 1. Interrupted deletions first: they were decided already.
  await phase(state.resumes, async (s) => {
    const skipped = await finish(s.id, s.expiringFrom);
    return skipped ? { id: s.id, outcome: 'skipped', reason: skipped } : { id: s.id, outcome: 'resumed' };
  });
  // 2. What the policy does not keep, oldest first.
  await phase(state.deletions, async (s) => {
    await fault('mark', s.id);
    const marked = await catalog.markExpiring(service, s.id, { status: 'complete', verifiedAt: s.verifiedAt }, now().toISOString());
    if (!marked) return { id: s.id, outcome: 'skipped', reason: 'changed since it was planned (verified, deleted or in use); planned again next run' };
    const skipped = await finish(s.id, 'complete');
    return skipped ? { id: s.id, outcome: 'skipped', reason: skipped } : { id: s.id, outcome: 'deleted' };
  });
  // 3. Uploads whose writer is gone: `uploading` → `expiring` stops a late commit, then the same path.
  await phase(state.reaps, async (s) => {
    await fault('mark', s.id);
    const marked = await catalog.markExpiring(service, s.id, { status: 'uploading', verifiedAt: s.verifiedAt }, now().toISOString());
    if (!marked) return { id: s.id, outcome: 'skipped', reason: 'no longer uploading (committed or removed meanwhile)' };
    await finish(s.id, 'uploading');
    return { id: s.id, outcome: 'reaped' };
  });
  // 4. Other incomplete multipart uploads older than the threshold (a writer killed mid-part);
  // those under a snapshot handled above were aborted with its objects.
  let abortedUploads = 0;
  const handled = new Set(results.filter((r) => r.outcome !== 'failed' && r.outcome !== 'skipped').map((r) => r.id));
  if (canReapIncompleteUploads(store)) {
    for (const u of state.staleUploads) {
      if (handled.has(parseSnapshotObjectKey(u.key)?.snapshotId ?? '')) continue;
      if (options.deadline !== undefined && Date.now() > options.deadline) {
        stoppedEarly = true;
        break;
      }
      await fault('abort-upload', u.key);
      try {
        await store.abortIncompleteUpload(u);
        abortedUploads++;
      } catch (err) {
        if (!isLifeboatError(err)) throw err;
        results.push({ id: u.key, outcome: 'failed', reason: `abort of upload ${u.uploadId}: ${err.message}` });
      }
    }
  }

  const count = (o: SweepOutcome['outcome']) => results.filter((r) => r.outcome === o).length;
  return {
    service,
    plan: state.plan,
    snapshots: results,
    deleted: count('deleted'),
    resumed: count('resumed'),
    reaped: count('reaped'),
    skipped: count('skipped'),
    failed: count('failed'),
    abortedUploads,
    stoppedEarly,
  };
}
