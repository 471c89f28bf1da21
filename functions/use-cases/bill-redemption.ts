import { ulid } from 'ulid';
import {
  BillingRejectedError,
  MAX_WINDOW_SIZE,
  recordsMessages,
  retryDelayMs,
  usageOfWindow,
  windowMessage,
  type BillingPolicy,
  type BillingRecord,
  type BillingWindow,
} from '../domain/billing';
import type { BillingMessage } from '../contracts/queue-messages';
import type { AccountReader, BillingQueue, BillingStore, Clock, UsageBiller } from '../domain/ports';
import { logger } from '../observability';

/** Dependencies of the billing consumer. */
export interface BillRedemptionDeps {
  billing: BillingStore;
  biller: UsageBiller;
  clock: Clock;
  policy: BillingPolicy;
}

/** What one billing message came to. */
export interface BillingResult {
  /** Meter events Stripe took (a duplicate answer included). */
  meterEvents: number;
  /** Redemptions in them. */
  billedUnits: number;
  /** Windows Stripe refused for good, now parked. */
  parked: number;
  /** Tries that failed in a way a later one can cure. */
  failures: number;
  /** Set when a window is still to be sent: after how long, and how many tries it has failed. */
  retry?: { delayMs: number; attempts: number };
}

const NONE: BillingResult = { meterEvents: 0, billedUnits: 0, parked: 0, failures: 0 };

const merge = (a: BillingResult, b: BillingResult): BillingResult => ({
  meterEvents: a.meterEvents + b.meterEvents,
  billedUnits: a.billedUnits + b.billedUnits,
  parked: a.parked + b.parked,
  failures: a.failures + b.failures,
  ...(a.retry || b.retry ? { retry: !a.retry ? b.retry! : !b.retry ? a.retry : a.retry.delayMs <= b.retry.delayMs ? a.retry : b.retry } : {}),
});

/** Attempts at claiming a set of records when others keep moving some of them meanwhile. */
const CLAIM_ROUNDS = 5;

/**
 * Claims the queued records among `redemptionIds` (of `customer` and `period`) into new billing
 * windows of at most MAX_WINDOW_SIZE, each in one transaction with its records. A record moved
 * meanwhile (claimed by a concurrent call, billed) fails the transaction; the next round reads
 * again and claims what is still queued. Returns the windows this call created.
 */
export const claimWindows = async (
  deps: Pick<BillRedemptionDeps, 'billing' | 'clock' | 'policy'>,
  input: { customer: string; period: string; redemptionIds: readonly string[] },
): Promise<BillingWindow[]> => {
  const created: BillingWindow[] = [];
  let left = [...new Set(input.redemptionIds)];
  for (let round = 0; round < CLAIM_ROUNDS && left.length > 0; round++) {
    const claimable = (await deps.billing.records(left))
      .filter((record) => record.state === 'queued' && record.stripeCustomerId === input.customer && record.period === input.period)
      .sort((a, b) => a.redeemedAt.localeCompare(b.redeemedAt) || a.redemptionId.localeCompare(b.redemptionId));
    const lost: string[] = [];
    for (let start = 0; start < claimable.length; start += MAX_WINDOW_SIZE) {
      const chunk = claimable.slice(start, start + MAX_WINDOW_SIZE);
      const now = deps.clock.now();
      const window: BillingWindow = {
        id: `bwn_${ulid()}`,
        stripeCustomerId: input.customer,
        period: input.period,
        redemptionIds: chunk.map((record) => record.redemptionId),
        timestamp: chunk.reduce((latest, record) => (record.redeemedAt > latest ? record.redeemedAt : latest), chunk[0]!.redeemedAt),
        state: 'sending',
        attempts: 0,
        // The claiming call sends it now; only if it dies does the sweep take over after the lease.
        nextAttemptAt: new Date(now.getTime() + deps.policy.claimLeaseMs).toISOString(),
        firstFailureAt: null,
        lastError: null,
        createdAt: now.toISOString(),
      };
      if (await deps.billing.createWindow(window, now)) created.push(window);
      else lost.push(...window.redemptionIds);
    }
    left = lost;
  }
  return created;
};

