import type { EventEnvelope } from './events';
import { keys } from './table';

/** How long a published event stays readable in the table (for audit and replay). */
const OUTBOX_RETENTION_SECONDS = 7 * 24 * 3600;

/** The `type` attribute that marks an outbox item for the stream relay. */
export const OUTBOX_ITEM_TYPE = 'outbox_event';

/**
 * The transactional outbox: an event is written in the same DynamoDB transaction as the state
 * change it reports, and the table's stream relays it to EventBridge. So an event exists if and
 * only if its change committed, and a relay retry republishes it with the same id.
 */
export const outboxItem = (event: EventEnvelope, now: Date): Record<string, unknown> => ({
  ...keys.outboxEvent(event.id),
  type: OUTBOX_ITEM_TYPE,
  event,
  ttl: Math.floor(now.getTime() / 1000) + OUTBOX_RETENTION_SECONDS,
});
