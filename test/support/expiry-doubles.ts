import type { EventEnvelope } from '../../functions/contracts/events';
import { EXPIRY_BUCKETS, expiryBound, expiryBucket } from '../../functions/contracts/table';
import type { AccessCodeRecord } from '../../functions/domain/access-code-record';
import { expiredEvent, type BatchExpiry, type BatchRef, type DueCode, type DueCursor } from '../../functions/domain/expiry-sweep';
import type { ExpiryStore } from '../../functions/domain/ports';

/** A stored code as far as expiry goes: the record list_access_codes shows, but for when it was made and redeemed. */
export type ExpiryCode = Omit<AccessCodeRecord, 'redeemedAt' | 'createdAt'>;

/** Codes one step of a batch expiry change takes, as DynamoExpiryStore's transactions hold them (expiring at once, moving). */
const EXPIRING_CODES_PER_STEP = 49;
const MOVING_CODES_PER_STEP = 99;

/** DynamoDB's order of string keys (by code unit, not by locale). */
const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A code's key in the expiry index: expiry, then code. */
const dueKey = (code: ExpiryCode) => `${code.expiresAt}#${code.code}`;

/**
 * The expiry store port in memory, holding to what DynamoExpiryStore does: the expiry index
 * holds active codes with an expiry, read per bucket (`expiryBucket`) soonest first, each
 * bucket's share of the limit, a bucket that filled its share carrying a cursor (even when
 * nothing follows, as DynamoDB's Limit does); every move out of `active` is conditional on the
 * code's stored state and commits its access_code.expired event with it; a batch expiry change
 * is recorded unless one at or before it is, and each step is fenced on the change's state.
 *
 * It models, of the other stores on the table, only what expiry reads and moves: codes (status,
 * expiry, slot), each batch's job (whether it is generated) and the outbox's events. Left out:
 * the listing index, redemption records, the code's `expired_at`, the lag of DynamoDB's indexes
 * (they are read here as current), and AWS's transaction conflicts (runs here never interleave
 * within a call). test/adapters/expiry-store.test.ts runs the same cases over both.
 */
export class InMemoryExpiryStore implements ExpiryStore {
  private readonly codes = new Map<string, ExpiryCode>();
  private readonly batches = new Map<string, BatchRef>();
  private readonly changes = new Map<string, BatchExpiry>();
  /** The outbox: the events committed with the codes they tell of. */
  readonly events: EventEnvelope[] = [];

  /** Stores a batch's job and its codes, slot `i` holding `codes[i]`, all active with the batch's expiry. */
  addBatch(batch: BatchRef, codes: readonly string[]): void {
    this.batches.set(batch.batchId, { ...batch });
    codes.forEach((code, slot) =>
      this.codes.set(code, { code, planId: batch.planId, projectId: batch.projectId, jobId: batch.jobId, batchId: batch.batchId, slot, status: 'active', expiresAt: batch.expiresAt }),
    );
  }

  /** The batch's job stored its whole batch. */
  markGenerated(batchId: string): void {
    this.batches.get(batchId)!.generated = true;
  }

  /** A code as stored, or undefined. */
  code(code: string): ExpiryCode | undefined {
    const stored = this.codes.get(code);
    return stored && { ...stored };
  }

  /** active → redeemed, as a redemption's commit moves it; false when it is not active. */
  redeem(code: string): boolean {
    const stored = this.codes.get(code);
    if (stored?.status !== 'active') return false;
    stored.status = 'redeemed';
    return true;
  }

  async dueCodes(now: Date, limit: number, from?: DueCursor): Promise<{ codes: DueCode[]; more: boolean; next: DueCursor }> {
    const open = Array.from({ length: EXPIRY_BUCKETS }, (_, bucket) => bucket).filter((bucket) => !from || from[bucket] !== undefined);
    const share = Math.max(1, Math.floor(limit / Math.max(1, open.length)));
    const bound = expiryBound(now.toISOString());
    const indexed = [...this.codes.values()].filter((code) => code.status === 'active' && code.expiresAt !== null);
    const next: DueCursor = {};
    const codes = open.flatMap((bucket) => {
      const after = from?.[bucket]?.gsi3sk as string | undefined;
      const read = indexed
        .filter((code) => expiryBucket(code.code) === bucket && dueKey(code) <= bound && (after === undefined || dueKey(code) > after))
        .sort((a, b) => byKey(dueKey(a), dueKey(b)))
        .slice(0, share);
      if (read.length === share) next[bucket] = { gsi3sk: dueKey(read.at(-1)!) };
      return read.map(({ code, planId, projectId, jobId, batchId, slot, expiresAt }): DueCode => ({ code, planId, projectId, jobId, batchId, slot, expiresAt: expiresAt! }));
    });
    return { codes, more: Object.keys(next).length > 0, next };
  }

