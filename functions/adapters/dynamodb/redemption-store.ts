import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand, type DynamoDBDocumentClient, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { LRUCache } from 'lru-cache';
import { outboxItem } from '../../contracts/outbox';
import { notExpiredAt } from '../../contracts/expiry-conditions';
import { ALLOTMENT_SHARDS, allotmentKeys, keys, redemptionKeys } from '../../contracts/table';
import type { AccessCodeRecord } from '../../domain/access-code-record';
import { billingPeriodOf } from '../../domain/billing-period';
import type { RedemptionCommitResult, RedemptionRequest, RedemptionStore } from '../../domain/ports';
import {
  allotmentShardSize,
  redemptionCommit,
  storedAnswer,
  type CodeForRedemption,
  type Redemption,
  type RedemptionAnswer,
  type RedemptionCommit,
  type Subscription,
} from '../../domain/redemption';
import { billingRecordItem } from './billing-store';
import { codeStatusChange } from './code-store';
import { backoff, cancellationCodes, isOutcomeUnknown, isWriteContention } from './transactions';

type Item = Record<string, any>;
type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/**
 * How long one redemption may keep trying to commit through contention (conflicts, throttles,
 * DynamoDB Local's lock waits) before it gives up: well inside the function's 10 s timeout.
 */
export const REDEEM_BUDGET_MS = 8_000;
/** Positions in the redemption transaction (cancellation reasons come in the same order). */
const CODE = 0;
const SHARD = 1;

/** How long a warm function trusts what it learnt of a period's allotment (a used-up shard stays used up). */
const ALLOTMENT_MEMORY = { max: 10_000 };
/** Jobs known to have stored their whole batch: that never reverts, so it is remembered. */
const GENERATED_JOBS = { max: 10_000 };

/** What the code's status transition writes besides the status. */
export interface CodeRedemptionFields {
  teamId: string;
  planId: string;
  subscriptionId: string;
  redemptionId: string;
  subscriberId: string;
  redeemedAt: string;
  answer: RedemptionAnswer;
}

/**
 * The code's part of the redemption commit: active → redeemed, only while it is active, of the
 * plan and team the caller was allowed to see, and not expired at the commit's time (judged on
 * `expires_at` itself, whether or not a sweep has marked it: `notExpiredAt`). The redemption and
 * its answer are stored on the code, so that a retry by the same subscriber reads them from the
 * one item it reads anyway. The listing index keys move with the status (`codeStatusChange`).
 */
export const codeRedemptionUpdate = (
  tableName: string,
  code: Pick<AccessCodeRecord, 'code' | 'planId' | 'jobId' | 'slot'>,
  fields: CodeRedemptionFields,
): TransactItem => {
  const unexpired = notExpiredAt(fields.redeemedAt);
  return {
    Update: {
      TableName: tableName,
      ...codeStatusChange(code, 'redeemed', {
        condition: `team_id = :team AND plan_id = :plan AND ${unexpired.condition}`,
        set: 'redeemed_at = :now, subscription_id = :subscription, redemption_id = :redemption, subscriber_id = :subscriber, answer = :answer',
        values: {
          ...unexpired.values,
          ':now': fields.redeemedAt,
          ':team': fields.teamId,
          ':plan': fields.planId,
          ':subscription': fields.subscriptionId,
          ':redemption': fields.redemptionId,
          ':subscriber': fields.subscriberId,
          ':answer': fields.answer,
        },
      }),
    },
  };
};

/** The code item as redemption reads it. */
export const codeForRedemption = (item: Item): CodeForRedemption => ({
  code: item.code,
  planId: item.plan_id,
  projectId: item.project_id,
  teamId: item.team_id,
  jobId: item.job_id,
  slot: item.slot,
  status: item.status,
  expiresAt: item.expires_at ?? null,
  redemption:
    item.status === 'redeemed' && item.answer
      ? { redemptionId: item.redemption_id, subscriberId: item.subscriber_id, answer: storedAnswer(item.answer) }
      : null,
});

/**
 * Redemptions and subscriptions in the service's DynamoDB table (billing records are written in
 * the same commit; the billing store moves them on). One
 * transaction per redemption commits everything it changes, so that a redemption is either
 * entirely there (code, allotment unit or usage record, subscription, event) or not at all, and
 * no item is written by every redemption of a project: the code is the redemption's own, the
 * allotment is spread over `ALLOTMENT_SHARDS` items, and a redemption beyond it writes no
 * shared item at all (see docs/CAPACITY.md).
 */
