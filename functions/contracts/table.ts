import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { decodeTime } from 'ulid';
/** A code's stored status (the domain's AccessCodeStatus). */
type AccessCodeStatus = 'active' | 'redeemed' | 'expired';

/**
 * The one definition of the service's single DynamoDB table, used by the CDK stack, the local
 * stack and the tests alike. Every entity lives under `pk`/`sk`; `gsi1` serves the listings;
 * `gsi2` lists a plan's codes by stored status (see `indexKeys.codeByStatus`); `gsi3` holds
 * only live codes that expire, by expiry (`expiryKeys.code`), and a batch's job (`expiryKeys.batchJob`).
 */
export const TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  indexes: [
    { indexName: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
    { indexName: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
    { indexName: 'gsi3', partitionKey: 'gsi3pk', sortKey: 'gsi3sk' },
  ],
  /** Epoch seconds after which DynamoDB may delete an item (idempotency records, link tokens). */
  timeToLiveAttribute: 'ttl',
} as const;

/** Key builders: the only place that knows how entities are keyed. */
export const keys = {
  team: (teamId: string) => ({ pk: `TEAM#${teamId}`, sk: 'TEAM' }),
  project: (projectId: string) => ({ pk: `PROJECT#${projectId}`, sk: 'PROJECT' }),
  plan: (planId: string) => ({ pk: `PLAN#${planId}`, sk: 'PLAN' }),
  token: (tokenHash: string) => ({ pk: `TOKEN#${tokenHash}`, sk: 'TOKEN' }),
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
  /** A webhook endpoint. */
  webhookEndpoint: (endpointId: string) => ({ pk: `WHENDPOINT#${endpointId}`, sk: 'WHENDPOINT' }),
  /** A webhook delivery (one event to one endpoint) with its recent attempts. */
  webhookDelivery: (deliveryId: string) => ({ pk: `WHDELIVERY#${deliveryId}`, sk: 'WHDELIVERY' }),
  /** A chat's delivery lease: which job may send to the chat now (one at a time, see ChatLeases). */
  chatLease: (chatId: string) => ({ pk: `CHAT#${chatId}`, sk: 'LEASE' }),
  /** A job waiting for its turn at a chat; sorted by the job's creation, so turns go in order. */
  chatWaiter: (chatId: string, createdAt: string, jobId: string) => ({ pk: `CHAT#${chatId}`, sk: `WAIT#${createdAt}#${jobId}` }),
} as const;

/** Sort key of a job's slot claim: zero-padded so that slots sort in order. */
export const slotSk = (slot: number) => `SLOT#${String(slot).padStart(6, '0')}`;

/** Index keys of the `gsi1` listings. */
export const indexKeys = {
  /** Sparse partition of jobs that have not ended, oldest first, for the job sweeper. */
  activeJob: (createdAt: string, jobId: string) => ({ gsi1pk: ACTIVE_JOBS_PARTITION, gsi1sk: `${createdAt}#${jobId}` }),
  /** A plan's codes in job then slot order. */
  planCode: (planId: string, jobId: string, slot: number) => ({ gsi1pk: planCodesPartition(planId), gsi1sk: planCodeSk(jobId, slot) }),
  /**
   * A plan's codes by stored status (gsi2). Active codes sort by expiry first (`expiryOrder`:
   * no expiry sorts last), so "active at t" and "active but past expiry at t" are key ranges on
   * either side of t; redeemed and expired codes sort by job then slot. A status change moves
   * both keys in the same write that changes the status.
   */
  codeByStatus: (planId: string, status: AccessCodeStatus, jobId: string, slot: number, expiryOrder: string) => ({
    gsi2pk: planStatusPartition(planId, status),
    gsi2sk: status === 'active' ? activeCodeSk(expiryOrder, jobId, slot) : planCodeSk(jobId, slot),
  }),
  /** A team's projects and tokens (admin listings). */
  teamMember: (teamId: string, sk: string) => ({ gsi1pk: `TEAM#${teamId}`, gsi1sk: sk }),
  /** A project's plans. */
  projectPlan: (projectId: string, planId: string) => ({ gsi1pk: `PROJECT#${projectId}`, gsi1sk: `PLAN#${planId}` }),
  /** A project's webhook endpoints, oldest first (ids are ULIDs); shares the project's partition with its plans. */
  projectWebhookEndpoint: (projectId: string, endpointId: string) => ({ gsi1pk: `PROJECT#${projectId}`, gsi1sk: `${WEBHOOK_ENDPOINT_SK_PREFIX}${endpointId}` }),
  /** An endpoint's deliveries in creation order. */
  endpointDelivery: (endpointId: string, createdAt: string, deliveryId: string) => ({
    gsi1pk: `WHENDPOINT#${endpointId}`,
    gsi1sk: `WHDELIVERY#${createdAt}#${deliveryId}`,
  }),
} as const;

/** Prefix of the gsi1 sort keys of a project's webhook endpoints. */
export const WEBHOOK_ENDPOINT_SK_PREFIX = 'WHENDPOINT#';

/** The gsi1 partition of the jobs that have not ended. */
export const ACTIVE_JOBS_PARTITION = 'JOBS#ACTIVE';
/** The gsi1 partition of a plan's codes. */
export const planCodesPartition = (planId: string) => `PLAN#${planId}`;
/** The gsi1 sort key of a plan's code; `planCodeSk(jobId, '')` is the prefix of a job's codes. */
export const planCodeSk = (jobId: string, slot: number | '') => `CODE#${jobId}#${slot === '' ? '' : String(slot).padStart(6, '0')}`;

/** The gsi2 partition of a plan's codes in one stored status. */
export const planStatusPartition = (planId: string, status: AccessCodeStatus) => `PLAN#${planId}#${status.toUpperCase()}`;
/** The gsi2 sort key of an active code: its expiry instant (or `NO_EXPIRY`), then job and slot. */
export const activeCodeSk = (expiryOrder: string, jobId: string, slot: number) => `${expiryOrder}#${jobId}#${String(slot).padStart(6, '0')}`;
/**
 * Sorts after every active sort key of expiry `instant` and before those of any later instant
 * ('~' is above every character of ids and digits): `gsi2sk <= expiryBound(t)` ⇔ expiry <= t.
 */
export const expiryBound = (instant: string) => `${instant}#~`;
/** Sorts after every key that starts with `prefix` (ids, digits and '#' all sort below '~'). */
export const prefixEnd = (prefix: string) => `${prefix}~`;

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

/**
 * Keys of what a redemption creates (kept apart from `keys` so that merges stay simple). The
 * redemption itself (who, when, its answer) is stored on the code's own item.
 */
export const redemptionKeys = {
  /** A subscription, by its id. */
  subscription: (subscriptionId: string) => ({ pk: `SUB#${subscriptionId}`, sk: 'SUB' }),
  /** The billing record of a billed redemption, by the redemption's id (the meter event identifier). */
  billingRecord: (redemptionId: string) => ({ pk: `BILLING#${redemptionId}`, sk: 'BILLING' }),
} as const;

/** gsi1 partitions each of a project's billing partitions is spread over (one takes about 1,000 writes/s). */
export const BILLING_SHARDS = 8;

/** The shard of a billing record: a stable hash of its redemption id. */
export const billingShard = (redemptionId: string): number => fnv1a(redemptionId) % BILLING_SHARDS;

/**
 * Index keys of a billing record, written with it in the redemption's commit. `gsi1`: a
 * project's records by period, spread over `BILLING_SHARDS` partitions; records kept pending
 * (no Stripe customer) sit in partitions of their own, so that sending them once a customer is
 * set reads only them. `gsi3`: the sparse billing due index (`billingDueKeys`), due at the
 * commit (the redemption id is a ULID of the commit time), so a record the stream path loses
 * is found by the billing sweep.
 */
export const billingIndexKeys = (projectId: string, period: string, redemptionId: string, pending: boolean) => ({
  gsi1pk: billingPartition(projectId, pending, billingShard(redemptionId)),
  gsi1sk: `${period}#${redemptionId}`,
  ...billingDueKeys(redemptionId, ulidTime(redemptionId)),
});

/** The gsi1 partition of a shard of a project's billing records, pending or not. */
export const billingPartition = (projectId: string, pending: boolean, shard: number) => `BILLING#${projectId}${pending ? '#PENDING' : ''}#${shard}`;

/** Partitions of the billing due index (gsi3): a sweep reads each; writes spread over all. */
export const BILLING_DUE_BUCKETS = 16;

/** The gsi3 partition of one billing due bucket. */
export const billingDuePartition = (bucket: number) => `BILLING#DUE#${bucket}`;

const dueSk = (dueAtMs: number) => String(Math.max(0, Math.floor(dueAtMs))).padStart(15, '0');

/**
 * Keys of the sparse billing due index (gsi3) of a billing record or window (by its id): due at
 * `dueAtMs`. Only what still has to reach Stripe carries them; `gsi3sk <= billingDueBound(t)` is due at t.
 */
export const billingDueKeys = (id: string, dueAtMs: number) => ({ gsi3pk: billingDuePartition(fnv1a(id) % BILLING_DUE_BUCKETS), gsi3sk: `${dueSk(dueAtMs)}#${id}` });

/** Sorts after every due key of instant `atMs` and before those of any later instant. */
export const billingDueBound = (atMs: number) => `${dueSk(atMs)}#~`;

/** The gsi3 partition of parked billing records (Stripe refused their payload; replayed by an operator). */
export const BILLING_PARKED_PARTITION = 'BILLING#PARKED';

/** gsi3 keys of a parked billing record: by project, for `admin billing replay`. */
export const billingParkedKeys = (projectId: string, redemptionId: string) => ({ gsi3pk: BILLING_PARKED_PARTITION, gsi3sk: `${projectId}#${redemptionId}` });

/** A billing window (one meter event of a customer's billed redemptions), by its id. */
export const billingWindowKey = (windowId: string) => ({ pk: `BILLWIN#${windowId}`, sk: 'WINDOW' });

/** The instant a ULID-bearing id (`rdm_01…`) was made; 0 for anything else. */
const ulidTime = (id: string): number => {
  try {
    return decodeTime(id.slice(id.indexOf('_') + 1));
  } catch {
    return 0;
  }
};

/** FNV-1a (32 bit): cheap and stable across runtimes; only the spread matters. */
export const fnv1a = (text: string): number => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
};

