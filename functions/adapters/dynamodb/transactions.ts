import type { TransactionCanceledException } from '@aws-sdk/client-dynamodb';

/** The reason code of each item of a cancelled transaction, in the transaction's order. */
export const cancellationCodes = (error: TransactionCanceledException): string[] =>
  (error.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');

/** Waits `ms` milliseconds (a backoff between attempts at a contended write). */
export const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
