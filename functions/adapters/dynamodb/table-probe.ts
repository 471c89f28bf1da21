import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { keys } from '../../contracts/table';

/** Whether the service's table can be read right now; the health check's port. */
export interface TableProbe {
  /** Resolves when one read succeeded; rejects on any error, or when `signal` aborts first. */
  check(signal: AbortSignal): Promise<void>;
}

/**
 * Probes the table with one eventually consistent GetItem of a key that need not exist (half a
 * read capacity unit): it fails when the table is missing, the endpoint is down, or access is denied.
 */
export class DynamoTableProbe implements TableProbe {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async check(signal: AbortSignal): Promise<void> {
    await this.db.send(new GetCommand({ TableName: this.tableName, Key: keys.marker('health') }), { abortSignal: signal });
  }
}
