import type { EventEnvelope } from '../../functions/contracts/events';
import { activeCodeSk, expiryBound, planCodeSk, prefixEnd } from '../../functions/contracts/table';
import { expiryOrder, statusParts, type AccessCodeRecord, type StatusPart } from '../../functions/domain/access-code-record';
import { newCodeSeed, type CodeGenerator } from '../../functions/domain/access-codes';
import { CHUNK_SIZE, chunkSlots, type Job, type JobFailure } from '../../functions/domain/jobs';
import {
  InvalidCursorError,
  type CodeFilter,
  type CodePage,
  type CodePosition,
  type CodeStore,
  type CreateJobResult,
  type IdempotencyClaim,
  type JobStore,
  type Pace,
} from '../../functions/domain/ports';

/** Candidates tried for one slot before giving up, as DynamoCodeStore does. */
const MAX_CANDIDATES = 8;

/** DynamoDB's order of string keys (by code unit, not by locale). */
const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A job as the table holds it: the aggregate plus what only the stores read. */
interface StoredJob {
  job: Job;
  /** The job's code seed, made by the first chunk that asks. */
  seed?: Uint8Array;
}

/**
 * The jobs and codes of the service table in memory, shared by the in-memory job and code
 * stores (a job's codes, its chunk records and its progress live together, as on the table).
 */
export class JobCodeTable {
  readonly jobs = new Map<string, StoredJob>();
  /** Idempotency claims by `teamId#key`. */
  readonly claims = new Map<string, { jobId: string; requestHash: string; expiresAt: string }>();
  readonly codes = new Map<string, AccessCodeRecord>();
  /** Per job, per chunk: the chunk's codes in slot order, written once its codes are stored. */
  readonly chunks = new Map<string, Map<number, string[]>>();
  /** The outbox: events committed with the state they tell of. */
  readonly events: EventEnvelope[] = [];

  /** active → redeemed at `at`, as a redemption's commit moves a code; false when it is not active. */
  redeem(code: string, at: Date): boolean {
    const stored = this.codes.get(code);
    if (stored?.status !== 'active') return false;
    stored.status = 'redeemed';
    stored.redeemedAt = at.toISOString();
    return true;
  }
}

/**
 * The job store port in memory, holding to what DynamoJobStore does: a job and its idempotency
 * claim written together (a claim is honoured while `expiresAt >= ` the new job's `createdAt`);
 * every status move conditional on the state it moves from; the delivery lease held by one owner
 * until it lapses (`leaseUntil < now`), progress and completion fenced on the owner; progress
 * counted from the chunk records the code store writes. Left out: AWS's transaction conflicts
 * (a call here never interleaves with another within one step), and `recordRequeue` on an
 * unknown job (DynamoDB writes a stub item; here it is a no-op). The contract is
 * test/adapters/job-store-contract.test.ts.
 */
export class InMemoryJobStore implements JobStore {
  constructor(readonly table: JobCodeTable = new JobCodeTable()) {}

  async createJob(job: Job, claim?: IdempotencyClaim): Promise<CreateJobResult> {
    if (this.table.jobs.has(job.id)) throw new Error(`job ${job.id} exists`);
    const claimKey = claim && `${claim.teamId}#${claim.key}`;
    if (claim && claimKey) {
      const held = this.table.claims.get(claimKey);
      // An expired claim may be taken again (DynamoDB: `expires_at < :createdAt`).
      if (held && !(held.expiresAt < job.createdAt)) {
        return held.requestHash === claim.requestHash ? { outcome: 'replayed', jobId: held.jobId } : { outcome: 'key-reused' };
      }
      this.table.claims.set(claimKey, { jobId: job.id, requestHash: claim.requestHash, expiresAt: claim.expiresAt.toISOString() });
    }
    this.table.jobs.set(job.id, { job: asWritten(job) });
    return { outcome: 'created' };
  }

  async getJob(jobId: string): Promise<Job | undefined> {
    const stored = this.table.jobs.get(jobId);
    return stored && structuredClone(stored.job);
  }

  async markProcessing(jobId: string, now: Date): Promise<void> {
    const job = this.table.jobs.get(jobId)?.job;
    if (job?.status !== 'queued') return;
    job.status = 'processing';
    job.startedAt = job.updatedAt = now.toISOString();
  }

  async countStored(jobId: string): Promise<number> {
    let total = 0;
    for (const codes of this.table.chunks.get(jobId)?.values() ?? []) total += codes.length;
    return total;
  }

  async markGenerated(jobId: string, event: EventEnvelope, now: Date): Promise<boolean> {
    const job = this.table.jobs.get(jobId)?.job;
    if (!job || job.generatedAt !== null || job.status !== 'processing') return false;
    job.generatedAt = job.updatedAt = now.toISOString();
    this.table.events.push(structuredClone(event));
    return true;
  }

