import * as v from 'valibot';
import { EXPIRY_PRESETS } from '../domain/expiry';
import { EVENT_SUBSCRIPTIONS, WEBHOOK_EVENT_TYPES, WEBHOOK_TEST_EVENT_TYPE } from '../domain/webhooks';

// The success answers' shapes (the `data` of `{"data": …}`), shared by the operations that
// answer them. Declarative only: the OpenAPI document and the MCP tools' outputSchema are made
// of them, and the response checks of the tests validate every answer against what they say.
// Objects are open (a field added later breaks no client); every field listed is always there.

/** An instant as the service writes it (`Date#toISOString`). */
const instant = (description?: string) =>
  description ? v.pipe(v.string(), v.isoTimestamp(), v.description(description)) : v.pipe(v.string(), v.isoTimestamp());

/** A count of things: an integer from 0. */
const count = (description?: string) =>
  description ? v.pipe(v.number(), v.integer(), v.minValue(0), v.description(description)) : v.pipe(v.number(), v.integer(), v.minValue(0));

/** An amount of money in the currency's own decimals, as a string ("1.41"). */
const money = (description: string) => v.pipe(v.string(), v.regex(/^\d+(\.\d+)?$/), v.description(description));

/** An opaque listing cursor, null on the last page. */
const nextCursor = v.pipe(v.nullable(v.string()), v.description('Pass it back as cursor for the next page; null on the last one.'));

/** The worst-case cost of a quantity of codes, if all are redeemed this period (the spec's `preview`). */
export const CostPreviewOutput = v.object({
  free_remaining: count('Redemptions left in the tier’s free allotment this period.'),
  chargeable_quantity: count('How many of the codes would be billed if all were redeemed.'),
  cost: money('The worst-case cost of the chargeable codes, in the tier currency.'),
});

/** preview_access_code_cost's answer (the spec's output shape, plus the tier currency). */
export const PreviewOutput = v.object({
  plan_id: v.string(),
  quantity: count(),
  currency: v.pipe(v.string(), v.description('The creator tier’s currency (ISO 4217), in which cost is given.')),
  preview: CostPreviewOutput,
  will_bill_overage: v.pipe(v.boolean(), v.description('Whether redeeming all of them would bill anything (false when the unit price is 0).')),
});

const JOB_STATUSES = ['queued', 'processing', 'completed', 'failed'] as const;

/** bulk_generate_access_codes's 202 answer (the spec's output shape). */
export const BulkGenerateOutput = v.object({
  job_id: v.pipe(v.string(), v.description('Poll get_job_status with it until status is completed or failed.')),
  status: v.picklist(JOB_STATUSES),
  enqueued_at: instant(),
  plan_id: v.string(),
  quantity: count(),
  preview: CostPreviewOutput,
});

/** get_job_status's answer: a job with its progress. */
export const JobOutput = v.object({
  job_id: v.string(),
  status: v.pipe(v.picklist(JOB_STATUSES), v.description('queued → processing → completed or failed.')),
  plan_id: v.string(),
  batch_id: v.pipe(v.string(), v.description('The batch of codes; expire_batch takes it.')),
  quantity: count(),
  export_type: v.picklist(['file', 'messages']),
  expiry_preset: v.picklist(EXPIRY_PRESETS),
  expires_at: v.pipe(v.nullable(instant()), v.description('When the codes expire; null for no_expiry.')),
  generated_count: count('Codes stored so far.'),
  delivered_count: count('Codes delivered to the creator’s Telegram chat so far.'),
  enqueued_at: instant(),
  started_at: v.nullable(instant()),
  generated_at: v.nullable(instant()),
  completed_at: v.nullable(instant()),
  updated_at: instant(),
  failure: v.pipe(v.nullable(v.object({ code: v.string(), message: v.string() })), v.description('Why the job failed; null unless status is failed.')),
});

