import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { AppError, AuthenticationRequiredError, MethodNotAllowedError, UnsupportedMediaTypeError } from '../../domain/errors';
import { logger } from '../../observability';
import type { CatalogEntry, RouteHandlerKind, RouteHandlerSpec } from '../../operations/operation';
import { PROTECTED_RESOURCE_PATH } from '../../operations/paths';
import { withObservability } from '../middleware';

/** An API Gateway HTTP API (payload v2) Lambda handler. */
export type HttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * What a special route's catalog entry says of its handler, when it names `kind`; a factory handed
 * another entry throws, so that an entry point built with the wrong factory fails at cold start.
 */
export const routeSpec = <K extends RouteHandlerKind>(entry: CatalogEntry, kind: K): Extract<RouteHandlerSpec, { kind: K }> => {
  if (entry.kind !== 'route' || entry.handler.kind !== kind) throw new Error(`${entry.name} is not served by the ${kind} handler`);
  return entry.handler as Extract<RouteHandlerSpec, { kind: K }>;
};

/** A JSON response with the service's standard headers. */
export const jsonResponse = (statusCode: number, payload: unknown, headers: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  body: JSON.stringify(payload),
});

/** The realm of every bearer challenge. */
const REALM = 'memberpass';

/** A host as a URL may carry it: a name or an IPv4 address, or an IPv6 one in brackets, and a port. */
const URL_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The service's public base URL as the caller reached it (API Gateway's domain, or the local
 * server's host). Headers are the caller's to write: a scheme other than https/http, or a host
 * that is no host, would publish a URL that is none (found by the response checks of the fuzz).
 */
export const baseUrlOf = (event: APIGatewayProxyEventV2): string => {
  const host = [event.headers?.host, event.requestContext.domainName].find((candidate) => candidate !== undefined && URL_HOST.test(candidate)) ?? 'localhost';
  // API Gateway sets x-forwarded-proto (https); the local server sets none and speaks plain HTTP.
  const scheme = event.headers?.['x-forwarded-proto']?.split(',')[0]?.trim().toLowerCase() === 'https' ? 'https' : 'http';
  return `${scheme}://${host}`;
};

/**
 * The `WWW-Authenticate` challenge of a 401 (RFC 7235 requires one). Bearer, per RFC 6750: the
 * realm; `error="invalid_token"` only when a token was sent (none was: no error code); and, per
 * RFC 9728, where the protected resource metadata is (`resourcePath` '/mcp' for the MCP endpoint's).
 */
export const authenticateChallenge = (error: AuthenticationRequiredError, event?: APIGatewayProxyEventV2, resourcePath = ''): string => {
  if (error.scheme !== 'Bearer') return `${error.scheme} realm="telegram-webhook"`;
  const params = [`realm="${REALM}"`];
  if (event && bearerToken(event) !== undefined) {
    params.push('error="invalid_token"', 'error_description="The bearer token is unknown or revoked; send the token the operator issued you."');
  }
  if (event?.requestContext) params.push(`resource_metadata="${baseUrlOf(event)}${PROTECTED_RESOURCE_PATH}${resourcePath}"`);
  return `Bearer ${params.join(', ')}`;
};

/**
 * Maps any error to the documented envelope, in this one place; unknown errors become a 500 that
 * says nothing internal. A 405 also names the allowed methods in `Allow`, as HTTP requires, and a
 * 401 its challenge in `WWW-Authenticate` (from the request, `event`, when there is one).
 */
export const errorResponse = (error: unknown, requestId?: string, event?: APIGatewayProxyEventV2): APIGatewayProxyStructuredResultV2 => {
  if (error instanceof AppError) {
    const headers: Record<string, string> | undefined =
      error instanceof MethodNotAllowedError
        ? { allow: error.allow.join(', ') }
        : error instanceof AuthenticationRequiredError
          ? { 'www-authenticate': authenticateChallenge(error, event) }
          : undefined;
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
        request.response = errorResponse(request.error, request.context.awsRequestId, request.event);
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
