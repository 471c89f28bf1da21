import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * Writes `items` 25 per BatchWriteItem with `inFlight` calls at once, unprocessed items retried
 * with backoff: the fastest way to fill a table on DynamoDB Local (the file job's floor, and the
 * benches' fixtures).
 */
export const batchWrite = async (db: DynamoDBDocumentClient, tableName: string, items: Record<string, unknown>[], inFlight = 8): Promise<void> => {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      let requests = items.slice(next, (next += 25)).map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 20 * 2 ** attempt)));
        const result = await db.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
        requests = (result.UnprocessedItems?.[tableName] ?? []) as typeof requests;
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
};
