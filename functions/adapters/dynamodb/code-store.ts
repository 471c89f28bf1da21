import { ConditionalCheckFailedException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { expiryOrder, statusParts, type AccessCodeRecord, type AccessCodeStatus, type StatusPart } from '../../domain/access-code-record';
import { CODE_LENGTH, newCodeSeed, type CodeGenerator } from '../../domain/access-codes';
import { CHUNK_SIZE, chunkSlots, type Job } from '../../domain/jobs';
import { InvalidCursorError, type CodeFilter, type CodePage, type CodePosition, type CodeStore, type Pace } from '../../domain/ports';
import {
  expiryBound,
  expiryKeys,
  indexKeys,
  keys,
  planCodeSk,
  planCodesPartition,
  planStatusPartition,
  prefixEnd,
} from '../../contracts/table';

type Item = Record<string, any>;

/** A chunk's part of its record's sort key: zero-padded, so that chunks sort in slot order. */
const chunkSk = (chunk: number | '~') => (chunk === '~' ? chunk : String(chunk).padStart(6, '0'));

/** Conditional puts of one storeCodes call in flight at once. */
const PUTS_IN_FLIGHT = 32;
/**
 * Candidates tried for one slot before giving up. At 10^9 codes stored, a candidate collides
 * with probability 10^9 / 2^60 ≈ 8.7e-10, so a second attempt is already rare; eight in a row
 * only happen in a code space shrunk for a test, or when something else is wrong.
 */
const MAX_CANDIDATES = 8;
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
    /** Items one listing request reads at most (LISTING_READ_BUDGET; tests set a smaller one to need fewer codes). */
    private readonly listingReadBudget = LISTING_READ_BUDGET,
  ) {}

  /**
   * Stores the code of every slot given (whole chunks, see the port) with one conditional put
   * each, then one record per chunk that lists its codes. A slot's code is derived from the job's
   * seed (`generate(seed, slot, attempt)`), so every delivery of a chunk proposes the same code
   * for a slot. A put refused because the key exists answers with the item there (ALL_OLD):
   * this job's and this slot's → stored earlier (by a redelivery or a twin running at once), not
   * stored again; anything else → a collision with another code, which is never overwritten (nor
   * a redemption or an expiry undone): the slot takes its next candidate. Since codes are never
   * deleted, the first candidate that is free or already this slot's is the same for every
   * delivery: a slot ends with exactly one code.
   */
  async storeCodes(job: Job, slots: readonly number[], generate: CodeGenerator, now: Date, pace?: Pace): Promise<number> {
    const chunks = new Map<number, number[]>();
    for (const slot of slots) {
      const chunk = Math.floor(slot / CHUNK_SIZE);
      chunks.set(chunk, [...(chunks.get(chunk) ?? []), slot]);
    }
    for (const [chunk, chunkSlotsGiven] of chunks) {
      const whole = chunkSlots(job.quantity, chunk);
      if (chunkSlotsGiven.length !== whole.length || chunkSlotsGiven.some((slot, i) => slot !== whole[i])) {
        throw new Error(`storeCodes takes whole chunks in slot order: chunk ${chunk} of job ${job.id} was given ${chunkSlotsGiven.length} of its ${whole.length} slots`);
      }
    }
    const seed = await this.codeSeed(job.id);
    const codes = new Map<number, string>();
    let stored = 0;
    let next = 0;
    const ordered = [...chunks.values()].flat();
    const worker = async () => {
      while (next < ordered.length) {
        const slot = ordered[next++]!;
        await pace?.take(1);
        const result = await this.storeSlot(job, slot, seed, generate, now);
        codes.set(slot, result.code);
        if (result.stored) stored++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(PUTS_IN_FLIGHT, ordered.length) }, worker));
    for (const [chunk, chunkSlotsGiven] of chunks) {
      await this.recordChunk(job.id, chunk, chunkSlotsGiven.map((slot) => codes.get(slot)!), now);
    }
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

  /** Puts the first candidate of `slot` that is free, or finds the one stored for it before. */
  private async storeSlot(job: Job, slot: number, seed: Uint8Array, generate: CodeGenerator, now: Date): Promise<{ code: string; stored: boolean }> {
    for (let attempt = 0; attempt < MAX_CANDIDATES; attempt++) {
      const code = generate(seed, slot, attempt);
      try {
        await this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: codeItem(job, slot, code, now),
            ConditionExpression: 'attribute_not_exists(pk)',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return { code, stored: true };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        const old = error.Item ?? (await this.rawCode(code));
        if (old?.job_id?.S === job.id && old.slot?.N === String(slot)) return { code, stored: false };
      }
    }
    throw new Error(`no free code for slot ${slot} of job ${job.id} after ${MAX_CANDIDATES} candidates`);
  }

  /** The stored item of a code as DynamoDB answers it, for a refusal that came without one. */
  private async rawCode(code: string): Promise<Record<string, AttributeValue> | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: keys.code(code), ConsistentRead: true }));
    return Item ? marshall(Item) : undefined;
  }

  /**
   * The job's code seed: made by the first chunk to ask (a conditional write, so chunks running
   * at once agree on the winner's), read by every other. It stays on the job item, which nothing
   * returns to a caller.
   */
  private async codeSeed(jobId: string): Promise<Uint8Array> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: keys.job(jobId), ProjectionExpression: 'code_seed', ConsistentRead: true }),
    );
    if (Item?.code_seed) return Item.code_seed as Uint8Array;
    const seed = newCodeSeed();
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.job(jobId),
          UpdateExpression: 'SET code_seed = :seed',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(code_seed)',
          ExpressionAttributeValues: { ':seed': seed },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return seed;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const old = error.Item?.code_seed?.B ?? (await this.db.send(new GetCommand({ TableName: this.tableName, Key: keys.job(jobId), ConsistentRead: true }))).Item?.code_seed;
      if (!old) throw new Error(`job ${jobId} does not exist`);
      return old as Uint8Array;
    }
  }

  /**
   * The chunk's record: how many slots it holds and their codes in slot order (one string), so
   * that counting a job's progress and listing its codes read one item a chunk. Written once all
   * its codes are stored; a redelivery's identical record is refused by its condition.
   */
  private async recordChunk(jobId: string, chunk: number, codes: string[], now: Date): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys.jobChunkCounter(jobId, chunkSk(chunk)),
            type: 'chunk',
            first_slot: chunk * CHUNK_SIZE,
            stored: codes.length,
            codes: codes.join(''),
            updated_at: now.toISOString(),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
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
          ExpressionAttributeValues: {
            ':pk': keys.job(jobId).pk,
            ':from': keys.jobChunkCounter(jobId, chunkSk(Math.floor(fromSlot / CHUNK_SIZE))).sk,
            ':to': keys.jobChunkCounter(jobId, '~').sk,
          },
          ConsistentRead: true,
          ExclusiveStartKey: start,
          // A chunk holds CHUNK_SIZE codes: read no more chunks than the limit needs.
          ...(limit ? { Limit: Math.ceil((limit - codes.length) / CHUNK_SIZE) + 1 } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        const all = String(item.codes);
        for (let i = 0; i < item.stored; i++) {
          const slot = Number(item.first_slot) + i;
          if (slot < fromSlot) continue;
          if (limit && codes.length >= limit) break;
          codes.push({ slot, code: all.slice(i * CODE_LENGTH, (i + 1) * CODE_LENGTH) });
        }
      }
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
   * the parts end, or the read budget (LISTING_READ_BUDGET) was spent. Positions are index sort keys, which
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
    let budget = this.listingReadBudget;
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
