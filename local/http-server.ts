import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { HttpHandler } from '../functions/adapters/http/http-api';
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

const sendJson = (res: ServerResponse, status: number, payload: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(payload));
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
  close(): Promise<void>;
}

/** Starts an HTTP server on `host:port` (0 picks a free port) routing `routes` to `handlers`. */
export const startHttpServer = async (
  routes: readonly ApiRoute[],
  handlers: Record<string, HttpHandler>,
  options: { host?: string; port?: number } = {},
): Promise<LocalHttpServer> => {
  const compiled = routes.map(compile);
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      let pathParameters: Record<string, string> = {};
      const match = compiled.find(({ route, pattern, params }) => {
        const found = route.method === req.method && pattern.exec(url.pathname);
        if (!found) return false;
        pathParameters = Object.fromEntries(params.map((name, i) => [name, decodeURIComponent(found[i + 1] ?? '')]));
        return true;
      });
      const body = await readBody(req);
      if (!match) {
        sendJson(res, 404, { error: { code: 'RESOURCE_NOT_FOUND', message: `No route for ${req.method} ${url.pathname}.`, details: [] } });
        return;
      }
      if (body === 'too-large') {
        sendJson(res, 413, { message: 'Request Entity Too Large' });
        return;
      }
      const handler = handlers[match.route.id];
      if (!handler) throw new Error(`no local handler for route ${match.route.id}`);
      const started = Date.now();
      const event = toApiGatewayEvent(req, url, match.route, pathParameters, body);
      const context = localLambdaContext({
        functionName: match.route.id,
        requestId: event.requestContext.requestId,
        remainingMs: () => API_TIMEOUT_MS - (Date.now() - started),
      });
      writeResult(res, await runInvocation(context, () => handler(event, context)));
    } catch (error) {
      // What API Gateway answers when the integration itself fails.
      console.error(error);
      if (!res.headersSent) sendJson(res, 500, { message: 'Internal Server Error' });
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
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};
