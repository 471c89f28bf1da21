import type { HttpHandler } from '../functions/handlers/http/http-api';
import type { ExpiryStore, TableProbe, TelegramSender } from '../functions/domain/ports';
import { catalogHandler } from '../functions/handlers/http/catalog-handler';
import { CATALOG, operationId, type ServiceDeps } from '../functions/operations';
import type { ApiDeps } from '../functions/wiring';
import { ConfigurationError } from '../functions/contracts/env';
import type { WebhookServices } from '../functions/use-cases/webhook-endpoints';
import type { Context } from 'aws-lambda';
import { consumer, type Consumer, type ConsumerId } from '../functions/contracts/consumers';
import type { InProcessQueueOptions } from './in-process-queue';
import type { StreamPollerOptions } from './stream-poller';
import { localLambdaContext } from './lambda-context';

/** What the local API needs beyond the stores: the bot, as the Telegram routes see it. */
export interface LocalApiDeps extends ApiDeps {
  telegram: TelegramSender;
  botUsername: string;
  webhookSecret: string;
  /** What `/health` reads. */
  tableProbe: TableProbe;
  /** The webhook parts (startLocalPipeline builds them); without them the webhook routes answer 500. */
  webhooks?: WebhookServices;
  /** The expiry index and batch expiry moves (expire_batch). */
  expiry: ExpiryStore;
}

/** Stands in for webhooks where a harness has none: any use fails as a configuration error. */
const noWebhooks = new Proxy({} as WebhookServices, {
  get: () => {
    throw new ConfigurationError('webhooks are not configured in this stack');
  },
});

/**
 * The local stack's handler for each route id of API_ROUTES, from the catalog: every entry gets
 * the same generic handler as in Lambda, on local dependencies (all of them: locally nothing is
 * granted per function).
 */
export const localHandlers = (deps: LocalApiDeps): Record<string, HttpHandler> => {
  const all: ServiceDeps = { ...deps, webhooks: deps.webhooks ?? noWebhooks };
  return Object.fromEntries(CATALOG.map((entry) => [operationId(entry.name), catalogHandler(entry, all)]));
};

/** Receives the local dead-letter queue allows: in AWS the pipeline's dead-letter queue has no redrive, a message stays until consumed. */
const NO_REDRIVE_RECEIVES = 1000;

/**
 * Reads the consumer catalog (functions/contracts/consumers.ts) for the local stack
 * (`startLocalConsumers`, and the queues it makes) and remembers which consumers it ran. Every setting of a local consumer
 * (its queue's and event source's, its timeout, its schedule's rate) comes from here, so that the
 * local stack runs each consumer as the CDK stack deploys it; `ids` is what the local stack
 * reports as run (`LocalPipeline.consumers`).
 */
export class ConsumerWiring {
  /** The consumers read so far, in order. */
  readonly ids: ConsumerId[] = [];

  /** The catalog entry of consumer `id`, recorded as run here. */
  entry(id: ConsumerId): Consumer {
    if (!this.ids.includes(id)) this.ids.push(id);
    return consumer(id);
  }

  /** The in-process queue settings of a queue consumer: its queue's and its event source's, as in AWS. */
  queue(id: ConsumerId): Required<Pick<InProcessQueueOptions, 'visibilityTimeoutSeconds' | 'functionTimeoutSeconds' | 'maxReceiveCount' | 'batchSize' | 'maxConcurrency'>> {
    const { source, timeoutSeconds } = this.entry(id);
    if (source.kind !== 'queue') throw new Error(`${id} is not a queue consumer`);
    return {
      visibilityTimeoutSeconds: source.visibilityTimeoutSeconds,
      functionTimeoutSeconds: timeoutSeconds,
      maxReceiveCount: source.maxReceiveCount ?? NO_REDRIVE_RECEIVES,
      batchSize: source.batchSize,
      // Without a bound in AWS Lambda scales out; one process runs at most the queue's default.
      maxConcurrency: source.maxConcurrency ?? 2,
    };
  }

  /**
   * The stream poller settings of a stream consumer: its event source's batch size and retries.
   * The filter is not applied locally: the poller hands every record over and the handlers skip
   * what their filter would have left out.
   */
  stream(id: ConsumerId): Required<Pick<StreamPollerOptions, 'batchSize' | 'maxRetryAttempts'>> {
    const { source } = this.entry(id);
    if (source.kind !== 'stream') throw new Error(`${id} is not a stream consumer`);
    return { batchSize: source.batchSize, maxRetryAttempts: source.retryAttempts };
  }

  /** How often a scheduled consumer runs, in milliseconds. */
  intervalMs(id: ConsumerId): number {
    const { source } = this.entry(id);
    if (source.kind !== 'schedule') throw new Error(`${id} is not a scheduled consumer`);
    return source.everySeconds * 1000;
  }

  /** A Lambda context for one invocation of consumer `id`: its name, and its timeout counting down from now. */
  context(id: ConsumerId): Context {
    const until = Date.now() + this.entry(id).timeoutSeconds * 1000;
    return localLambdaContext({ functionName: id, remainingMs: () => until - Date.now() });
  }
}
