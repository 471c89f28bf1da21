import { ulid } from 'ulid';
import { BILLING_DUE_BUCKETS, billingDueBound, billingDueKeys, billingDuePartition } from '../../functions/contracts/table';
import type { BillingRecord, BillingState, BillingWindow } from '../../functions/domain/billing';
import { billingPeriodOf } from '../../functions/domain/billing-period';
import { ID_PREFIX } from '../../functions/domain/ids';
import type { BillingStore } from '../../functions/domain/ports';

/** What a redemption's commit writes as its billing record (the input of `billingRecordItem`). */
export interface CommittedRecord {
  redemptionId: string;
  projectId: string;
  period: string;
  stripeCustomerId: string | null;
  state: Extract<BillingState, 'queued' | 'pending' | 'no_charge'>;
  /** The commit's instant (ISO); the redemption id is a ULID of it. */
  at: string;
}

/** What a test commits: one billed redemption of a project at `at`. */
export interface RecordSeed {
  projectId: string;
  /** The project's Stripe customer at commit time: `queued` for it, `pending` without one. */
  customer: string | null;
  at: Date;
  /** `no_charge`: beyond the allotment at a price of 0. */
  noCharge?: boolean;
  /** Defaults to a fresh ULID of `at`, as the commit mints it. */
  redemptionId?: string;
}

/** A redemption id made at `at`, as a redemption's commit mints it. */
export const redemptionIdAt = (at: Date): string => `${ID_PREFIX.redemption}_${ulid(at.getTime())}`;

/** The record a redemption's commit writes for `seed`. */
export const committed = (seed: RecordSeed): CommittedRecord => ({
  redemptionId: seed.redemptionId ?? redemptionIdAt(seed.at),
  projectId: seed.projectId,
  period: billingPeriodOf(seed.at),
  stripeCustomerId: seed.customer,
  state: seed.noCharge ? 'no_charge' : seed.customer ? 'queued' : 'pending',
  at: seed.at.toISOString(),
});

/** A record or window as kept here: the domain's value, and when it is due in the sweep's index (none: out of it). */
type Stored<T> = { value: T; dueAtMs: number | null };

/** Most characters of a reason or an error kept, as DynamoBillingStore cuts them. */
const TEXT_LIMIT = 1_000;

/** Orders records by redemption time, then id. */
const byRedemption = (a: BillingRecord, b: BillingRecord) => a.redeemedAt.localeCompare(b.redeemedAt) || a.redemptionId.localeCompare(b.redemptionId);

/**
 * The billing store port in memory, holding to what DynamoBillingStore does: every move is
 * conditional on the state it leaves (queued → sending → billed | parked → queued; pending →
 * queued, or out of the due index), a window's claim and its settling move the window and all
 * its records or nothing, settling a window settled the same way again is done and one settled
 * the other way throws. The due index holds queued and pending records from their commit (or
 * requeue) and sending windows from their next try, read per bucket (`billingDueKeys`), each
 * bucket at most `limit` items up to the later of the two bounds, soonest first, as the table's
 * index is read.
 *
 * Left out: the lag of DynamoDB's indexes (read here as current), the 100-item limit of a
 * transaction, and AWS's transaction conflicts (a call never interleaves with another here, so
 * of two racing claims the first wins). test/adapters/billing-store.test.ts runs the same cases
 * over both.
 */
export class InMemoryBillingStore implements BillingStore {
  private readonly stored = new Map<string, Stored<BillingRecord>>();
  private readonly windowsById = new Map<string, Stored<BillingWindow>>();

  /**
   * Stores a record as a redemption's commit writes it: `queued` and `pending` ones due from the
   * commit, `no_charge` never. DynamoDB reads the commit's instant from the redemption id (a
   * ULID), so give ids made at `at` (`committed` does).
   */
  commit(record: CommittedRecord): BillingRecord {
    const value: BillingRecord = {
      redemptionId: record.redemptionId,
      projectId: record.projectId,
      period: record.period,
      stripeCustomerId: record.stripeCustomerId,
      redeemedAt: record.at,
      state: record.state,
      windowId: null,
      reason: null,
      updatedAt: record.at,
    };
    this.stored.set(record.redemptionId, { value, dueAtMs: record.state === 'no_charge' ? null : Date.parse(record.at) });
    return { ...value };
  }