  async acquireDeliveryLease(jobId: string, owner: string, until: Date, now: Date): Promise<Job | undefined> {
    const job = this.table.jobs.get(jobId)?.job;
    if (!job || job.generatedAt === null || job.status !== 'processing') return undefined;
    const free = job.leaseUntil === null || job.leaseUntil < now.toISOString() || job.leaseOwner === owner;
    if (!free) return undefined;
    job.leaseOwner = owner;
    job.leaseUntil = until.toISOString();
    return structuredClone(job);
  }

  async recordDelivered(jobId: string, owner: string, deliveredCount: number, now: Date): Promise<boolean> {
    const job = this.underLease(jobId, owner);
    if (!job) return false;
    job.deliveredCount = deliveredCount;
    job.updatedAt = now.toISOString();
    return true;
  }

  async releaseLease(jobId: string, owner: string): Promise<void> {
    const job = this.table.jobs.get(jobId)?.job;
    if (job?.leaseOwner !== owner) return;
    job.leaseOwner = job.leaseUntil = null;
  }

  async completeJob(jobId: string, owner: string, now: Date): Promise<boolean> {
    const job = this.underLease(jobId, owner);
    if (!job) return false;
    job.status = 'completed';
    job.completedAt = job.updatedAt = now.toISOString();
    job.deliveredCount = job.quantity;
    job.leaseOwner = job.leaseUntil = null;
    return true;
  }

  async failJob(jobId: string, failure: JobFailure, now: Date): Promise<boolean> {
    const job = this.table.jobs.get(jobId)?.job;
    if (job?.status !== 'queued' && job?.status !== 'processing') return false;
    job.status = 'failed';
    job.failure = structuredClone(failure);
    job.completedAt = job.updatedAt = now.toISOString();
    job.leaseOwner = job.leaseUntil = null;
    return true;
  }

  async activeJobs(limit: number): Promise<Job[]> {
    const key = (job: Job) => `${job.createdAt}#${job.id}`;
    return [...this.table.jobs.values()]
      .map((stored) => stored.job)
      .filter((job) => job.status !== 'completed' && job.status !== 'failed')
      .sort((a, b) => byKey(key(a), key(b)))
      .slice(0, limit)
      .map((job) => structuredClone(job));
  }

  async recordRequeue(jobId: string, now: Date, streak: number, seenUpdatedAt: string): Promise<void> {
    const job = this.table.jobs.get(jobId)?.job;
    if (!job) return;
    job.requeues = streak;
    job.requeuedAt = now.toISOString();
    job.requeueMarker = seenUpdatedAt;
  }

  /** The job while `owner` holds its lease (lapsed or not) and it is processing. */
  private underLease(jobId: string, owner: string): Job | undefined {
    const job = this.table.jobs.get(jobId)?.job;
    return job && job.leaseOwner === owner && job.status === 'processing' ? job : undefined;
  }
}

/** A job as createJob writes it: the fields of later stages are not taken from the caller. */
const asWritten = (job: Job): Job => ({
  ...structuredClone(job),
  generatedAt: null,
  failure: null,
  startedAt: null,
  completedAt: null,
  requeuedAt: null,
  requeueMarker: null,
  leaseOwner: null,
  leaseUntil: null,
});

/** A code's key in one part of a listing: what DynamoCodeStore's positions hold. */
const listingKey = (code: AccessCodeRecord, part: StatusPart | null): string =>
  part?.stored === 'active' ? activeCodeSk(expiryOrder(code.expiresAt), code.jobId, code.slot) : planCodeSk(code.jobId, code.slot);

/**
 * The code store port in memory, holding to what DynamoCodeStore does: one code per slot,
 * unique service-wide, a slot's candidates tried in order (`generate(seed, slot, attempt)`, the
 * job's seed made once) until one is free or already this slot's; a chunk's record (what
 * `countStored` and `jobCodes` read) written once all its codes are; the job's `updatedAt` moved
 * when a call stored something; listings in the index orders of the table, positions being index
 * keys. Left out: the listing's read budget (a page here is short only at the end of the
 * listing) and the exact point a page that ends a part hands over (DynamoDB may answer one more,
 * empty page): callers treat positions as opaque. The contract is
 * test/adapters/code-store-contract.test.ts.
 */
export class InMemoryCodeStore implements CodeStore {
  constructor(readonly table: JobCodeTable = new JobCodeTable()) {}

  async storeCodes(job: Job, slots: readonly number[], generate: CodeGenerator, now: Date, pace?: Pace): Promise<number> {
    const chunks = new Map<number, number[]>();
    for (const slot of slots) {
      const chunk = Math.floor(slot / CHUNK_SIZE);
      chunks.set(chunk, [...(chunks.get(chunk) ?? []), slot]);
    }
    for (const [chunk, given] of chunks) {
      const whole = chunkSlots(job.quantity, chunk);
      if (given.length !== whole.length || given.some((slot, i) => slot !== whole[i])) {
        throw new Error(`storeCodes takes whole chunks in slot order: chunk ${chunk} of job ${job.id} was given ${given.length} of its ${whole.length} slots`);
      }
    }
    const stored = this.table.jobs.get(job.id);
    if (!stored) throw new Error(`job ${job.id} does not exist`);
    stored.seed ??= newCodeSeed();
    const seed = stored.seed;
    const codes = new Map<number, string>();
    let count = 0;
    for (const slot of slots) {
      await pace?.take(1);
      // A turn between writes: two calls on the same chunk interleave, as concurrent puts do.
      await Promise.resolve();
      const result = this.storeSlot(job, slot, seed, generate, now);
      codes.set(slot, result.code);
      if (result.stored) count++;
    }
    const records = this.table.chunks.get(job.id) ?? new Map<number, string[]>();
    this.table.chunks.set(job.id, records);
    for (const [chunk, given] of chunks) {
      if (!records.has(chunk)) records.set(chunk, given.map((slot) => codes.get(slot)!));
    }
    if (count > 0) stored.job.updatedAt = now.toISOString();
    return count;
  }

