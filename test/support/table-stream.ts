import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import { localClientConfig } from '../../local/dynamodb-local';
import { dynamoEndpoint } from './dynamodb';

/**
 * Writes per item (`pk|sk`) as the table's stream recorded them, from its start: what DynamoDB
 * itself counts as a change (a failed condition writes nothing and is not there).
 */
export const streamWritesPerItem = async (tableName: string): Promise<Map<string, number>> => {
  const config = localClientConfig(dynamoEndpoint());
  const control = new DynamoDBClient(config);
  const streams = new DynamoDBStreamsClient(config);
  try {
    const arn = (await control.send(new DescribeTableCommand({ TableName: tableName }))).Table?.LatestStreamArn;
    if (!arn) throw new Error(`table ${tableName} has no stream`);
    const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription?.Shards ?? [];
    const writes = new Map<string, number>();
    for (const shard of shards) {
      let iterator = (await streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
      while (iterator) {
        const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
        for (const record of page.Records ?? []) {
          const key = `${record.dynamodb?.Keys?.pk?.S}|${record.dynamodb?.Keys?.sk?.S}`;
          writes.set(key, (writes.get(key) ?? 0) + 1);
        }
        // An open shard answers an empty page at its end: stop there.
        iterator = (page.Records ?? []).length === 0 ? undefined : page.NextShardIterator;
      }
    }
    return writes;
  } finally {
    control.destroy();
    streams.destroy();
  }
};
