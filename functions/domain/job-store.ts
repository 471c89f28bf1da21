import type { AccessCodeRecord, AccessCodeStatus } from './access-code-record';
import type { CodeGenerator } from './access-codes';
import type { EventEnvelope } from '../contracts/events';
import type { Job, JobFailure } from './jobs';

/** The Idempotency-Key of a request, scoped to the caller's team. */
export interface IdempotencyClaim {
  teamId: string;
  key: string;
  /** Hash of the request body: the same key with another body is refused. */
  requestHash: string;
  /** The claim is honoured until then. */
  expiresAt: Date;
}

/** What creating a job under an Idempotency-Key found. */
export type CreateJobResult =
  | { outcome: 'created' }
  | { outcome: 'replayed'; jobId: string }
  | { outcome: 'key-reused' };

/** A page of codes and the cursor of the next one. */
export interface CodePage {
  codes: AccessCodeRecord[];
  nextCursor: string | null;
}

/** Storage of jobs and their codes (DynamoDB in AWS and locally). */
export interface JobStore {
  /** Writes a new job, atomically with its idempotency claim when there is one. */
  createJob(job: Job, claim?: IdempotencyClaim): Promise<CreateJobResult>;
  /** The job (strongly consistent), or undefined; `countStored` tells its progress while generating. */
  getJob(jobId: string): Promise<Job | undefined>;
  /** queued → processing; a no-op otherwise. */
  markProcessing(jobId: string, now: Date): Promise<void>;
  /**
   * Stores one code per slot not yet filled, each unique service-wide (a collision draws a new
   * code). Slots filled before (a redelivered chunk) are left alone and not counted again.
   * Returns how many slots this call filled.
   */
  storeCodes(job: Job, slots: readonly number[], generate: CodeGenerator, now: Date): Promise<number>;
  /** Codes stored so far for a job (strongly consistent). */
  countStored(jobId: string): Promise<number>;
  /**
   * Marks the batch generated and commits its access_code.generated event in one transaction.
   * True for the one caller that did it; false when it was done before or the job ended.
   */
  markGenerated(jobId: string, event: EventEnvelope, now: Date): Promise<boolean>;
  /** The job's codes in slot order from slot `fromSlot` on (strongly consistent). */
  jobCodes(jobId: string, fromSlot?: number, limit?: number): Promise<Array<{ slot: number; code: string }>>;
  /** Takes the delivery lease of a generated, unfinished job; undefined when someone else holds it. */
  acquireDeliveryLease(jobId: string, owner: string, until: Date, now: Date): Promise<Job | undefined>;
  /** Records delivery progress under the lease; false when the lease was lost. */
  recordDelivered(jobId: string, owner: string, deliveredCount: number, now: Date): Promise<boolean>;
  /** Gives the lease back (so that the next delivery message can take it at once). */
  releaseLease(jobId: string, owner: string): Promise<void>;
  /** processing → completed under the lease. */
  completeJob(jobId: string, owner: string, now: Date): Promise<boolean>;
  /** queued|processing → failed; false when the job had already ended. */
  failJob(jobId: string, failure: JobFailure, now: Date): Promise<boolean>;
  /** Jobs not yet completed or failed, oldest first, up to `limit`. */
  activeJobs(limit: number): Promise<Job[]>;
  /**
   * Notes that the sweeper pushed the job on: the `streak` of pushes without progress and the
   * job's `updatedAt` it saw (progress moves `updatedAt`, a push does not).
   */
  recordRequeue(jobId: string, now: Date, streak: number, seenUpdatedAt: string): Promise<void>;
  /** A plan's codes in job then slot order, optionally of one job and/or one status. */
  /**
   * A status filter means the status as shown at `asOf`: an active code past its expiry counts
   * as expired, whether or not the expiry sweep has marked it yet.
   */
  listCodes(
    planId: string,
    filter: { jobId?: string; status?: AccessCodeStatus; asOf: Date },
    page: { limit: number; cursor?: string },
  ): Promise<CodePage>;
}

/** A cursor that cannot be decoded. */
export class InvalidCursorError extends Error {}
