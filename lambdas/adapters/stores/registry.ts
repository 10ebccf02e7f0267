/**
 * Opens an object store by its URL's scheme, like restic's location registry: each backend
 * (its own file) exports a StoreBackend with its scheme and a factory; this list is the one
 * place that names them. Adding a backend is one new file and one line in BACKENDS.
 * Callers pass the URL (and, inside the runtime, its shared clients) and never name an SDK client.
 */
import { isAbsolute } from 'node:path';
import { UsageError } from '../../domain/errors.js';
import { directoryBackend } from './directory-store.js';
import { s3Backend } from './s3-store.js';
import { type ObjectStore, STORE_URL_HINT, type StoreBackend, type StoreContext } from './store.js';

const BACKENDS: readonly StoreBackend[] = [s3Backend, directoryBackend];

/** The URL's scheme with its colon; a bare absolute path is a directory (`file:`). */
function schemeOf(url: string): string | undefined {
  if (isAbsolute(url)) return 'file:';
  return /^([a-z][a-z0-9+.-]*:)/i.exec(url)?.[1]?.toLowerCase();
}

export function openStore(url: string, context: Partial<StoreContext> = {}): ObjectStore {
  const scheme = schemeOf(url);
  const backend = BACKENDS.find((b) => b.scheme === scheme);
  if (!backend) {
    throw new UsageError(`store URL ${JSON.stringify(url)} is not supported (known schemes: ${BACKENDS.map((b) => `${b.scheme}//`).join(', ')})`, {
      hint: STORE_URL_HINT,
    });
  }
  return backend.open(url, { env: context.env ?? process.env, ...(context.s3 ? { s3: context.s3 } : {}) });
}
