/** `--at TIME` of `restore` and `drill`: the snapshot a point in time selects, said out loud. */

import type { SnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import { formatSeconds } from '../../lambdas/domain/drills.js';
import { UsageError } from '../../lambdas/domain/errors.js';
import { chooseSnapshotAtAsync, parseTimeSelector, systemZone } from '../../lambdas/domain/time-selector.js';
import type { CliIO } from './context.js';
import { say } from './output.js';

export interface PointInTime {
  at: string;
  snapshotId: string;
  ageSeconds: number;
}

export async function resolveAt(
  io: CliIO,
  catalog: SnapshotCatalog,
  service: string,
  flags: { at?: string; tz?: string; snapshot?: string },
): Promise<PointInTime | undefined> {
  if (flags.at === undefined) {
    if (flags.tz !== undefined) throw new UsageError('--tz only applies to --at', { hint: 'add --at TIME, or drop --tz' });
    return undefined;
  }
  if (flags.snapshot !== undefined && flags.snapshot !== 'latest') {
    throw new UsageError(`--at and --snapshot ${flags.snapshot} both pick a snapshot`, { hint: 'use one of them' });
  }
  const zone = flags.tz ?? io.env.LIFEBOAT_TZ ?? systemZone();
  const at = parseTimeSelector(flags.at, { now: Date.now(), zone });
  const { snapshot, ageSeconds } = await chooseSnapshotAtAsync(catalog.list(service, { complete: true }), at, { service, text: flags.at });
  const atIso = new Date(at).toISOString();
  say(io, `--at ${flags.at} (${atIso}, ${zone}): snapshot ${snapshot.id} taken ${snapshot.createdAt}, ${formatSeconds(ageSeconds)} before that time`);
  return { at: atIso, snapshotId: snapshot.id, ageSeconds };
}
