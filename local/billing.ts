import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { makeUsageBiller } from '../functions/adapters/stripe/factory';
import { billingMessageGroup, billingMessageOfRecord, type BillingMessage, type BillingQueue } from '../functions/domain/billing';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { makeDocumentClient } from '../functions/adapters/dynamodb/client';
import type { Clock } from '../functions/domain/ports';
import { makeHandler as makeBillingHandler } from '../functions/handlers/queue/billing';
import { makeHandler as makeBillingForwarder } from '../functions/handlers/stream/billing-forwarder';
import { logger } from '../functions/observability';
import { billingDeps, type TableStores } from '../functions/wiring';
import { localLambdaContext, runInvocation } from './lambda-context';
import { StreamPoller } from './stream-poller';

/** The billing queue's settings, as in AWS (lib/constructs/billing.ts). */
export const BILLING_QUEUE = {
  /** Receives before a message goes to the dead-letter queue: with the backoff below, over an hour of Stripe outage. */
  maxReceiveCount: 40,
  /** First retry delay; doubled each receive, capped (AWS: the visibility timeout). */
  retryDelayMs: 1_000,
  maxRetryDelayMs: 120_000,
} as const;

/** A message the local billing queue gave up on (in AWS: on the billing dead-letter queue). */
export interface BillingDeadLetter {
  message: BillingMessage;
  receives: number;
}

/** Options of the local billing queue. */
export interface LocalBillingQueueOptions {
  maxReceiveCount?: number;
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** How a retry waits (default a timer); tests pass one that moves a fake clock instead. */
  sleep?: (ms: number) => Promise<void>;
}

type SqsFifoHandler = (event: SQSEvent, context: ReturnType<typeof localLambdaContext>) => Promise<{ batchItemFailures: { itemIdentifier: string }[] } | void>;

/**
 * The billing FIFO queue in process: one message at a time per group (the Stripe customer),
 * groups in parallel, deduplicated by redemption id, each message handed to the billing
 * function's own handler as a one-record SQS event, retried with a doubling delay, and kept
 * in `deadLetters` after `maxReceiveCount` receives.
 */
export class LocalBillingQueue implements BillingQueue {
  /** Messages given up on. */
  readonly deadLetters: BillingDeadLetter[] = [];
  private readonly seen = new Set<string>();
  private readonly groups = new Map<string, Promise<void>>();
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private stopped = false;

  constructor(
    private readonly handler: SqsFifoHandler,
    private readonly options: LocalBillingQueueOptions = {},
  ) {}

  async send(messages: readonly BillingMessage[]): Promise<void> {
    for (const message of messages) {
      // SQS FIFO's content deduplication by MessageDeduplicationId (the redemption id).
      if (this.seen.has(message.redemption_id)) continue;
      this.seen.add(message.redemption_id);
      const group = billingMessageGroup(message);
      this.inFlight++;
      const next = (this.groups.get(group) ?? Promise.resolve()).then(() => this.deliver(message, group)).finally(() => this.settled());
      this.groups.set(group, next);
    }
  }