/** One code as list_access_codes shows it, in full. */
export const AccessCodeOutput = v.object({
  code: v.pipe(v.string(), v.description('The code, as 7KQ2-9XMD-4TRV.')),
  status: v.pipe(v.picklist(['active', 'redeemed', 'expired']), v.description('An active code past its expires_at shows as expired.')),
  plan_id: v.string(),
  job_id: v.string(),
  batch_id: v.string(),
  expires_at: v.nullable(instant()),
  redeemed_at: v.nullable(instant()),
  created_at: instant(),
});

/** list_access_codes's answer: a page of a plan's codes. */
export const ListAccessCodesOutput = v.object({ plan_id: v.string(), codes: v.array(AccessCodeOutput), next_cursor: nextCursor });

/** create_telegram_link's answer. */
export const TelegramLinkOutput = v.object({
  project_id: v.string(),
  url: v.pipe(v.string(), v.url(), v.description('The t.me deep link the creator opens and presses Start on; it works once.')),
  expires_at: instant('When the link stops working (15 minutes).'),
  linked_chat: v.pipe(v.boolean(), v.description('Whether the project already has a linked Telegram chat.')),
});

/** redeem_access_code's answer, and the subscription get_subscription shows. */
export const RedemptionOutput = v.object({
  subscription_id: v.string(),
  plan_id: v.string(),
  subscriber_id: v.string(),
  access_code: v.pipe(v.string(), v.description('The code, masked (masked_ and its last five symbols).')),
  redeemed_at: instant(),
  billing: v.object({
    period: v.pipe(v.string(), v.regex(/^\d{4}-(0[1-9]|1[0-2])$/), v.description('The calendar month (UTC) the redemption counts in, YYYY-MM.')),
    free_allotment: count('Free redemptions per period in the project’s tier.'),
    overage: v.pipe(v.boolean(), v.description('Whether this redemption is billed as metered overage.')),
    unit_price: money('The price of one redemption beyond the allotment.'),
    currency: v.string(),
  }),
});

/** expire_batch's answer. */
export const ExpireBatchOutput = v.object({
  batch_id: v.string(),
  expires_at: v.pipe(v.nullable(v.pipe(v.string(), v.isoTimestamp())), v.description('The batch’s expiry in force after this call (never later than before it); null: it never expires.')),
  changed: v.pipe(v.boolean(), v.description('Whether this call moved the batch’s expiry (false: it already expired at or before the time asked for).')),
  status: v.pipe(v.picklist(['in_progress', 'completed']), v.description('in_progress while codes still move in the background; completed once all have. Repeat the call to follow it.')),
  codes_affected: count('Active codes moved to expires_at so far (expired at once when it has passed); final once completed.'),
});

/** A webhook endpoint, never with its secret. */
export const WebhookEndpointOutput = v.object({
  id: v.string(),
  project_id: v.string(),
  url: v.string(),
  events: v.array(v.picklist(EVENT_SUBSCRIPTIONS)),
  description: v.nullable(v.string()),
  enabled: v.boolean(),
  disabled: v.pipe(
    v.nullable(v.object({ at: instant(), reason: v.picklist(['gone', 'failing', 'manual']), message: v.string() })),
    v.description('Why and since when a disabled endpoint is; null when enabled.'),
  ),
  created_at: instant(),
  last_success_at: v.nullable(instant()),
  failing_since: v.nullable(instant()),
});

/** A webhook endpoint with its signing secret (on creation only). */
export const WebhookEndpointWithSecretOutput = v.object({
  ...WebhookEndpointOutput.entries,
  secret: v.pipe(v.string(), v.startsWith('whsec_'), v.description('The signing secret, shown only here and on rotation.')),
});

/** list_webhook_endpoints's answer. */
export const ListWebhookEndpointsOutput = v.object({ project_id: v.string(), endpoints: v.array(WebhookEndpointOutput), next_cursor: nextCursor });

/** delete_webhook_endpoint's answer. */
export const DeletedWebhookEndpointOutput = v.object({ id: v.string(), deleted: v.literal(true) });

