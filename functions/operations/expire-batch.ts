import * as v from 'valibot';
import { cutBatchExpiry } from '../use-cases/batch-expiry';
import { isoDateTime, resourceId } from './fields';
import { defineOperation } from './operation';
import { ExpireBatchOutput } from './outputs';

/** expire_batch: `POST /v1/batches/{batch_id}/expire` (cutting a leaked batch short). */
export const expireBatchOperation = defineOperation({
  kind: 'tool',
  name: 'expire_batch',
  description:
    "Cuts a batch's expiry short (a leaked CSV): its unredeemed codes expire at expires_at (default: now), never later than they would have; redeemed codes are untouched. Answers at once, whatever the batch's size: the batch's expiry in force (expires_at), whether this call changed it (changed), and the move of its codes (status in_progress or completed; codes_affected, the codes moved so far, final once completed). Codes whose new expiry has passed are expired, each with an access_code.expired event; what the answer did not finish moves in the background within about a minute. Repeat the same call to follow the progress: it changes nothing more.",
  abilities: ['project-access-code:create'],
  input: v.strictObject({
    batch_id: v.pipe(resourceId('batch_id'), v.description('The batch_id that bulk_generate_access_codes returned.')),
    expires_at: v.optional(
      v.pipe(v.union([v.literal('now'), isoDateTime('expires_at')], 'expires_at must be "now" or an ISO 8601 time with a zone, such as 2026-05-18T10:00:00Z.'), v.description('When the codes expire: an ISO 8601 time, earlier than their current expiry. Default: now.')),
    ),
  }),
  // Repeating it moves nothing more (the expiry only ever moves earlier).
  output: ExpireBatchOutput,
  annotations: { readOnlyHint: false, idempotentHint: true, destructiveHint: true, openWorldHint: false },
  http: { method: 'POST', path: '/v1/batches/{batch_id}/expire', successStatus: 202, pathParams: ['batch_id'], queryParams: [], headers: {} },
  needs: { table: 'readWrite' },
  run: (deps, principal, input) =>
    cutBatchExpiry(deps, { batchId: input.batch_id, teamId: principal.teamId, ...(input.expires_at !== undefined ? { expiresAt: input.expires_at } : {}) }),
});
