/** Limits of SQS that both the SQS adapter and the local stand-in enforce. */

/** SendMessageBatch takes at most this many entries. */
export const MAX_BATCH_ENTRIES = 10;
/** SQS limit on one message and on the sum of a batch's bodies (256 KiB). */
export const MAX_BATCH_BYTES = 262_144;
/** The longest DelaySeconds SQS accepts (15 minutes). */
export const MAX_DELAY_SECONDS = 900;

/**
 * Whole seconds in 0..900. Rounded up, so a message is never visible before it was asked to
 * be; capped, because SQS cannot postpone longer and an at-least-once consumer must cope with
 * early work anyway (it re-checks and re-delays). A non-number is a bug and throws.
 */
export const clampDelay = (delaySeconds: number, index = 0): number => {
  if (!Number.isFinite(delaySeconds)) {
    throw new RangeError(`Message ${index} has delaySeconds ${delaySeconds}; expected 0..${MAX_DELAY_SECONDS}.`);
  }
  return Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil(delaySeconds)));
};
