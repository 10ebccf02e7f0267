/** A pass-through stream that counts and SHA-256-hashes what flows through it. */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

export interface HashTap {
  stream: Transform;
  /** Hex SHA-256 and byte count of everything that passed; call after the stream ended. */
  digest(): { sha256: string; stored: number };
}

export function hashTap(): HashTap {
  const hash = createHash('sha256');
  let stored = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      stored += chunk.length;
      done(null, chunk);
    },
  });
  return { stream, digest: () => ({ sha256: hash.digest('hex'), stored }) };
}
