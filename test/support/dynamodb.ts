import { randomUUID } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoAccountStore } from '../../functions/adapters/dynamodb/account-store';
import { makeDocumentClient } from '../../functions/adapters/dynamodb/client';
import { ensureTable, localClientConfig } from '../../local/dynamodb-local';

/** The run's DynamoDB Local endpoint (see global-setup). */
export const dynamoEndpoint = (): string => {
  const endpoint = process.env.TEST_DYNAMODB_ENDPOINT;
  if (!endpoint) throw new Error('TEST_DYNAMODB_ENDPOINT is not set: run the tests through jest (npm test).');
  return endpoint;
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

/** Creates a fresh table on DynamoDB Local. */
export const createTestTable = async (): Promise<TestTable> => {
  const tableName = `test-${randomUUID()}`;
  const control = new DynamoDBClient(localClientConfig(dynamoEndpoint()));
  await ensureTable(control, tableName);
  const db = makeDocumentClient(localClientConfig(dynamoEndpoint()));
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
