import { randomUUID } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventBridgeEvent } from 'aws-lambda';
import { logger as serviceLogger } from '../functions/observability';
import { EVENT_SOURCE, type EventEnvelope } from '../functions/contracts/events';
import type { EventPublisher } from '../functions/domain/ports';
import { EVENT_RULES, assertSupportedPattern, matchesPattern, type EventRule } from '../functions/contracts/event-rules';

/** What a rule target receives: EventBridge's event around the service's envelope (`detail`). */
export type BusEvent = EventBridgeEvent<string, EventEnvelope>;

/** A rule target, as a Lambda target would be: an async handler of the bus event. */
export type BusTarget = (event: BusEvent) => Promise<unknown>;

/** A delivery that still failed after the last attempt (EventBridge would send it to the target's DLQ). */
export interface FailedDelivery {
  ruleId: string;
  target: string;
  event: BusEvent;
  attempts: number;
  error: string;
  failedAt: string;
}

/** Settings of the local bus. */
export interface InProcessEventBusOptions {
  /** The local stack's data dir: `events.jsonl` and `event-delivery-failures.jsonl` go there. */
  dataDir: string;
  /** The rules to route by; EVENT_RULES unless a test says otherwise. */
  rules?: readonly EventRule[];
  /** Attempts per target and event, counting the first (default 3). */
  maxAttempts?: number;
  /** Wait before the n-th retry: retryDelayMs × 2^(n-1) (default 200). */
  retryDelayMs?: number;
  logger?: Pick<typeof serviceLogger, 'error' | 'warn'>;
}

/** The file every event put on the bus is appended to, one JSON envelope per line. */
export const EVENTS_FILE = 'events.jsonl';

/** The file of deliveries that failed for good, one FailedDelivery per line. */
export const FAILED_DELIVERIES_FILE = 'event-delivery-failures.jsonl';

const LOCAL_ACCOUNT = '000000000000';
const LOCAL_REGION = 'local';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The local stand-in for the service's EventBridge bus. Every event put on it is appended to
 * `<data dir>/events.jsonl` (the counterpart of the bus's archive), then routed by the same
 * rules as the CDK stack to the targets subscribed to them. Like EventBridge, publishing
 * returns once the event is accepted and targets run afterwards; a failing target is retried
 * with backoff, and a delivery that still fails is logged and kept in `failed` and on disk.
 */
export class InProcessEventBus implements EventPublisher {
  /** Absolute path of the events file. */
  readonly eventsFile: string;
  /** Absolute path of the failed deliveries file. */
  readonly failuresFile: string;
  /** Deliveries that failed for good since the bus started. */
  readonly failed: FailedDelivery[] = [];

  readonly #rules: readonly EventRule[];
  readonly #targets = new Map<string, Array<{ name: string; target: BusTarget }>>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #maxAttempts: number;
  readonly #retryDelayMs: number;
  readonly #logger: Pick<typeof serviceLogger, 'error' | 'warn'>;
  readonly #dataDir: string;
  #ready: Promise<unknown> | undefined;
  // Appends are chained so that concurrent publishes never interleave or reorder lines.
  #writes: Promise<unknown> = Promise.resolve();

  constructor(options: InProcessEventBusOptions) {
    this.#rules = options.rules ?? EVENT_RULES;
    for (const rule of this.#rules) assertSupportedPattern(rule.pattern);
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.#retryDelayMs = options.retryDelayMs ?? 200;
    this.#logger = options.logger ?? serviceLogger;
    this.eventsFile = join(options.dataDir, EVENTS_FILE);
    this.failuresFile = join(options.dataDir, FAILED_DELIVERIES_FILE);
    this.#dataDir = options.dataDir;
  }

  /** Adds a target to a rule of the bus; `name` appears in logs and failures. */
  subscribe(ruleId: string, target: BusTarget, name: string = target.name || ruleId): void {
    if (!this.#rules.some((rule) => rule.id === ruleId)) {
      throw new Error(`No event rule ${ruleId}; known rules: ${this.#rules.map((rule) => rule.id).join(', ')}`);
    }
    const targets = this.#targets.get(ruleId) ?? [];
    targets.push({ name, target });
    this.#targets.set(ruleId, targets);
  }

  /** Appends the events to the events file, then starts their deliveries; throws if the append fails. */
  async publish(events: ReadonlyArray<EventEnvelope>): Promise<void> {
    if (events.length === 0) return;
    const lines = events.map((event) => `${JSON.stringify(event)}\n`).join('');
    const write = this.#writes.then(async () => {
      this.#ready ??= mkdir(this.#dataDir, { recursive: true });
      await this.#ready;
      await appendFile(this.eventsFile, lines);
    });
    this.#writes = write.catch(() => undefined);
    await write;
    for (const envelope of events) {
      const event = this.#busEvent(envelope);
      for (const rule of this.#rules) {
        if (!matchesPattern(rule.pattern, event)) continue;
        for (const { name, target } of this.#targets.get(rule.id) ?? []) this.#track(this.#deliver(rule.id, name, target, event));
      }
    }
  }

  /** Resolves once every delivery started so far, retries included, has succeeded or failed for good. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
    await this.#writes;
  }

  #busEvent(envelope: EventEnvelope): BusEvent {
    return {
      version: '0',
      // EventBridge gives each accepted entry a new id; subscribers dedupe on detail.id.
      id: randomUUID(),
      'detail-type': envelope.type,
      source: EVENT_SOURCE,
      account: LOCAL_ACCOUNT,
      // EventBridge keeps the entry's Time to the second.
      time: new Date(envelope.created_at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: LOCAL_REGION,
      resources: [],
      detail: envelope,
    };
  }

  #track(delivery: Promise<void>): void {
    this.#inFlight.add(delivery);
    void delivery.finally(() => this.#inFlight.delete(delivery));
  }

  async #deliver(ruleId: string, name: string, target: BusTarget, event: BusEvent): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await target(event);
        return;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (attempt < this.#maxAttempts) {
          this.#logger.warn('event target failed; retrying', { ruleId, target: name, eventId: event.detail.id, attempt, error: message });
          await sleep(this.#retryDelayMs * 2 ** (attempt - 1));
          continue;
        }
        const failure: FailedDelivery = { ruleId, target: name, event, attempts: attempt, error: message, failedAt: new Date().toISOString() };
        this.failed.push(failure);
        this.#logger.error('event target failed for good; the delivery is kept in the failures file', {
          ruleId,
          target: name,
          eventId: event.detail.id,
          attempts: attempt,
          error: message,
          failuresFile: this.failuresFile,
        });
        const write = this.#writes.then(() => appendFile(this.failuresFile, `${JSON.stringify(failure)}\n`));
        this.#writes = write.catch((writeError: unknown) =>
          this.#logger.error('could not record a failed delivery', { error: String(writeError) }),
        );
        return;
      }
    }
  }
}
