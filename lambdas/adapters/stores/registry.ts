/**
 * Picks the store from a URL: `s3://bucket/prefix` or `file:///path`.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { UsageError } from '../../domain/errors.js';
import { DirectoryStore } from './directory-store.js';
import { S3Store } from './s3-store.js';
import type { ObjectStore } from './store.js';

const HINT = 'use --store s3://BUCKET[/PREFIX] or --store file:///ABSOLUTE/PATH (or set LIFEBOAT_BUCKET)';

export function openStore(url: string, s3Client: () => S3Client): ObjectStore {
  if (url.startsWith('s3://')) {
    const rest = url.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    const prefix = slash === -1 ? '' : rest.slice(slash + 1);
    // S3 bucket naming rules (lowercase, 3-63 chars); catching typos here beats a 400 later.
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new UsageError(`store URL ${JSON.stringify(url)} has an invalid bucket name ${JSON.stringify(bucket)}`, { hint: HINT });
    }
    return new S3Store({ client: s3Client(), bucket, prefix });
  }
  if (url.startsWith('file:')) {
    let path: string;
    try {
      path = fileURLToPath(url);
    } catch {
      throw new UsageError(`store URL ${JSON.stringify(url)} is not a valid file URL`, { hint: HINT });
    }
    return new DirectoryStore(resolve(path));
  }
  if (isAbsolute(url)) return new DirectoryStore(url);
  throw new UsageError(`store URL ${JSON.stringify(url)} is not supported`, { hint: HINT });
}
