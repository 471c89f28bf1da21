/**
 * Numbers the stateful stack (queues), the stateless stack (functions, event sources) and the
 * local stack (its queue, stream poller and sweeper) must agree on, kept in one place so that
 * none can drift from the others. Plain numbers, so the local stack needs no aws-cdk-lib.
 */
export const GENERATOR = {
  /** A chunk of codes must fit; longer work is split into chunks, never looped. */
  timeoutSeconds: 120,
  /** Memory also buys CPU, and code generation is CPU-bound. */
  memorySize: 1024,
  /** Messages per invocation; each may take a large part of the timeout. */
  batchSize: 5,
  /**
   * At most this many generator invocations at once (the event source mapping's
   * MaximumConcurrency, minimum 2): with `codesPerSecond`, bounds generation's share of the
   * table (docs/CAPACITY.md). The generator never talks to Telegram; the deliverer does, under
   * its own bound.
   */
  maxConcurrency: 2,
  /**
   * Code writes per second of one generator instance (a token bucket over all its chunks): at
   * most maxConcurrency × 250 = 500 codes/s service-wide, so one plan's index partitions (every
   * code of a plan shares one gsi1 and one gsi2 key) take at most half of DynamoDB's 1,000
   * writes/s a partition from generation, and a 1,000-code job stores in about 4 s.
   */
  codesPerSecond: 250,
} as const;

/** Telegram's published limits, and how the service stays under them. */
export const TELEGRAM = {
  /** About 30 messages per second per bot, across all chats. */
  botMessagesPerSecond: 30,
  /**
   * The pause between two sends to one chat (Telegram allows about one a second there): the
   * production default of TELEGRAM_MESSAGE_INTERVAL_MS. With one delivering job per chat
   * (the chat lease), it is also the chat's pace across jobs.
   */
  messageIntervalMs: 1100,
  /**
   * The pause between two sends to a group (negative chat id): Telegram allows a group about 20
   * messages a minute, one per 3 s; 3.1 s keeps a margin like the private pace's.
   */
  groupMessageIntervalMs: 3100,
  /** Share of the bot's limit the service plans for: room for 429 retries and the webhook's replies. */
  budgetShare: 0.75,
} as const;

/**
 * The group pace that goes with a private pace: the production ratio (3100 / 1100), so that a
 * pace scaled down for a test or a bench scales groups with it. 1100 gives 3100.
 */
export const groupMessageIntervalFor = (privateIntervalMs: number): number =>
  Math.ceil((privateIntervalMs * TELEGRAM.groupMessageIntervalMs) / TELEGRAM.messageIntervalMs);

/**
 * Every send comes from a deliverer invocation, each invocation handles one message (batch
 * size 1) and sends to one chat at a time, at most one message per messageIntervalMs (a 429
 * retry waits retry_after first). So N concurrent invocations send at most
 * N × 1000 / messageIntervalMs messages a second, and the bot stays within
 * budgetShare × botMessagesPerSecond when N ≤ botMessagesPerSecond × budgetShare ×
 * messageIntervalMs / 1000 = 30 × 0.75 × 1.1 = 24. Groups are paced slower (groupMessageIntervalMs),
 * so they only lower the rate. The batch processor's parallelism cannot raise it: one record per
 * batch. Bounded by construction, with no shared counter to keep.
 */
export const DELIVERER = {
  /** One slice of a delivery: ~100 messages, then a hand-over to a fresh invocation. */
  timeoutSeconds: 120,
  /** Delivery waits on Telegram and builds at most one CSV of 1000 rows. */
  memorySize: 512,
  /** One delivery per invocation: what the bot budget below counts on. */
  batchSize: 1,
  maxConcurrency: Math.floor((TELEGRAM.botMessagesPerSecond * TELEGRAM.budgetShare * TELEGRAM.messageIntervalMs) / 1000),
} as const;

/** The dead-letter consumer: fails the job of each message; quick, and a little at a time. */
export const DEAD_LETTER_CONSUMER = {
  timeoutSeconds: 10,
  batchSize: 10,
  maxConcurrency: 2,
} as const;

