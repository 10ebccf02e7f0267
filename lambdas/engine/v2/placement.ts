/**
 * How a v2 restore puts its verified tree into the target: the one seam to the shared
 * staging/swap machinery. Same semantics as v1's (engine/restore.ts): staging is a hidden
 * sibling swapped over the target, or — for a mount point or an unwritable parent — a
 * hidden directory inside it moved into place under the in-progress marker.
 *
 * MERGE NOTE: this mirrors the placement half of restore.ts `placeSnapshot`, built from the
 * helpers it exports. When that moves into engine/restore-target.ts, point `placeTree` at
 * the function there and delete the body below.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { canWrite, IN_PROGRESS_MARKER, isMountPoint, removeLeftoverStaging, REPLACED_MARK, STAGING_MARK, type TargetState } from '../restore.js';

export interface PlaceTreeOptions {
  dir: string;
  state: TargetState;
  placement: 'auto' | 'swap' | 'in-place';
  snapshotId: string;
  /** Builds and verifies the tree in `staging` (which does not exist yet). */
  fill: (staging: string) => Promise<void>;
  /** Sets the root's own mode and times after an in-place move (best effort). */
  rootMeta: () => Promise<void>;
}

/** On any error before the swap, the target is left as it was and staging is removed. */
export async function placeTree(p: PlaceTreeOptions): Promise<'swap' | 'in-place'> {
  const { dir, state, placement } = p;
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  const inPlace = state.exists && (placement === 'in-place' || (placement === 'auto' && ((await isMountPoint(dir)) || !(await canWrite(parent)))));
  const tag = randomBytes(4).toString('hex');

  if (!inPlace) {
    const siblingPrefix = `.${basename(dir)}${STAGING_MARK}`;
    await removeLeftoverStaging(parent, siblingPrefix);
    const staging = join(parent, `${siblingPrefix}${tag}`);
    try {
      await p.fill(staging);
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      throw err;
    }
    if (!state.exists) {
      await rename(staging, dir);
      return 'swap';
    }
    const aside = join(parent, `.${basename(dir)}${REPLACED_MARK}${tag}`);
    await rename(dir, aside);
    try {
      await rename(staging, dir);
    } catch (err) {
      await rename(aside, dir);
      await rm(staging, { recursive: true, force: true });
      throw err;
    }
    await rm(aside, { recursive: true, force: true });
    return 'swap';
  }

  await removeLeftoverStaging(dir, STAGING_MARK);
  const staging = join(dir, `${STAGING_MARK}${tag}`);
  try {
    await p.fill(staging);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  // From the marker on, the directory's contents are ours until the marker goes away.
  await writeFile(join(dir, IN_PROGRESS_MARKER), `${p.snapshotId}\n`);
  for (const name of await readdir(dir)) {
    if (name === IN_PROGRESS_MARKER || name === basename(staging)) continue;
    await rm(join(dir, name), { recursive: true, force: true });
  }
  for (const name of await readdir(staging)) await rename(join(staging, name), join(dir, name));
  await rmdir(staging);
  await rm(join(dir, IN_PROGRESS_MARKER));
  await p.rootMeta().catch(() => undefined);
  return 'in-place';
}
