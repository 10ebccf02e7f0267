/**
 * The failover wait: "look at this service again at `dueAt`". A lost primary is replaced
 * only after the policy's timeout, and nobody should poll for that long.
 *
 * On AWS the wait is an SQS message with DelaySeconds, consumed by the watchdog Lambda.
 * SQS delays are exact to the second (up to 15 minutes; longer waits re-queue themselves),
 * where EventBridge Scheduler's one-time schedules fire anywhere in the minute they name,
 * which would add up to 60 s to a 30 s failover timeout. Delivery is at least once; the
 * check it triggers is idempotent (a conditional election on the observed term).
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { translateAwsError } from './aws.js';

export interface FailoverCheck {
  service: string;
  /** Epoch ms at which the check is due. */
  dueAt: number;
  /** Why it was scheduled, for logs. */
  reason: string;
}

export interface FailoverTimer {
  /** Arranges for the watchdog to check `check.service` at `check.dueAt` (or soon after). */
  schedule(check: FailoverCheck, now: number): Promise<void>;
}

/** SQS's maximum DelaySeconds. */
export const MAX_SQS_DELAY_SECONDS = 900;

export function delaySecondsUntil(dueAt: number, now: number): number {
  return Math.min(MAX_SQS_DELAY_SECONDS, Math.max(0, Math.ceil((dueAt - now) / 1000)));
}

export class SqsFailoverTimer implements FailoverTimer {
  constructor(
    private readonly client: SQSClient,
    readonly queueUrl: string,
  ) {}

  async schedule(check: FailoverCheck, now: number): Promise<void> {
    try {
      await this.client.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: JSON.stringify({ kind: 'failover-check', ...check }),
          DelaySeconds: delaySecondsUntil(check.dueAt, now),
        }),
      );
    } catch (err) {
      throw translateAwsError(err, `queue ${this.queueUrl}`);
    }
  }
}
