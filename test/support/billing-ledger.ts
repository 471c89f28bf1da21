import type { BillingLedger, UsageRef } from '../../functions/domain/billing';

/** One redemption's billing state, as the in-memory ledger keeps it. */
export interface LedgerRecord {
  ref: UsageRef;
  state: 'billed' | 'pending' | 'failed';
  at: Date;
  reason?: string;
}

/**
 * A `BillingLedger` in memory with the port's rules (marks idempotent, `billed` final), until
 * the code store implements it. `crashOnNextMarkBilled` stands in for a crash between the
 * Stripe call and the mark.
 */
export class InMemoryBillingLedger implements BillingLedger {
  readonly records = new Map<string, LedgerRecord>();
  private crashes = 0;

  crashOnNextMarkBilled(times = 1): void {
    this.crashes += times;
  }

  async isBilled(redemptionId: string): Promise<boolean> {
    return this.records.get(redemptionId)?.state === 'billed';
  }

  async markBilled(ref: UsageRef, at: Date): Promise<void> {
    if (this.crashes > 0) {
      this.crashes -= 1;
      throw new Error('crashed before marking billed');
    }
    this.set(ref, 'billed', at);
  }

  async markPending(ref: UsageRef, at: Date): Promise<void> {
    this.set(ref, 'pending', at);
  }

  async markFailed(ref: UsageRef, reason: string, at: Date): Promise<void> {
    this.set(ref, 'failed', at, reason);
  }

  /** The state of one redemption, or undefined when never marked. */
  stateOf(redemptionId: string): LedgerRecord['state'] | undefined {
    return this.records.get(redemptionId)?.state;
  }

  private set(ref: UsageRef, state: LedgerRecord['state'], at: Date, reason?: string): void {
    const current = this.records.get(ref.redemptionId);
    if (current?.state === 'billed' || current?.state === state) return;
    this.records.set(ref.redemptionId, { ref, state, at, ...(reason === undefined ? {} : { reason }) });
  }
}
