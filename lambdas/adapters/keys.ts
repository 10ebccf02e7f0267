/**
 * Every DynamoDB key and every object-store key Lifeboat uses is built here, and only here
 * (Velero's object_store_layout, for the same reason: a layout change is one diff, and
 * IAM conditions such as `dynamodb:LeadingKeys` and S3 prefixes can be derived from it).
 *
 * Table: single-table design, string keys `pk` / `sk`. Everything about one service lives
 * in the partition `SVC#<service>`, so a task role can be limited to its own items.
 *
 *   pk              sk                    item
 *   SVC#<service>   CONFIG                the service's policy (ServicePolicy)
 *   SVC#<service>   SNAP#<snapshotId>     snapshot catalog entry
 *   REGISTRY        SVC#<service>         directory of protected services (for "all services")
 *
 * Store: keys are relative to the store root (the bucket prefix or directory).
 *
 *   <service>/snapshots/<snapshotId>/part-0000.tar.zst     (part-0001.tar: stored without zstd)
 *   <service>/snapshots/<snapshotId>/manifest.json.gz      (written last)
 */

export const TABLE_KEY = { partition: 'pk', sort: 'sk' } as const;

/** TTL attribute name, enabled by `lifeboat init` and the CDK construct. */
export const TTL_ATTRIBUTE = 'expiresAt';

export const servicePk = (service: string): string => `SVC#${service}`;

export const CONFIG_SK = 'CONFIG';
export const serviceConfigKey = (service: string) => ({
  [TABLE_KEY.partition]: servicePk(service),
  [TABLE_KEY.sort]: CONFIG_SK,
});

export const REGISTRY_PK = 'REGISTRY';
export const REGISTRY_SK_PREFIX = 'SVC#';
export const registryKey = (service: string) => ({
  [TABLE_KEY.partition]: REGISTRY_PK,
  [TABLE_KEY.sort]: `${REGISTRY_SK_PREFIX}${service}`,
});

export const SNAPSHOT_SK_PREFIX = 'SNAP#';
export const snapshotSk = (snapshotId: string): string => `${SNAPSHOT_SK_PREFIX}${snapshotId}`;
export const snapshotIdFromSk = (sk: string): string => sk.slice(SNAPSHOT_SK_PREFIX.length);

export const snapshotKey = (service: string, snapshotId: string) => ({
  [TABLE_KEY.partition]: servicePk(service),
  [TABLE_KEY.sort]: snapshotSk(snapshotId),
});

/** All of a service's snapshots in the store. Ends with '/'. */
export const serviceSnapshotsPrefix = (service: string): string => `${service}/snapshots/`;

/** All objects of one snapshot. Ends with '/'. */
export const snapshotPrefix = (service: string, snapshotId: string): string =>
  `${serviceSnapshotsPrefix(service)}${snapshotId}/`;

export const MANIFEST_NAME = 'manifest.json.gz';

export const manifestObjectKey = (service: string, snapshotId: string): string =>
  `${snapshotPrefix(service, snapshotId)}${MANIFEST_NAME}`;

/** `.tar.zst` for compressed parts, `.tar` for parts of data that does not compress. */
export const partObjectKey = (service: string, snapshotId: string, index: number, compression: 'zstd' | 'none' = 'zstd'): string =>
  `${snapshotPrefix(service, snapshotId)}part-${String(index).padStart(4, '0')}.tar${compression === 'zstd' ? '.zst' : ''}`;

/** Splits `<service>/snapshots/<id>/<name>` back into its parts, or undefined. */
export function parseSnapshotObjectKey(key: string): { service: string; snapshotId: string; name: string } | undefined {
  const m = /^([^/]+)\/snapshots\/([^/]+)\/([^/]+)$/.exec(key);
  return m ? { service: m[1]!, snapshotId: m[2]!, name: m[3]! } : undefined;
}
