/**
 * Rebuilds a service's catalog entries from the object store alone, for when the table was
 * lost or recreated. Every snapshot whose manifest is present and whose data is all there
 * gets its `complete` entry back; anything else is reported, not guessed at.
 *
 * v1: every part listed by the manifest exists with its size. v2: every blob the manifest
 * names is in the service's index and its pack exists with the indexed size.
 */

import type { SnapshotCatalog } from '../adapters/catalog.js';
import type { ObjectStore } from '../adapters/stores/store.js';
import {
  MANIFEST_NAME,
  MANIFEST_V2_NAME,
  manifestObjectKey,
  manifestV2ObjectKey,
  parsePackObjectKey,
  parseSnapshotObjectKey,
  servicePacksPrefix,
  serviceSnapshotsPrefix,
} from '../contract/keys.js';
import type { BlobIndex } from '../domain/blob-index.js';
import { IntegrityError } from '../domain/errors.js';
import { assertServiceName, isSnapshotId } from '../domain/ids.js';
import type { SnapshotRecord } from '../domain/snapshot.js';
import { fetchManifest, type ManifestReadLimits } from './restore.js';
import { fetchManifestV2, loadIndex } from './v2/repo.js';

export interface RebuildOutcome {
  id: string;
  outcome: 'imported' | 'present' | 'skipped';
  /** Why it was skipped. */
  reason?: string;
}

export interface RebuildResult {
  service: string;
  imported: number;
  present: number;
  skipped: number;
  snapshots: RebuildOutcome[];
}

export async function rebuildCatalog(options: {
  catalog: SnapshotCatalog;
  store: ObjectStore;
  service: string;
  dryRun?: boolean;
  /** Manifests beyond these limits are skipped as damaged, never parsed (defaults: restore's). */
  manifestLimits?: Partial<ManifestReadLimits>;
}): Promise<RebuildResult> {
  const service = assertServiceName(options.service);
  await Promise.all([options.catalog.check(), options.store.check()]);
  // id → { object name → size }
  const found = new Map<string, Map<string, number>>();
  for await (const o of options.store.list(serviceSnapshotsPrefix(service))) {
    const parsed = parseSnapshotObjectKey(o.key);
    if (!parsed || parsed.service !== service) continue;
    let objects = found.get(parsed.snapshotId);
    if (!objects) found.set(parsed.snapshotId, (objects = new Map()));
    objects.set(parsed.name, o.size);
  }

  const snapshots: RebuildOutcome[] = [];
  let v2Data: Promise<V2Data> | undefined;
  for (const [id, objects] of [...found].sort(([a], [b]) => (a < b ? 1 : -1))) {
    const skip = (reason: string) => snapshots.push({ id, outcome: 'skipped', reason });
    if (!isSnapshotId(id)) {
      skip('not a snapshot id');
      continue;
    }
    if (objects.has(MANIFEST_V2_NAME)) {
      const outcome = await rebuildV2(options, service, id, () => (v2Data ??= loadV2Data(options.store, service)));
      if (outcome.outcome === 'skipped') snapshots.push(outcome);
      else
        snapshots.push(
          options.dryRun
            ? { id, outcome: (await options.catalog.get(service, id)) ? 'present' : 'imported' }
            : { id, outcome: (await options.catalog.importComplete(outcome.record)) === 'imported' ? 'imported' : 'present' },
        );
      continue;
    }
    if (!objects.has(MANIFEST_NAME)) {
      skip('no manifest: the upload never finished');
      continue;
    }
    const manifestKey = manifestObjectKey(service, id);
    let fetched;
    try {
      fetched = await fetchManifest(options.store, { service, id, manifestKey }, options.manifestLimits);
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err;
      skip(err.message);
      continue;
    }
    const { manifest, sha256: manifestSha256, size: manifestSize } = fetched;
    const badPart = manifest.parts.find((p) => {
      const name = p.key.slice(p.key.lastIndexOf('/') + 1);
      return objects.get(name) !== p.size;
    });
    if (badPart) {
      skip(`part ${badPart.key} is ${objects.has(badPart.key.slice(badPart.key.lastIndexOf('/') + 1)) ? 'the wrong size' : 'missing'}`);
      continue;
    }
    const record: SnapshotRecord = {
      service,
      id,
      status: 'complete',
      createdAt: manifest.createdAt,
      completedAt: manifest.completedAt,
      size: manifest.totals.storedBytes + manifestSize,
      dataSize: manifest.totals.dataBytes,
      fileCount: manifest.totals.files,
      entryCount: manifest.entries.length,
      partCount: manifest.parts.length,
      manifestKey,
      manifestSha256,
      ...provenance(manifest),
    };
    if (options.dryRun) {
      const existing = await options.catalog.get(service, id);
      snapshots.push({ id, outcome: existing ? 'present' : 'imported' });
      continue;
    }
    snapshots.push({ id, outcome: (await options.catalog.importComplete(record)) === 'imported' ? 'imported' : 'present' });
  }
  return {
    service,
    imported: snapshots.filter((s) => s.outcome === 'imported').length,
    present: snapshots.filter((s) => s.outcome === 'present').length,
    skipped: snapshots.filter((s) => s.outcome === 'skipped').length,
    snapshots,
  };
}