  async records(redemptionIds: readonly string[]): Promise<BillingRecord[]> {
    return [...new Set(redemptionIds)].flatMap((id) => {
      const record = this.stored.get(id);
      return record ? [{ ...record.value }] : [];
    });
  }

  async createWindow(window: BillingWindow, at: Date): Promise<boolean> {
    if (new Set(window.redemptionIds).size !== window.redemptionIds.length) throw new Error('a transaction cannot hold two operations on one item');
    if (this.windowsById.has(window.id)) return false;
    const claimable = window.redemptionIds.every((id) => {
      const record = this.stored.get(id)?.value;
      return record?.state === 'queued' && record.stripeCustomerId === window.stripeCustomerId && record.period === window.period;
    });
    if (!claimable) return false;
    // As the table's item: a window is written without a failure, whatever it was handed.
    const value: BillingWindow = { ...window, redemptionIds: [...window.redemptionIds], firstFailureAt: null, lastError: null };
    this.windowsById.set(window.id, { value, dueAtMs: Date.parse(window.nextAttemptAt) });
    for (const id of window.redemptionIds) {
      const record = this.stored.get(id)!;
      record.value = { ...record.value, state: 'sending', windowId: window.id, updatedAt: at.toISOString() };
      record.dueAtMs = null;
    }
    return true;
  }

  async window(windowId: string): Promise<BillingWindow | undefined> {
    return (await this.windows([windowId]))[0];
  }

  async windows(windowIds: readonly string[]): Promise<BillingWindow[]> {
    return [...new Set(windowIds)].flatMap((id) => {
      const window = this.windowsById.get(id);
      return window ? [{ ...window.value, redemptionIds: [...window.value.redemptionIds] }] : [];
    });
  }

  async markWindowBilled(window: BillingWindow, at: Date): Promise<void> {
    this.settle(window, 'billed', at, null);
  }

  async recordWindowFailure(window: BillingWindow, failure: { attempts: number; nextAttemptAt: Date; error: string; firstFailureAt: Date }, _at: Date): Promise<void> {
    const stored = this.windowsById.get(window.id);
    // Only the try that read `attempts` counts: a concurrent one that counted first wins.
    if (stored?.value.state !== 'sending' || stored.value.attempts !== window.attempts) return;
    stored.value = {
      ...stored.value,
      attempts: failure.attempts,
      nextAttemptAt: failure.nextAttemptAt.toISOString(),
      lastError: failure.error.slice(0, TEXT_LIMIT),
      firstFailureAt: stored.value.firstFailureAt ?? failure.firstFailureAt.toISOString(),
    };
    stored.dueAtMs = failure.nextAttemptAt.getTime();
  }

  async parkWindow(window: BillingWindow, reason: string, at: Date): Promise<void> {
    this.settle(window, 'parked', at, reason.slice(0, TEXT_LIMIT));
  }

