import { portNeedsOf, type ConsumerNeeds, type ConsumerPortNeed } from '../contracts/consumers';
import type { DeliverMessage } from '../contracts/queue-messages';
import { ConfigurationError } from '../contracts/env';
import type { BillingPolicy } from '../domain/billing';
import type {
  BillingQueue,
  Clock,
  EventPublisher,
  JobQueue,
  MessageQueue,
  Redelivery,
  TableStores,
  TelegramSender,
  UsageBiller,
  WebhookDeliveryStore,
  WebhookRetryScheduler,
} from '../domain/ports';
import type { EndpointGate } from '../use-cases/deliver-webhook';
import type { WebhookServices } from '../use-cases/webhook-endpoints';

/** The queues a consumer sends to (its `sends` need), by catalog name. */
export interface ConsumerQueues {
  generation: JobQueue;
  delivery: MessageQueue<DeliverMessage>;
  billing: BillingQueue;
  /** The webhook delivery queue, as the webhook functions send to it: a delivery's next attempt. */
  webhookDelivery: WebhookRetryScheduler;
}

/** What differs between the stacks beyond the ports themselves. */
export interface ConsumerSettings {
  /** Pace the generator's code writes to its share of the table (docs/CAPACITY.md): in Lambda; DynamoDB Local paces itself. */
  paceCodeWrites: boolean;
  billingPolicy: BillingPolicy;
  /** The webhook deliverer's per-endpoint in-flight cap; default the warm function's own. */
  webhookGate?: EndpointGate;
}

/**
 * What every consumer's handler is built from, in Lambda (functions/consumer-wiring.ts:
 * productionConsumerPorts) and in the local stack (local/consumers.ts) alike. A part is there
 * only when the consumer's catalog `needs` (or its source) provide it (CONSUMER_NEED_PORTS): a
 * handler that reads a part its consumer does not declare fails as it is built, at cold start
 * and in test/rules/consumer-entries.test.ts.
 */
export interface ConsumerPorts {
  clock: Clock;
  settings: ConsumerSettings;
  /** `table` */
  stores: TableStores;
  /** `sends`: only the queues the consumer names. */
  queues: ConsumerQueues;
  /** `bot` */
  telegram: TelegramSender;
  /** `bot`: the pause between two sends to one chat. */
  messageIntervalMs: number;
  /** `eventBus` */
  publisher: EventPublisher;
  /** `stripe` */
  biller: UsageBiller;
  /** `webhooks`: the endpoints and deliveries over the table, the SSRF guard, the signed sender, the delivery queue. */
  webhooks: WebhookServices & { deliveries: WebhookDeliveryStore };
  /** A queue source: how a message is handed back to its queue later (its visibility). */
  redelivery: Redelivery;
}

/** What a consumer's handler module exports as `consumerHandler`: its handler, built from the ports. */
export type ConsumerHandlerOf<H> = (ports: ConsumerPorts) => H;

/** Which parts of ConsumerPorts each need of the catalog provides (`source`: a queue source's). */
export const CONSUMER_NEED_PORTS: Readonly<Record<ConsumerPortNeed, readonly (keyof ConsumerPorts)[]>> = {
  table: ['stores'],
  stores: [],
  deletes: [],
  sends: ['queues'],
  bot: ['telegram', 'messageIntervalMs'],
  eventBus: ['publisher'],
  stripe: ['biller'],
  webhooks: ['webhooks'],
  queueSource: ['redelivery'],
};

/**
 * `ports` narrowed to what consumer `id` declares: any other part, or a queue it does not send
 * to, fails as a configuration error when read. Both stacks hand each handler its ports through
 * this, so a handler cannot come to lean on a part its function would not be granted in AWS.
 */
export const declaredPorts = (
  id: string,
  consumer: { readonly needs: ConsumerNeeds; readonly source: { readonly kind: string } },
  ports: Partial<ConsumerPorts>,
): ConsumerPorts => {
  const allowed = new Set<keyof ConsumerPorts>(['clock', 'settings', ...portNeedsOf(consumer).flatMap((need) => CONSUMER_NEED_PORTS[need])]);
  const refuse = (what: string): never => {
    throw new ConfigurationError(`${id} reads ${what}, which its catalog entry does not declare (functions/contracts/consumers.ts)`);
  };
  const missing = (what: string): never => {
    throw new ConfigurationError(`${id} reads ${what}, which its catalog entry declares but the stack did not provide`);
  };
  // What the language and the runtime ask of any object (`await` reads `then`, inspection reads
  // symbols) is answered as a plain object would, not refused.
  const asked = (name: string | symbol): boolean => typeof name === 'symbol' || name === 'then' || name === 'toJSON' || name in Object.prototype;
  /**
   * A plain object of the `names` of `from` that are there (so that `in`, spreading and listing
   * see those alone), behind a proxy that refuses any other name read, `what` naming it.
   */
  const only = <T extends object>(from: T, names: readonly (keyof T)[], what: (name: string) => string): T => {
    const present = Object.fromEntries(names.filter((name) => from[name] !== undefined).map((name) => [name, from[name]])) as T;
    return new Proxy(present, {
      get: (target, name) => {
        if (asked(name)) return Reflect.get(target, name);
        if (name in target) return target[name as keyof T];
        return names.includes(name as keyof T) ? missing(what(String(name))) : refuse(what(String(name)));
      },
    });
  };
  const parts: Partial<ConsumerPorts> = { ...ports };
  if (ports.queues) parts.queues = only(ports.queues, consumer.needs.sends ?? [], (name) => `the ${name} queue`);
  if (ports.stores && consumer.needs.stores) parts.stores = only(ports.stores, consumer.needs.stores, (name) => `the ${name} store`);
  return only(parts as ConsumerPorts, [...allowed], (name) => name);
};
