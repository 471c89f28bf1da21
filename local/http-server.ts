import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { BadRequestError, MethodNotAllowedError, PayloadTooLargeError, ResourceNotFoundError } from '../functions/domain/errors';
import { errorResponse, type HttpHandler } from '../functions/handlers/http/http-api';
import type { ApiRoute } from '../lib/api-routes';
import { localLambdaContext, runInvocation } from './lambda-context';

/** API Gateway HTTP APIs refuse payloads above 10 MB; so does the local server. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

/** API Gateway gives up on an integration after 30 s; the handler sees its time run down from there. */
const API_TIMEOUT_MS = 29_000;

const TEXT_CONTENT = /^(text\/|application\/(json|.*\+json|xml|x-www-form-urlencoded|javascript))/i;

interface CompiledRoute {
  route: ApiRoute;
  pattern: RegExp;
  params: string[];
}

const compile = (route: ApiRoute): CompiledRoute => {
  const params: string[] = [];
  const source = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{(\w+)\\?\}/g, (_m, name: string) => {
    params.push(name);
    return '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${source}$`), params };
};

const readBody = (req: IncomingMessage): Promise<Buffer | 'too-large'> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_PAYLOAD_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_PAYLOAD_BYTES ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });

/** Builds the API Gateway HTTP API (payload format 2.0) event Lambda would receive. */
export const toApiGatewayEvent = (
  req: IncomingMessage,
  url: URL,
  route: ApiRoute,
  pathParameters: Record<string, string>,
  body: Buffer,
): APIGatewayProxyEventV2 => {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = name in query ? `${query[name]},${value}` : value;
  const isText = !headers['content-type'] || TEXT_CONTENT.test(headers['content-type']);
  const now = new Date();
  return {
    version: '2.0',
    routeKey: `${route.method} ${route.path}`,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    ...(Object.keys(pathParameters).length ? { pathParameters } : {}),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: route.method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: `${route.method} ${route.path}`,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length ? { body: isText ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !isText,
  };
};


const writeResult = (res: ServerResponse, result: APIGatewayProxyStructuredResultV2) => {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  if (result.cookies?.length) headers['set-cookie'] = result.cookies;
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(result.body ? Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8') : undefined);
};

/** A local HTTP server that routes requests to Lambda handlers the way API Gateway does. */
export interface LocalHttpServer {
  url: string;
  server: Server;
  /** The routes it serves, as `METHOD path`. */
  routeKeys: readonly string[];
  close(): Promise<void>;
}

/** A request's route and its decoded path parameters, or the error API Gateway's router would answer. */
const matchRoute = (compiled: readonly CompiledRoute[], method: string, path: string) => {
  const onPath = compiled
    .map((candidate) => ({ candidate, found: candidate.pattern.exec(path) }))
    .filter((m): m is { candidate: CompiledRoute; found: RegExpExecArray } => m.found !== null);
  if (onPath.length === 0) throw new ResourceNotFoundError('Route', `${method} ${path}`);
  const match = onPath.find(({ candidate }) => candidate.route.method === method);
  if (!match) throw new MethodNotAllowedError(method, path, [...new Set(onPath.map(({ candidate }) => candidate.route.method))]);
  const pathParameters: Record<string, string> = {};
  for (const [i, name] of match.candidate.params.entries()) {
    try {
      pathParameters[name] = decodeURIComponent(match.found[i + 1] ?? '');
    } catch {
      // A malformed escape (`%E0%A4%A`) can name no resource: the request itself is bad.
      throw new BadRequestError(`The path is not validly percent-encoded (in {${name}}).`, [{ path: name, message: 'not valid percent-encoding' }]);
    }
  }
  return { route: match.candidate.route, pathParameters };
};

/**
 * Starts an HTTP server on `host:port` (0 picks a free port) routing `routes` to `handlers`, as
 * API Gateway would, every refusal in the documented envelope: an unknown path is 404, a known
 * path with another method 405 with `Allow`, a malformed path 400, a body over 10 MB 413.
 */
export const startHttpServer = async (
  routes: readonly ApiRoute[],
  handlers: Record<string, HttpHandler>,
  options: { host?: string; port?: number } = {},
): Promise<LocalHttpServer> => {
  const compiled = routes.map(compile);
  for (const route of routes) if (!handlers[route.id]) throw new Error(`no local handler for route ${route.id}`);
  const server = createServer(async (req, res) => {
    const requestId = randomUUID();
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const method = req.method ?? 'GET';
      // Read (or drain) the body first, so that an early answer does not cut the upload short.
      const body = await readBody(req);
      const { route, pathParameters } = matchRoute(compiled, method, url.pathname);
      if (body === 'too-large') throw new PayloadTooLargeError(MAX_PAYLOAD_BYTES);
      const started = Date.now();
      const event = toApiGatewayEvent(req, url, route, pathParameters, body);
      event.requestContext.requestId = requestId;
      const context = localLambdaContext({
        functionName: route.id,
        requestId,
        remainingMs: () => API_TIMEOUT_MS - (Date.now() - started),
      });
      writeResult(res, await runInvocation(context, () => handlers[route.id]!(event, context)));
    } catch (error) {
      // Refusals of the router are AppErrors; anything else is a bug of the server, answered as
      // a 500 that says nothing internal (errorResponse logs it).
      if (!res.headersSent) writeResult(res, errorResponse(error, requestId));
      else res.end();
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    server,
    /** The routes served, as `METHOD path`. */
    routeKeys: routes.map((route) => `${route.method} ${route.path}`),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};
