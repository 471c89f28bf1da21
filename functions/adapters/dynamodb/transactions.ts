import {
  InternalServerError,
  ProvisionedThroughputExceededException,
  RequestLimitExceeded,
  ThrottlingException,
  TransactionCanceledException,
  TransactionConflictException,
  TransactionInProgressException,
} from '@aws-sdk/client-dynamodb';

/** The reason code of each item of a cancelled transaction, in the transaction's order. */
export const cancellationCodes = (error: TransactionCanceledException): string[] =>
  (error.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');

/** Waits `ms` milliseconds (a backoff between attempts at a contended write). */
export const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Cancellation reasons that say "not now", never "no": nothing was decided against the write. */
const TRANSIENT_REASONS = new Set(['None', 'TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded']);

/**
 * True when a write failed without being decided against and without being applied: a
 * conflict with another transaction on one of its items, a throttle, or a transaction
 * cancelled for those reasons only. Trying the same write again later can succeed, and cannot
 * apply it twice. The SDK retries throttles itself but not conflicts, which DynamoDB raises
 * for a write to an item that an in-flight transaction holds.
 */
export const isWriteContention = (error: unknown): boolean =>
  error instanceof TransactionConflictException ||
  error instanceof ProvisionedThroughputExceededException ||
  error instanceof ThrottlingException ||
  error instanceof RequestLimitExceeded ||
  (error instanceof TransactionCanceledException && cancellationCodes(error).every((code) => TRANSIENT_REASONS.has(code)));

/**
 * True when DynamoDB could not say whether the write happened (a 500, or a transaction with the
 * same token still in progress): a conditional write tried again may find its own result.
 */
export const isOutcomeUnknown = (error: unknown): boolean => error instanceof InternalServerError || error instanceof TransactionInProgressException;

/** Full-jitter backoff: a random wait in [0, min(cap, base · 2^attempt)) ms. */
export const backoff = (attempt: number, baseMs = 10, capMs = 400): Promise<void> => pause(Math.random() * Math.min(capMs, baseMs * 2 ** attempt));
