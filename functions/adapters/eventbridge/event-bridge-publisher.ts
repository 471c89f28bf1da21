import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE, type EventEnvelope } from '../../contracts/events';
import type { EventPublisher } from '../../domain/ports';
import { packInOrder } from '../batching';

/** PutEvents accepts at most this many entries per request. */
export const MAX_ENTRIES_PER_REQUEST = 10;

/** PutEvents refuses a request whose entries add up to 256 KiB or more. */
export const MAX_REQUEST_BYTES = 256 * 1024;

/** Settings of the publisher; the defaults suit Lambda. */
export interface EventBridgePublisherOptions {
  /** Attempts per entry, counting the first (default 4). */
  maxAttempts?: number;
  /** Backoff before the n-th retry is random in [0, baseDelayMs × 2^(n-1)] (default 100). */
  baseDelayMs?: number;
  /** Waits between attempts; tests pass one that does not wait. */
  sleep?: (ms: number) => Promise<void>;
}

/** One event EventBridge still refused after the last attempt. */
export interface FailedEventEntry {
  eventId: string;
  errorCode: string;
  errorMessage: string;
}

/** Some events could not be published; names each of them with EventBridge's reason. */
export class EventPublishError extends Error {
  constructor(
    readonly failures: readonly FailedEventEntry[],
    total: number,
    busName: string,
  ) {
    super(
      `${failures.length} of ${total} events were not published to event bus ${busName}: ` +
        failures.map((failure) => `${failure.eventId} (${failure.errorCode}: ${failure.errorMessage})`).join(', '),
    );
    this.name = 'EventPublishError';
  }
}

const utf8Bytes = (value: string | undefined): number => (value === undefined ? 0 : Buffer.byteLength(value, 'utf8'));

/** The entry size as EventBridge counts it ("Calculating PutEvents event entry size"). */
export const entrySize = (entry: PutEventsRequestEntry): number =>
  (entry.Time ? 14 : 0) +
  utf8Bytes(entry.Source) +
  utf8Bytes(entry.DetailType) +
  utf8Bytes(entry.Detail) +
  (entry.Resources ?? []).reduce((sum, resource) => sum + utf8Bytes(resource), 0);

interface PendingEntry {
  eventId: string;
  entry: PutEventsRequestEntry;
  size: number;
}

/** Splits entries, in order, into requests within both PutEvents limits (size strictly below the byte limit). */
const toRequests = (entries: readonly PendingEntry[]): PendingEntry[][] =>
  packInOrder(entries, MAX_ENTRIES_PER_REQUEST, MAX_REQUEST_BYTES - 1, (pending) => pending.size);

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Publishes envelopes to the service's EventBridge bus: `Source` is EVENT_SOURCE, `DetailType`
 * the event type, `Detail` the whole envelope (subscribers dedupe on its `id`).
 */
export class EventBridgePublisher implements EventPublisher {
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
    options: EventBridgePublisherOptions = {},
  ) {
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 4);
    this.#baseDelayMs = options.baseDelayMs ?? 100;
    this.#sleep = options.sleep ?? realSleep;
  }

  /**
   * Sends the events in as few PutEvents requests as the limits allow. EventBridge accepts or
   * refuses each entry on its own, so refused entries are sent again without the accepted
   * ones, with backoff; what is still refused after the last attempt is thrown.
   */
  async publish(events: ReadonlyArray<EventEnvelope>): Promise<void> {
    const entries = events.map((event) => this.#toEntry(event));
    // An entry over the limit can never be accepted: refuse before sending anything.
    const oversized = entries.filter((pending) => pending.size >= MAX_REQUEST_BYTES);
    if (oversized.length > 0) {
      throw new EventPublishError(
        oversized.map((pending) => ({
          eventId: pending.eventId,
          errorCode: 'EntryTooLarge',
          errorMessage: `${pending.size} bytes, the limit is under ${MAX_REQUEST_BYTES}`,
        })),
        events.length,
        this.busName,
      );
    }

    let pending = entries;
    let failures: FailedEventEntry[] = [];
    for (let attempt = 1; pending.length > 0 && attempt <= this.#maxAttempts; attempt++) {
      if (attempt > 1) await this.#sleep(Math.random() * this.#baseDelayMs * 2 ** (attempt - 2));
      const refused: PendingEntry[] = [];
      failures = [];
      for (const request of toRequests(pending)) {
        const response = await this.client.send(new PutEventsCommand({ Entries: request.map((item) => item.entry) }));
        // Response entries line up with request entries; one without an EventId was not accepted.
        request.forEach((item, index) => {
          const result = response.Entries?.[index];
          if (result?.EventId && !result.ErrorCode) return;
          refused.push(item);
          failures.push({
            eventId: item.eventId,
            errorCode: result?.ErrorCode ?? 'MissingResult',
            errorMessage: result?.ErrorMessage ?? 'no result entry for this event',
          });
        });
      }
      pending = refused;
    }
    if (pending.length > 0) throw new EventPublishError(failures, events.length, this.busName);
  }

  #toEntry(event: EventEnvelope): PendingEntry {
    const time = new Date(event.created_at);
    // An unparsable date would reach EventBridge as garbage; it is a bug in the event's producer.
    if (Number.isNaN(time.getTime())) throw new TypeError(`Event ${event.id} has an invalid created_at: ${event.created_at}`);
    const entry: PutEventsRequestEntry = {
      EventBusName: this.busName,
      Source: EVENT_SOURCE,
      DetailType: event.type,
      Detail: JSON.stringify(event),
      Time: time,
    };
    return { eventId: event.id, entry, size: entrySize(entry) };
  }
}