export class DynamoRedemptionStore implements RedemptionStore {
  /** Per period: the shards this function saw used up, and whether all of them are. */
  // Built on first use: lru-cache allocates its `max` slots up front (a few ms each at cold start).
  private allotmentMemory: LRUCache<string, { empty: Set<number>; usedUp: boolean }> | undefined;
  private generatedJobMemory: LRUCache<string, true> | undefined;
  private get allotments() {
    return (this.allotmentMemory ??= new LRUCache(ALLOTMENT_MEMORY));
  }
  private get generatedJobs() {
    return (this.generatedJobMemory ??= new LRUCache(GENERATED_JOBS));
  }

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async findCode(code: string): Promise<CodeForRedemption | undefined> {
    const item = await this.get(keys.code(code), true);
    return item ? codeForRedemption(item) : undefined;
  }

  async isBatchGenerated(jobId: string): Promise<boolean> {
    if (this.generatedJobs.has(jobId)) return true;
    const job = await this.get(keys.job(jobId), false);
    if (typeof job?.generated_at !== 'string') return false;
    this.generatedJobs.set(jobId, true);
    return true;
  }

  /**
   * Commits the redemption. Until this function knows the period's allotment used up, each
   * attempt takes one unit from a shard not known empty (picked at random, so that concurrent
   * redemptions spread) in the same transaction as the code: a shard found empty is remembered
   * and another tried; when none is left, the used-up flag is set and the redemption commits
   * beyond the allotment, with its usage record and no shared item. A transaction refused for
   * contention only is tried again after a backoff; one of unknown outcome (a 500) is settled by
   * reading the code, which names the redemption that took it.
   */
  async redeem(request: RedemptionRequest): Promise<RedemptionCommitResult> {
    const deadline = Date.now() + REDEEM_BUDGET_MS;
    // Shards this request met in another transaction: tried again only when no other is left.
    const busy = new Set<number>();
    for (let attempt = 1; ; attempt++) {
      const now = request.clock.now();
      const period = billingPeriodOf(now);
      const shard = await this.pickShard(request.project, period, busy);
      const commit = redemptionCommit(
        { code: request.code.code, subscriberId: request.subscriberId, plan: request.plan, project: request.project },
        request.ids,
        shard === undefined ? 'beyond' : 'free',
        now,
      );
      try {
        await this.db.send(new TransactWriteCommand({ TransactItems: this.commitItems(request, commit, period, shard) }));
        return { outcome: 'redeemed', redemption: this.redemptionOf(request, commit), attempts: attempt };
      } catch (error) {
        let codeContended = false;
        if (error instanceof TransactionCanceledException) {
          const reasons = cancellationCodes(error);
          if (reasons[CODE] === 'ConditionalCheckFailed') return { outcome: 'code-changed' };
          if (shard !== undefined && reasons[SHARD] === 'ConditionalCheckFailed') {
            this.allotment(request.project.id, period).empty.add(shard);
            continue;
          }
          if (shard !== undefined && reasons[SHARD] === 'TransactionConflict') busy.add(shard);
          codeContended = reasons[CODE] === 'TransactionConflict';
        }
        if (isOutcomeUnknown(error) || codeContended) {
          // Another transaction holds the code (most likely another subscriber redeeming it), or
          // the outcome is unknown: what is stored says whether to answer now or try again.
          const stored = await this.findCode(request.code.code);
          if (stored?.redemption?.redemptionId === request.ids.redemptionId) {
            return { outcome: 'redeemed', redemption: this.redemptionOf(request, { ...commit, answer: stored.redemption.answer }), attempts: attempt };
          }
          if (stored?.status !== 'active') return { outcome: 'code-changed' };
        } else if (!isWriteContention(error)) {
          throw error;
        }
        if (Date.now() >= deadline) throw error;
        await backoff(attempt);
      }
    }
  }

  private redemptionOf(request: RedemptionRequest, commit: Pick<RedemptionCommit, 'answer' | 'billed'>): Redemption {
    return { id: request.ids.redemptionId, code: request.code.code, projectId: request.project.id, teamId: request.plan.teamId, billed: commit.billed, answer: commit.answer };
  }

