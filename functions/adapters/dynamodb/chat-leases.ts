import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ChatLeases, WaitingJob } from '../../domain/chat-leases';
import { keys } from '../../contracts/table';

/**
 * Chat leases in the service table: one item per chat (`job_id`, `lease_until`), taken with a
 * conditional write, plus one item per waiting job under the same partition, so that the oldest
 * waiter is one strongly consistent query away.
 */
export class DynamoChatLeases implements ChatLeases {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async acquire(chatId: string, job: WaitingJob, until: Date, now: Date): Promise<boolean> {
    const jobId = job.id;
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: keys.chatLease(chatId),
                UpdateExpression: 'SET #type = :type, job_id = :job, lease_until = :until',
                ConditionExpression: 'attribute_not_exists(job_id) OR job_id = :job OR lease_until < :now',
                ExpressionAttributeNames: { '#type': 'type' },
                ExpressionAttributeValues: { ':type': 'chat_lease', ':job': jobId, ':until': until.toISOString(), ':now': now.toISOString() },
              },
            },
            // The job's wait, if any, ends with its turn; a waiter left behind by a crash is
            // harmless: handed the chat, a job that is not delivering hands it on at once.
            { Delete: { TableName: this.tableName, Key: keys.chatWaiter(chatId, job.createdAt, job.id) } },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof TransactionCanceledException && error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed') return false;
      throw error;
    }
  }

  async wait(chatId: string, job: WaitingJob): Promise<void> {
    await this.db.send(
      new PutCommand({ TableName: this.tableName, Item: { ...keys.chatWaiter(chatId, job.createdAt, job.id), type: 'chat_waiter', job_id: job.id } }),
    );
  }

  async release(chatId: string, job: WaitingJob, handOnUntil: Date, now: Date): Promise<string | undefined> {
    const jobId = job.id;
    // A job that ended while waiting (failed from the dead-letter queue, say) must not be handed
    // the chat again and again.
    await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: keys.chatWaiter(chatId, job.createdAt, job.id) }));
    const next = await this.oldestWaiter(chatId, jobId);
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.chatLease(chatId),
          ...(next
            ? { UpdateExpression: 'SET job_id = :next, lease_until = :until', ExpressionAttributeValues: { ':job': jobId, ':next': next, ':until': handOnUntil.toISOString() } }
            : { UpdateExpression: 'REMOVE job_id, lease_until', ExpressionAttributeValues: { ':job': jobId } }),
          ConditionExpression: 'job_id = :job',
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
    if (next) return next;
    // A job may have started waiting between the query and the release: it tried the lease just
    // after writing its wait and found it held, so it is up to us to hand it the chat.
    const late = await this.oldestWaiter(chatId, jobId);
    if (!late) return undefined;
    return (await this.acquireFor(chatId, late, handOnUntil, now)) ? late : undefined;
  }

  async holder(chatId: string, now: Date): Promise<string | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: keys.chatLease(chatId), ConsistentRead: true }));
    return Item?.job_id && Item.lease_until >= now.toISOString() ? (Item.job_id as string) : undefined;
  }

  /** Gives a free (or lapsed) chat to a waiting job, without touching its wait: it ends it itself. */
  private async acquireFor(chatId: string, jobId: string, until: Date, now: Date): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.chatLease(chatId),
          UpdateExpression: 'SET #type = :type, job_id = :job, lease_until = :until',
          ConditionExpression: 'attribute_not_exists(job_id) OR lease_until < :now',
          ExpressionAttributeNames: { '#type': 'type' },
          ExpressionAttributeValues: { ':type': 'chat_lease', ':job': jobId, ':until': until.toISOString(), ':now': now.toISOString() },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  private async oldestWaiter(chatId: string, except: string): Promise<string | undefined> {
    const { Items } = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :wait)',
        ExpressionAttributeValues: { ':pk': keys.chatLease(chatId).pk, ':wait': 'WAIT#' },
        ConsistentRead: true,
        Limit: 2,
      }),
    );
    return (Items ?? []).map((item) => item.job_id as string).find((id) => id !== except);
  }
}
