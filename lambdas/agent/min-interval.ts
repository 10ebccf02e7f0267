/**
 * Debounce for hook-triggered snapshots (`lifeboat snapshot --min-interval D`): an
 * application may call the hook on every meaningful change, and only the first call in
 * each interval takes a snapshot. Not a lock: two calls at the same instant can both
 * snapshot, which is harmless.
 */
import type { SnapshotCatalog } from '../adapters/catalog.js';
import type { SnapshotRecord } from '../domain/snapshot.js';

/** The newest complete snapshot if it is younger than `minIntervalMs` (by creation time), else undefined. */
export async function recentSnapshot(
  catalog: SnapshotCatalog,
  service: string,
  minIntervalMs: number,
  now: Date = new Date(),
): Promise<SnapshotRecord | undefined> {
  const latest = await catalog.latest(service);
  if (!latest) return undefined;
  return now.getTime() - Date.parse(latest.createdAt) < minIntervalMs ? latest : undefined;
}
