import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { billingPartition, redemptionKeys } from '../../contracts/table';
import type { UsageRef } from '../../domain/billing';
import type { BillingRecords } from '../../domain/ports';
import type { BillingRecord, BillingState } from '../../domain/redemption';

type Item = Record<string, any>;

const billingRecordFromItem = (item: Item): BillingRecord => ({
  redemptionId: item.redemption_id,
  projectId: item.project_id,
  period: item.period,
  redemptionNumber: item.redemption_number,
  stripeCustomerId: item.stripe_customer_id ?? null,
  redeemedAt: item.redeemed_at,
  state: item.state,
  reason: item.reason ?? null,
  updatedAt: item.updated_at,
});

/**
 * The billing records of billed redemptions in the service's DynamoDB table: the billing
 * consumer's ledger and the admin's usage view. The redemption's commit writes each record;
 * this store only moves it on.
 */
export class DynamoBillingStore implements BillingRecords {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async isBilled(redemptionId: string): Promise<boolean> {
    return (await this.get(redemptionKeys.billingRecord(redemptionId)))?.state === 'billed';
  }

  async markBilled(ref: UsageRef, at: Date): Promise<void> {
    await this.mark(ref, 'billed', at);
  }

  async markPending(ref: UsageRef, at: Date): Promise<void> {
    await this.mark(ref, 'pending', at);
  }

  async markFailed(ref: UsageRef, reason: string, at: Date): Promise<void> {
    await this.mark(ref, 'failed', at, reason);
  }

  /**
   * Moves a billing record to `state` unless it is there already or billed (final). The record
   * must exist: only a committed redemption can be billed, so a mark of anything else is a bug
   * and throws. The record changes partition with the state (pending ones sit apart).
   */
  private async mark(ref: UsageRef, state: Exclude<BillingState, 'queued'>, at: Date, reason?: string): Promise<void> {
    const partition = billingPartition(ref.projectId, state === 'pending');
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: redemptionKeys.billingRecord(ref.redemptionId),
          UpdateExpression:
            reason === undefined
              ? 'SET #state = :state, updated_at = :at, gsi1pk = :partition REMOVE reason'
              : 'SET #state = :state, updated_at = :at, gsi1pk = :partition, reason = :reason',
          ConditionExpression: 'attribute_exists(pk) AND project_id = :project AND #state <> :billed AND #state <> :state',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':state': state,
            ':at': at.toISOString(),
            ':partition': partition,
            ':project': ref.projectId,
            ':billed': 'billed',
            ...(reason === undefined ? {} : { ':reason': reason }),
          },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const current = await this.get(redemptionKeys.billingRecord(ref.redemptionId));
      if (!current || current.project_id !== ref.projectId) throw new Error(`no billing record for redemption ${ref.redemptionId} of project ${ref.projectId}`);
      // Already in that state, or billed (final): nothing to do.
    }
  }

  /**
   * Each pending record moves to `queued` with the customer, out of the pending partition, in
   * one conditional update (only while still pending): that MODIFY on the table's stream is what
   * the billing forwarder picks up, so a record moved twice by two admins is forwarded once.
   */
  async requeuePending(projectId: string, stripeCustomerId: string, at: Date): Promise<number> {
    let moved = 0;
    for (const record of await this.pendingForProject(projectId)) {
      try {
        await this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: redemptionKeys.billingRecord(record.redemptionId),
            UpdateExpression: 'SET #state = :queued, stripe_customer_id = :customer, gsi1pk = :partition, updated_at = :at',
            ConditionExpression: 'project_id = :project AND #state = :pending',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: {
              ':queued': 'queued',
              ':pending': 'pending',
              ':customer': stripeCustomerId,
              ':partition': billingPartition(projectId, false),
              ':project': projectId,
              ':at': at.toISOString(),
            },
          }),
        );
        moved++;
      } catch (error) {
        // Moved already (the index lags), or billed meanwhile: nothing to do.
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }
    return moved;
  }

  async pendingForProject(projectId: string): Promise<BillingRecord[]> {
    return this.queryBilling(billingPartition(projectId, true), '');
  }

  async billingRecords(projectId: string, period: string): Promise<BillingRecord[]> {
    const [settled, pending] = await Promise.all([
      this.queryBilling(billingPartition(projectId, false), `${period}#`),
      this.queryBilling(billingPartition(projectId, true), `${period}#`),
    ]);
    // The index is eventually consistent: a record moving partitions may show in both for a moment.
    const byId = new Map<string, BillingRecord>();
    for (const record of [...settled, ...pending]) {
      const seen = byId.get(record.redemptionId);
      if (!seen || seen.updatedAt < record.updatedAt) byId.set(record.redemptionId, record);
    }
    return [...byId.values()].sort((a, b) => a.redemptionNumber - b.redemptionNumber);
  }

  private async queryBilling(partition: string, prefix: string): Promise<BillingRecord[]> {
    const records: BillingRecord[] = [];
    let start: Item | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'gsi1',
          KeyConditionExpression: prefix ? 'gsi1pk = :pk AND begins_with(gsi1sk, :prefix)' : 'gsi1pk = :pk',
          ExpressionAttributeValues: { ':pk': partition, ...(prefix ? { ':prefix': prefix } : {}) },
          ExclusiveStartKey: start,
        }),
      );
      records.push(...(page.Items ?? []).map(billingRecordFromItem));
      start = page.LastEvaluatedKey;
    } while (start);
    return records;
  }

  private async get(key: Item): Promise<Item | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return Item;
  }
}
