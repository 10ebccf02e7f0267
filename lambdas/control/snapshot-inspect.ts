/**
 * What `lifeboat ls`, `diff` and `find` read: a snapshot named on the command line, and
 * its manifest as a format-independent view (domain/snapshot-listing.ts). Manifests only;
 * no archive part is fetched.
 */

import type { SnapshotCatalog } from '../adapters/catalog.js';
import type { ObjectStore } from '../adapters/stores/store.js';
import { isManifestV2Key } from '../contract/keys.js';
import { OperationFailedError, SnapshotNotFoundError, UsageError } from '../domain/errors.js';
import { assertServiceName, isSnapshotId } from '../domain/ids.js';
import type { SnapshotRecord } from '../domain/snapshot.js';
import { fromManifestV1, fromManifestV2, type ManifestView } from '../domain/snapshot-listing.js';
import { fetchManifest } from '../engine/restore.js';
import { fetchManifestV2 } from '../engine/v2/repo.js';

/** `ID`, `latest`, `SERVICE/ID` or `SERVICE/latest`; the service defaults to `--service`. */
export function parseSnapshotRef(ref: string, defaultService: string | undefined): { service: string; snapshot: string } {
  const slash = ref.indexOf('/');
  const service = slash === -1 ? defaultService : ref.slice(0, slash);
  const snapshot = slash === -1 ? ref : ref.slice(slash + 1);
  if (service === undefined || service === '') {
    throw new UsageError(`no service for snapshot ${JSON.stringify(ref)}`, { hint: 'pass --service NAME, set LIFEBOAT_SERVICE, or write SERVICE/SNAPSHOT' });
  }
  assertServiceName(service);
  if (snapshot !== 'latest' && !isSnapshotId(snapshot)) {
    throw new UsageError(`${JSON.stringify(ref)} is not a snapshot id or "latest"`, {
      hint: `ids look like 20261127T081735.123Z-9f3c2a1b; list them with \`lifeboat snapshots --service ${service}\``,
    });
  }
  return { service, snapshot };
}

/** The catalog entry a reference names; complete snapshots only (others have no manifest to trust). */
export async function resolveSnapshotRef(catalog: SnapshotCatalog, ref: { service: string; snapshot: string }): Promise<SnapshotRecord> {
  const record = ref.snapshot === 'latest' ? await catalog.latest(ref.service) : await catalog.get(ref.service, ref.snapshot);
  if (!record) {
    throw new SnapshotNotFoundError(
      ref.snapshot === 'latest'
        ? `service ${ref.service} has no complete snapshot`
        : `snapshot ${ref.snapshot} of service ${ref.service} is not in the catalog`,
      { hint: `list them with \`lifeboat snapshots --service ${ref.service}\`` },
    );
  }
  if (record.status !== 'complete') {
    throw new OperationFailedError(`snapshot ${record.id} of service ${ref.service} is ${record.status}, not complete; it has no manifest to read`, {
      hint: `pick a complete one: \`lifeboat snapshots --service ${ref.service}\``,
    });
  }
  return record;
}

/** Downloads, checks and parses a snapshot's manifest (any supported format). */
export async function loadManifestView(
  store: ObjectStore,
  record: Pick<SnapshotRecord, 'service' | 'id' | 'manifestKey' | 'manifestSha256'>,
): Promise<ManifestView> {
  if (isManifestV2Key(record.manifestKey)) return fromManifestV2((await fetchManifestV2(store, record)).manifest);
  return fromManifestV1((await fetchManifest(store, record)).manifest);
}
