import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { expiredAt, notExpiredAt } from '../../contracts/expiry-conditions';
import { outboxItem } from '../../contracts/outbox';
import { EXPIRY_BUCKETS, PENDING_BATCH_EXPIRIES, expiryBound, expiryKeys, expiryPartition, indexKeys, keys } from '../../contracts/table';
import { expiredEvent, type BatchExpiry, type BatchRef, type DueCode, type DueCursor } from '../../domain/expiry-sweep';
import { type ExpiryStore } from '../../domain/ports';
import { codeStatusChange, type DynamoCodeStore } from './code-store';
import { backoff, cancellationCodes } from './transactions';

type Item = Record<string, any>;
type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** DynamoDB allows 100 items per transaction: 50 codes, each with its event. */
export const CODES_PER_TRANSACTION = 50;
/** Transactions of one page in flight at once (a page of 2,000 codes is 40 transactions). */
const TRANSACTIONS_IN_FLIGHT = 8;
/**
 * Codes of one step of a batch expiry change: with the change's progress item, 49 codes and
 * their events (expiring at once) or 99 code updates (moving to a later instant) fill a
 * transaction's 100 items.
 */
const EXPIRING_CODES_PER_STEP = 49;
const MOVING_CODES_PER_STEP = 99;
/** Attempts at one group before the run gives up on it (the next run finds its codes again). */
const MAX_ATTEMPTS = 10;

const batchExpiryFromItem = (item: Item): BatchExpiry => ({
  batchId: item.batch_id,
  jobId: item.job_id,
  projectId: item.project_id,
  planId: item.plan_id,
  expiresAt: item.expires_at,
  status: item.status,
  codesAffected: item.codes_affected,
  nextSlot: item.next_slot,
  requestedAt: item.requested_at,
});

const dueFromItem = (item: Item): DueCode => ({
  code: item.code,
  planId: item.plan_id,
  projectId: item.project_id,
  jobId: item.job_id,
  batchId: item.batch_id,
  slot: item.slot,
  expiresAt: item.expires_at,
});

/** Runs `work` over `items` with at most `limit` in flight. */
const inParallel = async <T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> => {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
};