/** rotate_webhook_secret's answer. */
export const RotatedSecretOutput = v.object({
  id: v.string(),
  secret: v.pipe(v.string(), v.startsWith('whsec_'), v.description('The new signing secret, shown only here.')),
  previous_secrets_expire_at: v.pipe(v.nullable(instant()), v.description('Until when deliveries are also signed with the previous secret.')),
});

/** One attempt of a delivery. */
export const WebhookAttemptOutput = v.object({
  attempt: v.pipe(v.number(), v.integer(), v.minValue(1)),
  at: instant(),
  response_status: v.pipe(v.nullable(v.pipe(v.number(), v.integer())), v.description('The HTTP status, null when no response came.')),
  duration_ms: count(),
  error: v.nullable(v.string()),
  response_snippet: v.pipe(v.string(), v.description('The first bytes (at most 1 KiB) of the response body.')),
  outcome: v.picklist(['succeeded', 'failed', 'gone']),
});

/** One delivery of an event to an endpoint, with its attempts. */
export const WebhookDeliveryOutput = v.object({
  id: v.string(),
  event_id: v.pipe(v.string(), v.description('The webhook-id header of every attempt: deduplicate on it.')),
  event_type: v.picklist([...WEBHOOK_EVENT_TYPES, WEBHOOK_TEST_EVENT_TYPE]),
  status: v.picklist(['pending', 'succeeded', 'failed']),
  attempt_count: count(),
  next_attempt_at: v.nullable(instant()),
  failure_reason: v.nullable(v.string()),
  created_at: instant(),
  attempts: v.array(WebhookAttemptOutput),
});

/** list_webhook_deliveries's answer. */
export const ListWebhookDeliveriesOutput = v.object({ endpoint_id: v.string(), deliveries: v.array(WebhookDeliveryOutput), next_cursor: nextCursor });

/** send_test_webhook's answer. */
export const TestWebhookOutput = v.object({ event_id: v.string(), attempt: WebhookAttemptOutput });

// The special routes' bodies.

/** The error envelope every refusal of this API carries. */
export const ErrorEnvelope = v.object({
  error: v.object({
    code: v.pipe(v.string(), v.description('A documented machine code.')),
    message: v.string(),
    details: v.array(v.object({ path: v.pipe(v.string(), v.description('The field, in the caller’s name; "" for the body itself.')), message: v.string() })),
  }),
});

/** A JSON-RPC 2.0 error response, as the MCP transport refuses a request it cannot take. */
export const JsonRpcErrorBody = v.object({
  jsonrpc: v.literal('2.0'),
  id: v.union([v.string(), v.number(), v.null()]),
  error: v.object({ code: v.pipe(v.number(), v.integer()), message: v.string() }),
});

/** One JSON-RPC 2.0 message sent to the MCP endpoint: a request or a notification (a batch, an array, is refused). */
export const JsonRpcMessageBody = v.object({
  jsonrpc: v.literal('2.0'),
  id: v.optional(v.union([v.string(), v.number()])),
  method: v.string(),
  params: v.optional(v.record(v.string(), v.unknown())),
});

/** A JSON-RPC 2.0 response of the MCP endpoint: a result, or an error. */
export const JsonRpcResponseBody = v.union([
  v.object({ jsonrpc: v.literal('2.0'), id: v.union([v.string(), v.number()]), result: v.record(v.string(), v.unknown()) }),
  JsonRpcErrorBody,
]);

/** `GET /health`'s answer. */
export const HealthOutput = v.object({ data: v.object({ status: v.literal('ok') }) });

/** `POST /telegram/webhook`'s answer. */
export const TelegramWebhookOutput = v.object({
  data: v.object({ outcome: v.picklist(['linked', 'repeated', 'refused', 'ignored', 'undeliverable']) }),
});

/** The protected resource metadata (RFC 9728) this service publishes. */
export const ProtectedResourceMetadataBody = v.object({
  resource: v.pipe(v.string(), v.url()),
  bearer_methods_supported: v.array(v.literal('header')),
  resource_name: v.string(),
  resource_documentation: v.pipe(v.string(), v.url()),
});
