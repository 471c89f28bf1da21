import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';

/** An SQS client. In Lambda it is built once per cold start (see wiring); tests pass their own. */
export const makeSqsClient = (config: SQSClientConfig = {}): SQSClient => new SQSClient(config);
