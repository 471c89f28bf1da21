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

/**
 * Where a run's reading of the expiry index stands: per bucket still holding due keys, the key
 * to read on from. Within one run, so that keys already handled are not read again while the
 * index catches up with their removal.
 */
export type DueCursor = Record<number, Record<string, unknown>>;

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
  projectId: string;
  planId: string;
  /** The expiry the batch was generated with (null: never). */
  expiresAt: string | null;
  /** Whether every code of the batch is stored (an earlier expiry needs them all there). */
  generated: boolean;
}

/**
 * A batch's expiry change, recorded before any code moves: the expiry in force for the batch and
 * how far the move of its codes has come. Codes move in slot order; `nextSlot` and
 * `codesAffected` change in the same transaction as the codes they count.
 */
export interface BatchExpiry {
  batchId: string;
  jobId: string;
  projectId: string;
  planId: string;
  /** The batch's new expiry. */
  expiresAt: string;
  /** `in_progress` while codes are left to move; `completed` once every one has. */
  status: 'in_progress' | 'completed';
  /** Active codes this change moved to `expiresAt` so far (expired at once when it has passed). */
  codesAffected: number;
  /** The first slot not yet moved. */
  nextSlot: number;
  requestedAt: string;
}

/** The codes whose expiry has passed, the moves out of `active` the sweep makes, and batch expiry changes. */
export interface ExpiryStore {
  /**
   * Up to `limit` live codes with `expires_at <= now`, soonest first within each bucket of the
   * expiry index, from where `from` (the `next` of the previous page) left each bucket; `more`
   * when some were left. Reads only due codes.
   */
  dueCodes(now: Date, limit: number, from?: DueCursor): Promise<{ codes: DueCode[]; more: boolean; next: DueCursor }>;
  /**
   * active → expired for each code still active and due at `now`, each with its
   * access_code.expired event in the same transaction (batched); a code that is no longer
   * (redeemed, expired by another run, expiry moved) is skipped. Returns how many this call expired.
   */
  expireCodes(codes: readonly DueCode[], now: Date): Promise<number>;
  /** The batch's job, or undefined. */
  findBatch(batchId: string): Promise<BatchRef | undefined>;
  /** The batch's expiry change (strongly consistent), or undefined when none was made. */
  batchExpiry(batchId: string): Promise<BatchExpiry | undefined>;
  /**
   * Records `expiresAt` as the batch's expiry unless a change at or before it is already
   * recorded (a later one is replaced, and its move starts again from the first slot). Moves no
   * code. Returns the change in force and whether this call made it.
   */
  recordBatchExpiry(batch: BatchRef, expiresAt: Date, now: Date): Promise<{ expiry: BatchExpiry; changed: boolean }>;
  /** Batch expiry changes still in progress (from an index that may lag: each step is fenced). */
  pendingBatchExpiries(limit: number): Promise<BatchExpiry[]>;
  /**
   * One step of a change's move: the next codes from `nextSlot`, each still active with a later
   * (or no) expiry, moved to `expiresAt` — expired at once, each with its access_code.expired
   * event, when `expiresAt` has passed at `now` — in one transaction with the change's progress.
   * With no code left the change becomes `completed`. Returns the change as it now stands, or
   * undefined when `expiry` is no longer the change's state (another worker moved it on, or an
   * earlier expiry replaced it): nothing was written, read it again.
   */
  moveBatchCodes(expiry: BatchExpiry, now: Date): Promise<BatchExpiry | undefined>;
}
