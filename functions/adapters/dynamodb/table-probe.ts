import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { keys } from '../../contracts/table';
import type { TableProbe } from '../../domain/ports';


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
