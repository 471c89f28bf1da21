import type { BatchExpiry, BatchRef } from '../domain/expiry-sweep';
import { ResourceNotFoundError, ValidationFailedError } from '../domain/errors';
import type { Clock, ExpiryStore } from '../domain/ports';
import { logger } from '../observability';

/**
 * How long a request moves codes itself before it answers: about 1,000 codes on DynamoDB, so a
 * batch of the API's size usually answers `completed`; the sweep moves whatever is left.
 */
export const INLINE_MOVE_MS = 500;

/** Dependencies of cutting a batch's expiry short. */
export interface BatchExpiryDeps {
  expiry: ExpiryStore;
  clock: Clock;
  /** How long the call may move codes before answering (INLINE_MOVE_MS unless told otherwise). */
  inlineMoveMs?: number;
}

/** What expire_batch answers: the batch's expiry after the call, and where the move of its codes stands. */
export interface BatchExpiryAnswer {
  batch_id: string;
  /** The batch's expiry in force after this call (never later than before it; null: never). */
  expires_at: string | null;
  /** Whether this call moved the batch's expiry (false: it already expired at or before the time asked for). */
  changed: boolean;
  /** `in_progress` while codes are still moving in the background; `completed` once all have. */
  status: 'in_progress' | 'completed';
  /** Active codes moved to `expires_at` so far (expired at once when it has passed); final once completed. */
  codes_affected: number;
}

/** Parses `now` or an ISO 8601 instant with a time zone; bad input names the field. */
export const parseExpiresAt = (value: string | undefined, now: Date, field = 'expires_at'): Date => {
  if (value === undefined || value === 'now') return now;
  const at = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) ? new Date(value) : new Date(NaN);
  if (Number.isNaN(at.getTime())) throw new ValidationFailedError([{ path: field, message: `${field} must be "now" or an ISO 8601 time with a zone, such as 2026-05-18T10:00:00Z.` }]);
  return at;
};

const answerOf = (batchId: string, expiry: BatchExpiry, changed: boolean): BatchExpiryAnswer => ({
  batch_id: batchId,
  expires_at: expiry.expiresAt,
  changed,
  status: expiry.status,
  codes_affected: expiry.codesAffected,
});

/**
 * Moves a batch's expiry change on, step by step, until its codes have all moved, or `deadline`
 * (epoch ms) has passed. A step another worker got to first is read again and carried on from
 * there. Returns the change as it last stood.
 */
export const continueBatchExpiry = async (deps: Pick<BatchExpiryDeps, 'expiry' | 'clock'>, start: BatchExpiry, deadline: number): Promise<BatchExpiry> => {
  let expiry = start;
  while (expiry.status === 'in_progress' && Date.now() < deadline) {
    const next = await deps.expiry.moveBatchCodes(expiry, deps.clock.now());
    expiry = next ?? (await deps.expiry.batchExpiry(expiry.batchId)) ?? expiry;
  }
  return expiry;
};

/**
 * Cuts a batch's expiry short (a leaked CSV), answering at once whatever the batch's size.
 * 1. Find the batch's job (404 when unknown, or of another team when `teamId` is given).
 * 2. Refuse a batch still generating: codes stored later would keep the old expiry.
 * 3. A batch that already expires at or before the time asked for changes nothing: the answer
 *    says so, with the expiry in force (and the progress of an earlier change, if any).
 * 4. Record the batch's new expiry, progress at slot 0, in one conditional write (an earlier
 *    change in force wins). From here the change survives a crash: the expiry sweep finds it
 *    and moves the codes.
 * 5. Move codes for up to `inlineMoveMs` (each step commits the codes with the progress that
 *    counts them, so a crash between steps loses nothing and counts nothing twice); a failure
 *    here is left to the sweep, the change being recorded.
 * 6. Answer the change as it stands: `completed` with its final count, or `in_progress`. The
 *    same call again changes nothing more and answers the progress.
 */
export const cutBatchExpiry = async (deps: BatchExpiryDeps, input: { batchId: string; expiresAt?: string; teamId?: string }): Promise<BatchExpiryAnswer> => {
  const now = deps.clock.now();
  const expiresAt = parseExpiresAt(input.expiresAt, now);
  const batch: BatchRef | undefined = /^btc_[0-9A-HJKMNP-TV-Z]{26}$/.test(input.batchId) ? await deps.expiry.findBatch(input.batchId) : undefined;
  if (!batch || (input.teamId !== undefined && batch.teamId !== input.teamId)) throw new ResourceNotFoundError('Batch', input.batchId);
  if (!batch.generated) {
    throw new ValidationFailedError([{ path: 'batch_id', message: 'The batch is still being generated; set its expiry once its job has completed.' }]);
  }
  let expiry: BatchExpiry;
  let changed = false;
  if (batch.expiresAt !== null && Date.parse(batch.expiresAt) <= expiresAt.getTime()) {
    const recorded = await deps.expiry.batchExpiry(batch.batchId);
    if (!recorded) return { batch_id: batch.batchId, expires_at: batch.expiresAt, changed: false, status: 'completed', codes_affected: 0 };
    expiry = recorded;
  } else {
    ({ expiry, changed } = await deps.expiry.recordBatchExpiry(batch, expiresAt, now));
  }
  let current = expiry;
  try {
    current = await continueBatchExpiry(deps, expiry, Date.now() + (deps.inlineMoveMs ?? INLINE_MOVE_MS));
  } catch (error) {
    // Recorded and counted so far: the sweep carries on from the last committed step.
    logger.warn('batch expiry left to the sweep', { batchId: batch.batchId, error: error as Error });
    current = (await deps.expiry.batchExpiry(batch.batchId).catch(() => undefined)) ?? expiry;
  }
  return answerOf(batch.batchId, current, changed);
};
