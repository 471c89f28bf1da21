import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { expiryOrder, statusParts, type AccessCodeRecord, type AccessCodeStatus, type StatusPart } from '../../domain/access-code-record';
import type { CodeGenerator } from '../../domain/access-codes';
import { CHUNK_SIZE, type Job } from '../../domain/jobs';
import { InvalidCursorError, type CodeFilter, type CodePage, type CodePosition, type CodeStore } from '../../domain/ports';
import {
  LAST_SLOT_SK,
  expiryBound,
  expiryKeys,
  indexKeys,
  keys,
  planCodeSk,
  planCodesPartition,
  planStatusPartition,
  prefixEnd,
  slotSk,
} from '../../contracts/table';
import { cancellationCodes, pause } from './transactions';

type Item = Record<string, any>;
type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** DynamoDB allows 100 items per transaction: 49 slots × (slot + code) + the chunk counter. */
const SLOTS_PER_TRANSACTION = 49;
/** Attempts at storing one group of slots before giving up (collisions, conflicts). */
const MAX_STORE_ATTEMPTS = 25;
/**
 * Most index items one listing request may read, whatever its filter (a page is at most 500):
 * a filter that matches little answers a short page with a cursor instead of reading on.
 */
export const LISTING_READ_BUDGET = 1000;

/** The stored item of a code (also used by tests that load many codes directly). */
export const codeItem = (job: Pick<Job, 'id' | 'planId' | 'projectId' | 'teamId' | 'batchId' | 'expiresAt'>, slot: number, code: string, now: Date): Item => ({
  ...keys.code(code),
  type: 'access_code',
  ...indexKeys.planCode(job.planId, job.id, slot),
  ...indexKeys.codeByStatus(job.planId, 'active', job.id, slot, expiryOrder(job.expiresAt)),
  // Only codes that expire carry the expiry index: `no_expiry` codes are never swept.
  ...(job.expiresAt ? expiryKeys.code(code, job.expiresAt) : {}),
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

/**
 * The update that moves an active code to `to`, with its gsi2 keys, in one write: usable alone
 * (`expireCode`) or inside a transaction (redemption). Conditional on the code still being
 * active, so that of a concurrent redemption and expiry exactly one wins. The same write drops
 * the code from the expiry index (gsi3): only live codes are there for the sweep to find.
 */
export const codeStatusChange = (
  code: Pick<AccessCodeRecord, 'code' | 'planId' | 'jobId' | 'slot'>,
  to: Exclude<AccessCodeStatus, 'active'>,
  extra: { condition?: string; values?: Item; set?: string } = {},
) => {
  const index = indexKeys.codeByStatus(code.planId, to, code.jobId, code.slot, '');
  return {
    Key: keys.code(code.code),
    UpdateExpression: `SET #status = :to, gsi2pk = :gsi2pk, gsi2sk = :gsi2sk${extra.set ? `, ${extra.set}` : ''} REMOVE gsi3pk, gsi3sk`,
    ConditionExpression: `#status = :active${extra.condition ? ` AND ${extra.condition}` : ''}`,
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: { ':to': to, ':active': 'active', ':gsi2pk': index.gsi2pk, ':gsi2sk': index.gsi2sk, ...extra.values },
  };
};

/** One read of a listing: the index, its key condition, and the keys' upper end (if any). */
interface PartQuery {
  indexName: 'gsi1' | 'gsi2';
  partition: string;
  /** Inclusive lower end, or exclusive when `exclusiveLow`; null: the partition's start. */
  low: string | null;
  exclusiveLow: boolean;
  /** Inclusive upper end of the part's keys. */
  high: string;
  /** A job filter the key cannot express (active codes sort by expiry first). */
  jobFilter?: string;
}


/** The access codes in the service's DynamoDB table. */
export class DynamoCodeStore implements CodeStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

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
      // Progress moves the job's updated_at: the job sweeper tells a stalled job by it.
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.job(job.id),
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
        items.push({ Put: { TableName: this.tableName, Item: codeItem(job, slot, code, now), ConditionExpression: 'attribute_not_exists(pk)' } });
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

  async getCode(code: string): Promise<AccessCodeRecord | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: keys.code(code), ConsistentRead: true }));
    return Item ? codeFromItem(Item) : undefined;
  }

  async expireCode(code: string, now: Date): Promise<boolean> {
    const record = await this.getCode(code);
    if (!record) return false;
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          // The expiry is judged in the condition too: a batch's expiry moved later meanwhile wins.
          ...codeStatusChange(record, 'expired', { condition: 'expires_at <= :now', values: { ':now': now.toISOString() } }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Reads the listing's parts in order (one part for no status: the plan's gsi1 range; else
   * `statusParts` turned into gsi2 key ranges), from the position on, until the page is full,
   * the parts end, or LISTING_READ_BUDGET items were read. Positions are index sort keys, which
   * are unique within a part: the next read starts after the last key read, so a code that
   * changes status between pages is neither skipped twice nor shown twice in one part.
   */
  async listCodes(planId: string, filter: CodeFilter, page: { limit: number; after?: CodePosition }): Promise<CodePage> {
    const parts = filter.status ? statusParts(filter.status, filter.asOf) : [null];
    let position: CodePosition = page.after ?? { part: 0, after: null };
    if (!Number.isInteger(position.part) || position.part < 0 || position.part >= parts.length) {
      throw new InvalidCursorError('cursor is not one this listing returned');
    }
    const codes: AccessCodeRecord[] = [];
    let budget = LISTING_READ_BUDGET;
    while (codes.length < page.limit && budget > 0) {
      const query = partQuery(planId, filter.jobId, parts[position.part]!, position.after);
      let more = false;
      let last = position.after;
      if (query.low === null || query.low <= query.high) {
        // Limit counts items read, before a filter: a filtered read takes the whole budget and
        // keeps what fits; otherwise read what the page needs (plus the key it resumes on).
        const limit = query.jobFilter ? budget : Math.min(budget, page.limit - codes.length + (query.exclusiveLow ? 0 : 1));
        const result = await this.db.send(new QueryCommand(this.queryInput(query, limit)));
        budget -= result.ScannedCount ?? 0;
        const sortKey = query.indexName === 'gsi1' ? 'gsi1sk' : 'gsi2sk';
        for (const item of result.Items ?? []) {
          if (item[sortKey] === position.after) continue; // the key the previous page ended on
          if (codes.length === page.limit) return { codes, next: { part: position.part, after: last } };
          codes.push(codeFromItem(item));
          last = item[sortKey] as string;
        }
        more = Boolean(result.LastEvaluatedKey);
        if (more) last = result.LastEvaluatedKey![sortKey] as string;
      }
      if (more) position = { part: position.part, after: last };
      else if (position.part + 1 < parts.length) position = { part: position.part + 1, after: null };
      else return { codes, next: null };
    }
    return { codes, next: position };
  }

  private queryInput(query: PartQuery, limit: number): QueryCommandInput {
    const pk = `${query.indexName}pk`;
    const sk = `${query.indexName}sk`;
    const values: Item = { ':pk': query.partition, ':high': query.high };
    let condition: string;
    if (query.low === null) {
      condition = `${pk} = :pk AND ${sk} <= :high`;
    } else if (query.exclusiveLow) {
      // Only when the part has no upper end below the partition's last key (see partQuery).
      condition = `${pk} = :pk AND ${sk} > :low`;
      values[':low'] = query.low;
      delete values[':high'];
    } else {
      condition = `${pk} = :pk AND ${sk} BETWEEN :low AND :high`;
      values[':low'] = query.low;
    }
    return {
      TableName: this.tableName,
      IndexName: query.indexName,
      KeyConditionExpression: condition,
      ExpressionAttributeValues: { ...values, ...(query.jobFilter ? { ':job': query.jobFilter } : {}) },
      ...(query.jobFilter ? { FilterExpression: 'job_id = :job' } : {}),
      Limit: limit,
    };
  }
}

