import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { AppError, MethodNotAllowedError, UnsupportedMediaTypeError } from '../../domain/errors';
import { logger } from '../../observability';
import { withObservability } from '../middleware';

/** An API Gateway HTTP API (payload v2) Lambda handler. */
export type HttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/** A JSON response with the service's standard headers. */
export const jsonResponse = (statusCode: number, payload: unknown, headers: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  body: JSON.stringify(payload),
});

/**
 * Maps any error to the documented envelope, in this one place; unknown errors become a 500 that
 * says nothing internal. A 405 also names the allowed methods in `Allow`, as HTTP requires.
 */
export const errorResponse = (error: unknown, requestId?: string): APIGatewayProxyStructuredResultV2 => {
  if (error instanceof AppError) {
    const headers = error instanceof MethodNotAllowedError ? { allow: error.allow.join(', ') } : undefined;
    return jsonResponse(error.status, { error: { code: error.code, message: error.message, details: error.details } }, headers);
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

/** Wraps a handler with the middleware every HTTP route shares: request-scoped logging and the error envelope. */
export const withHttpMiddleware = (handler: HttpHandler): HttpHandler =>
  withObservability<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>(handler).use({
      onError: async (request) => {
        request.response = errorResponse(request.error, request.context.awsRequestId);
      },
    });

/** The token of an `Authorization: Bearer <token>` header, if there is one. */
export const bearerToken = (event: APIGatewayProxyEventV2): string | undefined => {
  const header = event.headers?.authorization ?? event.headers?.Authorization;
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
};

/** `application/json` and the `+json` structured suffix (e.g. `application/merge-patch+json`), any parameters. */
const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i;

/**
 * Refuses a body that declares itself something other than JSON (text/plain, multipart, form) with
 * UNSUPPORTED_MEDIA_TYPE. A body without Content-Type is still read as JSON (and refused by the
 * JSON decoder if it is not): API Gateway passes such requests through, and `curl --data-binary`
 * or a bare `fetch(url, {body: buffer})` send none; what this stops is a body parsed as JSON
 * against what its sender said it was.
 */
export const requireJsonContentType = (event: APIGatewayProxyEventV2): void => {
  const contentType = event.headers?.['content-type'] ?? event.headers?.['Content-Type'];
  if (contentType === undefined || contentType.trim() === '') return;
  if (!JSON_MEDIA_TYPE.test(contentType.trim())) throw new UnsupportedMediaTypeError(contentType.split(';')[0]!.trim());
};