/**
 * Sends one window's meter event (value = its redemptions, identifier = its id) and settles it.
 * 1. Settled already (billed, parked) → nothing to do: a redelivery.
 * 2. Stripe takes it (or answers that it has the identifier) → the window and its records
 *    become billed in one transaction. A crash before that sends the same event again later:
 *    Stripe answers duplicate, and the mark follows.
 * 3. Stripe refuses the payload for good (`BillingRejectedError`) → window and records parked,
 *    for `admin billing replay` once the cause is fixed.
 * 4. Anything else (a key refused, throttled, 5xx, unreachable, a bug) → the failure is
 *    counted on the window with the next try's time (exponential backoff), for as long as the
 *    policy's retry horizon; a window failing for longer is parked (and alarmed).
 */
export const sendWindow = async (deps: BillRedemptionDeps, window: BillingWindow): Promise<BillingResult> => {
  if (window.state !== 'sending') return NONE;
  const now = deps.clock.now();
  try {
    await deps.biller.reportUsage(usageOfWindow(window, now));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (error instanceof BillingRejectedError) {
      logger.error('billing window parked: Stripe refused it', { window_id: window.id, status: error.status, code: error.code, reason, redemptions: window.redemptionIds.length });
      await deps.billing.parkWindow(window, reason, deps.clock.now());
      return { ...NONE, parked: 1 };
    }
    const attempts = window.attempts + 1;
    const firstFailureAt = window.firstFailureAt ? new Date(window.firstFailureAt) : now;
    if (now.getTime() - firstFailureAt.getTime() >= deps.policy.retryHorizonMs) {
      logger.error('billing window parked: Stripe kept failing past the retry horizon', { window_id: window.id, attempts, since: firstFailureAt.toISOString(), reason });
      await deps.billing.parkWindow(window, `Stripe kept failing since ${firstFailureAt.toISOString()}: ${reason}`, now);
      return { ...NONE, parked: 1, failures: 1 };
    }
    const delayMs = retryDelayMs(deps.policy, attempts);
    logger.warn('billing window not taken; it will be retried', { window_id: window.id, attempts, retry_in_ms: delayMs, reason });
    await deps.billing.recordWindowFailure(window, { attempts, nextAttemptAt: new Date(now.getTime() + delayMs), error: reason, firstFailureAt }, now);
    return { ...NONE, failures: 1, retry: { delayMs, attempts } };
  }
  await deps.billing.markWindowBilled(window, deps.clock.now());
  return { ...NONE, meterEvents: 1, billedUnits: window.redemptionIds.length };
};

/**
 * One billing queue message. `records`: claim the queued ones into windows, then send every
 * window that holds any of them and is not settled (a redelivery finds the windows its first
 * try made). `window`: send that window. Sends go one at a time: Stripe takes one meter call
 * per customer at a time, and a message holds one customer.
 */
export const billMessage = async (deps: BillRedemptionDeps, message: BillingMessage): Promise<BillingResult> => {
  let windows: BillingWindow[];
  if (message.kind === 'window') {
    const window = await deps.billing.window(message.window_id);
    windows = window ? [window] : [];
  } else {
    const created = await claimWindows(deps, { customer: message.stripe_customer_id, period: message.period, redemptionIds: message.redemption_ids });
    const claimedBefore = (await deps.billing.records(message.redemption_ids))
      .filter((record) => record.state === 'sending' && record.windowId && !created.some((window) => window.id === record.windowId))
      .map((record) => record.windowId!);
    windows = [...created, ...(await deps.billing.windows(claimedBefore))];
  }
  let result = NONE;
  for (const window of windows) {
    result = merge(result, await sendWindow(deps, window));
    // Stripe did not take this one: the next would fail the same way; they are retried together.
    if (result.retry) break;
  }
  return result;
};

/** What one billing sweep did. */
export interface BillingSweepResult {
  /** Due windows queued again. */
  windowsQueued: number;
  /** Queued records left behind by the stream path, claimed into windows and queued. */
  recordsClaimed: number;
  /** Pending records whose project has a customer by now, queued for it. */
  pendingRequeued: number;
  /** Pending records whose project still has none: they wait for set-tier. */
  pendingSettled: number;
  /** Due windows whose first failure is over `OVERDUE_MS` old: usage waiting on Stripe (alarmed). */
  windowsOverdue: number;
}

