import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoCodeStore, codeStatusChange } from '../../functions/adapters/dynamodb/code-store';
import { DynamoJobStore } from '../../functions/adapters/dynamodb/job-store';
import type { EventEnvelope } from '../../functions/contracts/events';
import type { CodeStore, JobStore } from '../../functions/domain/ports';
import { contractImplementations, outboxEvents, type TestTable } from './dynamodb';
import { inMemoryJobAndCodeStores } from './job-code-doubles';

/**
 * A job store and a code store over one table, with what their contracts read besides the
 * ports: redemption's move of a code, the access_code.generated events committed, and how many
 * code records a job has (a slot stored twice would show). The same cases run over the
 * in-memory doubles and DynamoDB Local (test/adapters/{job,code}-store-contract.test.ts).
 */
export interface JobCodeHarness {
  jobs: JobStore;
  codes: CodeStore;
  /** active → redeemed at `at`, as a redemption commits it. */
  redeem(code: string, at: Date): Promise<void>;
  /** The access_code.generated events committed for a batch. */
  generatedEvents(batchId: string): Promise<EventEnvelope[]>;
  /** How many code records belong to a job. */
  codeRecords(jobId: string): Promise<number>;
}

/** The in-memory doubles over one shared table. */
export const inMemoryJobCodeHarness = (): JobCodeHarness => {
  const { table, jobs, codes } = inMemoryJobAndCodeStores();
  return {
    jobs,
    codes,
    redeem: async (code, at) => {
      if (!table.redeem(code, at)) throw new Error(`${code} is not active`);
    },
    generatedEvents: async (batchId) =>
      table.events.filter((event) => event.type === 'access_code.generated' && (event.data as { batch_id: string }).batch_id === batchId),
    codeRecords: async (jobId) => [...table.codes.values()].filter((code) => code.jobId === jobId).length,
  };
};

/** DynamoJobStore and DynamoCodeStore on `table`. */
export const dynamoJobCodeHarness = (table: TestTable): JobCodeHarness => {
  const codes = new DynamoCodeStore(table.db, table.tableName);
  return {
    jobs: new DynamoJobStore(table.db, table.tableName),
    codes,
    redeem: async (code, at) => {
      const record = await codes.getCode(code);
      if (!record) throw new Error(`${code} is not stored`);
      await table.db.send(
        new UpdateCommand({ TableName: table.tableName, ...codeStatusChange(record, 'redeemed', { set: 'redeemed_at = :at', values: { ':at': at.toISOString() } }) }),
      );
    },
    generatedEvents: (batchId) =>
      outboxEvents(table, (event) => event.type === 'access_code.generated' && (event.data as { batch_id: string }).batch_id === batchId),
    codeRecords: async (jobId) => (await table.scanAll()).filter((item) => item.type === 'access_code' && item.job_id === jobId).length,
  };
};

/** Both implementations, each made by `open`: in memory at once, DynamoDB on a table of its own (dropped by `dropTables`). */
export const jobCodeImplementations = () => contractImplementations<JobCodeHarness>(inMemoryJobCodeHarness, dynamoJobCodeHarness);