  async expireCodes(codes: readonly DueCode[], now: Date): Promise<number> {
    let expired = 0;
    for (const due of codes) {
      const stored = this.codes.get(due.code);
      if (stored?.status !== 'active' || stored.expiresAt === null || stored.expiresAt > now.toISOString()) continue;
      stored.status = 'expired';
      this.events.push(expiredEvent(due, now));
      expired++;
    }
    return expired;
  }

  async findBatch(batchId: string): Promise<BatchRef | undefined> {
    const batch = this.batches.get(batchId);
    return batch && { ...batch };
  }

  async batchExpiry(batchId: string): Promise<BatchExpiry | undefined> {
    const change = this.changes.get(batchId);
    return change && { ...change };
  }

  async recordBatchExpiry(batch: BatchRef, expiresAt: Date, now: Date): Promise<{ expiry: BatchExpiry; changed: boolean }> {
    const at = expiresAt.toISOString();
    const recorded = this.changes.get(batch.batchId);
    if (recorded && recorded.expiresAt <= at) return { expiry: { ...recorded }, changed: false };
    const expiry: BatchExpiry = {
      batchId: batch.batchId,
      jobId: batch.jobId,
      projectId: batch.projectId,
      planId: batch.planId,
      expiresAt: at,
      status: 'in_progress',
      codesAffected: 0,
      nextSlot: 0,
      requestedAt: now.toISOString(),
    };
    this.changes.set(batch.batchId, expiry);
    return { expiry: { ...expiry }, changed: true };
  }

  async pendingBatchExpiries(limit: number): Promise<BatchExpiry[]> {
    const key = (change: BatchExpiry) => `${change.requestedAt}#${change.batchId}`;
    return [...this.changes.values()]
      .filter((change) => change.status === 'in_progress')
      .sort((a, b) => byKey(key(a), key(b)))
      .slice(0, limit)
      .map((change) => ({ ...change }));
  }

  async moveBatchCodes(expiry: BatchExpiry, now: Date): Promise<BatchExpiry | undefined> {
    const stored = this.changes.get(expiry.batchId);
    if (!stored || stored.status !== 'in_progress' || stored.expiresAt !== expiry.expiresAt || stored.nextSlot !== expiry.nextSlot) return undefined;
    const expireNow = Date.parse(expiry.expiresAt) <= now.getTime();
    const found = [...this.codes.values()]
      .filter((code) => code.jobId === expiry.jobId && code.slot >= expiry.nextSlot)
      .sort((a, b) => a.slot - b.slot)
      .slice(0, expireNow ? EXPIRING_CODES_PER_STEP : MOVING_CODES_PER_STEP);
    if (found.length === 0) {
      stored.status = 'completed';
      return { ...expiry, status: 'completed' };
    }
    const moving = found.filter((code) => code.status === 'active' && (code.expiresAt === null || code.expiresAt > expiry.expiresAt));
    for (const code of moving) {
      code.expiresAt = expiry.expiresAt;
      if (!expireNow) continue;
      code.status = 'expired';
      const { slot, planId, projectId, jobId, batchId } = code;
      this.events.push(expiredEvent({ code: code.code, slot, planId, projectId, jobId, batchId, expiresAt: expiry.expiresAt }, now));
    }
    const nextSlot = found.at(-1)!.slot + 1;
    stored.nextSlot = nextSlot;
    stored.codesAffected += moving.length;
    return { ...expiry, nextSlot, codesAffected: expiry.codesAffected + moving.length };
  }
}
