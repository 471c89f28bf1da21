/**
 * Numbers the stateful stack (queues), the stateless stack (functions, event sources) and the
 * local stack (its queue, stream poller and sweeper) must agree on, kept in one place so that
 * none can drift from the others. Plain numbers, so the local stack needs no aws-cdk-lib.
 */
export const GENERATOR = {
  /** A chunk of codes or a slice of deliveries must fit; longer work is re-queued, never looped. */
  timeoutSeconds: 120,
  /** Memory also buys CPU, and code generation and CSV building are CPU-bound. */
  memorySize: 1024,
  /** Messages per invocation; each may take a large part of the timeout. */
  batchSize: 5,
  /**
   * At most this many generator invocations at once (the event source mapping's
   * MaximumConcurrency, minimum 2): bounds the load on the table and on the Telegram bot, whose
   * limit (~30 messages per second) is shared by every job.
   */
  maxConcurrency: 10,
} as const;

/**
 * AWS's advice for an SQS event source: the queue's visibility timeout at least six times the
 * function's timeout, so that a message is not redelivered while throttled retries of its batch
 * are still pending.
 */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/** Receives before a pipeline message moves to the dead-letter queue, whose consumer fails the job. */
export const MAX_RECEIVE_COUNT = 5;

/** The generation queue's visibility timeout, derived from the generator's timeout. */
export const GENERATION_VISIBILITY_TIMEOUT_SECONDS = GENERATOR.timeoutSeconds * VISIBILITY_TIMEOUT_FACTOR;

/** How long a dead-letter queue keeps a message: SQS's maximum, time enough to investigate. */
export const DEAD_LETTER_RETENTION_DAYS = 14;

/** Retries of a failing stream batch before the relay gives it to its dead-letter queue. */
export const RELAY_RETRY_ATTEMPTS = 20;

/** The sweeper re-queues stalled jobs and fails hopeless ones; it runs this often. */
export const SWEEP_INTERVAL_SECONDS = 60;