  /** Resolves once every message sent so far was billed or dead-lettered. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops retrying; messages in flight end after their current attempt. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.groups.values()]);
  }

  private settled(): void {
    this.inFlight--;
    if (this.inFlight === 0) for (const done of this.idleWaiters.splice(0)) done();
  }

  private async deliver(message: BillingMessage, group: string): Promise<void> {
    const maxReceives = this.options.maxReceiveCount ?? BILLING_QUEUE.maxReceiveCount;
    const base = this.options.retryDelayMs ?? BILLING_QUEUE.retryDelayMs;
    const cap = this.options.maxRetryDelayMs ?? BILLING_QUEUE.maxRetryDelayMs;
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const messageId = randomUUID();
    for (let receive = 1; receive <= maxReceives && !this.stopped; receive++) {
      const record = {
        messageId,
        receiptHandle: messageId,
        body: JSON.stringify(message),
        attributes: {
          ApproximateReceiveCount: String(receive),
          SentTimestamp: String(Date.now()),
          SenderId: 'local',
          ApproximateFirstReceiveTimestamp: String(Date.now()),
          MessageGroupId: group,
          MessageDeduplicationId: message.redemption_id,
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:local:000000000000:billing.fifo',
        awsRegion: 'local',
      } as SQSRecord;
      const context = localLambdaContext({ functionName: 'Billing', remainingMs: () => 30_000 });
      try {
        const response = await runInvocation(context, () => this.handler({ Records: [record] }, context));
        if (!response || response.batchItemFailures.length === 0) return;
      } catch (error) {
        logger.warn('billing invocation failed', { error: error as Error });
      }
      if (receive < maxReceives) await sleep(Math.min(cap, base * 2 ** (receive - 1)));
    }
    if (!this.stopped) {
      logger.error('billing message dead-lettered', { redemption_id: message.redemption_id });
      this.deadLetters.push({ message, receives: maxReceives });
    }
  }
}

/** Where the local stack bills: the real Stripe client with a key, else the ledger file. */
export interface LocalStripeOptions {
  /** STRIPE_SECRET_KEY: bill through stripe-node; without it, `<data dir>/stripe-ledger.jsonl`. */
  secretKey?: string;
  /** STRIPE_API_BASE, e.g. a fake Stripe on 127.0.0.1. */
  apiBase?: string;
  /** STRIPE_METER_EVENT_NAME. */
  eventName?: string;
}

/**
 * Unlike SQS, the in-process queue is lost with the process: records the stream had handed over
 * (and checkpointed) but that were not billed yet are still `queued` in the table, so a start
 * sends every `queued` record again (a scan: the local table is small). One already billed by
 * Stripe before the crash is answered as a duplicate there: billed once.
 */
const resendQueued = async (clientConfig: DynamoDBClientConfig, tableName: string, queue: BillingQueue): Promise<void> => {
  const db = makeDocumentClient(clientConfig);
  try {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await db.send(
        new ScanCommand({
          TableName: tableName,
          FilterExpression: '#type = :type AND #state = :queued',
          ExpressionAttributeNames: { '#type': 'type', '#state': 'state' },
          ExpressionAttributeValues: { ':type': 'billing_record', ':queued': 'queued' },
          ExclusiveStartKey: start,
        }),
      );
      const messages = (page.Items ?? []).flatMap((item) => billingMessageOfRecord(item) ?? []);
      if (messages.length > 0) await queue.send(messages);
      start = page.LastEvaluatedKey;
    } while (start);
  } finally {
    db.destroy();
  }
};

/** The local billing path, as `startLocalPipeline` runs it. */
export interface LocalBilling {
  queue: LocalBillingQueue;
  poller: StreamPoller;
  stop(): Promise<void>;
}

/**
 * The billing path of the local stack, composed like AWS: a second reader of the table's
 * stream (a second event source mapping) runs the billing forwarder, which feeds the billing
 * queue, whose consumer is the billing function's handler on `billingDeps`.
 */
export const startLocalBilling = async (options: {
  clientConfig: DynamoDBClientConfig;
  tableName: string;
  dataDir: string;
  stores: Pick<TableStores, 'billing'>;
  clock: Clock;
  stripe?: LocalStripeOptions;
  queue?: LocalBillingQueueOptions;
}): Promise<LocalBilling> => {
  const stripe = options.stripe ?? {};
  const biller = makeUsageBiller({
    ...(stripe.secretKey ? { secretKey: stripe.secretKey } : {}),
    ...(stripe.apiBase ? { apiBase: stripe.apiBase } : {}),
    ...(stripe.eventName ? { eventName: stripe.eventName } : {}),
    ledgerDir: options.dataDir,
    clock: options.clock,
  });
  const queue = new LocalBillingQueue(makeBillingHandler(billingDeps({ stores: options.stores, biller, clock: options.clock })) as SqsFifoHandler, options.queue);
  const poller = new StreamPoller({
    clientConfig: options.clientConfig,
    tableName: options.tableName,
    handler: makeBillingForwarder({ billing: queue }),
    checkpointFile: join(options.dataDir, 'billing-stream-checkpoint.json'),
    functionName: 'BillingForwarder',
  });
  await poller.start();
  await resendQueued(options.clientConfig, options.tableName, queue);
  return {
    queue,
    poller,
    stop: async () => {
      await poller.stop();
      await queue.stop();
    },
  };
};