  private storeSlot(job: Job, slot: number, seed: Uint8Array, generate: CodeGenerator, now: Date): { code: string; stored: boolean } {
    for (let attempt = 0; attempt < MAX_CANDIDATES; attempt++) {
      const code = generate(seed, slot, attempt);
      const old = this.table.codes.get(code);
      if (!old) {
        this.table.codes.set(code, {
          code,
          planId: job.planId,
          projectId: job.projectId,
          jobId: job.id,
          batchId: job.batchId,
          slot,
          status: 'active',
          expiresAt: job.expiresAt,
          redeemedAt: null,
          createdAt: now.toISOString(),
        });
        return { code, stored: true };
      }
      if (old.jobId === job.id && old.slot === slot) return { code, stored: false };
    }
    throw new Error(`no free code for slot ${slot} of job ${job.id} after ${MAX_CANDIDATES} candidates`);
  }

  async jobCodes(jobId: string, fromSlot = 0, limit?: number): Promise<Array<{ slot: number; code: string }>> {
    const records = [...(this.table.chunks.get(jobId) ?? new Map<number, string[]>()).entries()].sort(([a], [b]) => a - b);
    const all = records.flatMap(([chunk, codes]) => codes.map((code, i) => ({ slot: chunk * CHUNK_SIZE + i, code })));
    const from = all.filter((entry) => entry.slot >= fromSlot);
    return limit ? from.slice(0, limit) : from;
  }

  async getCode(code: string): Promise<AccessCodeRecord | undefined> {
    const stored = this.table.codes.get(code);
    return stored && { ...stored };
  }

  async expireCode(code: string, now: Date): Promise<boolean> {
    const stored = this.table.codes.get(code);
    if (stored?.status !== 'active' || stored.expiresAt === null || stored.expiresAt > now.toISOString()) return false;
    stored.status = 'expired';
    return true;
  }

  async listCodes(planId: string, filter: CodeFilter, page: { limit: number; after?: CodePosition }): Promise<CodePage> {
    const parts = filter.status ? statusParts(filter.status, filter.asOf) : [null];
    const position = page.after ?? { part: 0, after: null };
    if (!Number.isInteger(position.part) || position.part < 0 || position.part >= parts.length) {
      throw new InvalidCursorError('cursor is not one this listing returned');
    }
    const startPart = parts[position.part]!;
    if (position.after !== null && startPart?.stored !== 'active') {
      // Keys of these parts are job then slot: a position must lie in the listing's range.
      const prefix = filter.jobId ? planCodeSk(filter.jobId, '') : 'CODE#';
      if (!(position.after.startsWith(prefix) && position.after < prefixEnd(prefix))) throw new InvalidCursorError('cursor is not one this listing returned');
    }
    const matches: Array<{ part: number; key: string; code: AccessCodeRecord }> = [];
    for (let index = position.part; index < parts.length; index++) {
      const part = parts[index]!;
      const after = index === position.part ? position.after : null;
      const inPart = [...this.table.codes.values()]
        .filter((code) => code.planId === planId && (!filter.jobId || code.jobId === filter.jobId) && inStatusPart(code, part))
        .map((code) => ({ part: index, key: listingKey(code, part), code }))
        .filter((entry) => after === null || entry.key > after)
        .sort((a, b) => byKey(a.key, b.key));
      matches.push(...inPart);
    }
    const taken = matches.slice(0, page.limit);
    const last = taken.at(-1);
    return {
      codes: taken.map((entry) => ({ ...entry.code })),
      next: matches.length > page.limit && last ? { part: last.part, after: last.key } : null,
    };
  }
}

/** Whether a stored code is in one part of a listing (null: every code of the plan). */
const inStatusPart = (code: AccessCodeRecord, part: StatusPart | null): boolean => {
  if (part === null) return true;
  if (code.status !== part.stored) return false;
  if (part.stored !== 'active') return true;
  const key = activeCodeSk(expiryOrder(code.expiresAt), code.jobId, code.slot);
  return 'after' in part.expiry ? key > expiryBound(part.expiry.after) : key <= expiryBound(part.expiry.atMost);
};

/** A job store and a code store over one in-memory table. */
export const inMemoryJobAndCodeStores = (table = new JobCodeTable()) => ({ table, jobs: new InMemoryJobStore(table), codes: new InMemoryCodeStore(table) });
