import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context } from 'aws-lambda';
import { logger, metrics } from '../observability';

/** Any Lambda handler: an event and its context in, a promise of the result out. */
export type LambdaHandler<E, R> = (event: E, context: Context) => Promise<R>;

/**
 * The middleware every handler kind shares: log lines that carry the invocation's function name
 * and request id, and the invocation's business metrics flushed as EMF at its end. (Lambda's
 * active tracing records each invocation's segment; no tracing SDK is loaded for it.)
 */
export const withObservability = <E, R>(handler: LambdaHandler<E, R>) =>
  middy<E, R>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(handler);
