import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoCodeStore, codeStatusChange } from '../../functions/adapters/dynamodb/code-store';
import { DynamoExpiryStore } from '../../functions/adapters/dynamodb/expiry-store';
import { DynamoJobStore } from '../../functions/adapters/dynamodb/job-store';
import type { EventEnvelope } from '../../functions/contracts/events';
import { randomCode } from '../../functions/domain/access-codes';
import type { AccessCodeStatus } from '../../functions/domain/access-code-record';
import type { AccessCodeExpiredData, BatchRef } from '../../functions/domain/expiry-sweep';
import type { Job } from '../../functions/domain/jobs';
import type { ExpiryStore } from '../../functions/domain/ports';
import { generatedEvent } from '../../functions/use-cases/generation/generate-chunk';
import { contractImplementations, outboxEvents, type TestTable } from './dynamodb';
import { InMemoryExpiryStore } from './expiry-doubles';
import { queuedJob } from './jobs';

/** What a contract case asks for: a batch of `codes` (slot order) in a project, expiring at `expiresAt`. */
export interface BatchSeed {
  projectId: string;
  codes: readonly string[];
  expiresAt: Date | null;
  /** Whether its job stored the whole batch (default true). */
  generated?: boolean;
}

/**
 * An expiry store under test with what the contract needs around it: batches of codes stored as
 * generation stores them, redemption's move of a code, and reading back codes and the
 * access_code.expired events committed. The same cases run over the in-memory double and over
 * DynamoDB Local (test/adapters/expiry-store.test.ts).
 */
export interface ExpiryStoreHarness {
  store: ExpiryStore;
  addBatch(seed: BatchSeed): Promise<BatchRef>;
  markGenerated(batch: BatchRef): Promise<void>;
  /** active → redeemed, as a redemption commits it. */
  redeem(code: string): Promise<void>;
  /** A code's status and expiry as stored. */
  code(code: string): Promise<{ status: AccessCodeStatus; expiresAt: string | null } | undefined>;
  /** The access_code.expired events committed for a project's codes. */
  expiredEvents(projectId: string): Promise<Array<EventEnvelope<AccessCodeExpiredData>>>;
}

const refOf = (job: Job, generated: boolean): BatchRef => ({
  batchId: job.batchId,
  jobId: job.id,
  teamId: job.teamId,
  projectId: job.projectId,
  planId: job.planId,
  expiresAt: job.expiresAt,
  generated,
});

const jobOf = (seed: BatchSeed): Job =>
  queuedJob({ quantity: seed.codes.length, teamId: 'tea_expiry', projectId: seed.projectId, planId: `pln_${seed.projectId}`, expiresAt: seed.expiresAt?.toISOString() ?? null });

/** The in-memory double. */
export const inMemoryExpiryHarness = (): ExpiryStoreHarness => {
  const store = new InMemoryExpiryStore();
  return {
    store,
    addBatch: async (seed) => {
      const batch = refOf(jobOf(seed), false);
      store.addBatch(batch, seed.codes);
      if (seed.generated ?? true) store.markGenerated(batch.batchId);
      return { ...batch, generated: seed.generated ?? true };
    },
    markGenerated: async (batch) => store.markGenerated(batch.batchId),
    redeem: async (code) => {
      if (!store.redeem(code)) throw new Error(`${code} is not active`);
    },
    code: async (code) => {
      const stored = store.code(code);
      return stored && { status: stored.status, expiresAt: stored.expiresAt };
    },
    expiredEvents: async (projectId) => store.events.filter((event) => event.project_id === projectId) as Array<EventEnvelope<AccessCodeExpiredData>>,
  };
};

/** DynamoExpiryStore on `table`, its batches written by the job and code stores. */
export const dynamoExpiryHarness = (table: TestTable): ExpiryStoreHarness => {
  const jobs = new DynamoJobStore(table.db, table.tableName);
  const codes = new DynamoCodeStore(table.db, table.tableName);
  const store = new DynamoExpiryStore(table.db, table.tableName, codes);
  const jobsByBatch = new Map<string, Job>();
  return {
    store,
    addBatch: async (seed) => {
      const job = jobOf(seed);
      const now = new Date();
      jobsByBatch.set(job.batchId, job);
      await jobs.createJob(job);
      await jobs.markProcessing(job.id, now);
      const slots = seed.codes.map((_, slot) => slot);
      await codes.storeCodes({ ...job, status: 'processing' }, slots, (_seed, slot, attempt) => (attempt === 0 ? seed.codes[slot]! : randomCode()), now);
      const stored = (await codes.jobCodes(job.id)).map((entry) => entry.code);
      if (stored.join() !== seed.codes.join()) throw new Error('a seeded code collided with a stored one');
      const generated = seed.generated ?? true;
      if (generated && !(await jobs.markGenerated(job.id, generatedEvent(job, now), now))) throw new Error('could not mark the job generated');
      return refOf(job, generated);
    },
    markGenerated: async (batch) => {
      const now = new Date();
      const job = jobsByBatch.get(batch.batchId)!;
      if (!(await jobs.markGenerated(job.id, generatedEvent(job, now), now))) throw new Error('could not mark the job generated');
    },
    redeem: async (code) => {
      const record = (await codes.getCode(code))!;
      await table.db.send(
        new UpdateCommand({
          TableName: table.tableName,
          ...codeStatusChange(record, 'redeemed', { set: 'redeemed_at = :at', values: { ':at': new Date().toISOString() } }),
        }),
      );
    },
    code: async (code) => {
      const record = await codes.getCode(code);
      return record && { status: record.status, expiresAt: record.expiresAt };
    },
    expiredEvents: (projectId) => outboxEvents<EventEnvelope<AccessCodeExpiredData>>(table, (event) => event.type === 'access_code.expired' && event.project_id === projectId),
  };
};

/** Both implementations, each made by `open`: in memory at once, DynamoDB on a table of its own (dropped by `dropTables`). */
export const expiryImplementations = () => contractImplementations<ExpiryStoreHarness>(inMemoryExpiryHarness, dynamoExpiryHarness);