/**
 * The key range of one part of a listing, starting after `after` (a sort key the previous
 * request ended on, to be skipped when read again).
 */
const partQuery = (planId: string, jobId: string | undefined, part: StatusPart | null, after: string | null): PartQuery => {
  if (part === null || part.stored !== 'active') {
    // gsi1 (every code) or a redeemed/expired gsi2 partition: keys are job then slot.
    const prefix = jobId ? planCodeSk(jobId, '') : 'CODE#';
    const high = prefixEnd(prefix);
    if (after !== null && !(after.startsWith(prefix) && after < high)) throw new InvalidCursorError('cursor is not one this listing returned');
    return {
      indexName: part === null ? 'gsi1' : 'gsi2',
      partition: part === null ? planCodesPartition(planId) : planStatusPartition(planId, part.stored),
      low: after ?? prefix,
      exclusiveLow: false,
      high,
    };
  }
  // Active codes: keys start with the expiry, so "active at t" is the range above t and
  // "past expiry at t" the range up to t; a job is a filter within the range.
  const base = { indexName: 'gsi2' as const, partition: planStatusPartition(planId, 'active'), ...(jobId ? { jobFilter: jobId } : {}) };
  if ('after' in part.expiry) {
    const bound = expiryBound(part.expiry.after);
    return { ...base, low: after !== null && after > bound ? after : bound, exclusiveLow: true, high: prefixEnd('') };
  }
  return { ...base, low: after, exclusiveLow: false, high: expiryBound(part.expiry.atMost) };
};
