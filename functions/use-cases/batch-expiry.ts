import type { ExpiryStore } from '../domain/expiry-sweep';
import { ResourceNotFoundError, ValidationFailedError } from '../domain/errors';
import type { Clock } from '../domain/ports';

/** Dependencies of cutting a batch's expiry short. */
export interface BatchExpiryDeps {
  expiry: ExpiryStore;
  clock: Clock;
}

/** Parses `now` or an ISO 8601 instant with a time zone; bad input names the field. */
export const parseExpiresAt = (value: string | undefined, now: Date, field = 'expires_at'): Date => {
  if (value === undefined || value === 'now') return now;
  const at = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) ? new Date(value) : new Date(NaN);
  if (Number.isNaN(at.getTime())) throw new ValidationFailedError([{ path: field, message: `${field} must be "now" or an ISO 8601 time with a zone, such as 2026-05-18T10:00:00Z.` }]);
  return at;
};

/**
 * Moves the expiry of a batch's unredeemed codes earlier (a leaked CSV); the expiry sweep then
 * expires them as usual, events included.
 * 1. Find the batch's job (404 when unknown, or of another team when `teamId` is given).
 * 2. Refuse a batch still generating: codes stored later would keep the old expiry.
 * 3. Move each still-active code whose expiry is later than `expiresAt` (one conditional write
 *    per code; a crash part-way leaves some moved, and repeating the call moves the rest).
 */
export const cutBatchExpiry = async (
  deps: BatchExpiryDeps,
  input: { batchId: string; expiresAt?: string; teamId?: string },
): Promise<{ batch_id: string; expires_at: string; codes_affected: number }> => {
  const expiresAt = parseExpiresAt(input.expiresAt, deps.clock.now());
  const batch = /^btc_[0-9A-HJKMNP-TV-Z]{26}$/.test(input.batchId) ? await deps.expiry.findBatch(input.batchId) : undefined;
  if (!batch || (input.teamId !== undefined && batch.teamId !== input.teamId)) throw new ResourceNotFoundError('Batch', input.batchId);
  if (!batch.generated) {
    throw new ValidationFailedError([{ path: 'batch_id', message: 'The batch is still being generated; set its expiry once its job has completed.' }]);
  }
  const moved = await deps.expiry.cutBatchExpiry(batch, expiresAt);
  return { batch_id: batch.batchId, expires_at: expiresAt.toISOString(), codes_affected: moved };
};
