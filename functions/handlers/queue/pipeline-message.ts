import * as v from 'valibot';
import type { PipelineMessage } from '../../domain/ports';

/** The wire form of a pipeline message, checked before any work is done on it. */
export const PipelineMessageSchema = v.variant('kind', [
  v.object({ kind: v.literal('generate-chunk'), job_id: v.string(), chunk: v.pipe(v.number(), v.integer(), v.minValue(0)) }),
  v.object({ kind: v.literal('deliver'), job_id: v.string(), lease: v.optional(v.string()) }),
]);

/** Parses an SQS body into a pipeline message, or undefined when it is not one. */
export const parsePipelineMessage = (body: string): PipelineMessage | undefined => {
  try {
    const result = v.safeParse(PipelineMessageSchema, JSON.parse(body));
    return result.success ? result.output : undefined;
  } catch {
    return undefined;
  }
};
