import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { EventEnvelope } from '../../contracts/events';
import type { CreateJobResult, IdempotencyClaim, JobStore } from '../../domain/ports';
import type { Job, JobFailure } from '../../domain/jobs';
import { outboxItem } from '../../contracts/outbox';
import { ACTIVE_JOBS_PARTITION, expiryKeys, indexKeys, keys } from '../../contracts/table';
import { cancellationCodes } from './transactions';

type Item = Record<string, any>;
type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

const jobKey = keys.job;
const idempotencyKey = (claim: IdempotencyClaim) => keys.idempotency(claim.teamId, claim.key);

const jobToItem = (job: Job): Item => ({
  ...jobKey(job.id),
  type: 'job',
  ...indexKeys.activeJob(job.createdAt, job.id),
  // A batch's job, found from the batch id (cutting a batch's expiry short).
  ...expiryKeys.batchJob(job.batchId, job.id),
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

/** The job aggregate in the service's DynamoDB table (codes: `DynamoCodeStore`). */
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