/** The largest job bulk-generate accepts (codes). */
export const MAX_JOB_QUANTITY = 1000;

/** Stop sending and hand over to a fresh invocation when less than this is left. */
export const DELIVERY_SAFETY_MARGIN_MS = 10_000;

/** Messages one deliverer invocation sends to a private chat before it hands over (at full pace). */
export const MESSAGES_PER_DELIVERY_INVOCATION = Math.floor(
  (DELIVERER.timeoutSeconds * 1000 - DELIVERY_SAFETY_MARGIN_MS) / TELEGRAM.messageIntervalMs,
);

/** The same to a group, at the group pace: the fewest messages an invocation sends at full pace. */
export const GROUP_MESSAGES_PER_DELIVERY_INVOCATION = Math.floor(
  (DELIVERER.timeoutSeconds * 1000 - DELIVERY_SAFETY_MARGIN_MS) / TELEGRAM.groupMessageIntervalMs,
);

/**
 * Re-queues of one job onto the delivery queue before it fails with `too_many_handovers`. The
 * largest job to a group needs ceil(1000 / 35) = 29 hand-overs at full pace (a private chat
 * 10); as many again are allowed for long Telegram back-offs (each re-queues once), plus slack.
 * Past this, the job is looping, not progressing. The deliverer's recursive-loop detection is
 * off (Allow) because of these legitimate self-re-queues; this bound takes its place.
 */
export const MAX_DELIVERY_HOPS = 2 * Math.ceil(MAX_JOB_QUANTITY / GROUP_MESSAGES_PER_DELIVERY_INVOCATION) + 10;

/**
 * AWS's advice for an SQS event source: the queue's visibility timeout at least six times the
 * function's timeout, so that a message is not redelivered while throttled retries of its batch
 * are still pending.
 */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/** Receives before a pipeline message (of either queue) moves to the dead-letter queue, whose consumer fails the job. */
export const MAX_RECEIVE_COUNT = 5;

/** The generation queue's visibility timeout, derived from the generator's timeout. */
export const GENERATION_VISIBILITY_TIMEOUT_SECONDS = GENERATOR.timeoutSeconds * VISIBILITY_TIMEOUT_FACTOR;

/** The delivery queue's visibility timeout, derived from the deliverer's timeout. */
export const DELIVERY_VISIBILITY_TIMEOUT_SECONDS = DELIVERER.timeoutSeconds * VISIBILITY_TIMEOUT_FACTOR;

/** How long a dead-letter queue keeps a message: SQS's maximum, time enough to investigate. */
export const DEAD_LETTER_RETENTION_DAYS = 14;

/** Retries of a failing stream batch before the relay gives it to its dead-letter queue. */
export const RELAY_RETRY_ATTEMPTS = 20;

/** The job sweeper re-queues stalled jobs and fails hopeless ones; it runs this often. */
export const SWEEP_INTERVAL_SECONDS = 60;

/**
 * The webhook deliverer and its queue's event source. One message per invocation, so that a slow
 * or dead endpoint (up to the 15 s attempt timeout) holds up nothing but its own delivery; the
 * concurrency bound keeps a burst from taking the account's Lambda concurrency.
 */
export const WEBHOOK_DELIVERY = {
  /** The 15 s attempt timeout plus the store writes around it. */
  timeoutSeconds: 30,
  memorySize: 256,
  batchSize: 1,
  maxConcurrency: 20,
  /** Receives before a message goes to the webhook delivery DLQ: only when the store keeps failing. */
  maxReceiveCount: 5,
} as const;

/** The webhook delivery queue's visibility timeout. */
export const WEBHOOK_DELIVERY_VISIBILITY_TIMEOUT_SECONDS = WEBHOOK_DELIVERY.timeoutSeconds * VISIBILITY_TIMEOUT_FACTOR;

/** The webhook dispatcher: one event per invocation (EventBridge's async invoke). */
export const WEBHOOK_DISPATCH = { timeoutSeconds: 30 } as const;
