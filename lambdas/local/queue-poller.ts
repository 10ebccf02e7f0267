/**
 * Local mode's stand-in for a Lambda SQS event source mapping: long-polls a queue (on the
 * embedded SQS-compatible server) and invokes the consumer handler with the event Lambda
 * would build, then deletes the records the handler did not report as failed
 * (ReportBatchItemFailures). A failed record, or a handler that throws, leaves the
 * messages to reappear after the visibility timeout, as on AWS.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

export interface QueuePollerOptions {
  client: SQSClient;
  queueUrl: string;
  queueArn: string;
  region?: string;
  /** At most this many records per invocation (the event source mapping's batch size; SQS allows 10). */
  batchSize?: number;
  target: (event: unknown) => Promise<unknown>;
  onError?: (err: Error) => void;
}

export class LocalQueuePoller {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly o: QueuePollerOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        const out = await this.o.client.send(
          new ReceiveMessageCommand({ QueueUrl: this.o.queueUrl, MaxNumberOfMessages: this.o.batchSize ?? 10, WaitTimeSeconds: 1 }),
          { abortSignal: this.abort.signal },
        );
        const messages = out.Messages ?? [];
        if (!messages.length) continue;
        const event = {
          Records: messages.map((m) => ({
            messageId: m.MessageId!,
            receiptHandle: m.ReceiptHandle!,
            body: m.Body ?? '',
            attributes: m.Attributes ?? {},
            messageAttributes: {},
            md5OfBody: m.MD5OfBody ?? '',
            eventSource: 'aws:sqs',
            eventSourceARN: this.o.queueArn,
            awsRegion: this.o.region ?? 'us-east-1',
          })),
        };
        const result = (await this.o.target(event)) as { batchItemFailures?: { itemIdentifier: string }[] } | undefined;
        const failed = new Set((result?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
        const done = messages.filter((m) => !failed.has(m.MessageId!));
        if (done.length) {
          await this.o.client.send(
            new DeleteMessageBatchCommand({ QueueUrl: this.o.queueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
          );
        }
      } catch (err) {
        if (this.abort.signal.aborted) return;
        this.o.onError?.(err as Error);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}
