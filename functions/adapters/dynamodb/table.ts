import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * The one definition of the service's single DynamoDB table, used by the CDK stack, the local
 * stack and the tests alike. Every entity lives under `pk`/`sk`; `gsi1` serves the listings.
 */
export const TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  indexes: [{ indexName: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' }],
  /** Epoch seconds after which DynamoDB may delete an item (idempotency records, link tokens). */
  timeToLiveAttribute: 'ttl',
} as const;

/** Key builders: the only place that knows how entities are keyed. */
export const keys = {
  team: (teamId: string) => ({ pk: `TEAM#${teamId}`, sk: 'TEAM' }),
  project: (projectId: string) => ({ pk: `PROJECT#${projectId}`, sk: 'PROJECT' }),
  plan: (planId: string) => ({ pk: `PLAN#${planId}`, sk: 'PLAN' }),
  token: (tokenHash: string) => ({ pk: `TOKEN#${tokenHash}`, sk: 'TOKEN' }),
  usage: (projectId: string, period: string) => ({ pk: `PROJECT#${projectId}`, sk: `USAGE#${period}` }),
  marker: (name: string) => ({ pk: `MARKER#${name}`, sk: 'MARKER' }),
  telegramLink: (tokenHash: string) => ({ pk: `TGLINK#${tokenHash}`, sk: 'TGLINK' }),
} as const;

/** The CreateTable request for the local stack and the tests (CDK builds the same from TABLE_SCHEMA). */
export const createTableInput = (tableName: string): CreateTableCommandInput => {
  const attributeNames = new Set<string>([TABLE_SCHEMA.partitionKey, TABLE_SCHEMA.sortKey]);
  for (const index of TABLE_SCHEMA.indexes) {
    attributeNames.add(index.partitionKey);
    attributeNames.add(index.sortKey);
  }
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributeNames].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
    KeySchema: [
      { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: TABLE_SCHEMA.indexes.map((index) => ({
      IndexName: index.indexName,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' },
        { AttributeName: index.sortKey, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    })),
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
  };
};
