import { randomUUID } from 'node:crypto';
import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { makeUsageBiller } from '../functions/adapters/stripe/factory';
import { CONSUMERS, consumer, queueConsumer, type Consumer, type ConsumerId } from '../functions/contracts/consumers';
import type { StripeKeyReader } from '../functions/adapters/stripe/rotating-key-biller';
import { BILLING_POLICY, type BillingPolicy } from '../functions/domain/billing';
import { billingMessageDeduplicationId, billingMessageGroup, type BillingMessage } from '../functions/contracts/queue-messages';
import { sweepBilling, type BillingSweepResult } from '../functions/use-cases/bill-redemption';
import type { BillingQueue, Clock, ReceivedMessage, Redelivery, TableStores } from '../functions/domain/ports';
import { declaredPorts, type ConsumerPorts } from '../functions/handlers/consumer';
import { billingSweepDeps } from '../functions/handlers/schedule/billing-sweeper';
import { logger } from '../functions/observability';
import { LOCAL_SETTINGS, startLocalConsumers, type LocalPorts, type LocalSourceQueue } from './consumers';
import { ConsumerWiring } from './handlers';
import { runInvocation } from './lambda-context';
import type { StreamPoller } from './stream-poller';

/** The billing queue's settings: its redrive as in AWS (the Billing consumer's entry), the rest the local queue's own. */
export const BILLING_QUEUE = {
  /** Receives before a message goes to the dead-letter queue (a message that keeps crashing the function). */
  maxReceiveCount: queueConsumer('billing').source.maxReceiveCount!,
  /** Delay before a redelivery the handler did not set one for (AWS: the visibility timeout; shorter here, so that a local retry comes soon). */
  retryDelayMs: 1_000,
  /** How long SQS deduplicates a message by its deduplication id. */
  deduplicationMs: 5 * 60_000,
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
  /** How a retry waits (default a timer); tests pass one that moves a fake clock instead. */
  sleep?: (ms: number) => Promise<void>;
}

type SqsFifoHandler = (event: SQSEvent, context: Context) => Promise<{ batchItemFailures: { itemIdentifier: string }[] } | void>;

/**
 * The billing FIFO queue in process: one message at a time per group (the Stripe customer),
 * groups in parallel, deduplicated by deduplication id for five minutes, each message handed
 * to the billing function's own handler as a one-record SQS event, redelivered after the delay
 * the handler set (`Redelivery`, SQS's visibility change) or `retryDelayMs`, and kept in
 * `deadLetters` after `maxReceiveCount` receives.
 */
export class LocalBillingQueue implements BillingQueue, Redelivery, LocalSourceQueue {
  /** The queue's own visibility changes, as the billing handler makes them. */
  readonly redelivery: Redelivery = this;
  /** Messages given up on. */
  readonly deadLetters: BillingDeadLetter[] = [];
  /** Messages handed to the handler, receives included. */
  receives = 0;
  /** The catalog entry this queue's consumer runs by (the Billing consumer). */
  readonly wiring = new ConsumerWiring();
  private readonly seen = new Map<string, number>();
  private readonly groups = new Map<string, Promise<void>>();
  private readonly delays = new Map<string, number>();
  private handler: SqsFifoHandler | undefined;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private stopped = false;

  constructor(private readonly options: LocalBillingQueueOptions = {}) {}

  /** Hands every message from now on to `handler` (the Billing consumer's, built on this queue's `redelivery`). */
  start(handler: SqsFifoHandler): void {
    this.handler = handler;
  }

  async send(messages: readonly BillingMessage[]): Promise<void> {
    const now = Date.now();
    for (const message of messages) {
      const id = billingMessageDeduplicationId(message);
      const seenAt = this.seen.get(id);
      if (seenAt !== undefined && now - seenAt < BILLING_QUEUE.deduplicationMs) continue;
      this.seen.set(id, now);
      const group = billingMessageGroup(message);
      this.inFlight++;
      const next = (this.groups.get(group) ?? Promise.resolve()).then(() => this.deliver(message, group)).finally(() => this.settled());
      this.groups.set(group, next);
    }
  }

  /** The delay before the next receive of a message (the handler's visibility change). */
  async after(message: ReceivedMessage, delayMs: number): Promise<void> {
    this.delays.set(message.messageId, delayMs);
  }

  /** Resolves once every message sent so far was handled or dead-lettered. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops redelivering; messages in flight end after their current receive. */
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
          MessageDeduplicationId: billingMessageDeduplicationId(message),
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:local:000000000000:billing.fifo',
        awsRegion: 'local',
      } as SQSRecord;
      const context = this.wiring.context('Billing');
      this.receives++;
      try {
        const handler = this.handler;
        if (!handler) throw new Error('the billing queue has no consumer started');
        const response = await runInvocation(context, () => handler({ Records: [record] }, context));
        if (!response || response.batchItemFailures.length === 0) return;
      } catch (error) {
        logger.warn('billing invocation failed', { error: error as Error });
      }
      const delay = this.delays.get(messageId) ?? this.options.retryDelayMs ?? BILLING_QUEUE.retryDelayMs;
      this.delays.delete(messageId);
      if (receive < maxReceives && !this.stopped) await sleep(delay);
    }
    if (!this.stopped) {
      logger.error('billing message dead-lettered', { message });
      this.deadLetters.push({ message, receives: maxReceives });
    }
  }
}

