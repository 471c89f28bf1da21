import { ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoCodeStore, codeStatusChange } from '../../functions/adapters/dynamodb/code-store';
import { DynamoJobStore } from '../../functions/adapters/dynamodb/job-store';
import type { EventEnvelope } from '../../functions/contracts/events';
import { OUTBOX_ITEM_TYPE } from '../../functions/contracts/outbox';
import type { CodeStore, JobStore } from '../../functions/domain/ports';
import { contractImplementations, type TestTable } from './dynamodb';
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

/** Consistent scan of `table` for the items `filter` picks out. */
const scan = async (table: TestTable, filter: { expression: string; names: Record<string, string>; values: Record<string, unknown> }) => {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await table.db.send(
      new ScanCommand({
        TableName: table.tableName,
        FilterExpression: filter.expression,
        ExpressionAttributeNames: filter.names,
        ExpressionAttributeValues: filter.values,
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
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
    generatedEvents: async (batchId) =>
      (
        await scan(table, {
          expression: '#type = :outbox AND #event.#eventType = :generated AND #event.#data.batch_id = :batch',
          names: { '#type': 'type', '#event': 'event', '#eventType': 'type', '#data': 'data' },
          values: { ':outbox': OUTBOX_ITEM_TYPE, ':generated': 'access_code.generated', ':batch': batchId },
        })
      ).map((item) => item.event as EventEnvelope),
    codeRecords: async (jobId) =>
      (await scan(table, { expression: '#type = :code AND job_id = :job', names: { '#type': 'type' }, values: { ':code': 'access_code', ':job': jobId } })).length,
  };
};

/** Both implementations, each made by `open`: in memory at once, DynamoDB on a table of its own (dropped by `dropTables`). */
export const jobCodeImplementations = () => contractImplementations<JobCodeHarness>(inMemoryJobCodeHarness, dynamoJobCodeHarness);
