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
  job: (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'JOB' }),
  /** A job's claim on one slot of its batch: a redelivered chunk cannot fill a slot twice. */
  jobSlot: (jobId: string, slot: number) => ({ pk: `JOB#${jobId}`, sk: slotSk(slot) }),
  /** A counter of the codes stored by one group of a job's slots. */
  jobChunkCounter: (jobId: string, group: string) => ({ pk: `JOB#${jobId}`, sk: `CHUNK#${group}` }),
  /** An access code, keyed by its canonical form: unique service-wide. */
  code: (code: string) => ({ pk: `CODE#${code}`, sk: 'CODE' }),
  idempotency: (teamId: string, key: string) => ({ pk: `IDEMPOTENCY#${teamId}`, sk: `KEY#${key}` }),
  outboxEvent: (eventId: string) => ({ pk: `EVENT#${eventId}`, sk: 'EVENT' }),
  /** A chat's delivery lease: which job may send to the chat now (one at a time, see ChatLeases). */
  chatLease: (chatId: string) => ({ pk: `CHAT#${chatId}`, sk: 'LEASE' }),
  /** A job waiting for its turn at a chat; sorted by the job's creation, so turns go in order. */
  chatWaiter: (chatId: string, createdAt: string, jobId: string) => ({ pk: `CHAT#${chatId}`, sk: `WAIT#${createdAt}#${jobId}` }),
} as const;

/** Sort key of a job's slot claim: zero-padded so that slots sort in order. */
export const slotSk = (slot: number) => `SLOT#${String(slot).padStart(6, '0')}`;

/** The last possible slot sort key (a batch holds at most 1,000,000 slots). */
export const LAST_SLOT_SK = 'SLOT#999999';

/** Index keys of the `gsi1` listings. */
export const indexKeys = {
  /** Sparse partition of jobs that have not ended, oldest first, for the job sweeper. */
  activeJob: (createdAt: string, jobId: string) => ({ gsi1pk: ACTIVE_JOBS_PARTITION, gsi1sk: `${createdAt}#${jobId}` }),
  /** A plan's codes in job then slot order. */
  planCode: (planId: string, jobId: string, slot: number) => ({ gsi1pk: planCodesPartition(planId), gsi1sk: planCodeSk(jobId, slot) }),
  /** A team's projects and tokens (admin listings). */
  teamMember: (teamId: string, sk: string) => ({ gsi1pk: `TEAM#${teamId}`, gsi1sk: sk }),
  /** A project's plans. */
  projectPlan: (projectId: string, planId: string) => ({ gsi1pk: `PROJECT#${projectId}`, gsi1sk: `PLAN#${planId}` }),
} as const;

/** The gsi1 partition of the jobs that have not ended. */
export const ACTIVE_JOBS_PARTITION = 'JOBS#ACTIVE';
/** The gsi1 partition of a plan's codes. */
export const planCodesPartition = (planId: string) => `PLAN#${planId}`;
/** The gsi1 sort key of a plan's code; `planCodeSk(jobId, '')` is the prefix of a job's codes. */
export const planCodeSk = (jobId: string, slot: number | '') => `CODE#${jobId}#${slot === '' ? '' : String(slot).padStart(6, '0')}`;

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
