import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  InitializeRequestSchema,
  ListToolsRequestSchema,
  McpError,
  PingRequestSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { AppError, AuthenticationRequiredError, TokenMissingAbilityError } from '../../domain/errors';
import { logger } from '../../observability';
import type { ServiceDeps, ToolOperation } from '../../operations/operation';
import { authenticate } from '../../use-cases/authenticate';
import { MCP_PATH } from '../../operations/paths';
import { authenticateChallenge, baseUrlOf, bearerToken, errorResponse, jsonResponse, withHttpMiddleware, type HttpHandler } from '../http/http-api';
import { runTool } from '../http/operation-handler';
import { toolDefinition } from './tools';


/** What the MCP endpoint is given: the table's stores at least, and whatever its tools need. */
export type McpDeps = Partial<ServiceDeps> & Pick<ServiceDeps, 'clock' | 'accounts'>;


/**
 * A tool error result: the documented envelope, the same JSON as the HTTP route's refusal, as
 * text. Not as structured content: that must match the tool's outputSchema (the success's
 * `{data}`), and clients such as the official SDK check it against it whether or not isError.
 */
const toolError = (code: string, message: string, details: unknown[]): CallToolResult => {
  const envelope = { error: { code, message, details } };
  return { isError: true, content: [{ type: 'text', text: JSON.stringify(envelope) }] };
};

/** What a failed call tells the agent: the documented code of an AppError, a bare INTERNAL_ERROR otherwise. */
const failureResult = (error: unknown, requestId: string): CallToolResult => {
  if (error instanceof AppError) return toolError(error.code, error.message, error.details);
  logger.error('tool call failed', { error: error as Error });
  return toolError('INTERNAL_ERROR', `Something went wrong on our side. Request id: ${requestId}.`, []);
};

/**
 * A fresh low-level MCP server for one request: tools/list from the catalog's tools, tools/call
 * through `runTool`, the same checks and use case as each tool's HTTP route.
 */
const mcpServer = (tools: readonly ToolOperation<any, any, any>[], deps: McpDeps, token: string, requestId: string): Server => {
  const server = new Server({ name: 'memberpass-access-codes', version: '1.0.0' }, { capabilities: { tools: {} } });
  const definitions = tools.map(toolDefinition);
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: definitions }));
  server.setRequestHandler(CallToolRequestSchema, async (request): Promise<CallToolResult> => {
    const operation = tools.find((tool) => tool.name === request.params.name);
    // An unknown tool is a protocol error (the client asked for something tools/list never offered).
    if (!operation) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${request.params.name}`);
    try {
      const data = await runTool(operation, deps as never, token, () => ({ fields: { ...(request.params.arguments ?? {}) } }));
      const result = { data };
      return { structuredContent: result, content: [{ type: 'text', text: JSON.stringify(result) }] };
    } catch (error) {
      return failureResult(error, requestId);
    }
  });
  return server;
};

/** The Lambda event as the web-standard Request the SDK's transport reads. */
export const toWebRequest = (event: APIGatewayProxyEventV2): Request => {
  const query = event.rawQueryString ? `?${event.rawQueryString}` : '';
  const headers = new Headers();
  for (const [name, value] of Object.entries(event.headers ?? {})) if (value !== undefined) headers.set(name, value);
  const method = event.requestContext.http.method;
  const body = event.body === undefined || method === 'GET' ? undefined : event.isBase64Encoded ? Buffer.from(event.body, 'base64') : event.body;
  return new Request(`${baseUrlOf(event)}${event.rawPath}${query}`, { method, headers, ...(body !== undefined ? { body } : {}) });
};

/** The SDK's web Response as the Lambda result API Gateway expects. */
export const fromWebResponse = async (response: Response): Promise<APIGatewayProxyStructuredResultV2> => {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const body = await response.text();
  return { statusCode: response.status, headers, ...(body ? { body } : {}) };
};

/** The SDK's schema of each request this server answers, by method. */
const REQUEST_SCHEMAS = new Map<string, { safeParse(value: unknown): { success: boolean; error?: { issues: Array<{ path: PropertyKey[]; message: string }> } } }>([
  ['initialize', InitializeRequestSchema],
  ['ping', PingRequestSchema],
  ['tools/list', ListToolsRequestSchema],
  ['tools/call', CallToolRequestSchema],
]);

/**
 * The SDK parses a request with its method's schema before any handler runs, and answers a
 * mismatch (`tools/call` with a numeric name, `initialize` without protocolVersion) as -32603,
 * "internal error". That is the caller's bad input, not our fault: such answers become -32602,
 * "invalid params", as JSON-RPC has it, naming what does not fit. A -32603 to a request that
 * fits its schema stays what it is.
 */
export const invalidParamsNotInternal = (requestBody: string, result: APIGatewayProxyStructuredResultV2): APIGatewayProxyStructuredResultV2 => {
  let requests: unknown;
  let answers: unknown;
  try {
    requests = JSON.parse(requestBody);
    answers = JSON.parse(result.body ?? '');
  } catch {
    return result;
  }
  const byId = new Map<unknown, { method?: unknown }>();
  for (const message of [requests].flat()) if (message !== null && typeof message === 'object' && 'id' in message) byId.set(message.id, message as { method?: unknown });
  let changed = false;
  const fix = (answer: any) => {
    if (answer?.error?.code !== ErrorCode.InternalError) return answer;
    const request = byId.get(answer.id);
    const schema = typeof request?.method === 'string' ? REQUEST_SCHEMAS.get(request.method) : undefined;
    const parsed = schema?.safeParse(request);
    if (!parsed || parsed.success) return answer;
    changed = true;
    const issues = (parsed.error?.issues ?? []).map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`).join('; ');
    return { ...answer, error: { code: ErrorCode.InvalidParams, message: `Invalid params for ${String(request!.method)}: ${issues}` } };
  };
  const fixed = Array.isArray(answers) ? answers.map(fix) : fix(answers);
  if (!changed) return result;
  // The body changes length: whatever length the SDK declared no longer holds.
  const headers = Object.fromEntries(Object.entries(result.headers ?? {}).filter(([name]) => name.toLowerCase() !== 'content-length'));
  return { ...result, headers, body: JSON.stringify(fixed) };
};