/** A window failing for this long counts as overdue at a sweep (the alarm's metric). */
export const OVERDUE_MS = 10 * 60_000;

/** What the billing sweep needs. */
export type BillingSweepDeps = Pick<BillRedemptionDeps, 'billing' | 'clock' | 'policy'> & { accounts: Pick<AccountReader, 'findProject'>; queue: BillingQueue };

/**
 * The billing sweep (every minute): what the stream path left behind, and every retry that is
 * due, from the due index, so that no usage depends on a queue message surviving.
 * 1. Windows due (a failed try's delay is over, or a claim's lease lapsed) → queued again.
 * 2. Queued records older than the grace (the stream path lost them) → claimed into windows
 *    here, and those windows queued.
 * 3. Pending records older than the grace → their project is read afresh: with a customer,
 *    queued for it (a redemption committed on a stale read of the project, just after the
 *    customer was linked); without one, they leave the due index and wait for set-tier.
 */
export const sweepBilling = async (
  deps: BillingSweepDeps,
  options: { now?: Date; grace?: number } = {},
): Promise<BillingSweepResult> => {
  const now = options.now ?? deps.clock.now();
  const grace = options.grace ?? deps.policy.sweepGraceMs;
  const due = await deps.billing.due({ windowsDueBy: now, recordsOlderThan: new Date(now.getTime() - grace), limit: deps.policy.sweepLimit });
  const result: BillingSweepResult = {
    windowsQueued: 0,
    recordsClaimed: 0,
    pendingRequeued: 0,
    pendingSettled: 0,
    windowsOverdue: due.windows.filter((window) => window.firstFailureAt && now.getTime() - new Date(window.firstFailureAt).getTime() >= OVERDUE_MS).length,
  };

  const queued = due.records.filter((record) => record.state === 'queued');
  const claimed: BillingWindow[] = [];
  for (const message of recordsMessages(queued)) {
    if (message.kind !== 'records') continue;
    claimed.push(...(await claimWindows(deps, { customer: message.stripe_customer_id, period: message.period, redemptionIds: message.redemption_ids })));
  }
  result.recordsClaimed = claimed.reduce((sum, window) => sum + window.redemptionIds.length, 0);
  const windows = [...due.windows, ...claimed];
  if (windows.length > 0) await deps.queue.send(windows.map((window) => windowMessage(window, now)));
  result.windowsQueued = windows.length;

  const pendingByProject = new Map<string, BillingRecord[]>();
  for (const record of due.records.filter((r) => r.state === 'pending')) {
    pendingByProject.set(record.projectId, [...(pendingByProject.get(record.projectId) ?? []), record]);
  }
  for (const [projectId, records] of pendingByProject) {
    const customer = (await deps.accounts.findProject(projectId))?.stripeCustomerId;
    for (const record of records) {
      if (customer) {
        if (await deps.billing.requeueRecord(record, 'pending', customer, now)) result.pendingRequeued++;
      } else {
        await deps.billing.settlePending(record, now);
        result.pendingSettled++;
      }
    }
  }
  return result;
};

/** What `admin billing replay` did. */
export interface ReplayResult {
  /** Parked records queued again, each once. */
  replayed: number;
  /** Parked records left parked: their project has no Stripe customer. */
  without_customer: number;
}

/**
 * Sends parked usage again, exactly once: each parked record moves back to `queued` for its
 * project's current Stripe customer in one conditional update (only while parked), so a second
 * replay, or two at once, moves it once; the billing path then bills it in a new window.
 */
export const replayParked = async (
  deps: { billing: BillingStore; accounts: Pick<AccountReader, 'findProject'>; clock: Clock },
  input: { projectId?: string },
): Promise<ReplayResult> => {
  const result: ReplayResult = { replayed: 0, without_customer: 0 };
  const customers = new Map<string, string | null>();
  for (const record of await deps.billing.parkedRecords(input.projectId)) {
    if (!customers.has(record.projectId)) customers.set(record.projectId, (await deps.accounts.findProject(record.projectId))?.stripeCustomerId ?? null);
    const customer = customers.get(record.projectId);
    if (!customer) {
      result.without_customer++;
      continue;
    }
    if (await deps.billing.requeueRecord(record, 'parked', customer, deps.clock.now())) result.replayed++;
  }
  return result;
};
