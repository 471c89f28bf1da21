import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { InvokeStore, InvokeStoreBase } from '@aws/lambda-invoke-store';

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

/**
 * Runs `main` (the local stack) so that its invocations may run concurrently in one process and
 * still each log as itself. Powertools (logger, metrics, tracer, batch) keeps per-invocation
 * state in the Lambda runtime's InvokeStore when AWS_LAMBDA_MAX_CONCURRENCY is set — Lambda
 * Managed Instances, the same concurrency model as the local stack — and in shared fields
 * otherwise, where concurrent invocations overwrite each other's function name and request id.
 * The variable must be set before the store is created, and the modules that build Powertools'
 * logger and metrics imported inside `main` (they touch the store when evaluated). Work outside
 * any invocation (start-up, timers, the pollers' own logs) shares one root context.
 */
export const runWithConcurrentInvocations = async <T>(main: () => Promise<T>, maxConcurrency = 64): Promise<T> => {
  process.env.AWS_LAMBDA_MAX_CONCURRENCY ??= String(maxConcurrency);
  const store = await InvokeStore.getInstanceAsync();
  return store.run({}, main);
};

/**
 * Runs `fn` as the invocation `context` describes, as the Lambda runtime does: inside its own
 * InvokeStore context (under `runWithConcurrentInvocations`; otherwise as is).
 */
export const runInvocation = <T>(context: Context, fn: () => T): T => {
  const store = globalThis.awslambda?.InvokeStore;
  if (!store) return fn();
  return store.run({ [InvokeStoreBase.PROTECTED_KEYS.REQUEST_ID]: context.awsRequestId }, fn);
};