/**
 * The 401 of the MCP authorization spec: the envelope (whose message says to send the bearer token
 * the operator issued), and a challenge pointing at the MCP endpoint's own resource metadata.
 */
const unauthorized = (event: APIGatewayProxyEventV2, error: AuthenticationRequiredError): APIGatewayProxyStructuredResultV2 => {
  const answer = errorResponse(error);
  return { ...answer, headers: { ...answer.headers, 'www-authenticate': authenticateChallenge(error, event, MCP_PATH) } };
};

/** The request body as text. */
const bodyText = (event: APIGatewayProxyEventV2): string =>
  event.body === undefined ? '' : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;

/**
 * A JSON-RPC batch (an array body) is refused whole, before any of it runs: the front door
 * throttles requests, so one request carrying many calls would multiply every budget (the SDK
 * takes up to 100 a request). MCP itself dropped batching in its 2025-06-18 revision; one
 * message per request is what every client sends. Malformed JSON is left to the SDK (-32700).
 */
const batchRefusal = (text: string): APIGatewayProxyStructuredResultV2 | undefined => {
  if (!text.trimStart().startsWith('[')) return undefined;
  try {
    if (!Array.isArray(JSON.parse(text))) return undefined;
  } catch {
    return undefined;
  }
  return jsonResponse(400, {
    jsonrpc: '2.0',
    error: { code: ErrorCode.InvalidRequest, message: 'Invalid Request: JSON-RPC batches are not accepted; send one message per request (each call counts against the rate limit on its own).' },
    id: null,
  });
};

/**
 * `POST /mcp`: a stateless Streamable HTTP MCP server (no session, JSON responses), built fresh
 * for each request so that any Lambda instance can answer any request. The bearer token is
 * checked before anything MCP is read: no or an unknown token is a 401 with WWW-Authenticate.
 */
export const makeMcpHandler = (tools: readonly ToolOperation<any, any, any>[], deps: McpDeps): HttpHandler =>
  withHttpMiddleware(async (event, context) => {
    const token = bearerToken(event);
    try {
      // Who you are, not yet what you may do: each tool call checks its own abilities (runTool),
      // so a known token lacking this one ability (TOKEN_MISSING_ABILITY) is let through here.
      await authenticate(deps, token, ['project-access-code:view-any']);
    } catch (error) {
      if (error instanceof AuthenticationRequiredError) return unauthorized(event, error);
      if (!(error instanceof TokenMissingAbilityError)) throw error;
    }
    const text = bodyText(event);
    const refused = batchRefusal(text);
    if (refused) return refused;
    const server = mcpServer(tools, deps, token!, context.awsRequestId);
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    try {
      await server.connect(transport);
      const answer = await fromWebResponse(await transport.handleRequest(toWebRequest(event)));
      return invalidParamsNotInternal(text, answer);
    } finally {
      await transport.close();
      await server.close();
    }
  });

