import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type * as v from 'valibot';
import type { Ability } from '../../domain/abilities';
import { AppError } from '../../domain/errors';
import type { Principal } from '../../domain/model';
import type { AccountReader } from '../../domain/ports';
import { authenticate } from '../../use-cases/authenticate';
import { logger } from '../../observability';
import { withObservability } from '../../handlers/middleware';
import { decodeJsonObject, parseWith } from './validation';

/** An API Gateway HTTP API (payload v2) Lambda handler. */
export type HttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/** A JSON response with the service's standard headers. */
export const jsonResponse = (statusCode: number, payload: unknown): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  body: JSON.stringify(payload),
});

/** Maps any error to the documented envelope; unknown errors become a 500 that says nothing internal. */
export const errorResponse = (error: unknown, requestId?: string): APIGatewayProxyStructuredResultV2 => {
  if (error instanceof AppError) {
    return jsonResponse(error.status, { error: { code: error.code, message: error.message, details: error.details } });
  }
  logger.error('unhandled error', { error: error as Error });
  return jsonResponse(500, {
    error: {
      code: 'INTERNAL_ERROR',
      message: `Something went wrong on our side.${requestId ? ` Request id: ${requestId}.` : ''}`,
      details: [],
    },
  });
};

/** What a route's use case receives once the request is authenticated and validated. */
export interface RouteRequest<B> {
  principal: Principal;
  body: B;
  event: APIGatewayProxyEventV2;
}

/** The declaration of one authenticated JSON route. */
export interface RouteDefinition<S extends v.GenericSchema | undefined, O> {
  /** The caller needs at least one of these. */
  abilities: readonly Ability[];
  /** Schema of the JSON body; routes without a body omit it. */
  body?: S;
  /** Status of a successful answer (200 unless said). */
  successStatus?: number;
  run(request: RouteRequest<S extends v.GenericSchema ? v.InferOutput<S> : undefined>): Promise<O>;
}

/** Wraps a handler with the middleware every HTTP route shares: request-scoped logging and the error envelope. */
export const withHttpMiddleware = (handler: HttpHandler): HttpHandler =>
  withObservability<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>(handler).use({
      onError: async (request) => {
        request.response = errorResponse(request.error, request.context.awsRequestId);
      },
    });

const bearerToken = (event: APIGatewayProxyEventV2): string | undefined => {
  const header = event.headers?.authorization ?? event.headers?.Authorization;
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
};

/**
 * Builds an authenticated JSON route. Checks run in the documented order: who you are, what
 * you may do, what you sent; what exists is the use case's business.
 */
export const httpRoute = <S extends v.GenericSchema | undefined, O>(
  deps: { accounts: AccountReader },
  route: RouteDefinition<S, O>,
): HttpHandler =>
  withHttpMiddleware(async (event) => {
    const principal = await authenticate(deps, bearerToken(event), route.abilities);
    const body = (route.body ? parseWith(route.body, decodeJsonObject(event.body, event.isBase64Encoded)) : undefined) as
      S extends v.GenericSchema ? v.InferOutput<S> : undefined;
    const data = await route.run({ principal, body, event });
    return jsonResponse(route.successStatus ?? 200, { data });
  });
