import { ConditionalCheckFailedException, InternalServerError, TransactionCanceledException, TransactionInProgressException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { outboxItem } from '../../contracts/outbox';
import { billingIndexKeys, keys, redemptionKeys } from '../../contracts/table';
import { billingPeriodOf } from '../../domain/billing-period';
import { newId } from '../../domain/ids';
import type {
  RedeemableCode,
  RedemptionOutcome,
  RedemptionRequest,
  RedemptionStore,
} from '../../domain/ports';
import {
  isBillable,
  redeemedEvent,
  redemptionBilling,
  storedAnswer,
  type BillingState,
  type Redemption,
  type RedemptionAnswer,
  type Subscription,
} from '../../domain/redemption';
import { maskCode } from '../../domain/access-codes';
import type { AccessCodeRecord } from '../../domain/access-code-record';
import { codeStatusChange } from './code-store';
import { cancellationCodes, pause } from './transactions';

type Item = Record<string, any>;
type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/**
 * Attempts at one redemption commit before giving up. Each attempt that loses a race lost it to
 * a redemption that committed, so N concurrent redemptions of one project need at most N
 * attempts in the worst order (plus the rounds a transaction conflict costs everyone); the bound
 * is well above what a 25-way race needs even on a loaded DynamoDB Local.
 */
export const MAX_REDEEM_ATTEMPTS = 1_000;
/** Backoff after a lost race: full jitter over [0, min(cap, base·2^attempt)) ms. */
const BACKOFF_BASE_MS = 4;
const BACKOFF_CAP_MS = 250;
/**
 * How long a reservation of a project's next redemption number holds when its holder neither
 * commits nor releases it (a crash): wall-clock time, since it bounds a process, not a business
 * period.
 */
export const RESERVATION_MS = 5_000;

/** Positions in the redemption transaction (cancellation reasons come in the same order). */
const CODE = 0;
const JOB = 1;
const COUNTER = 2;

/** What the code's status transition writes besides the status. */
export interface CodeRedemptionFields {
  teamId: string;
  planId: string;
  subscriptionId: string;
  redemptionId: string;
  redeemedAt: string;
}

/**
 * The code's part of the redemption commit: active → redeemed, only while it is active, not
 * expired at `redeemedAt` (judged on `expires_at` itself, whether or not a sweep has marked it),
 * and of the plan and team the caller was allowed to see. When the listing index by plan and
 * status lands, its index attributes move here, in this same update, so that a redeemed code
 * can never be listed as active (`codeStatusChange`).
 */
export const codeRedemptionUpdate = (
  tableName: string,
  code: Pick<AccessCodeRecord, 'code' | 'planId' | 'jobId' | 'slot'>,
  fields: CodeRedemptionFields,
): TransactItem => ({
  Update: {
    TableName: tableName,
    // The status change moves the listing index keys with the status, in this same update.
    ...codeStatusChange(code, 'redeemed', {
      condition: 'team_id = :team AND plan_id = :plan AND (attribute_not_exists(expires_at) OR attribute_type(expires_at, :null) OR expires_at > :now)',
      set: 'redeemed_at = :now, subscription_id = :subscription, redemption_id = :redemption',
      values: {
        ':now': fields.redeemedAt,
        ':team': fields.teamId,
        ':plan': fields.planId,
        ':null': 'NULL',
        ':subscription': fields.subscriptionId,
        ':redemption': fields.redemptionId,
      },
    }),
  },
});


const isExpiredAt = (item: Item, now: Date): boolean =>
  item.status === 'expired' || (typeof item.expires_at === 'string' && new Date(item.expires_at) <= now);

/**
 * Redemptions, subscriptions and billing records in the service's DynamoDB table. One
 * transaction per redemption commits everything it changes, so that a redemption is either
 * entirely there (code, counter, subscription, answer, billing record, event) or not at all.
 */
export class DynamoRedemptionStore implements RedemptionStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async findCode(code: string): Promise<RedeemableCode | undefined> {
    const item = await this.get(keys.code(code));
    if (!item) return undefined;
    return { code, planId: item.plan_id, projectId: item.project_id, teamId: item.team_id, jobId: item.job_id };
  }

  /**
   * Each attempt reads the code and the period's counter (strongly consistent), reserves the
   * counter's next number (a single-item conditional write: concurrent redemptions of a project
   * queue there, failing fast, rather than in the transaction, which locks five items and costs
   * twice the writes), then commits with the counter conditioned on the value read and on the
   * reservation. If another redemption committed in between, a condition fails and the attempt
   * starts again with the new value. That is how the redemption number, and with it the
   * billing, is decided inside the commit; the reservation only decides who tries next.
   */
  async redeem(request: RedemptionRequest): Promise<RedemptionOutcome> {
    const subscriptionId = newId('subscription');
    const redemptionId = newId('redemption');
    const eventId = newId('event');
    const backoff = (attempt: number) => pause(Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt));
    let held: { projectId: string; period: string } | undefined;
    // Gives up a reservation this call holds and did not commit (best effort: it lapses anyway).
    const settle = async (outcome: RedemptionOutcome): Promise<RedemptionOutcome> => {
      if (held) await this.release(held.projectId, held.period, redemptionId);
      return outcome;
    };
    try {
      for (let attempt = 1; attempt <= MAX_REDEEM_ATTEMPTS; attempt++) {
        const now = request.clock.now();
        const period = billingPeriodOf(now);
        let code: Item | undefined;
        let counter: Item | undefined;
        let settled: RedemptionOutcome | undefined;
        try {
          [code, counter] = await Promise.all([this.get(keys.code(request.code)), this.get(keys.usage(request.project.id, period))]);
          settled = await this.settledOutcome(code, request, now);
        } catch (error) {
          // The same 500 on a read (a lock wait in DynamoDB Local): read again after a pause.
          if (!(error instanceof InternalServerError)) throw error;
          await backoff(attempt);
          continue;
        }
        if (settled) return await settle(settled);

        const previous: number = counter?.redemptions ?? 0;
        let reserved: boolean;
        try {
          reserved = await this.reserve(request.project.id, period, previous, redemptionId);
        } catch (error) {
          if (!(error instanceof InternalServerError)) throw error;
          reserved = false;
        }
        if (!reserved) {
          await backoff(attempt);
          continue;
        }
        held = { projectId: request.project.id, period };

        const redemptionNumber = previous + 1;
        const answer: RedemptionAnswer = {
          subscription_id: subscriptionId,
          plan_id: request.plan.id,
          subscriber_id: request.subscriberId,
          access_code: maskCode(request.code),
          redeemed_at: now.toISOString(),
          billing: redemptionBilling(request.project.tier, period, redemptionNumber),
        };
        const billed = isBillable(request.project.tier, redemptionNumber);
        const items = this.commitItems(request, { code: code!, now, period, previous, redemptionNumber, answer, billed, subscriptionId, redemptionId, eventId });
        try {
          await this.db.send(new TransactWriteCommand({ TransactItems: items }));
          held = undefined;
          const redemption: Redemption = { id: redemptionId, code: request.code, projectId: request.project.id, teamId: request.plan.teamId, billed, answer };
          return { outcome: 'redeemed', redemption, attempts: attempt };
        } catch (error) {
          // A 500 (DynamoDB Local answers one when a transaction waited too long for a lock) leaves
          // it unknown whether the commit happened: the next attempt reads again, and finds either
          // the code redeemed by this subscriber (the stored answer) or nothing done (and the
          // reservation still this call's).
          if (error instanceof InternalServerError || error instanceof TransactionInProgressException) {
            await backoff(attempt);
            continue;
          }
          if (!(error instanceof TransactionCanceledException)) throw error;
          const reasons = cancellationCodes(error);
          if (reasons[CODE] === 'ConditionalCheckFailed') {
            // Someone else changed the code first (or its expiry passed): the next read says how.
            const again = await this.settledOutcome(await this.get(keys.code(request.code)), request, request.clock.now());
            if (again) return await settle(again);
          } else if (reasons[JOB] === 'ConditionalCheckFailed') {
            return await settle({ outcome: 'not-found' });
          } else if (reasons[COUNTER] !== 'ConditionalCheckFailed' && !reasons.some((reason) => reason === 'TransactionConflict' || reason === 'ThrottlingError')) {
            throw error;
          }
          await backoff(attempt);
        }
      }
      throw new Error(`redemption did not commit after ${MAX_REDEEM_ATTEMPTS} attempts (contention)`);
    } catch (error) {
      if (held) await this.release(held.projectId, held.period, redemptionId).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Reserves the period's next redemption number for `redemptionId`, if the counter still holds
   * `previous` and no other live reservation holds it; false when another redemption got there
   * first (it committed, or it holds the reservation).
   */
  private async reserve(projectId: string, period: string, previous: number, redemptionId: string): Promise<boolean> {
    const now = Date.now();
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.usage(projectId, period),
          UpdateExpression: 'SET reserved_by = :redemption, reserved_until = :until, #type = :usage, project_id = :project, period = :period',
          ConditionExpression:
            `(${previous === 0 ? 'attribute_not_exists(redemptions) OR ' : ''}redemptions = :previous) ` +
            'AND (attribute_not_exists(reserved_by) OR reserved_by = :redemption OR reserved_until < :now)',
          ExpressionAttributeNames: { '#type': 'type' },
          ExpressionAttributeValues: {
            ':redemption': redemptionId,
            ':until': now + RESERVATION_MS,
            ':now': now,
            ':previous': previous,
            ':usage': 'usage',
            ':project': projectId,
            ':period': period,
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Gives up `redemptionId`'s reservation of the counter, if it still holds it: a counter that
   * the reservation created and nothing counted on is deleted, so a refusal leaves no trace.
   */
  private async release(projectId: string, period: string, redemptionId: string): Promise<void> {
    try {
      await this.db.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.usage(projectId, period),
          ConditionExpression: 'reserved_by = :redemption AND attribute_not_exists(redemptions)',
          ExpressionAttributeValues: { ':redemption': redemptionId },
        }),
      );
      return;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.usage(projectId, period),
          UpdateExpression: 'REMOVE reserved_by, reserved_until',
          ConditionExpression: 'reserved_by = :redemption',
          ExpressionAttributeValues: { ':redemption': redemptionId },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /**
   * The outcome a code item already decides, or undefined when the code is still redeemable:
   * missing or outside the caller's plan → not found; redeemed → the stored answer for the same
   * subscriber, already redeemed for anyone else; past its expiry → expired.
   */
  private async settledOutcome(code: Item | undefined, request: RedemptionRequest, now: Date): Promise<RedemptionOutcome | undefined> {
    if (!code || code.team_id !== request.plan.teamId || code.plan_id !== request.plan.id) return { outcome: 'not-found' };
    if (code.status === 'redeemed') {
      const redemption = await this.get(redemptionKeys.redemption(request.code));
      return redemption && redemption.subscriber_id === request.subscriberId
        ? { outcome: 'replayed', answer: storedAnswer(redemption.answer) }
        : { outcome: 'already-redeemed' };
    }
    if (isExpiredAt(code, now)) return { outcome: 'expired' };
    return undefined;
  }

  private commitItems(
    request: RedemptionRequest,
    commit: {
      code: Item;
      now: Date;
      period: string;
      previous: number;
      redemptionNumber: number;
      answer: RedemptionAnswer;
      billed: boolean;
      subscriptionId: string;
      redemptionId: string;
      eventId: string;
    },
  ): TransactItem[] {
    const at = commit.now.toISOString();
    const base = {
      project_id: request.project.id,
      team_id: request.plan.teamId,
      plan_id: request.plan.id,
      subscription_id: commit.subscriptionId,
      redemption_id: commit.redemptionId,
      subscriber_id: request.subscriberId,
    };
    const items: TransactItem[] = [];
    const codeRef = { code: request.code, planId: request.plan.id, jobId: commit.code.job_id as string, slot: commit.code.slot as number };
    items[CODE] = codeRedemptionUpdate(this.tableName, codeRef, {
      teamId: request.plan.teamId,
      planId: request.plan.id,
      subscriptionId: commit.subscriptionId,
      redemptionId: commit.redemptionId,
      redeemedAt: at,
    });
    // A code of a job that has not finished generating does not exist yet for anyone.
    items[JOB] = {
      ConditionCheck: {
        TableName: this.tableName,
        Key: keys.job(commit.code.job_id),
        ConditionExpression: 'attribute_exists(generated_at)',
      },
    };
    items[COUNTER] = {
      Update: {
        TableName: this.tableName,
        Key: keys.usage(request.project.id, commit.period),
        UpdateExpression: 'SET redemptions = :next, #type = :usage, project_id = :project, period = :period, updated_at = :now REMOVE reserved_by, reserved_until',
        // The value read just before, under this redemption's reservation: if another redemption
        // committed since (its reservation lapsed and was taken over), this one is retried.
        ConditionExpression: `(${commit.previous === 0 ? 'attribute_not_exists(redemptions) OR ' : ''}redemptions = :previous) AND reserved_by = :redemption`,
        ExpressionAttributeNames: { '#type': 'type' },
        ExpressionAttributeValues: {
          ':next': commit.redemptionNumber,
          ':previous': commit.previous,
          ':redemption': commit.redemptionId,
          ':usage': 'usage',
          ':project': request.project.id,
          ':period': commit.period,
          ':now': at,
        },
      },
    };
    items.push({
      Put: {
        TableName: this.tableName,
        Item: { ...redemptionKeys.subscription(commit.subscriptionId), type: 'subscription', ...base, answer: commit.answer, created_at: at },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    });
    items.push({
      Put: {
        TableName: this.tableName,
        Item: {
          ...redemptionKeys.redemption(request.code),
          type: 'redemption',
          ...base,
          period: commit.period,
          redemption_number: commit.redemptionNumber,
          billed: commit.billed,
          answer: commit.answer,
          redeemed_at: at,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    });
    if (commit.billed) {
      const customer = request.project.stripeCustomerId;
      const state: BillingState = customer ? 'queued' : 'pending';
      items.push({
        Put: {
          TableName: this.tableName,
          Item: {
            ...redemptionKeys.billingRecord(commit.redemptionId),
            type: 'billing_record',
            ...billingIndexKeys(request.project.id, commit.period, commit.redemptionId, state === 'pending'),
            redemption_id: commit.redemptionId,
            project_id: request.project.id,
            period: commit.period,
            redemption_number: commit.redemptionNumber,
            stripe_customer_id: customer,
            redeemed_at: at,
            state,
            updated_at: at,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      });
    }
    const event = redeemedEvent(
      { projectId: request.project.id, subscriptionId: commit.subscriptionId, planId: request.plan.id, subscriberId: request.subscriberId, code: request.code },
      commit.now,
      commit.eventId,
    );
    items.push({ Put: { TableName: this.tableName, Item: outboxItem(event, commit.now), ConditionExpression: 'attribute_not_exists(pk)' } });
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

  private async get(key: Item): Promise<Item | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return Item;
  }
}
