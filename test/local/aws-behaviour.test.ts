import { DynamoDBClient, ProvisionedThroughputExceededException, TransactionCanceledException, TransactionConflictException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { makeDocumentClient } from '../../functions/adapters/dynamodb/client';
import { AwsBehaviour } from '../../local/aws-behaviour';
import { localClientConfig } from '../../local/dynamodb-local';
import { createTestTable, dynamoEndpoint, type TestTable } from '../support/dynamodb';

let table: TestTable;
beforeAll(async () => {
  table = await createTestTable();
});
afterAll(async () => table.drop());

/** A bare client (no contention retries), so that what the layer raises reaches the test. */
const bareClient = (aws: AwsBehaviour) => {
  const { endpoint, region, credentials } = localClientConfig(dynamoEndpoint());
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint, region, credentials, maxAttempts: 1 }));
  aws.install(db);
  return db;
};
const key = (name: string) => ({ pk: `AWSB#${name}`, sk: 'X' });

describe('DynamoDB Local with AWS\'s behaviour', () => {
  test('a write to an item held by an in-flight transaction fails with TransactionConflictException; a transaction meeting it is cancelled at that item', async () => {
    const aws = new AwsBehaviour({ transactionHoldMs: 10_000 });
    const db = bareClient(aws);
    const holding = db.send(new TransactWriteCommand({ TransactItems: [{ Put: { TableName: table.tableName, Item: { ...key('held'), n: 1 } } }] }));

    const single = await db.send(new UpdateCommand({ TableName: table.tableName, Key: key('held'), UpdateExpression: 'SET n = :n', ExpressionAttributeValues: { ':n': 2 } })).catch((e: unknown) => e);
    const transaction = await db
      .send(new TransactWriteCommand({ TransactItems: [{ Put: { TableName: table.tableName, Item: { ...key('other'), n: 1 } } }, { Put: { TableName: table.tableName, Item: { ...key('held'), n: 3 } } }] }))
      .catch((e: unknown) => e);
    await holding;
    const after = await db.send(new PutCommand({ TableName: table.tableName, Item: { ...key('held'), n: 4 } })).then(() => 'written');

    expect(single).toBeInstanceOf(TransactionConflictException);
    expect(transaction).toBeInstanceOf(TransactionCanceledException);
    expect((transaction as TransactionCanceledException).CancellationReasons?.map((r) => r.Code)).toEqual(['None', 'TransactionConflict']);
    expect(after).toBe('written');
    expect(aws.injected).toEqual({ TransactionConflictException: 1, TransactionCanceledException: 1 });
  });

  test('writes to one item beyond its units in the window are throttled; the capacity of every call is recorded', async () => {
    // Three units a minute, so that a slow machine cannot let the window slide past the first writes.
    const aws = new AwsBehaviour({ itemWcuPerSecond: 3, windowMs: 60_000 });
    const db = bareClient(aws);
    const put = (n: number) => db.send(new PutCommand({ TableName: table.tableName, Item: { ...key('hot'), n } })).then(() => 'ok', (e: unknown) => e);

    const results = [await put(1), await put(2), await put(3), await put(4)];
    await db.send(new GetCommand({ TableName: table.tableName, Key: key('hot') }));

    expect(results.slice(0, 3)).toEqual(['ok', 'ok', 'ok']);
    expect(results[3]).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(aws.capacity.map((c) => [c.operation, c.writeUnits, c.readUnits])).toEqual([
      ['PutItem', 1, 0], ['PutItem', 1, 0], ['PutItem', 1, 0], ['GetItem', 0, 0.5],
    ]);
    expect(aws.writesPerItem().get('AWSB#hot|X')).toEqual({ writes: 3, units: 3 });
  });

  test('refuses the given share of calls at random, each with a refusal that fits the call', async () => {
    const aws = new AwsBehaviour({ faultRate: 1 });
    const db = bareClient(aws);
    const refusals = await Promise.all([
      db.send(new GetCommand({ TableName: table.tableName, Key: key('x') })).catch((e: Error) => e.name),
      db.send(new TransactWriteCommand({ TransactItems: [{ Put: { TableName: table.tableName, Item: key('y') } }] })).catch((e: Error) => e.name),
    ]);
    expect(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded']).toContain(refusals[0]);
    expect(refusals[1]).toBe('TransactionCanceledException');
    expect(aws.capacity).toEqual([]);
  });

  test('the service\'s client rides through them: the same calls succeed through its contention retries', async () => {
    const aws = new AwsBehaviour({ faultRate: 0.3 });
    const db = makeDocumentClient(localClientConfig(dynamoEndpoint()));
    aws.install(db);
    const writes = await Promise.all(Array.from({ length: 40 }, (_, n) => db.send(new PutCommand({ TableName: table.tableName, Item: { ...key(`ride${n}`), n } })).then(() => 'ok')));
    expect(writes).toEqual(Array(40).fill('ok'));
    expect(Object.values(aws.injected).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });
});
