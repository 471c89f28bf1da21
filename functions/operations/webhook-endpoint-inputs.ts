import * as v from 'valibot';
import { EVENT_SUBSCRIPTIONS, WEBHOOK_PAGE_MAX } from '../domain/webhooks';

// The inputs of the webhook endpoint operations. Declarative only (no transform or check), so
// that the operation catalog can publish them as JSON Schema; strict, so that an unknown field is
// refused, never dropped.

/** The longest endpoint URL accepted. */
export const WEBHOOK_URL_MAX_LENGTH = 2048;
/** The longest endpoint description accepted. */
export const WEBHOOK_DESCRIPTION_MAX_LENGTH = 256;

const url = v.pipe(v.string(), v.url('url must be an absolute URL'), v.maxLength(WEBHOOK_URL_MAX_LENGTH, `url must be at most ${WEBHOOK_URL_MAX_LENGTH} characters`));
const events = v.pipe(
  v.array(v.picklist(EVENT_SUBSCRIPTIONS, `events may hold ${EVENT_SUBSCRIPTIONS.join(', ')}`)),
  v.minLength(1, 'events must name at least one event type'),
  v.maxLength(EVENT_SUBSCRIPTIONS.length, `events holds at most ${EVENT_SUBSCRIPTIONS.length} entries`),
);
const description = v.pipe(v.string(), v.maxLength(WEBHOOK_DESCRIPTION_MAX_LENGTH, `description must be at most ${WEBHOOK_DESCRIPTION_MAX_LENGTH} characters`));
const cursor = v.pipe(v.string(), v.maxLength(2048, 'cursor is not one this listing returned'));
const limit = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(WEBHOOK_PAGE_MAX));
const idMessage = 'must be a non-blank string of at most 64 characters';
// Not blank: white space alone names no project.
const id = v.pipe(v.string(), v.regex(/\S/, idMessage), v.minLength(1, idMessage), v.maxLength(64, idMessage));

/** `POST /v1/webhook-endpoints`. */
export const CreateWebhookEndpointInputSchema = v.strictObject({
  project_id: id,
  url,
  events,
  description: v.optional(description),
});

/** `PATCH /v1/webhook-endpoints/{id}`: absent fields stay; `description: null` clears it. */
export const UpdateWebhookEndpointInputSchema = v.strictObject({
  url: v.optional(url),
  events: v.optional(events),
  enabled: v.optional(v.boolean()),
  description: v.optional(v.nullable(description)),
});

/** `GET /v1/webhook-endpoints?project_id=…`. */
export const ListWebhookEndpointsInputSchema = v.strictObject({
  project_id: id,
  cursor: v.optional(cursor),
  limit: v.optional(limit),
});

/** `GET /v1/webhook-endpoints/{id}/deliveries?status=…&cursor=…`. */
export const ListWebhookDeliveriesInputSchema = v.strictObject({
  status: v.optional(v.picklist(['pending', 'succeeded', 'failed'])),
  cursor: v.optional(cursor),
  limit: v.optional(limit),
});