/**
 * Partitions the expiry index is spread over (a sweep reads each in parallel; writes spread over
 * all): at 10,000 codes/s generated or expired, about 310 index writes/s a key, a third of a
 * partition's 1,000. Raising it is safe: codes keep their bucket, and the sweep reads every one.
 */
export const EXPIRY_BUCKETS = 32;

/** The expiry bucket of a code: a stable hash of the code, so that writes spread evenly. */
export const expiryBucket = (code: string): number => fnv1a(code) % EXPIRY_BUCKETS;

/** The gsi3 partition of one expiry bucket. */
export const expiryPartition = (bucket: number) => `EXPIRY#${bucket}`;

/**
 * Keys of the sparse `gsi3` (kept apart from `keys`/`indexKeys` so that merges stay simple).
 * Only an active code with an expiry carries `code` keys: they are written with the code and
 * removed in the same write that moves it out of `active` (`codeStatusChange`), so the index
 * holds the live expiring codes only and a sweep's query grows with what is due, not stored.
 */
export const expiryKeys = {
  /** An active code that expires at `expiresAt`: sorted by expiry (`gsi3sk <= expiryBound(now)` is due). */
  code: (code: string, expiresAt: string) => ({ gsi3pk: expiryPartition(expiryBucket(code)), gsi3sk: `${expiresAt}#${code}` }),
  /** A batch's job, found from the batch id (set-batch-expiry). */
  batchJob: (batchId: string, jobId: string) => ({ gsi3pk: `BATCH#${batchId}`, gsi3sk: `JOB#${jobId}` }),
  /** A batch's expiry change (expire_batch): the expiry in force and how far its codes have moved. */
  batchExpiry: (batchId: string) => ({ pk: `BATCH#${batchId}`, sk: 'EXPIRY' }),
  /** A batch expiry change whose codes are still moving (removed once they all have), for the sweep. */
  pendingBatchExpiry: (requestedAt: string, batchId: string) => ({ gsi3pk: PENDING_BATCH_EXPIRIES, gsi3sk: `${requestedAt}#${batchId}` }),
} as const;

/** The gsi3 partition of the batch expiry changes still in progress. */
export const PENDING_BATCH_EXPIRIES = 'EXPIRY#BATCHES';

/**
 * Shards a billing period's free allotment is spread over. Each shard is an item of its own
 * partition holding part of the allotment, taken one unit at a time with a conditional
 * decrement inside the redemption's commit: free redemptions of a project spread over this many
 * items instead of queueing on one (see docs/CAPACITY.md).
 */
export const ALLOTMENT_SHARDS = 32;

/** Keys of a project's free-allotment shards and of the flag that says they are all used up. */
export const allotmentKeys = {
  /** One shard of a period's free allotment; a partition of its own. */
  shard: (projectId: string, period: string, shard: number) => ({ pk: `ALLOTMENT#${projectId}#${period}#${shard}`, sk: 'SHARD' }),
  /** Written once, never removed, when every shard of the period is used up. */
  usedUp: (projectId: string, period: string) => ({ pk: `ALLOTMENT#${projectId}#${period}`, sk: 'USED_UP' }),
} as const;
