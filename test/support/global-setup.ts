import { startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb-local';

declare global {
  var __DYNAMODB_LOCALS__: DynamoDbLocal[] | undefined;
}

/** The environment both tiers run with (workers inherit it): no logs, no metrics, no SDK notices. */
export const quietEnvironment = (): void => {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
};

/**
 * Starts one in-memory DynamoDB Local per Jest worker; workers inherit the endpoints and each
 * takes its own (see dynamoEndpoint). One shared instance made every worker wait on the other's
 * locks: DynamoDB Local keeps one database behind one lock, and answers 500 when a wait times out.
 */
export default async function globalSetup(globalConfig: { maxWorkers: number }): Promise<void> {
  quietEnvironment();
  const count = Math.max(1, globalConfig.maxWorkers);
  const started = await Promise.all(Array.from({ length: count }, () => startDynamoDbLocal()));
  globalThis.__DYNAMODB_LOCALS__ = started;
  process.env.TEST_DYNAMODB_ENDPOINTS = started.map((dynamo) => dynamo.endpoint).join(',');
}
