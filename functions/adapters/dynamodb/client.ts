import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { InitializeHandler, InitializeHandlerArguments, InitializeHandlerOutput, MetadataBearer } from '@smithy/types';
import { backoff, isWriteContention } from './transactions';

/** Attempts at one call that meets contention (conflicts, and throttles past the SDK's own retries). */
export const CONTENTION_ATTEMPTS = 6;

/**
 * Tries a call again, with full-jitter backoff, when DynamoDB refused it for contention only
 * (`isWriteContention`): a conflict with an in-flight transaction, which the SDK does not retry,
 * or a throttle that outlasted the SDK's retries. Such a refusal applied nothing, so the call
 * can be sent again as it is; anything else (a failed condition, a 500) goes to the caller.
 */
export const contentionRetry =
  <Output extends MetadataBearer>(next: InitializeHandler<object, Output>) =>
  async (args: InitializeHandlerArguments<object>): Promise<InitializeHandlerOutput<Output>> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(args);
      } catch (error) {
        if (!isWriteContention(error) || attempt >= CONTENTION_ATTEMPTS) throw error;
        await backoff(attempt);
      }
    }
  };

/**
 * A DynamoDB document client. In Lambda it is built once per cold start (see wiring); the
 * local stack and tests pass an endpoint. Undefined attributes are dropped, never stored, and
 * calls refused for contention are tried again (`contentionRetry`).
 */
export const makeDocumentClient = (
  config: DynamoDBClientConfig = {},
  /** Wraps the base client before the document client is built on it (the tracer, in Lambda). */
  wrap: (client: DynamoDBClient) => DynamoDBClient = (client) => client,
): DynamoDBDocumentClient => {
  const base = new DynamoDBClient(config);
  base.middlewareStack.add(contentionRetry, { step: 'initialize', name: 'contentionRetry', priority: 'high' });
  return DynamoDBDocumentClient.from(wrap(base), {
    marshallOptions: { removeUndefinedValues: true },
  });
};
