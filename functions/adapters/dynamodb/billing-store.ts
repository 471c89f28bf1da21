import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import {
  BILLING_DUE_BUCKETS,
  BILLING_PARKED_PARTITION,
  BILLING_SHARDS,
  billingDueBound,
  billingDueKeys,
  billingDuePartition,
  billingIndexKeys,
  billingParkedKeys,
  billingPartition,
  billingShard,
  billingWindowKey,
  redemptionKeys,
} from '../../contracts/table';
import type { BillingRecord, BillingState, BillingWindow } from '../../domain/billing';
import type { BillingStore } from '../../domain/ports';

type Item = Record<string, any>;
type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** Reads in flight at once when reading a window's records. */
const PARALLEL_GETS = 50;

/**
 * The item of a billing record as a redemption's commit writes it: `queued` for its Stripe
 * customer, `pending` without one (both in the due index), or `no_charge` (counted only, out of
 * the due index). The one writer of the shape `billingRecordFromItem` reads.
 */
export const billingRecordItem = (record: {
  redemptionId: string;
  projectId: string;
  period: string;
  stripeCustomerId: string | null;
  state: Extract<BillingState, 'queued' | 'pending' | 'no_charge'>;
  at: string;
}): Item => {
  const { gsi3pk, gsi3sk, ...listing } = billingIndexKeys(record.projectId, record.period, record.redemptionId, record.state === 'pending');
  return {
    ...redemptionKeys.billingRecord(record.redemptionId),
    type: 'billing_record',
    ...listing,
    ...(record.state === 'no_charge' ? {} : { gsi3pk, gsi3sk }),
    redemption_id: record.redemptionId,
    project_id: record.projectId,
    period: record.period,
    stripe_customer_id: record.stripeCustomerId,
    redeemed_at: record.at,
    state: record.state,
    updated_at: record.at,
  };
};

/** A stored billing record item as the domain's record. */
export const billingRecordFromItem = (item: Item): BillingRecord => ({
  redemptionId: item.redemption_id,
  projectId: item.project_id,
  period: item.period,
  stripeCustomerId: item.stripe_customer_id ?? null,
  redeemedAt: item.redeemed_at,
  state: item.state,
  windowId: item.window_id ?? null,
  reason: item.reason ?? null,
  updatedAt: item.updated_at,
});

const windowFromItem = (item: Item): BillingWindow => ({
  id: item.window_id,
  stripeCustomerId: item.stripe_customer_id,
  period: item.period,
  redemptionIds: item.redemption_ids,
  timestamp: item.timestamp,
  state: item.state,
  attempts: item.attempts ?? 0,
  nextAttemptAt: item.next_attempt_at,
  firstFailureAt: item.first_failure_at ?? null,
  lastError: item.last_error ?? null,
  createdAt: item.created_at,
});

/** Orders records by redemption time, then id (ids are ULIDs of the commit). */
const byRedemption = (a: BillingRecord, b: BillingRecord) => a.redeemedAt.localeCompare(b.redeemedAt) || a.redemptionId.localeCompare(b.redemptionId);

/**
 * The billing records of billed redemptions and their billing windows in the service's
 * DynamoDB table. The redemption's commit writes each record (`queued` or `pending`, with its
 * due keys in gsi3); this store moves it on:
 * queued → sending (claimed by a window) → billed | parked → queued (replay);
 * pending → queued (a customer is set) or out of the due index (none yet).
 * A window carries the due keys (next try) while it is sending. Every move is conditional on
 * the state it leaves.
 */
