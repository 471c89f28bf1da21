import * as v from 'valibot';

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
