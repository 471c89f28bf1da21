import { randomUUID } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoAccountStore } from '../../functions/adapters/dynamodb/account-store';
import { makeDocumentClient } from '../../functions/adapters/dynamodb/client';
import { AwsBehaviour, type AwsBehaviourOptions } from '../../local/aws-behaviour';
import { ensureTable, localClientConfig } from '../../local/dynamodb-local';
import type { EventEnvelope } from '../../functions/contracts/events';
import { OUTBOX_ITEM_TYPE } from '../../functions/contracts/outbox';

/** This worker's DynamoDB Local endpoint: global-setup starts one per Jest worker. */
export const dynamoEndpoint = (): string => {
  const endpoints = (process.env.TEST_DYNAMODB_ENDPOINTS ?? '').split(',').filter(Boolean);
  if (endpoints.length === 0) throw new Error('TEST_DYNAMODB_ENDPOINTS is not set: run the tests through jest (npm test).');
  const worker = Number(process.env.JEST_WORKER_ID ?? '1');
  return endpoints[(Math.max(1, worker) - 1) % endpoints.length]!;
};

/** A table of its own for one test file, created from the shared definition. */
export interface TestTable {
  tableName: string;
  db: DynamoDBDocumentClient;
  accounts: DynamoAccountStore;
  /** Every item in the table (for "nothing was written" assertions). */
  scanAll(): Promise<Record<string, unknown>[]>;
  drop(): Promise<void>;
}

/**
 * Creates a fresh table on DynamoDB Local. With `awsBehaviour`, its client raises AWS's
 * conflicts and throttles where DynamoDB Local would not (see local/aws-behaviour.ts).
 */
export const createTestTable = async (options: { awsBehaviour?: AwsBehaviourOptions } = {}): Promise<TestTable> => {
  const tableName = `test-${randomUUID()}`;
  const control = new DynamoDBClient(localClientConfig(dynamoEndpoint()));
  await ensureTable(control, tableName);
  const db = makeDocumentClient(localClientConfig(dynamoEndpoint()));
  if (options.awsBehaviour) new AwsBehaviour(options.awsBehaviour).install(db);
  return {
    tableName,
    db,
    accounts: new DynamoAccountStore(db, tableName),
    scanAll: async () => {
      const items: Record<string, unknown>[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const page = await db.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start, ConsistentRead: true }));
        items.push(...(page.Items ?? []));
        start = page.LastEvaluatedKey;
      } while (start);
      return items;
    },
    drop: async () => {
      await control.send(new DeleteTableCommand({ TableName: tableName }));
      control.destroy();
      db.destroy();
    },
  };
};

/**
 * The two implementations a store contract runs over, each made by `open`: the in-memory double
 * at once, and the DynamoDB store on a table of its own (made with `tableOptions`, dropped by
 * `dropTables`).
 */
export const contractImplementations = <H>(
  inMemory: () => H | Promise<H>,
  onTable: (table: TestTable) => H | Promise<H>,
  tableOptions: Parameters<typeof createTestTable>[0] = {},
) => {
  const tables: TestTable[] = [];
  return {
    implementations: [
      ['in memory', async () => inMemory()],
      [
        'DynamoDB',
        async () => {
          const table = await createTestTable(tableOptions);
          tables.push(table);
          return onTable(table);
        },
      ],
    ] as Array<[string, () => Promise<H>]>,
    dropTables: async () => {
      await Promise.all(tables.map((table) => table.drop()));
    },
  };
};

/** The events of `table`'s outbox that `keep` selects, read with one consistent scan of the whole table. */
export const outboxEvents = async <E extends EventEnvelope = EventEnvelope>(table: TestTable, keep: (event: EventEnvelope) => boolean): Promise<E[]> =>
  (await table.scanAll())
    .filter((item) => item.type === OUTBOX_ITEM_TYPE)
    .map((item) => item.event as EventEnvelope)
    .filter(keep) as E[];
