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

