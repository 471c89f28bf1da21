import { existsSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { Context, SQSEvent } from 'aws-lambda';
import { EVENT_RULES } from '../functions/contracts/event-rules';
import type { Consumer, ConsumerId, QueueName } from '../functions/contracts/consumers';
import type { Redelivery, TableStores } from '../functions/domain/ports';
import { BILLING_POLICY } from '../functions/domain/billing';
import { ConfigurationError } from '../functions/contracts/env';
import { declaredPorts, type ConsumerHandlerOf, type ConsumerPorts, type ConsumerQueues, type ConsumerSettings } from '../functions/handlers/consumer';
import type { StreamHandler } from '../functions/handlers/stream/outbox-relay';
import { logger } from '../functions/observability';
import { ConsumerWiring } from './handlers';
import type { InProcessEventBus } from './in-process-bus';
import { runInvocation } from './lambda-context';
import { StreamPoller } from './stream-poller';

// import.meta.url, not import.meta.dirname: Jest 29's ESM support only provides the former.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** A queue of the local stack that invokes its consumer's handler (an InProcessQueue, the billing FIFO queue). */
export interface LocalSourceQueue {
  start(handler: (event: SQSEvent, context: Context) => Promise<unknown>): void;
  /** How its messages' visibility is changed, where the queue supports it (a `Redelivery` port). */
  readonly redelivery?: Redelivery;
}

/** What the local stack sets where Lambda differs: code writes unpaced (DynamoDB Local paces itself), the production billing policy. */
export const LOCAL_SETTINGS: ConsumerSettings = { paceCodeWrites: false, billingPolicy: BILLING_POLICY };

/** The ports a local stack has: any of them, and of the queues and stores any part (a consumer reading what is missing fails as it is built). */
export type LocalPorts = Partial<Omit<ConsumerPorts, 'redelivery' | 'queues' | 'stores'>> & { queues?: Partial<ConsumerQueues>; stores?: Partial<TableStores> };

/** What the local stack runs its consumers on. */
export interface LocalConsumersOptions {
  /** The consumers to run (the local stack: every one of CONSUMERS). */
  consumers: readonly Consumer[];
  /** Every port the stack has; each consumer sees only what its needs declare (`declaredPorts`). */
  ports: LocalPorts;
  /** The queue of each queue source, by catalog name. */
  queues: Partial<Record<QueueName, LocalSourceQueue>>;
  /** The bus whose EVENT_RULES an `eventRules` consumer is the target of. */
  bus?: InProcessEventBus;
  /** The table's stream, which a `stream` consumer reads from its checkpoint in `dataDir`. */
  stream?: { clientConfig: DynamoDBClientConfig; tableName: string; dataDir: string };
  /** How often a scheduled consumer runs on a timer; 0: only `run` runs it. Default its catalog rate. */
  intervalMs?: (id: ConsumerId) => number | undefined;
}

/** The consumers the local stack runs. */
export interface LocalConsumers {
  /** The consumers started, in the catalog's order. */
  readonly ids: readonly ConsumerId[];
  /** The stream pollers, by consumer. */
  readonly pollers: ReadonlyMap<ConsumerId, StreamPoller>;
  /** Runs scheduled consumer `id`'s handler once, as its schedule does (after any run of it still going); resolves to what it returned. */
  run(id: ConsumerId): Promise<unknown>;
  /** Runs `work` while no scheduled run of `id` is going, and holds its next runs until done. */
  exclusive<T>(id: ConsumerId, work: () => Promise<T>): Promise<T>;
  /** Stops the timers and the stream pollers (the queues are their owner's to stop). */
  stop(): Promise<void>;
}

/** Legacy checkpoint file names of the stream consumers, still taken over, so that a data dir keeps its place in the stream. */
const LEGACY_CHECKPOINTS: Partial<Record<ConsumerId, string>> = { OutboxRelay: 'stream-checkpoint.json', BillingForwarder: 'billing-stream-checkpoint.json' };

/** The checkpoint file of stream consumer `id` in `dataDir` (a legacy-named one is renamed to it). */
export const streamCheckpointFile = (dataDir: string, id: ConsumerId): string => {
  const file = join(dataDir, `${id.replace(/(?<=[a-z])(?=[A-Z])/g, '-').toLowerCase()}-stream-checkpoint.json`);
  const legacy = LEGACY_CHECKPOINTS[id] && join(dataDir, LEGACY_CHECKPOINTS[id]);
  if (legacy && !existsSync(file) && existsSync(legacy)) renameSync(legacy, file);
  return file;
};

/** The `consumerHandler` of a consumer's handler module (its catalog `handler`). */
const handlerOf = async (consumer: Consumer): Promise<ConsumerHandlerOf<unknown>> => {
  const module = (await import(join(ROOT, consumer.handler))) as { consumerHandler?: ConsumerHandlerOf<unknown> };
  if (typeof module.consumerHandler !== 'function') throw new ConfigurationError(`${consumer.handler} exports no consumerHandler (${consumer.id})`);
  return module.consumerHandler;
};

/**
 * Runs consumers as the CDK stack deploys them, from the consumer catalog alone: each
 * consumer's own handler (its module's `consumerHandler`) on the ports its needs declare, joined
 * to what its source names. A queue consumer is started on its queue with that queue's
 * redelivery; a stream consumer gets a poller of the table's stream with its catalog batch size
 * and retries; a scheduled one a timer at its rate (and `run`); an `eventRules` one is the
 * target of every rule of EVENT_RULES on the bus. Invocations carry the consumer's name and time.
 */
export const startLocalConsumers = async (options: LocalConsumersOptions): Promise<LocalConsumers> => {
  const wiring = new ConsumerWiring();
  const pollers = new Map<ConsumerId, StreamPoller>();
  const scheduled = new Map<ConsumerId, (event: unknown, context: Context) => Promise<unknown>>();
  const runs = new Map<ConsumerId, Promise<unknown>>();
  const running = new Set<ConsumerId>();
  const timers: NodeJS.Timeout[] = [];
  const stopAll = async () => {
    for (const timer of timers) clearInterval(timer);
    await Promise.allSettled([...pollers.values()].map((poller) => poller.stop()));
    await Promise.allSettled([...runs.values()]);
  };

  const exclusive = <T>(id: ConsumerId, work: () => Promise<T>): Promise<T> => {
    const next = (runs.get(id) ?? Promise.resolve()).catch(() => undefined).then(work);
    runs.set(id, next);
    return next;
  };
  const run = (id: ConsumerId): Promise<unknown> => {
    const handler = scheduled.get(id);
    if (!handler) return Promise.reject(new Error(`${id} is not a scheduled consumer of this stack`));
    return exclusive(id, async () => {
      running.add(id);
      try {
        const context = wiring.context(id);
        return await runInvocation(context, () => handler(undefined, context));
      } finally {
        running.delete(id);
      }
    });
  };

  // First every handler, built on its ports (importing its module), so that nothing is fed before
  // all are ready; then the queues, bus rules and timers; the stream pollers last, so that what
  // they forward or publish finds its consumers started, whatever the catalog's order.
  const built = [];
  for (const consumer of options.consumers) {
    const id = consumer.id as ConsumerId;
    const { source } = wiring.entry(id);
    const queue = source.kind === 'queue' ? options.queues[source.queue] : undefined;
    if (source.kind === 'queue' && !queue) throw new ConfigurationError(`${id} reads the ${source.queue} queue, which this stack has not`);
    if (source.kind === 'stream' && !options.stream) throw new ConfigurationError(`${id} reads the table's stream, which this stack does not read`);
    if (source.kind === 'eventRules' && !options.bus) throw new ConfigurationError(`${id} is the target of the event rules, and this stack has no bus`);
    const ports = declaredPorts(id, consumer, { ...(options.ports as Partial<ConsumerPorts>), ...(queue?.redelivery ? { redelivery: queue.redelivery } : {}) });
    built.push({ id, source, queue, handler: (await handlerOf(consumer))(ports) });
  }
  try {
    for (const { id, source, queue, handler } of built) {
      switch (source.kind) {
        case 'queue':
          queue!.start(handler as (event: SQSEvent, context: Context) => Promise<unknown>);
          break;
        case 'schedule': {
          scheduled.set(id, handler as (event: unknown, context: Context) => Promise<unknown>);
          const every = options.intervalMs?.(id) ?? wiring.intervalMs(id);
          if (every > 0) {
            // A run still going when the next is due makes that one skip, as a run that overlaps
            // its next in AWS does the same work twice at best.
            const tick = () => {
              if (!running.has(id)) void run(id).catch((error: unknown) => logger.error(`${id} failed`, { error: error as Error }));
            };
            const timer = setInterval(tick, every);
            timer.unref();
            timers.push(timer);
          }
          break;
        }
        case 'eventRules': {
          const target = handler as (event: unknown, context: Context) => Promise<unknown>;
          for (const rule of EVENT_RULES) {
            options.bus!.subscribe(
              rule.id,
              async (event) => {
                // Invoked as EventBridge invokes the function: its logs carry its own name.
                const context = wiring.context(id);
                return runInvocation(context, () => target(event, context));
              },
              id,
            );
          }
          break;
        }
        case 'stream':
          break;
      }
    }
    for (const { id, source, handler } of built) {
      if (source.kind !== 'stream') continue;
      const poller = new StreamPoller({
        clientConfig: options.stream!.clientConfig,
        tableName: options.stream!.tableName,
        handler: handler as StreamHandler,
        checkpointFile: streamCheckpointFile(options.stream!.dataDir, id),
        functionName: id,
        ...wiring.stream(id),
      });
      try {
        await poller.start();
      } catch (error) {
        await poller.stop();
        throw error;
      }
      pollers.set(id, poller);
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  return { ids: wiring.ids, pollers, run, exclusive, stop: stopAll };
};
