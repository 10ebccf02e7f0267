/**
 * Local mode's stand-in for Cloud Map: the same PrimaryDiscovery contract as
 * CloudMapDiscovery (one record per discovery service, carrying the primary's address and
 * term; a publisher with an older term leaves a newer record alone), kept in memory — plus
 * what a client would do with it: a small HTTP front on a fixed port that forwards every
 * request to the task the record points at, so a client keeps one URL across failovers.
 *
 * All local tasks share the address 127.0.0.1, so the record alone cannot tell their ports
 * apart; the front asks the launcher for the port of the task the record names (ECS would
 * register that port as AWS_INSTANCE_PORT from the task's network bindings).
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { PrimaryDiscovery, PrimaryRecord, PublishOutcome } from '../adapters/discovery.js';

export interface PublishedPrimary extends PrimaryRecord {
  publishedAt: number;
}

export class LocalDiscovery implements PrimaryDiscovery {
  private readonly records = new Map<string, PublishedPrimary>();
  private server: Server | undefined;

  constructor(private readonly onPublish?: (record: PublishedPrimary, outcome: PublishOutcome) => void) {}

  async publish(record: PrimaryRecord): Promise<PublishOutcome> {
    const key = `${record.serviceId}/${record.instanceId ?? 'primary'}`;
    const current = this.records.get(key);
    if (current && current.term > record.term) return 'stale';
    if (current && current.term === record.term && current.taskArn === record.taskArn && current.ip === record.ip && current.port === record.port)
      return 'unchanged';
    const published = { ...record, publishedAt: Date.now() };
    this.records.set(key, published);
    this.onPublish?.(published, 'registered');
    return 'registered';
  }

  lookup(serviceId: string, instanceId = 'primary'): PublishedPrimary | undefined {
    return this.records.get(`${serviceId}/${instanceId}`);
  }

  /**
   * Serves an HTTP front on 127.0.0.1:`port` (0: a free one) that forwards each request to
   * the primary's task; 503 while there is none. Returns the URL.
   */
  async serveFront(serviceId: string, portOfTask: (taskArn: string) => number | undefined, port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      const primary = this.lookup(serviceId);
      const target = primary ? portOfTask(primary.taskArn) : undefined;
      if (!primary || target === undefined) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify({ error: 'no primary registered in discovery yet; retry' })}\n`);
        return;
      }
      const upstream = httpRequest({ host: primary.ip, port: target, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, { ...up.headers, 'x-lifeboat-task': primary.taskArn, 'x-lifeboat-term': String(primary.term) });
        up.pipe(res);
      });
      upstream.on('error', (err) => {
        if (res.headersSent) return res.destroy(err);
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify({ error: `the primary (${primary.taskArn}, term ${primary.term}) did not answer: ${err.message}` })}\n`);
      });
      req.pipe(upstream);
    });
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}
