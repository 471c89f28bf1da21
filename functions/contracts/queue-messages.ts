import * as v from 'valibot';
import { MAX_WINDOW_SIZE } from './billing-policy';
import { fnv1a } from './table';

/**
 * The pipeline's queue messages, versioned with the code that reads them: every producer
 * builds them with the constructors below and every consumer parses them with the schemas.
 * Two queues: the generation queue carries chunks to the generator, the delivery queue carries
 * deliveries to the deliverer (its own function, so that the bot's budget is bounded by its
 * concurrency alone).
 */
export const GenerateChunkMessageSchema = v.object({
  kind: v.literal('generate-chunk'),
  job_id: v.string(),
  chunk: v.pipe(v.number(), v.integer(), v.minValue(0)),
});

/**
 * A delivery of a generated job. `lease`: the delivery lease handed over by the invocation that
 * sent this message. `hops`: how many times the job has re-queued itself onto the delivery queue
 * in this chain (hand-overs before the time runs out, long Telegram back-offs); the deliverer
 * fails the job past MAX_DELIVERY_HOPS instead of looping forever. Absent in messages written
 * before the counter existed, which count from 0.
 */
export const DeliverMessageSchema = v.object({
  kind: v.literal('deliver'),
  job_id: v.string(),
  lease: v.optional(v.string()),
  hops: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
});

/** Any pipeline message: what the shared dead-letter queue may hold. */
export const PipelineMessageSchema = v.variant('kind', [GenerateChunkMessageSchema, DeliverMessageSchema]);

/** A chunk of a job to generate, on the generation queue. */
export type GenerateChunkMessage = v.InferOutput<typeof GenerateChunkMessageSchema>;
/** A job to deliver, on the delivery queue. */
export type DeliverMessage = v.InferInput<typeof DeliverMessageSchema>;
/** A unit of pipeline work on either queue. */
export type PipelineMessage = GenerateChunkMessage | DeliverMessage;

/** Generate chunk `chunk` of a job. */
export const generateChunkMessage = (jobId: string, chunk: number): GenerateChunkMessage => ({ kind: 'generate-chunk', job_id: jobId, chunk });

/**
 * Deliver a generated job: a fresh start (hops 0), or a hand-over of the sender's lease after
 * `hops` re-queues.
 */
export const deliverMessage = (jobId: string, handOver?: { lease: string; hops: number }): DeliverMessage =>
  handOver === undefined ? { kind: 'deliver', job_id: jobId, hops: 0 } : { kind: 'deliver', job_id: jobId, lease: handOver.lease, hops: handOver.hops };

/** Parses a queue body with `schema`, or undefined when it is not such a message. */
export const parseMessage = <S extends v.GenericSchema>(schema: S, body: string): v.InferOutput<S> | undefined => {
  try {
    const result = v.safeParse(schema, JSON.parse(body));
    return result.success ? result.output : undefined;
  } catch {
    return undefined;
  }
};

/** Parses an SQS body into a pipeline message of either queue, or undefined when it is not one. */
export const parsePipelineMessage = (body: string): PipelineMessage | undefined => parseMessage(PipelineMessageSchema, body);

/** Parses a generation queue body, or undefined when it is not a chunk message. */
export const parseGenerateChunkMessage = (body: string): GenerateChunkMessage | undefined => parseMessage(GenerateChunkMessageSchema, body);

/** Parses a delivery queue body (hops defaulted), or undefined when it is not a delivery. */
export const parseDeliverMessage = (body: string): v.InferOutput<typeof DeliverMessageSchema> | undefined => parseMessage(DeliverMessageSchema, body);

/** The webhook delivery queue's message: attempt this delivery (it carries its own state). */
export const WebhookDeliveryMessageSchema = v.object({
  kind: v.literal('webhook-delivery'),
  delivery_id: v.pipe(v.string(), v.startsWith('whd_')),
  /** The attempt it is for (1-based): a message for an attempt already made is dropped. */
  attempt: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  /** The delivery's endpoint: its fair-queue group and in-flight cap, known before any read. */
  endpoint_id: v.optional(v.pipe(v.string(), v.startsWith('whe_'))),
});

/** A unit of work on the webhook delivery queue. */
export type WebhookDeliveryMessage = v.InferOutput<typeof WebhookDeliveryMessageSchema>;

/** Attempt delivery `deliveryId`. */
export const webhookDeliveryMessage = (deliveryId: string, target: { attempt?: number; endpointId?: string } = {}): WebhookDeliveryMessage => ({
  kind: 'webhook-delivery',
  delivery_id: deliveryId,
  ...(target.attempt === undefined ? {} : { attempt: target.attempt }),
  ...(target.endpointId === undefined ? {} : { endpoint_id: target.endpointId }),
});

/** Parses an SQS body into a webhook delivery message, or undefined when it is not one. */
export const parseWebhookDeliveryMessage = (body: string): WebhookDeliveryMessage | undefined => parseMessage(WebhookDeliveryMessageSchema, body);

/** `YYYY-MM`, a calendar month. */
const PERIOD = /^\d{4}-(0[1-9]|1[0-2])$/;
const Id = v.pipe(v.string(), v.minLength(1), v.maxLength(128));
const Customer = v.pipe(v.string(), v.minLength(1), v.maxLength(255));

/**
 * The billing queue's messages. `records`: billing records of one customer and period that
 * became `queued`, to be claimed into a window and sent. `window`: a window to (re)send.
 * Versioned by its fields: add optional ones only.
 */
export const BillingMessageSchema = v.variant('kind', [
  v.object({
    kind: v.literal('records'),
    stripe_customer_id: Customer,
    period: v.pipe(v.string(), v.regex(PERIOD, 'period must be YYYY-MM.')),
    redemption_ids: v.pipe(v.array(Id), v.minLength(1), v.maxLength(MAX_WINDOW_SIZE)),
  }),
  v.object({
    kind: v.literal('window'),
    stripe_customer_id: Customer,
    window_id: Id,
    /** The window's failed tries when it was queued. */
    attempts: v.pipe(v.number(), v.integer(), v.minValue(0)),
    /** When it was queued (ISO): with the id, the queue's deduplication id. */
    queued_at: v.pipe(v.string(), v.maxLength(40)),
  }),
]);

/** A billing queue message, as parsed. */
export type BillingMessage = v.InferOutput<typeof BillingMessageSchema>;

/** Parses a queue body into a billing message, or undefined when it is not one. */
export const parseBillingMessage = (body: string): BillingMessage | undefined => {
  try {
    const result = v.safeParse(BillingMessageSchema, JSON.parse(body));
    return result.success ? result.output : undefined;
  } catch {
    return undefined;
  }
};

/** The message group of a billing message on a FIFO queue: Stripe takes one meter call per customer at a time. */
export const billingMessageGroup = (message: BillingMessage): string => message.stripe_customer_id;

/**
 * The FIFO deduplication id: the same records forwarded twice within SQS's five minutes (a
 * stream retry) are queued once; a window is queued each time it is due (a copy is a no-op
 * once the window is settled, and Stripe's identifier covers a second send).
 */
export const billingMessageDeduplicationId = (message: BillingMessage): string =>
  (message.kind === 'window' ? `w:${message.window_id}:${message.queued_at}` : `r:${fnv1a(message.redemption_ids.join(',')).toString(36)}:${message.redemption_ids[0]}`).slice(0, 128);