/** The expiry index (gsi3) and the expiry moves, in the service's DynamoDB table. */
export class DynamoExpiryStore implements ExpiryStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly codes: Pick<DynamoCodeStore, 'jobCodes'>,
  ) {}

  /**
   * Every bucket read in parallel, each up to its share of `limit`, keys up to `now` only, each
   * from where `from` left it (a bucket `from` found empty is not read again).
   */
  async dueCodes(now: Date, limit: number, from?: DueCursor): Promise<{ codes: DueCode[]; more: boolean; next: DueCursor }> {
    const open = Array.from({ length: EXPIRY_BUCKETS }, (_, bucket) => bucket).filter((bucket) => !from || from[bucket] !== undefined);
    // Rounded down, so a page holds at most `limit` codes (at least one a bucket: at most the bucket count).
    const share = Math.max(1, Math.floor(limit / Math.max(1, open.length)));
    const next: DueCursor = {};
    const buckets = await Promise.all(
      open.map(async (bucket) => {
        const found: DueCode[] = [];
        let start: Record<string, unknown> | undefined = from?.[bucket];
        do {
          const page = await this.db.send(
            new QueryCommand({
              TableName: this.tableName,
              IndexName: 'gsi3',
              KeyConditionExpression: 'gsi3pk = :pk AND gsi3sk <= :due',
              ExpressionAttributeValues: { ':pk': expiryPartition(bucket), ':due': expiryBound(now.toISOString()) },
              Limit: share - found.length,
              ExclusiveStartKey: start,
            }),
          );
          found.push(...(page.Items ?? []).map(dueFromItem));
          start = page.LastEvaluatedKey;
        } while (start && found.length < share);
        if (start) next[bucket] = start;
        return found;
      }),
    );
    return { codes: buckets.flat(), more: Object.keys(next).length > 0, next };
  }

  async expireCodes(codes: readonly DueCode[], now: Date): Promise<number> {
    const groups: DueCode[][] = [];
    for (let i = 0; i < codes.length; i += CODES_PER_TRANSACTION) groups.push(codes.slice(i, i + CODES_PER_TRANSACTION));
    const counts = await inParallel(groups, TRANSACTIONS_IN_FLIGHT, (group) => this.expireGroup(group, now));
    return counts.reduce((sum, n) => sum + n, 0);
  }

  /**
   * One transaction: per code the conditional active → expired (still due at `now`) and its
   * event. A cancelled transaction names the codes whose condition failed (redeemed or expired
   * meanwhile, expiry moved): they are dropped and the rest tried again, with fresh event ids.
   */
  private async expireGroup(group: DueCode[], now: Date): Promise<number> {
    const due = expiredAt(now.toISOString(), ':now');
    let pending = group;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > MAX_ATTEMPTS) throw new Error(`could not expire ${pending.length} codes after ${MAX_ATTEMPTS} attempts`);
      const items: TransactItem[] = pending.flatMap((code): TransactItem[] => [
        {
          Update: {
            TableName: this.tableName,
            ...codeStatusChange(code, 'expired', { ...due, set: 'expired_at = :now' }),
          },
        },
        { Put: { TableName: this.tableName, Item: outboxItem(expiredEvent(code, now), now), ConditionExpression: 'attribute_not_exists(pk)' } },
      ]);
      try {
        await this.db.send(new TransactWriteCommand({ TransactItems: items }));
        return pending.length;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = cancellationCodes(error);
        const failed = new Set(pending.filter((_, index) => reasons[2 * index] === 'ConditionalCheckFailed'));
        pending = pending.filter((code) => !failed.has(code));
        if (failed.size === 0) await backoff(attempt, 20, 1000);
      }
    }
    return 0;
  }

  async findBatch(batchId: string): Promise<BatchRef | undefined> {
    const { Items } = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'gsi3',
        KeyConditionExpression: 'gsi3pk = :pk',
        ExpressionAttributeValues: { ':pk': expiryKeys.batchJob(batchId, '').gsi3pk },
        Limit: 1,
      }),
    );
    const indexed = Items?.[0];
    if (!indexed) return undefined;
    // The index may lag: the job item itself says whether generation is done.
    const { Item: job } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: keys.job(indexed.job_id), ConsistentRead: true }));
    if (!job) return undefined;
    return {
      batchId,
      jobId: job.job_id,
      teamId: job.team_id,
      projectId: job.project_id,
      planId: job.plan_id,
      expiresAt: job.expires_at ?? null,
      generated: Boolean(job.generated_at),
    };
  }

  async batchExpiry(batchId: string): Promise<BatchExpiry | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: expiryKeys.batchExpiry(batchId), ConsistentRead: true }));
    return Item ? batchExpiryFromItem(Item) : undefined;
  }

  /** One conditional put: no change yet, or only a later one (replaced, its progress reset). */
  async recordBatchExpiry(batch: BatchRef, expiresAt: Date, now: Date): Promise<{ expiry: BatchExpiry; changed: boolean }> {
    const at = expiresAt.toISOString();
    const item: Item = {
      ...expiryKeys.batchExpiry(batch.batchId),
      type: 'batch_expiry',
      ...expiryKeys.pendingBatchExpiry(now.toISOString(), batch.batchId),
      batch_id: batch.batchId,
      job_id: batch.jobId,
      team_id: batch.teamId,
      project_id: batch.projectId,
      plan_id: batch.planId,
      expires_at: at,
      status: 'in_progress',
      next_slot: 0,
      codes_affected: 0,
      requested_at: now.toISOString(),
      updated_at: now.toISOString(),
    };
    try {
      await this.db.send(
        new PutCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk) OR expires_at > :at', ExpressionAttributeValues: { ':at': at } }),
      );
      return { expiry: batchExpiryFromItem(item), changed: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const expiry = await this.batchExpiry(batch.batchId);
      if (!expiry) throw new Error(`batch expiry of ${batch.batchId} refused and not found`);
      return { expiry, changed: false };
    }
  }

  async pendingBatchExpiries(limit: number): Promise<BatchExpiry[]> {
    const { Items } = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'gsi3',
        KeyConditionExpression: 'gsi3pk = :pk',
        ExpressionAttributeValues: { ':pk': PENDING_BATCH_EXPIRIES },
        Limit: limit,
      }),
    );
    return (Items ?? []).map(batchExpiryFromItem);
  }

  /**
   * The next codes come from the job's code list (strongly consistent) from `nextSlot`. One
   * transaction holds each code's conditional write (still active, expiry later than the new
   * one or none) — with its event when the new expiry has passed — and the progress item's
   * update, fenced on the state this step started from: a crash before the commit wrote
   * nothing, after it the progress says so, and two workers never move the same codes twice.
   * Codes whose condition fails (redeemed, expired, already earlier) are dropped and the rest
   * tried again.
   */
  async moveBatchCodes(expiry: BatchExpiry, now: Date): Promise<BatchExpiry | undefined> {
    const expireNow = Date.parse(expiry.expiresAt) <= now.getTime();
    const found = await this.codes.jobCodes(expiry.jobId, expiry.nextSlot, expireNow ? EXPIRING_CODES_PER_STEP : MOVING_CODES_PER_STEP);
    const fence = {
      condition: 'expires_at = :cut AND next_slot = :from AND #status = :inProgress',
      names: { '#status': 'status' },
      values: { ':cut': expiry.expiresAt, ':from': expiry.nextSlot, ':inProgress': 'in_progress' },
    };
    if (found.length === 0) {
      try {
        await this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: expiryKeys.batchExpiry(expiry.batchId),
            UpdateExpression: 'SET #status = :completed, completed_at = :now, updated_at = :now REMOVE gsi3pk, gsi3sk',
            ConditionExpression: fence.condition,
            ExpressionAttributeNames: fence.names,
            ExpressionAttributeValues: { ...fence.values, ':completed': 'completed', ':now': now.toISOString() },
          }),
        );
        return { ...expiry, status: 'completed' };
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return undefined;
        throw error;
      }
    }
    const nextSlot = found.at(-1)!.slot + 1;
    const candidate = notExpiredAt(expiry.expiresAt, ':cut');
    let pending = found.map(({ slot, code }): DueCode => ({ code, slot, planId: expiry.planId, projectId: expiry.projectId, jobId: expiry.jobId, batchId: expiry.batchId, expiresAt: expiry.expiresAt }));
    for (let attempt = 1; ; attempt++) {
      if (attempt > MAX_ATTEMPTS) throw new Error(`could not move ${pending.length} codes of batch ${expiry.batchId} after ${MAX_ATTEMPTS} attempts`);
      const perCode = expireNow ? 2 : 1;
      const items: TransactItem[] = pending.flatMap((code): TransactItem[] =>
        expireNow
          ? [
              {
                Update: {
                  TableName: this.tableName,
                  ...codeStatusChange(code, 'expired', {
                    condition: candidate.condition,
                    values: { ...candidate.values, ':now': now.toISOString() },
                    set: 'expires_at = :cut, expired_at = :now',
                  }),
                },
              },
              { Put: { TableName: this.tableName, Item: outboxItem(expiredEvent(code, now), now), ConditionExpression: 'attribute_not_exists(pk)' } },
            ]
          : [{ Update: { TableName: this.tableName, ...this.moveUpdate(code, expiry.expiresAt, candidate) } }],
      );
      items.push({
        Update: {
          TableName: this.tableName,
          Key: expiryKeys.batchExpiry(expiry.batchId),
          UpdateExpression: 'SET next_slot = :next, updated_at = :now ADD codes_affected :n',
          ConditionExpression: fence.condition,
          ExpressionAttributeNames: fence.names,
          ExpressionAttributeValues: { ...fence.values, ':next': nextSlot, ':now': now.toISOString(), ':n': pending.length },
        },
      });
      try {
        await this.db.send(new TransactWriteCommand({ TransactItems: items }));
        return { ...expiry, nextSlot, codesAffected: expiry.codesAffected + pending.length };
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = cancellationCodes(error);
        if (reasons[items.length - 1] === 'ConditionalCheckFailed') return undefined;
        const failed = new Set(pending.filter((_, index) => reasons[perCode * index] === 'ConditionalCheckFailed'));
        pending = pending.filter((code) => !failed.has(code));
        if (failed.size === 0) await backoff(attempt, 20, 1000);
      }
    }
  }

  /** A code's expiry moved to `at` with its listing (gsi2) and expiry (gsi3) keys, while active with a later or no expiry. */
  private moveUpdate(code: DueCode, at: string, candidate: ReturnType<typeof notExpiredAt>) {
    const listing = indexKeys.codeByStatus(code.planId, 'active', code.jobId, code.slot, at);
    const index = expiryKeys.code(code.code, at);
    return {
      Key: keys.code(code.code),
      UpdateExpression: 'SET expires_at = :cut, gsi2sk = :gsi2sk, gsi3pk = :gsi3pk, gsi3sk = :gsi3sk',
      ConditionExpression: `#status = :active AND ${candidate.condition}`,
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ...candidate.values, ':gsi2sk': listing.gsi2sk, ':gsi3pk': index.gsi3pk, ':gsi3sk': index.gsi3sk, ':active': 'active' },
    };
  }
}
