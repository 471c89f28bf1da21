import { EVENT_API_VERSION, type EventEnvelope } from '../contracts/events';
import { maskCode } from './access-codes';
import { newId } from './ids';

/** `data` of access_code.expired (spec: access_code_events.md): the code masked, never whole. */
export interface AccessCodeExpiredData {
  plan_id: string;
  batch_id: string;
  /** `masked_` + the code's last five characters. */
  access_code: string;
  expires_at: string;
}

/** A live code whose expiry has passed, as the expiry index gives it. */
export interface DueCode {
  code: string;
  planId: string;
  projectId: string;
  jobId: string;
  batchId: string;
  slot: number;
  expiresAt: string;
}

/** The access_code.expired event of one code. */
export const expiredEvent = (code: DueCode, now: Date, eventId: string = newId('event')): EventEnvelope<AccessCodeExpiredData> => ({
  id: eventId,
  type: 'access_code.expired',
  created_at: now.toISOString(),
  api_version: EVENT_API_VERSION,
  project_id: code.projectId,
  data: { plan_id: code.planId, batch_id: code.batchId, access_code: maskCode(code.code), expires_at: code.expiresAt },
});

/** The batch a creator or operator names, with what decides who may touch it. */
export interface BatchRef {
  batchId: string;
  jobId: string;
  teamId: string;
  planId: string;
  /** Whether every code of the batch is stored (an earlier expiry needs them all there). */
  generated: boolean;
}

/** The codes whose expiry has passed, and the moves out of `active` the sweep makes. */
export interface ExpiryStore {
  /**
   * Up to `limit` live codes with `expires_at <= now`, soonest first within each bucket of the
   * expiry index; `more` when some were left for a later run. Reads only due codes.
   */
  dueCodes(now: Date, limit: number): Promise<{ codes: DueCode[]; more: boolean }>;
  /**
   * active → expired for each code still active and due at `now`, each with its
   * access_code.expired event in the same transaction (batched); a code that is no longer
   * (redeemed, expired by another run, expiry moved) is skipped. Returns how many this call expired.
   */
  expireCodes(codes: readonly DueCode[], now: Date): Promise<number>;
  /** The batch's job, or undefined. */
  findBatch(batchId: string): Promise<BatchRef | undefined>;
  /**
   * Moves the expiry of the batch's still-active codes to `expiresAt` where that is earlier
   * than theirs (redeemed and expired codes untouched). Returns how many codes moved.
   */
  cutBatchExpiry(batch: BatchRef, expiresAt: Date): Promise<number>;
}
