import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { OUTBOX_ITEM_TYPE } from '../../contracts/outbox';
import { logger } from '../../observability';
import { withObservability } from '../middleware';
import { parseEventEnvelope, type EventEnvelope } from '../../contracts/events';
import type { EventPublisher } from '../../domain/ports';
import type { ConsumerHandlerOf } from '../consumer';

/** A DynamoDB Streams Lambda handler that reports partial batch failures. */
export type StreamHandler = (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse>;

/** What the relay needs. */
export interface OutboxRelayDeps {
  publisher: EventPublisher;
}

/** Raised for an outbox item whose envelope is malformed: a bug upstream, never dropped silently. */
export class MalformedOutboxItemError extends Error {}

/**
 * The envelope an INSERT of an outbox item carries, or undefined for any other record (other
 * entities, updates, and the TTL deletions of outbox items). The envelope may be stored as a
 * map or as a JSON string (which alone keeps the producer's key order).
 */
export const outboxEventOf = (record: DynamoDBRecord): EventEnvelope | undefined => {
  const image = record.dynamodb?.NewImage;
  if (record.eventName !== 'INSERT' || image?.type?.S !== OUTBOX_ITEM_TYPE) return undefined;
  // aws-lambda's and the SDK's AttributeValue types describe the same wire format.
  const item = unmarshall(image as Record<string, AttributeValue>);
  const stored: unknown = typeof item.event === 'string' ? JSON.parse(item.event) : item.event;
  const parsed = parseEventEnvelope(stored);
  if ('problems' in parsed) throw new MalformedOutboxItemError(`Outbox item ${String(item.pk)} holds no valid event envelope: ${parsed.problems}`);
  // A DynamoDB map loses key order; put the envelope's own fields back in the documented order.
  const { id, type, created_at, api_version, project_id, data, ...rest } = stored as EventEnvelope;
  return { id, type, created_at, api_version, project_id, data, ...rest };
};

/**
 * The outbox relay: publishes the event of every new outbox item on the table's stream.
 * 1. Pick the INSERTs of outbox items; ignore every other record.
 * 2. Publish each record's envelope, records in parallel.
 * 3. Report the records that failed, so that the event source mapping retries from the first
 *    of them (ReportBatchItemFailures); a retry republishes with the same event id.
 */
export const makeHandler = (deps: OutboxRelayDeps): StreamHandler => {
  const relay = async (record: DynamoDBRecord): Promise<void> => {
    try {
      const event = outboxEventOf(record);
      if (event) await deps.publisher.publish([event]);
    } catch (error) {
      logger.error('outbox record not relayed; it will be retried', {
        pk: record.dynamodb?.Keys?.pk?.S,
        sequenceNumber: record.dynamodb?.SequenceNumber,
        error: error as Error,
      });
      throw error;
    }
  };
  return withObservability<DynamoDBStreamEvent, DynamoDBBatchResponse>(async (event, context) =>
      // A processor per invocation: it keeps the batch's state, and the local stack may
      // invoke the same handler for several shards at once.
      processPartialResponse(event, relay, new BatchProcessor(EventType.DynamoDBStreams), { context }),
    );
};

/** The OutboxRelay consumer. */
export const consumerHandler: ConsumerHandlerOf<StreamHandler> = (ports) => makeHandler({ publisher: ports.publisher });
