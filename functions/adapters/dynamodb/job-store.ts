import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { AccessCodeRecord, AccessCodeStatus } from '../../domain/access-code-record';
import type { CodeGenerator } from '../../domain/access-codes';
import type { EventEnvelope } from '../../contracts/events';
import { InvalidCursorError, type CodePage, type CreateJobResult, type IdempotencyClaim, type JobStore } from '../../domain/job-store';
import { CHUNK_SIZE, type Job, type JobFailure } from '../../domain/jobs';
import { outboxItem } from '../../contracts/outbox';
import { ACTIVE_JOBS_PARTITION, LAST_SLOT_SK, indexKeys, keys, planCodeSk, planCodesPartition, slotSk } from '../../contracts/table';

type Item = Record<string, any>;
type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** DynamoDB allows 100 items per transaction: 49 slots × (slot + code) + the chunk counter. */
const SLOTS_PER_TRANSACTION = 49;
/** Attempts at storing one group of slots before giving up (collisions, conflicts). */
const MAX_STORE_ATTEMPTS = 25;
const jobKey = keys.job;
const codeKey = keys.code;
const idempotencyKey = (claim: IdempotencyClaim) => keys.idempotency(claim.teamId, claim.key);

const jobToItem = (job: Job): Item => ({
  ...jobKey(job.id),
  type: 'job',
  ...indexKeys.activeJob(job.createdAt, job.id),
  job_id: job.id,
  batch_id: job.batchId,
  team_id: job.teamId,
  project_id: job.projectId,
  plan_id: job.planId,
  plan_name: job.planName,
  quantity: job.quantity,
  export_type: job.exportType,
  expiry_preset: job.expiryPreset,
  expires_at: job.expiresAt,
  telegram_chat_id: job.telegramChatId,
  status: job.status,
  chunk_count: job.chunkCount,
  delivered_count: job.deliveredCount,
  requeues: job.requeues,
  created_at: job.createdAt,
  updated_at: job.updatedAt,
});

const jobFromItem = (item: Item): Job => ({
  id: item.job_id,
  batchId: item.batch_id,
  teamId: item.team_id,
  projectId: item.project_id,
  planId: item.plan_id,
  planName: item.plan_name,
  quantity: item.quantity,
  exportType: item.export_type,
  expiryPreset: item.expiry_preset,
  expiresAt: item.expires_at ?? null,
  telegramChatId: item.telegram_chat_id,
  status: item.status,
  chunkCount: item.chunk_count,
  deliveredCount: item.delivered_count ?? 0,
  generatedAt: item.generated_at ?? null,
  failure: item.failure ?? null,
  createdAt: item.created_at,
  updatedAt: item.updated_at,
  startedAt: item.started_at ?? null,
  completedAt: item.completed_at ?? null,
  requeues: item.requeues ?? 0,
  requeuedAt: item.requeued_at ?? null,
  requeueMarker: item.requeue_marker ?? null,
  leaseOwner: item.lease_owner ?? null,
  leaseUntil: item.lease_until ?? null,
});

const codeFromItem = (item: Item): AccessCodeRecord => ({
  code: item.code,
  planId: item.plan_id,
  projectId: item.project_id,
  jobId: item.job_id,
  batchId: item.batch_id,
  slot: item.slot,
  status: item.status,
  expiresAt: item.expires_at ?? null,
  redeemedAt: item.redeemed_at ?? null,
  createdAt: item.created_at,
});