/** Where the local stack bills: the real Stripe client with a key, else the ledger file. */
export interface LocalStripeOptions {
  /** STRIPE_SECRET_KEY: bill through stripe-node; without it, `<data dir>/stripe-ledger.jsonl`. */
  secretKey?: string;
  /** A reader of a key that may change while running (tests of rotation); takes precedence over `secretKey`. */
  readKey?: StripeKeyReader;
  /** STRIPE_API_BASE, e.g. a fake Stripe on 127.0.0.1. */
  apiBase?: string;
  /** STRIPE_METER_EVENT_NAME. */
  eventName?: string;
}

/** The local billing path, as `startLocalPipeline` runs it. */
export interface LocalBilling {
  queue: LocalBillingQueue;
  poller: StreamPoller;
  /** Runs one billing sweep now (the timer runs one every `sweepIntervalMs`). */
  sweep(options?: { grace?: number }): Promise<BillingSweepResult>;
  /** The consumers of the catalog this runs (forwarder, billing function, sweeper). */
  consumers: readonly ConsumerId[];
  stop(): Promise<void>;
}

/** The consumers of the local billing path: the billing queue's, and those that send to it. */
export const isBillingConsumer = (entry: Consumer): boolean =>
  (entry.source.kind === 'queue' && entry.source.queue === 'billing') || (entry.needs.sends ?? []).some((queue) => queue === 'billing');

/**
 * The billing path of the local stack, composed like AWS: the billing FIFO queue in process, and
 * every billing consumer of the catalog run by `startLocalConsumers` (the forwarder, a second
 * reader of the table's stream, feeds the queue; the billing function's handler consumes it; the
 * billing sweeper runs on its timer). Unlike SQS, the in-process queue is lost with the process:
 * a start runs one sweep that takes every queued record and every unsettled window at once (no
 * grace: nothing else is working on them yet), so a crash never strands usage.
 */
export const startLocalBilling = async (options: {
  clientConfig: DynamoDBClientConfig;
  tableName: string;
  dataDir: string;
  stores: Partial<TableStores> & Pick<TableStores, 'billing' | 'accounts'>;
  clock: Clock;
  stripe?: LocalStripeOptions;
  queue?: LocalBillingQueueOptions;
  policy?: BillingPolicy;
  /** Default the BillingSweeper consumer's rate, as EventBridge Scheduler runs it in AWS; 0 runs no timer. */
  sweepIntervalMs?: number;
  /** The rest of the stack's ports, for a billing consumer that needs more than the billing parts. */
  stackPorts?: LocalPorts;
}): Promise<LocalBilling> => {
  const stripe = options.stripe ?? {};
  const policy = options.policy ?? BILLING_POLICY;
  const biller = makeUsageBiller({
    ...(stripe.readKey ? { readKey: stripe.readKey } : {}),
    ...(stripe.secretKey ? { secretKey: stripe.secretKey } : {}),
    ...(stripe.apiBase ? { apiBase: stripe.apiBase } : {}),
    ...(stripe.eventName ? { eventName: stripe.eventName } : {}),
    ledgerDir: options.dataDir,
    clock: options.clock,
  });
  const queue = new LocalBillingQueue(options.queue);
  const stack = options.stackPorts ?? {};
  const ports: LocalPorts = {
    ...stack,
    clock: options.clock,
    settings: { ...LOCAL_SETTINGS, ...stack.settings, billingPolicy: policy },
    stores: { ...stack.stores, ...options.stores },
    biller,
    queues: { ...stack.queues, billing: queue },
  };
  const consumers = await startLocalConsumers({
    consumers: CONSUMERS.filter(isBillingConsumer),
    ports,
    queues: { billing: queue },
    stream: { clientConfig: options.clientConfig, tableName: options.tableName, dataDir: options.dataDir },
    intervalMs: (id) => (id === 'BillingSweeper' ? options.sweepIntervalMs : undefined),
  }).catch(async (error: unknown) => {
    await queue.stop();
    throw error;
  });
  const sweeper = consumer('BillingSweeper');
  const sweepDeps = billingSweepDeps(declaredPorts(sweeper.id, sweeper, ports as Partial<ConsumerPorts>));
  // The sweep by hand, with a grace or an instant of its own: one at a time with the timer's runs.
  const sweep = (sweepOptions: { grace?: number; now?: Date } = {}): Promise<BillingSweepResult> =>
    consumers.exclusive('BillingSweeper', () => sweepBilling(sweepDeps, sweepOptions));
  try {
    await sweep({ grace: 0, now: new Date(options.clock.now().getTime() + policy.claimLeaseMs) });
  } catch (error) {
    await consumers.stop();
    await queue.stop();
    throw error;
  }
  return {
    queue,
    poller: consumers.pollers.get('BillingForwarder')!,
    sweep,
    consumers: consumers.ids,
    stop: async () => {
      await consumers.stop();
      await queue.stop();
    },
  };
};
