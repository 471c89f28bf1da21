import type { Clock, ExpiryStore } from '../domain/ports';
import type { BatchExpiry, DueCursor } from '../domain/expiry-sweep';
import { logger } from '../observability';
import { continueBatchExpiry } from './batch-expiry';

/**
 * Due codes read per page: 2,000 codes are 40 transactions of 50 codes and their events. A run
 * reads page after page until none are due or its time is nearly up.
 */
export const EXPIRY_PAGE_SIZE = 2_000;
/**
 * Codes a run expires a second at most (docs/CAPACITY.md, Expiry: about 4 table and 4 index
 * write units a code), so that a backlog drains at a known share of the table's write ceiling
 * instead of throttling redemptions; a page that went faster waits before the next.
 */
export const EXPIRY_CODES_PER_SECOND = 1_000;
/** Batch expiry changes one run reads (each then moves on until done or the run's time is up). */
const BATCH_EXPIRIES_PER_RUN = 25;
/** Changes moved on at once (each is a chain of transactions on its own progress item). */
const BATCH_EXPIRIES_IN_FLIGHT = 4;
/** How long a run works when its caller gives no deadline. */
const DEFAULT_RUN_MS = 40_000;

/** Dependencies of the expiry sweep. */
export interface ExpirySweepDeps {
  expiry: ExpiryStore;
  clock: Clock;
  /** Due codes per page (EXPIRY_PAGE_SIZE unless a test says otherwise). */
  pageSize?: number;
  /** Codes per second at most (EXPIRY_CODES_PER_SECOND unless a test says otherwise). */
  codesPerSecond?: number;
}

/** What one run did. */
export interface ExpirySweepResult {
  expired: number;
  /** Pages of due codes read. */
  pages: number;
  /** Whether due codes remained when the run's time was up (the next run takes them). */
  backlogLeft: boolean;
  /** Batch expiry changes this run carried to completion. */
  batchExpiriesCompleted: number;
  /** Codes those changes (and the ones still in progress) moved in this run. */
  batchCodesMoved: number;
  durationMs: number;
}

/** Carries each pending batch expiry change on until it is done or `deadline` passes. */
const moveBatchExpiries = async (deps: ExpirySweepDeps, deadline: number): Promise<{ completed: number; moved: number }> => {
  const pending = [...(await deps.expiry.pendingBatchExpiries(BATCH_EXPIRIES_PER_RUN))];
  let completed = 0;
  let moved = 0;
  const worker = async () => {
    for (let change: BatchExpiry | undefined; (change = pending.shift()) !== undefined; ) {
      // The index may lag behind the item: start from the item itself.
      const start = (await deps.expiry.batchExpiry(change.batchId)) ?? change;
      const end = await continueBatchExpiry(deps, start, deadline);
      if (start.status === 'in_progress' && end.status === 'completed') completed++;
      moved += end.expiresAt === start.expiresAt ? end.codesAffected - start.codesAffected : end.codesAffected;
    }
  };
  await Promise.all(Array.from({ length: Math.min(BATCH_EXPIRIES_IN_FLIGHT, pending.length) }, worker));
  return { completed, moved };
};

/** Reads and expires due codes page after page until none are left or `deadline` has passed. */
const drainDueCodes = async (deps: ExpirySweepDeps, now: Date, deadline: number): Promise<{ expired: number; found: number; pages: number; more: boolean }> => {
  let cursor: DueCursor | undefined;
  const drained = { expired: 0, found: 0, pages: 0, more: false };
  const started = Date.now();
  const rate = deps.codesPerSecond ?? EXPIRY_CODES_PER_SECOND;
  do {
    const page = await deps.expiry.dueCodes(now, deps.pageSize ?? EXPIRY_PAGE_SIZE, cursor);
    drained.pages++;
    drained.found += page.codes.length;
    if (page.codes.length) drained.expired += await deps.expiry.expireCodes(page.codes, now);
    drained.more = page.more;
    cursor = page.next;
    // Ahead of the rate: wait until the codes handled so far are due at it (never past the deadline).
    const wait = Math.min(started + (drained.found * 1000) / rate, deadline) - Date.now();
    if (drained.more && wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  } while (drained.more && Date.now() < deadline);
  return drained;
};

/**
 * Expires the codes whose `expires_at` has passed and moves batch expiry changes on: runs every
 * minute, and works until nothing is left or its time is nearly up.
 * 1. Batch expiry changes still in progress (expire_batch answered before it moved every code,
 *    or crashed): each carried on from its last committed step until done or `deadline`.
 * 2. Read a page of due codes from the expiry index (only live expiring codes are there, so the
 *    read grows with what is due, never with what is stored), every bucket in parallel.
 * 3. Move each to `expired` with its access_code.expired event in one transaction per 50
 *    codes, conditional on the code still being active and due: a code redeemed meanwhile or
 *    expired by an overlapping run is skipped, so every code gets one event at most. A crash
 *    anywhere leaves the codes not yet moved in the index, and the next run takes them.
 * 4. Again from 2, each bucket read on after the keys already handled, at most
 *    `EXPIRY_CODES_PER_SECOND`, until no due key is left or `deadline` has passed (a backlog
 *    left is the next run's first page).
 * Changes and due codes are worked on side by side; a failure of either fails the run after the
 * other has finished. `done`, when handed in, gets the run's result before a failure is thrown,
 * so that the caller reads what the run did either way.
 */
export const sweepExpiredCodes = async (deps: ExpirySweepDeps & { deadline?: number }, done: { result?: ExpirySweepResult } = {}): Promise<ExpirySweepResult> => {
  const started = Date.now();
  const deadline = deps.deadline ?? started + DEFAULT_RUN_MS;
  const now = deps.clock.now();
  const [batches, due] = await Promise.allSettled([moveBatchExpiries(deps, deadline), drainDueCodes(deps, now, deadline)]);
  const durationMs = Date.now() - started;
  const expired = due.status === 'fulfilled' ? due.value.expired : 0;
  const backlogLeft = due.status === 'fulfilled' ? due.value.more : true;
  const result: ExpirySweepResult = {
    expired,
    pages: due.status === 'fulfilled' ? due.value.pages : 0,
    backlogLeft,
    batchExpiriesCompleted: batches.status === 'fulfilled' ? batches.value.completed : 0,
    batchCodesMoved: batches.status === 'fulfilled' ? batches.value.moved : 0,
    durationMs,
  };
  done.result = result;
  if (expired || backlogLeft || result.batchCodesMoved) logger.info('expiry sweep', { ...result, found: due.status === 'fulfilled' ? due.value.found : undefined });
  for (const outcome of [batches, due]) if (outcome.status === 'rejected') throw outcome.reason;
  return result;
};
