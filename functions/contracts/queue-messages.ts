import * as v from 'valibot';

/**
 * The generation queue's messages, versioned with the code that reads them: every producer
 * builds them with the constructors below and every consumer parses them with the schema.
 */
export const PipelineMessageSchema = v.variant('kind', [
  v.object({ kind: v.literal('generate-chunk'), job_id: v.string(), chunk: v.pipe(v.number(), v.integer(), v.minValue(0)) }),
  /** `lease`: the delivery lease handed over by the invocation that sent this message. */
  v.object({ kind: v.literal('deliver'), job_id: v.string(), lease: v.optional(v.string()) }),
]);

/** A unit of pipeline work on the generation queue. */
export type PipelineMessage = v.InferOutput<typeof PipelineMessageSchema>;

/** Generate chunk `chunk` of a job. */
export const generateChunkMessage = (jobId: string, chunk: number): PipelineMessage => ({ kind: 'generate-chunk', job_id: jobId, chunk });

/** Deliver a generated job, optionally under the lease handed over by the sender. */
export const deliverMessage = (jobId: string, lease?: string): PipelineMessage =>
  lease === undefined ? { kind: 'deliver', job_id: jobId } : { kind: 'deliver', job_id: jobId, lease };

/** Parses a queue body with `schema`, or undefined when it is not such a message. */
export const parseMessage = <S extends v.GenericSchema>(schema: S, body: string): v.InferOutput<S> | undefined => {
  try {
    const result = v.safeParse(schema, JSON.parse(body));
    return result.success ? result.output : undefined;
  } catch {
    return undefined;
  }
};

/** Parses an SQS body into a pipeline message, or undefined when it is not one. */
export const parsePipelineMessage = (body: string): PipelineMessage | undefined => parseMessage(PipelineMessageSchema, body);

/** The webhook delivery queue's message: attempt this delivery (it carries its own state). */
export const WebhookDeliveryMessageSchema = v.object({
  kind: v.literal('webhook-delivery'),
  delivery_id: v.pipe(v.string(), v.startsWith('whd_')),
});

/** A unit of work on the webhook delivery queue. */
export type WebhookDeliveryMessage = v.InferOutput<typeof WebhookDeliveryMessageSchema>;

/** Attempt delivery `deliveryId`. */
export const webhookDeliveryMessage = (deliveryId: string): WebhookDeliveryMessage => ({ kind: 'webhook-delivery', delivery_id: deliveryId });

/** Parses an SQS body into a webhook delivery message, or undefined when it is not one. */
export const parseWebhookDeliveryMessage = (body: string): WebhookDeliveryMessage | undefined => parseMessage(WebhookDeliveryMessageSchema, body);