  private allotment(projectId: string, period: string): { empty: Set<number>; usedUp: boolean } {
    const key = `${projectId}#${period}`;
    let known = this.allotments.get(key);
    if (!known) {
      known = { empty: new Set(), usedUp: false };
      this.allotments.set(key, known);
    }
    return known;
  }

  /**
   * A shard of the period's allotment to take a unit from, or undefined when the allotment is
   * used up. A function that does not know yet reads the used-up flag once; one that finds
   * every shard empty sets it (written once: later writers find it there).
   */
  private async pickShard(project: RedemptionRequest['project'], period: string, busy: ReadonlySet<number>): Promise<number | undefined> {
    const known = this.allotment(project.id, period);
    if (known.usedUp) return undefined;
    if (known.empty.size === 0 && (await this.get(allotmentKeys.usedUp(project.id, period), false))) {
      known.usedUp = true;
      return undefined;
    }
    const candidates: number[] = [];
    for (let shard = 0; shard < ALLOTMENT_SHARDS; shard++) {
      if (allotmentShardSize(project.tier.freeAllotment, shard, ALLOTMENT_SHARDS) > 0 && !known.empty.has(shard)) candidates.push(shard);
    }
    if (candidates.length > 0) {
      const free = candidates.filter((shard) => !busy.has(shard));
      const from = free.length > 0 ? free : candidates;
      return from[Math.floor(Math.random() * from.length)];
    }
    known.usedUp = true;
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...allotmentKeys.usedUp(project.id, period), type: 'allotment_used_up', project_id: project.id, period },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    return undefined;
  }

  private commitItems(request: RedemptionRequest, commit: RedemptionCommit, period: string, shard: number | undefined): TransactItem[] {
    const at = commit.answer.redeemed_at;
    const { project, plan, ids } = request;
    const base = {
      project_id: project.id,
      team_id: plan.teamId,
      plan_id: plan.id,
      subscription_id: ids.subscriptionId,
      redemption_id: ids.redemptionId,
      subscriber_id: request.subscriberId,
    };
    const items: TransactItem[] = [
      codeRedemptionUpdate(this.tableName, request.code, {
        teamId: plan.teamId,
        planId: plan.id,
        subscriptionId: ids.subscriptionId,
        redemptionId: ids.redemptionId,
        subscriberId: request.subscriberId,
        redeemedAt: at,
        answer: commit.answer,
      }),
    ];
    if (shard !== undefined) {
      items[SHARD] = {
        Update: {
          TableName: this.tableName,
          Key: allotmentKeys.shard(project.id, period, shard),
          // A shard is created with its share of the allotment by the first unit taken from it.
          UpdateExpression: 'SET remaining = if_not_exists(remaining, :size) - :one, initial = if_not_exists(initial, :size), #type = :type, project_id = :project, period = :period',
          ConditionExpression: 'attribute_not_exists(remaining) OR remaining > :zero',
          ExpressionAttributeNames: { '#type': 'type' },
          ExpressionAttributeValues: {
            ':size': allotmentShardSize(project.tier.freeAllotment, shard, ALLOTMENT_SHARDS),
            ':one': 1,
            ':zero': 0,
            ':type': 'allotment_shard',
            ':project': project.id,
            ':period': period,
          },
        },
      };
    }
    items.push({
      Put: {
        TableName: this.tableName,
        Item: { ...redemptionKeys.subscription(ids.subscriptionId), type: 'subscription', ...base, answer: commit.answer, created_at: at },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    });
    if (commit.usage) {
      items.push({
        Put: {
          TableName: this.tableName,
          Item: billingRecordItem({ redemptionId: ids.redemptionId, projectId: project.id, period, stripeCustomerId: commit.usage.stripeCustomerId, state: commit.usage.state, at }),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      });
    }
    items.push({ Put: { TableName: this.tableName, Item: outboxItem(commit.event, new Date(at)), ConditionExpression: 'attribute_not_exists(pk)' } });
    return items;
  }

  async getSubscription(subscriptionId: string): Promise<Subscription | undefined> {
    const item = await this.get(redemptionKeys.subscription(subscriptionId));
    if (!item) return undefined;
    return {
      id: item.subscription_id,
      planId: item.plan_id,
      projectId: item.project_id,
      teamId: item.team_id,
      subscriberId: item.subscriber_id,
      redemptionId: item.redemption_id,
      answer: storedAnswer(item.answer),
    };
  }

  private async get(key: Item, consistent = true): Promise<Item | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: consistent }));
    return Item;
  }
}
