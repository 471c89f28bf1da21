import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/** What varies between the local stand-ins' invocations. */
export interface LocalInvocation {
  /** The function's name, as the handler and its logs see it. */
  functionName: string;
  /** Default: a fresh UUID, as Lambda gives each invocation. */
  requestId?: string;
  /** Milliseconds left before the function would time out. */
  remainingMs: () => number;
  /** Default 512. */
  memoryLimitInMB?: number;
  /** Default `local` / `000000000000`. */
  region?: string;
  accountId?: string;
}

const unsupported = (): never => {
  throw new Error('The callback-style context methods are not supported; return a promise.');
};

/** The Lambda `Context` the local stack hands to a handler it invokes in-process. */
export const localLambdaContext = (invocation: LocalInvocation): Context => {
  const { functionName, region = 'local', accountId = '000000000000' } = invocation;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${accountId}:function:${functionName}`,
    memoryLimitInMB: String(invocation.memoryLimitInMB ?? 512),
    awsRequestId: invocation.requestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, Math.floor(invocation.remainingMs())),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
};