export class DynamoBillingStore implements BillingStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async records(redemptionIds: readonly string[]): Promise<BillingRecord[]> {
    const items = await this.batchGet([...new Set(redemptionIds)].map((id) => redemptionKeys.billingRecord(id)));
    return items.map(billingRecordFromItem);
  }

  async createWindow(window: BillingWindow, at: Date): Promise<boolean> {
    const now = at.toISOString();
    const items: TransactItem[] = [
      {
        Put: {
          TableName: this.tableName,
          Item: this.windowItem(window),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      ...window.redemptionIds.map(
        (redemptionId): TransactItem => ({
          Update: {
            TableName: this.tableName,
            Key: redemptionKeys.billingRecord(redemptionId),
            UpdateExpression: 'SET #state = :sending, window_id = :window, updated_at = :now REMOVE gsi3pk, gsi3sk',
            ConditionExpression: '#state = :queued AND stripe_customer_id = :customer AND period = :period',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: {
              ':sending': 'sending',
              ':queued': 'queued',
              ':window': window.id,
              ':customer': window.stripeCustomerId,
              ':period': window.period,
              ':now': now,
            },
          },
        }),
      ),
    ];
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
      return true;
    } catch (error) {
      if (error instanceof TransactionCanceledException) return false;
      throw error;
    }
  }

  async window(windowId: string): Promise<BillingWindow | undefined> {
    const item = await this.get(billingWindowKey(windowId));
    return item ? windowFromItem(item) : undefined;
  }

  async windows(windowIds: readonly string[]): Promise<BillingWindow[]> {
    return (await this.batchGet([...new Set(windowIds)].map(billingWindowKey))).map(windowFromItem);
  }

  async markWindowBilled(window: BillingWindow, at: Date): Promise<void> {
    const now = at.toISOString();
    const items: TransactItem[] = [
      {
        Update: {
          TableName: this.tableName,
          Key: billingWindowKey(window.id),
          UpdateExpression: 'SET #state = :billed, billed_at = :now, updated_at = :now REMOVE gsi3pk, gsi3sk',
          ConditionExpression: '#state = :sending',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':billed': 'billed', ':sending': 'sending', ':now': now },
        },
      },
      ...window.redemptionIds.map((redemptionId) => this.recordMove(redemptionId, window.id, 'billed', now)),
    ];
    await this.settleWindow(items, window.id, 'billed');
  }

  async recordWindowFailure(window: BillingWindow, failure: { attempts: number; nextAttemptAt: Date; error: string; firstFailureAt: Date }, at: Date): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: billingWindowKey(window.id),
          UpdateExpression:
            'SET attempts = :attempts, next_attempt_at = :next, last_error = :error, first_failure_at = if_not_exists(first_failure_at, :first), updated_at = :now, gsi3pk = :duePk, gsi3sk = :dueSk',
          // Only the try that read `attempts` counts: a concurrent one that counted first wins.
          ConditionExpression: '#state = :sending AND attempts = :read',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':attempts': failure.attempts,
            ':read': window.attempts,
            ':next': failure.nextAttemptAt.toISOString(),
            ':error': failure.error.slice(0, 1_000),
            ':first': failure.firstFailureAt.toISOString(),
            ':now': at.toISOString(),
            ':sending': 'sending',
            ...prefixed(billingDueKeys(window.id, failure.nextAttemptAt.getTime())),
          },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async parkWindow(window: BillingWindow, reason: string, at: Date): Promise<void> {
    const now = at.toISOString();
    const text = reason.slice(0, 1_000);
    // A record's project never changes: read before, it names the record's parked listing key.
    const projects = new Map((await this.records(window.redemptionIds)).map((record) => [record.redemptionId, record.projectId]));
    const items: TransactItem[] = [
      {
        Update: {
          TableName: this.tableName,
          Key: billingWindowKey(window.id),
          UpdateExpression: 'SET #state = :parked, reason = :reason, updated_at = :now REMOVE gsi3pk, gsi3sk',
          ConditionExpression: '#state = :sending',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':parked': 'parked', ':sending': 'sending', ':reason': text, ':now': now },
        },
      },
      ...window.redemptionIds.map((redemptionId): TransactItem => {
        const parked = billingParkedKeys(projects.get(redemptionId) ?? '', redemptionId);
        return {
          Update: {
            TableName: this.tableName,
            Key: redemptionKeys.billingRecord(redemptionId),
            UpdateExpression: 'SET #state = :parked, reason = :reason, updated_at = :now, gsi3pk = :pk, gsi3sk = :sk',
            ConditionExpression: '#state = :sending AND window_id = :window',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: { ':parked': 'parked', ':sending': 'sending', ':window': window.id, ':reason': text, ':now': now, ':pk': parked.gsi3pk, ':sk': parked.gsi3sk },
          },
        };
      }),
    ];
    await this.settleWindow(items, window.id, 'parked');
  }

  async due(input: { windowsDueBy: Date; recordsOlderThan: Date; limit: number }): Promise<{ windows: BillingWindow[]; records: BillingRecord[] }> {
    const bound = billingDueBound(Math.max(input.windowsDueBy.getTime(), input.recordsOlderThan.getTime()));
    const pages = await Promise.all(
      Array.from({ length: BILLING_DUE_BUCKETS }, (_, bucket) =>
        this.query({
          IndexName: 'gsi3',
          KeyConditionExpression: 'gsi3pk = :pk AND gsi3sk <= :bound',
          ExpressionAttributeValues: { ':pk': billingDuePartition(bucket), ':bound': bound },
          Limit: input.limit,
        }, input.limit),
      ),
    );
    const windows: BillingWindow[] = [];
    const records: BillingRecord[] = [];
    for (const item of pages.flat()) {
      if (item.type === 'billing_window' && item.state === 'sending' && item.next_attempt_at <= input.windowsDueBy.toISOString()) windows.push(windowFromItem(item));
      // A record's due key is its commit time (or its pending re-check).
      if (item.type === 'billing_record' && (item.state === 'queued' || item.state === 'pending') && String(item.gsi3sk) <= billingDueBound(input.recordsOlderThan.getTime())) {
        records.push(billingRecordFromItem(item));
      }
    }
    return { windows, records };
  }

  async settlePending(record: BillingRecord, at: Date): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: redemptionKeys.billingRecord(record.redemptionId),
          UpdateExpression: 'SET updated_at = :now REMOVE gsi3pk, gsi3sk',
          ConditionExpression: '#state = :pending',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':pending': 'pending', ':now': at.toISOString() },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /**
   * Each pending record moves to `queued` with the customer, out of the pending partition and
   * back into the due index, in one conditional update (only while still pending): that MODIFY
   * on the table's stream is what the billing forwarder picks up, so a record moved twice by
   * two callers is forwarded once.
   */
  async requeuePending(projectId: string, stripeCustomerId: string, at: Date): Promise<number> {
    let moved = 0;
    for (const record of await this.pendingForProject(projectId)) {
      if (await this.requeue(record, 'pending', stripeCustomerId, at)) moved++;
    }
    return moved;
  }

  async parkedRecords(projectId?: string): Promise<BillingRecord[]> {
    const items = await this.query({
      IndexName: 'gsi3',
      KeyConditionExpression: projectId ? 'gsi3pk = :pk AND begins_with(gsi3sk, :prefix)' : 'gsi3pk = :pk',
      ExpressionAttributeValues: { ':pk': BILLING_PARKED_PARTITION, ...(projectId ? { ':prefix': `${projectId}#` } : {}) },
    });
    return items.filter((item) => item.state === 'parked').map(billingRecordFromItem).sort(byRedemption);
  }

  async requeueRecord(record: BillingRecord, from: 'pending' | 'parked', stripeCustomerId: string, at: Date): Promise<boolean> {
    return this.requeue(record, from, stripeCustomerId, at);
  }

  async pendingForProject(projectId: string): Promise<BillingRecord[]> {
    const items = await this.queryShards(projectId, true, '');
    return items.filter((record) => record.state === 'pending').sort(byRedemption);
  }

  async billingRecords(projectId: string, period: string): Promise<BillingRecord[]> {
    const [settled, pending] = await Promise.all([this.queryShards(projectId, false, `${period}#`), this.queryShards(projectId, true, `${period}#`)]);
    // The index is eventually consistent: a record moving partitions may show in both for a moment.
    const byId = new Map<string, BillingRecord>();
    for (const record of [...settled, ...pending]) {
      const seen = byId.get(record.redemptionId);
      if (!seen || seen.updatedAt < record.updatedAt) byId.set(record.redemptionId, record);
    }
    return [...byId.values()].sort(byRedemption);
  }

  async isBilled(redemptionId: string): Promise<boolean> {
    return (await this.get(redemptionKeys.billingRecord(redemptionId)))?.state === 'billed';
  }

  private windowItem(window: BillingWindow): Item {
    return {
      ...billingWindowKey(window.id),
      type: 'billing_window',
      window_id: window.id,
      stripe_customer_id: window.stripeCustomerId,
      period: window.period,
      redemption_ids: window.redemptionIds,
      value: window.redemptionIds.length,
      timestamp: window.timestamp,
      state: window.state,
      attempts: window.attempts,
      next_attempt_at: window.nextAttemptAt,
      created_at: window.createdAt,
      updated_at: window.createdAt,
      ...billingDueKeys(window.id, new Date(window.nextAttemptAt).getTime()),
    };
  }

  /** A record of `windowId` moved from sending to `state`, out of the due index. */
  private recordMove(redemptionId: string, windowId: string, state: BillingState, now: string): TransactItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: redemptionKeys.billingRecord(redemptionId),
        UpdateExpression: 'SET #state = :state, updated_at = :now REMOVE gsi3pk, gsi3sk, reason',
        ConditionExpression: '#state = :sending AND window_id = :window',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':state': state, ':sending': 'sending', ':window': windowId, ':now': now },
      },
    };
  }

  /** Runs a window's settling transaction; one that finds the window settled already (a redelivery) is done. */
  private async settleWindow(items: TransactItem[], windowId: string, state: 'billed' | 'parked'): Promise<void> {
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const current = await this.window(windowId);
      if (current?.state === state) return;
      throw new Error(`billing window ${windowId} could not be marked ${state} (it is ${current?.state ?? 'missing'})`, { cause: error });
    }
  }

  private async requeue(record: BillingRecord, from: 'pending' | 'parked', stripeCustomerId: string, at: Date): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: redemptionKeys.billingRecord(record.redemptionId),
          UpdateExpression:
            'SET #state = :queued, stripe_customer_id = :customer, gsi1pk = :partition, updated_at = :at, gsi3pk = :duePk, gsi3sk = :dueSk REMOVE window_id, reason',
          ConditionExpression: 'project_id = :project AND #state = :from',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':queued': 'queued',
            ':from': from,
            ':customer': stripeCustomerId,
            ':partition': billingPartition(record.projectId, false, billingShard(record.redemptionId)),
            ':project': record.projectId,
            ':at': at.toISOString(),
            ...prefixed(billingDueKeys(record.redemptionId, at.getTime())),
          },
        }),
      );
      return true;
    } catch (error) {
      // Moved already (the index lags), or billed meanwhile: nothing to do.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return false;
    }
  }

  private async queryShards(projectId: string, pending: boolean, prefix: string): Promise<BillingRecord[]> {
    const shards = await Promise.all(
      Array.from({ length: BILLING_SHARDS }, (_, shard) =>
        this.query({
          IndexName: 'gsi1',
          KeyConditionExpression: prefix ? 'gsi1pk = :pk AND begins_with(gsi1sk, :prefix)' : 'gsi1pk = :pk',
          ExpressionAttributeValues: { ':pk': billingPartition(projectId, pending, shard), ...(prefix ? { ':prefix': prefix } : {}) },
        }),
      ),
    );
    return shards.flat().map(billingRecordFromItem);
  }

  private async query(input: { IndexName: string; KeyConditionExpression: string; ExpressionAttributeValues: Item; Limit?: number }, max = Infinity): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await this.db.send(new QueryCommand({ TableName: this.tableName, ...input, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start && items.length < max);
    return items;
  }

  /** Strongly consistent reads of several items, in parallel (GetItem: no batch grant needed); missing ones are left out. */
  private async batchGet(keyList: Item[]): Promise<Item[]> {
    const found: Item[] = [];
    for (let start = 0; start < keyList.length; start += PARALLEL_GETS) {
      const items = await Promise.all(keyList.slice(start, start + PARALLEL_GETS).map((key) => this.get(key)));
      found.push(...items.filter((item): item is Item => item !== undefined));
    }
    return found;
  }

  private async get(key: Item): Promise<Item | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return Item;
  }
}

/** Due keys `{gsi3pk, gsi3sk}` as the expression values `:duePk`, `:dueSk`. */
const prefixed = (keys: { gsi3pk: string; gsi3sk: string }): Record<string, string> => ({ ':duePk': keys.gsi3pk, ':dueSk': keys.gsi3sk });
