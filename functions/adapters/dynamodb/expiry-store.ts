import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { outboxItem } from '../../contracts/outbox';
import { EXPIRY_BUCKETS, expiryBound, expiryKeys, expiryPartition, indexKeys, keys } from '../../contracts/table';
import { expiredEvent, type BatchRef, type DueCode, type ExpiryStore } from '../../domain/expiry-sweep';
import { codeStatusChange, type DynamoCodeStore } from './code-store';
import { cancellationCodes, pause } from './transactions';

type Item = Record<string, any>;
type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** DynamoDB allows 100 items per transaction: 50 codes, each with its event. */
export const CODES_PER_TRANSACTION = 50;
/** Transactions of one run in flight at once. */
const TRANSACTIONS_IN_FLIGHT = 4;
/** Code updates in flight at once when a batch's expiry moves. */
const UPDATES_IN_FLIGHT = 16;
/** Attempts at one group before the run gives up on it (the next run finds its codes again). */
const MAX_ATTEMPTS = 10;


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

  /** Every bucket read in parallel, each up to its share of `limit`, keys up to `now` only. */
  async dueCodes(now: Date, limit: number): Promise<{ codes: DueCode[]; more: boolean }> {
    const share = Math.max(1, Math.ceil(limit / EXPIRY_BUCKETS));
    const buckets = await Promise.all(
      Array.from({ length: EXPIRY_BUCKETS }, async (_, bucket) => {
        const found: DueCode[] = [];
        let start: Item | undefined;
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
        return { found, more: Boolean(start) };
      }),
    );
    return { codes: buckets.flatMap((b) => b.found), more: buckets.some((b) => b.more) };
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
    let pending = group;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > MAX_ATTEMPTS) throw new Error(`could not expire ${pending.length} codes after ${MAX_ATTEMPTS} attempts`);
      const items: TransactItem[] = pending.flatMap((code): TransactItem[] => [
        {
          Update: {
            TableName: this.tableName,
            ...codeStatusChange(code, 'expired', { condition: 'expires_at <= :now', values: { ':now': now.toISOString() }, set: 'expired_at = :now' }),
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
        if (failed.size === 0) await pause(Math.random() * Math.min(1000, 20 * 2 ** attempt));
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
    return { batchId, jobId: job.job_id, teamId: job.team_id, planId: job.plan_id, generated: Boolean(job.generated_at) };
  }

  /**
   * The job's slot items (strongly consistent) name every code of the batch; each code moves
   * in one conditional update, only while active and only to an earlier expiry, together with
   * its listing (gsi2) and expiry (gsi3) keys. Repeating it changes nothing.
   */
  async cutBatchExpiry(batch: BatchRef, expiresAt: Date): Promise<number> {
    const at = expiresAt.toISOString();
    const slots = await this.codes.jobCodes(batch.jobId);
    const moved = await inParallel(slots, UPDATES_IN_FLIGHT, async ({ slot, code }) => {
      const listing = indexKeys.codeByStatus(batch.planId, 'active', batch.jobId, slot, at);
      const expiry = expiryKeys.code(code, at);
      try {
        await this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keys.code(code),
            UpdateExpression: 'SET expires_at = :at, gsi2sk = :gsi2sk, gsi3pk = :gsi3pk, gsi3sk = :gsi3sk',
            ConditionExpression: '#status = :active AND (attribute_not_exists(expires_at) OR attribute_type(expires_at, :null) OR expires_at > :at)',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':at': at, ':gsi2sk': listing.gsi2sk, ':gsi3pk': expiry.gsi3pk, ':gsi3sk': expiry.gsi3sk, ':active': 'active', ':null': 'NULL' },
          }),
        );
        return 1;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return 0;
        throw error;
      }
    });
    return moved.reduce<number>((sum, n) => sum + n, 0);
  }
}