const cancellationCodes = (error: TransactionCanceledException): string[] =>
  (error.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Jobs and codes in the service's DynamoDB table. */
export class DynamoJobStore implements JobStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async createJob(job: Job, claim?: IdempotencyClaim): Promise<CreateJobResult> {
    const items: TransactItem[] = [
      { Put: { TableName: this.tableName, Item: jobToItem(job), ConditionExpression: 'attribute_not_exists(pk)' } },
    ];
    if (claim) {
      items.push({
        Put: {
          TableName: this.tableName,
          Item: {
            ...idempotencyKey(claim),
            type: 'idempotency',
            job_id: job.id,
            request_hash: claim.requestHash,
            expires_at: claim.expiresAt.toISOString(),
            ttl: Math.ceil(claim.expiresAt.getTime() / 1000),
          },
          // An expired claim may be overwritten even before TTL deletes it.
          ConditionExpression: 'attribute_not_exists(pk) OR expires_at < :now',
          ExpressionAttributeValues: { ':now': job.createdAt },
        },
      });
    }
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
      return { outcome: 'created' };
    } catch (error) {
      if (!(claim && error instanceof TransactionCanceledException && cancellationCodes(error)[1] === 'ConditionalCheckFailed')) throw error;
      const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: idempotencyKey(claim), ConsistentRead: true }));
      if (!Item) throw error;
      return Item.request_hash === claim.requestHash ? { outcome: 'replayed', jobId: Item.job_id } : { outcome: 'key-reused' };
    }
  }

  async getJob(jobId: string): Promise<Job | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: jobKey(jobId), ConsistentRead: true }));
    return Item ? jobFromItem(Item) : undefined;
  }

  async markProcessing(jobId: string, now: Date): Promise<void> {
    await this.conditionalUpdate({
      Key: jobKey(jobId),
      UpdateExpression: 'SET #status = :processing, started_at = :now, updated_at = :now',
      ConditionExpression: '#status = :queued',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':processing': 'processing', ':queued': 'queued', ':now': now.toISOString() },
    });
  }

  async storeCodes(job: Job, slots: readonly number[], generate: CodeGenerator, now: Date): Promise<number> {
    // Slots fall into fixed groups (chunk, 49-slot window), each with its own counter item, so
    // that groups are independent transactions that can run side by side without conflicts.
    const groups = new Map<string, number[]>();
    for (const slot of slots) {
      const group = `${String(Math.floor(slot / CHUNK_SIZE)).padStart(4, '0')}#${String(Math.floor((slot % CHUNK_SIZE) / SLOTS_PER_TRANSACTION)).padStart(2, '0')}`;
      groups.set(group, [...(groups.get(group) ?? []), slot]);
    }
    const counts = await Promise.all([...groups].map(([group, groupSlots]) => this.storeGroup(job, group, groupSlots, generate, now)));
    const stored = counts.reduce((sum, n) => sum + n, 0);
    if (stored > 0) {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: jobKey(job.id),
          UpdateExpression: 'SET updated_at = :now',
          ExpressionAttributeValues: { ':now': now.toISOString() },
        }),
      );
    }
    return stored;
  }

  /**
   * Stores a group of slots in one transaction: per slot a claim (so a redelivered chunk
   * cannot fill it twice) and the code (unique service-wide), plus the group's counter, so
   * that counts can never drift from what is stored. A cancelled transaction says which
   * condition failed: a claimed slot is dropped, a colliding code is drawn again.
   */
  private async storeGroup(job: Job, group: string, slots: number[], generate: CodeGenerator, now: Date): Promise<number> {
    const pending = new Map<number, string>(slots.map((slot) => [slot, generate()]));
    for (let attempt = 1; pending.size > 0; attempt++) {
      if (attempt > MAX_STORE_ATTEMPTS) throw new Error(`could not store ${pending.size} codes of job ${job.id} after ${MAX_STORE_ATTEMPTS} attempts`);
      const entries = [...pending.entries()];
      const items: TransactItem[] = [];
      for (const [slot, code] of entries) {
        items.push({
          Put: {
            TableName: this.tableName,
            Item: { ...keys.jobSlot(job.id, slot), type: 'slot', slot, code },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        });
        items.push({
          Put: {
            TableName: this.tableName,
            Item: {
              ...codeKey(code),
              type: 'access_code',
              ...indexKeys.planCode(job.planId, job.id, slot),
              code,
              plan_id: job.planId,
              project_id: job.projectId,
              team_id: job.teamId,
              job_id: job.id,
              batch_id: job.batchId,
              slot,
              status: 'active',
              expires_at: job.expiresAt,
              created_at: now.toISOString(),
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        });
      }
      items.push({
        Update: {
          TableName: this.tableName,
          Key: keys.jobChunkCounter(job.id, group),
          UpdateExpression: 'ADD #stored :n SET #type = :type, updated_at = :now',
          ExpressionAttributeNames: { '#type': 'type', '#stored': 'stored' },
          ExpressionAttributeValues: { ':n': entries.length, ':type': 'chunk', ':now': now.toISOString() },
        },
      });
      try {
        await this.db.send(new TransactWriteCommand({ TransactItems: items }));
        return entries.length;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const codes = cancellationCodes(error);
        entries.forEach(([slot], index) => {
          if (codes[2 * index] === 'ConditionalCheckFailed') pending.delete(slot);
          else if (codes[2 * index + 1] === 'ConditionalCheckFailed') pending.set(slot, generate());
        });
        if (codes.some((code) => code === 'TransactionConflict' || code === 'ThrottlingError')) {
          await pause(Math.min(1000, 20 * 2 ** attempt) * Math.random());
        }
      }
    }
    return 0;
  }

  async countStored(jobId: string): Promise<number> {
    let total = 0;
    let start: Item | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :chunk)',
          ExpressionAttributeValues: { ':pk': keys.job(jobId).pk, ':chunk': 'CHUNK#' },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) total += item.stored ?? 0;
      start = page.LastEvaluatedKey;
    } while (start);
    return total;
  }

  async markGenerated(jobId: string, event: EventEnvelope, now: Date): Promise<boolean> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: jobKey(jobId),
                UpdateExpression: 'SET generated_at = :now, updated_at = :now, generated_event_id = :event',
                ConditionExpression: 'attribute_not_exists(generated_at) AND #status = :processing',
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: { ':now': now.toISOString(), ':event': event.id, ':processing': 'processing' },
              },
            },
            { Put: { TableName: this.tableName, Item: outboxItem(event, now), ConditionExpression: 'attribute_not_exists(pk)' } },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof TransactionCanceledException && cancellationCodes(error)[0] === 'ConditionalCheckFailed') return false;
      throw error;
    }
  }

  async jobCodes(jobId: string, fromSlot = 0, limit?: number): Promise<Array<{ slot: number; code: string }>> {
    const codes: Array<{ slot: number; code: string }> = [];
    let start: Item | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':pk': keys.job(jobId).pk, ':from': slotSk(fromSlot), ':to': LAST_SLOT_SK },
          ConsistentRead: true,
          ExclusiveStartKey: start,
          ...(limit ? { Limit: limit - codes.length } : {}),
        }),
      );
      for (const item of page.Items ?? []) codes.push({ slot: item.slot, code: item.code });
      start = page.LastEvaluatedKey;
    } while (start && (!limit || codes.length < limit));
    return codes;
  }

  async acquireDeliveryLease(jobId: string, owner: string, until: Date, now: Date): Promise<Job | undefined> {
    try {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: jobKey(jobId),
          UpdateExpression: 'SET lease_owner = :owner, lease_until = :until',
          ConditionExpression:
            'attribute_exists(generated_at) AND #status = :processing AND (attribute_not_exists(lease_until) OR lease_until < :now OR lease_owner = :owner)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':owner': owner, ':until': until.toISOString(), ':now': now.toISOString(), ':processing': 'processing' },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes ? jobFromItem(Attributes) : undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async recordDelivered(jobId: string, owner: string, deliveredCount: number, now: Date): Promise<boolean> {
    return this.conditionalUpdate({
      Key: jobKey(jobId),
      UpdateExpression: 'SET delivered_count = :count, updated_at = :now',
      ConditionExpression: 'lease_owner = :owner AND #status = :processing',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':count': deliveredCount, ':now': now.toISOString(), ':owner': owner, ':processing': 'processing' },
    });
  }

  async releaseLease(jobId: string, owner: string): Promise<void> {
    await this.conditionalUpdate({
      Key: jobKey(jobId),
      UpdateExpression: 'REMOVE lease_owner, lease_until',
      ConditionExpression: 'lease_owner = :owner',
      ExpressionAttributeValues: { ':owner': owner },
    });
  }

  async completeJob(jobId: string, owner: string, now: Date): Promise<boolean> {
    return this.conditionalUpdate({
      Key: jobKey(jobId),
      UpdateExpression:
        'SET #status = :completed, completed_at = :now, updated_at = :now, delivered_count = quantity REMOVE lease_owner, lease_until, gsi1pk, gsi1sk',
      ConditionExpression: 'lease_owner = :owner AND #status = :processing',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':completed': 'completed', ':now': now.toISOString(), ':owner': owner, ':processing': 'processing' },
    });
  }

  async failJob(jobId: string, failure: JobFailure, now: Date): Promise<boolean> {
    return this.conditionalUpdate({
      Key: jobKey(jobId),
      UpdateExpression: 'SET #status = :failed, failure = :failure, completed_at = :now, updated_at = :now REMOVE lease_owner, lease_until, gsi1pk, gsi1sk',
      ConditionExpression: '#status IN (:queued, :processing)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':failed': 'failed', ':failure': failure, ':now': now.toISOString(), ':queued': 'queued', ':processing': 'processing' },
    });
  }

  async activeJobs(limit: number): Promise<Job[]> {
    const found: Job[] = [];
    let start: Item | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'gsi1',
          KeyConditionExpression: 'gsi1pk = :active',
          ExpressionAttributeValues: { ':active': ACTIVE_JOBS_PARTITION },
          ExclusiveStartKey: start,
          Limit: limit - found.length,
        }),
      );
      found.push(...(page.Items ?? []).map((item) => jobFromItem(item)));
      start = page.LastEvaluatedKey;
    } while (start && found.length < limit);
    return found;
  }

  async recordRequeue(jobId: string, now: Date, streak: number, seenUpdatedAt: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: jobKey(jobId),
        UpdateExpression: 'SET requeues = :streak, requeued_at = :now, requeue_marker = :seen',
        ExpressionAttributeValues: { ':streak': streak, ':now': now.toISOString(), ':seen': seenUpdatedAt },
      }),
    );
  }

  async listCodes(
    planId: string,
    filter: { jobId?: string; status?: AccessCodeStatus; asOf: Date },
    page: { limit: number; cursor?: string },
  ): Promise<CodePage> {
    const values: Item = { ':plan': planCodesPartition(planId), ':prefix': filter.jobId ? planCodeSk(filter.jobId, '') : 'CODE#' };
    const names: Record<string, string> = {};
    let filterExpression: string | undefined;
    if (filter.status) {
      names['#status'] = 'status';
      values[':now'] = filter.asOf.toISOString();
      // An active code whose expiry has passed is shown as expired, so it is filtered as one.
      if (filter.status === 'active') {
        filterExpression = '#status = :active AND (attribute_not_exists(expires_at) OR attribute_type(expires_at, :null) OR expires_at > :now)';
        Object.assign(values, { ':active': 'active', ':null': 'NULL' });
      } else if (filter.status === 'expired') {
        filterExpression = '#status = :expired OR (#status = :active AND attribute_type(expires_at, :string) AND expires_at <= :now)';
        Object.assign(values, { ':expired': 'expired', ':active': 'active', ':string': 'S' });
      } else {
        filterExpression = '#status = :status';
        values[':status'] = filter.status;
        delete values[':now'];
      }
    }
    const start = page.cursor ? decodeCursor(page.cursor, planId) : undefined;
    const codes: AccessCodeRecord[] = [];
    let next: Item | undefined = start;
    // A filter may leave a page short: keep reading until the page is full or the index ends.
    do {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'gsi1',
          KeyConditionExpression: 'gsi1pk = :plan AND begins_with(gsi1sk, :prefix)',
          ExpressionAttributeValues: values,
          ...(filterExpression ? { FilterExpression: filterExpression, ExpressionAttributeNames: names } : {}),
          ExclusiveStartKey: next,
          Limit: page.limit - codes.length,
        }),
      );
      codes.push(...(result.Items ?? []).map(codeFromItem));
      next = result.LastEvaluatedKey;
    } while (next && codes.length < page.limit);
    return { codes, nextCursor: next ? encodeCursor(next) : null };
  }

  private async conditionalUpdate(input: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName'>): Promise<boolean> {
    try {
      await this.db.send(new UpdateCommand({ TableName: this.tableName, ...input }));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

const encodeCursor = (key: Item): string => Buffer.from(JSON.stringify(key)).toString('base64url');

const decodeCursor = (cursor: string, planId: string): Item => {
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Item;
    const valid =
      key && typeof key === 'object' && key.gsi1pk === planCodesPartition(planId) && typeof key.gsi1sk === 'string' &&
      typeof key.pk === 'string' && typeof key.sk === 'string' && Object.keys(key).length === 4;
    if (valid) return key;
  } catch {
    // fall through
  }
  throw new InvalidCursorError('cursor is not one this listing returned');
};