interface V2Data {
  index: BlobIndex;
  /** Pack id → stored size, as listed. */
  packs: Map<string, number>;
}

async function loadV2Data(store: ObjectStore, service: string): Promise<V2Data> {
  const packs = new Map<string, number>();
  for await (const o of store.list(servicePacksPrefix(service))) {
    const id = parsePackObjectKey(service, o.key);
    if (id) packs.set(id, o.size);
  }
  return { index: (await loadIndex(store, service)).index, packs };
}

/** A v2 snapshot's entry from its manifest, when every blob it names is indexed and stored. */
async function rebuildV2(
  options: { store: ObjectStore },
  service: string,
  id: string,
  data: () => Promise<V2Data>,
): Promise<{ id: string; outcome: 'skipped'; reason: string } | { id: string; outcome: 'found'; record: SnapshotRecord }> {
  const manifestKey = manifestV2ObjectKey(service, id);
  let fetched;
  try {
    fetched = await fetchManifestV2(options.store, { service, id, manifestKey });
  } catch (err) {
    if (!(err instanceof IntegrityError)) throw err;
    return { id, outcome: 'skipped', reason: err.message };
  }
  const { manifest, sha256: manifestSha256, size: manifestSize } = fetched;
  const { index, packs } = await data();
  for (const e of manifest.entries) {
    if (e.type !== 'file') continue;
    for (const b of e.blobs) {
      const loc = index.get(b);
      if (!loc) return { id, outcome: 'skipped', reason: `blob ${b} of "${e.path}" is in no index` };
      if (packs.get(loc.pack) !== index.packs.get(loc.pack)) {
        return { id, outcome: 'skipped', reason: `pack ${loc.pack} is ${packs.has(loc.pack) ? 'the wrong size' : 'missing'}` };
      }
    }
  }
  return {
    id,
    outcome: 'found',
    record: {
      service,
      id,
      status: 'complete',
      createdAt: manifest.createdAt,
      completedAt: manifest.completedAt,
      size: manifest.totals.addedBytes + manifestSize,
      dataSize: manifest.totals.dataBytes,
      fileCount: manifest.totals.files,
      entryCount: manifest.entries.length,
      partCount: manifest.totals.newPacks,
      manifestKey,
      manifestSha256,
      ...provenance(manifest),
    },
  };
}

/** What both manifest formats say of where a snapshot came from, as catalog fields. */
function provenance(m: {
  term?: number;
  source: { task?: string; host: string };
  reason: string;
  warnings: readonly unknown[];
  canary?: SnapshotRecord['canary'];
}): Pick<SnapshotRecord, 'term' | 'sourceTask' | 'sourceHost' | 'reason' | 'warningCount' | 'canary'> {
  return {
    ...(m.term !== undefined ? { term: m.term } : {}),
    ...(m.source.task ? { sourceTask: m.source.task } : {}),
    sourceHost: m.source.host,
    reason: m.reason,
    warningCount: m.warnings.length,
    ...(m.canary ? { canary: m.canary } : {}),
  };
}
