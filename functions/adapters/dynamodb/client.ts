import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * A DynamoDB document client. In Lambda it is built once per cold start (see wiring); the
 * local stack and tests pass an endpoint. Undefined attributes are dropped, never stored.
 */
export const makeDocumentClient = (
  config: DynamoDBClientConfig = {},
  /** Wraps the base client before the document client is built on it (the tracer, in Lambda). */
  wrap: (client: DynamoDBClient) => DynamoDBClient = (client) => client,
): DynamoDBDocumentClient =>
  DynamoDBDocumentClient.from(wrap(new DynamoDBClient(config)), {
    marshallOptions: { removeUndefinedValues: true },
  });