  async due(input: { windowsDueBy: Date; recordsOlderThan: Date; limit: number }): Promise<{ windows: BillingWindow[]; records: BillingRecord[] }> {
    const bound = billingDueBound(Math.max(input.windowsDueBy.getTime(), input.recordsOlderThan.getTime()));
    const recordsBound = billingDueBound(input.recordsOlderThan.getTime());
    const indexed = [
      ...[...this.windowsById.values()].map((window) => ({ kind: 'window' as const, id: window.value.id, dueAtMs: window.dueAtMs, window: window.value })),
      ...[...this.stored.values()].map((record) => ({ kind: 'record' as const, id: record.value.redemptionId, dueAtMs: record.dueAtMs, record: record.value })),
    ].flatMap((item) => (item.dueAtMs === null ? [] : [{ ...item, keys: billingDueKeys(item.id, item.dueAtMs) }]));
    const windows: BillingWindow[] = [];
    const records: BillingRecord[] = [];
    for (let bucket = 0; bucket < BILLING_DUE_BUCKETS; bucket++) {
      const page = indexed
        .filter((item) => item.keys.gsi3pk === billingDuePartition(bucket) && item.keys.gsi3sk <= bound)
        .sort((a, b) => (a.keys.gsi3sk < b.keys.gsi3sk ? -1 : a.keys.gsi3sk > b.keys.gsi3sk ? 1 : 0))
        .slice(0, input.limit);
      for (const item of page) {
        if (item.kind === 'window' && item.window.state === 'sending' && item.window.nextAttemptAt <= input.windowsDueBy.toISOString()) {
          windows.push({ ...item.window, redemptionIds: [...item.window.redemptionIds] });
        }
        if (item.kind === 'record' && (item.record.state === 'queued' || item.record.state === 'pending') && item.keys.gsi3sk <= recordsBound) records.push({ ...item.record });
      }
    }
    return { windows, records };
  }

  async settlePending(record: BillingRecord, at: Date): Promise<void> {
    const stored = this.stored.get(record.redemptionId);
    if (stored?.value.state !== 'pending') return;
    stored.value = { ...stored.value, updatedAt: at.toISOString() };
    stored.dueAtMs = null;
  }

  async requeuePending(projectId: string, stripeCustomerId: string, at: Date): Promise<number> {
    let moved = 0;
    for (const record of await this.pendingForProject(projectId)) {
      if (await this.requeueRecord(record, 'pending', stripeCustomerId, at)) moved++;
    }
    return moved;
  }

  async parkedRecords(projectId?: string): Promise<BillingRecord[]> {
    return this.where((record) => record.state === 'parked' && (projectId === undefined || record.projectId === projectId));
  }

  async requeueRecord(record: BillingRecord, from: 'pending' | 'parked', stripeCustomerId: string, at: Date): Promise<boolean> {
    const stored = this.stored.get(record.redemptionId);
    if (!stored || stored.value.projectId !== record.projectId || stored.value.state !== from) return false;
    stored.value = { ...stored.value, state: 'queued', stripeCustomerId, windowId: null, reason: null, updatedAt: at.toISOString() };
    stored.dueAtMs = at.getTime();
    return true;
  }

  async pendingForProject(projectId: string): Promise<BillingRecord[]> {
    return this.where((record) => record.state === 'pending' && record.projectId === projectId);
  }

  async billingRecords(projectId: string, period: string): Promise<BillingRecord[]> {
    return this.where((record) => record.projectId === projectId && record.period === period);
  }

  async isBilled(redemptionId: string): Promise<boolean> {
    return this.stored.get(redemptionId)?.value.state === 'billed';
  }

  private where(keep: (record: BillingRecord) => boolean): BillingRecord[] {
    return [...this.stored.values()]
      .map((record) => record.value)
      .filter(keep)
      .map((record) => ({ ...record }))
      .sort(byRedemption);
  }

  /**
   * Moves a sending window and each of its records (sending in it) to `state`, all or none; a
   * window found in `state` already is done (a redelivery), anything else throws.
   */
  private settle(window: BillingWindow, state: 'billed' | 'parked', at: Date, reason: string | null): void {
    const stored = this.windowsById.get(window.id);
    const movable =
      stored?.value.state === 'sending' &&
      window.redemptionIds.every((id) => {
        const record = this.stored.get(id)?.value;
        return record?.state === 'sending' && record.windowId === window.id;
      });
    if (!movable) {
      if (stored?.value.state === state) return;
      throw new Error(`billing window ${window.id} could not be marked ${state} (it is ${stored?.value.state ?? 'missing'})`);
    }
    stored.value = { ...stored.value, state };
    stored.dueAtMs = null;
    for (const id of window.redemptionIds) {
      const record = this.stored.get(id)!;
      record.value = { ...record.value, state, reason, updatedAt: at.toISOString() };
      record.dueAtMs = null;
    }
  }
}
