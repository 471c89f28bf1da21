import * as v from 'valibot';
import { defineRoute, type Needs, type RouteResponse, type SpecialRoute, type ToolNeeds, type ToolOperation } from './operation';
import { ErrorEnvelope, JsonRpcErrorBody, JsonRpcMessageBody, JsonRpcResponseBody } from './outputs';
import { MCP_PATH } from './paths';

/** A refusal of the MCP transport: a JSON-RPC error with no id. */
const transportRefusal = (description: string): RouteResponse => ({ description, body: JsonRpcErrorBody });

/** Everything `POST /mcp` can answer: the SDK transport's own refusals are JSON-RPC errors, ours the envelope. */
const MCP_RESPONSES: Readonly<Record<number, RouteResponse>> = {
  200: { description: 'The JSON-RPC response to the request (a tool failure is a result with isError: true carrying the error envelope).', body: JsonRpcResponseBody },
  202: { description: 'A notification (or a response from the client) was accepted; no body.' },
  400: transportRefusal(
    'Not one JSON-RPC message: malformed JSON (-32700), a batch (-32600: send one message per request), two initialize requests, or an unsupported MCP-Protocol-Version header.',
  ),
  401: 'error',
  406: transportRefusal('The Accept header does not list both application/json and text/event-stream.'),
  // The SDK's own limit (4 MiB) answers JSON-RPC; the local server's (10 MB) the envelope.
  413: { description: 'The body is too large.', body: v.union([JsonRpcErrorBody, ErrorEnvelope]) },
  415: transportRefusal('The body is not declared as application/json.'),
  500: 'error',
};

/** What `GET` and `DELETE /mcp` answer. */
const MCP_405: Readonly<Record<number, RouteResponse>> = {
  405: { description: 'A stateless server has no stream and no session: not offered. Allow: POST.', body: JsonRpcErrorBody, headers: { Allow: 'POST' } },
  500: 'error',
};

/**
 * What the MCP endpoint needs: the union of its tools' needs (it runs any of them), and nothing
 * more. Table access is the widest any tool asks for.
 */
export const unionOfNeeds = (tools: readonly ToolOperation<any, any, any>[]): ToolNeeds => {
  const needs: Record<string, unknown> = { table: 'read' };
  for (const tool of tools) {
    // Every need a tool declares is taken, so a need added later is covered without a change
    // here; the two with degrees take the wider: `readWrite` over `read`, and webhooks' `delete`
    // (`true` plus DeleteItem) over `true`.
    for (const [key, value] of Object.entries(tool.needs as Needs)) {
      if (!value) continue;
      if (key === 'table') needs.table = needs.table === 'readWrite' || value === 'readWrite' ? 'readWrite' : 'read';
      else if (key === 'webhooks') needs.webhooks = needs.webhooks === 'delete' || value === 'delete' ? 'delete' : value;
      else needs[key] = value;
    }
  }
  return needs as unknown as ToolNeeds;
};

/**
 * `POST /mcp`: the tools of the catalog over the Model Context Protocol (stateless Streamable
 * HTTP). Bearer-authenticated in its function; each tool call checks its tool's abilities.
 */
export const mcpRoute = (tools: readonly ToolOperation<any, any, any>[]): SpecialRoute<ToolNeeds> =>
  defineRoute<ToolNeeds>({
    kind: 'route',
    name: 'mcp',
    description: 'The Model Context Protocol endpoint (Streamable HTTP, stateless, JSON responses): every tool of this API as an MCP tool.',
    auth: 'bearer',
    http: { method: 'POST', path: MCP_PATH },
    // Every MCP tool call, bulk generation included, comes through this one route: narrower than
    // the default so that it does not widen the bulk-generate door by much, wide enough for agents
    // polling get_job_status.
    throttle: { rateLimit: 10, burstLimit: 20 },
    requestBody: { description: 'One JSON-RPC 2.0 message (batches are refused: each call counts against the rate limit on its own).', body: JsonRpcMessageBody },
    responses: MCP_RESPONSES,
    needs: unionOfNeeds(tools),
    handler: { kind: 'mcp', tools },
  });

/** `GET /mcp`: a stateless MCP server offers no server-to-client stream; 405, as the SDK's stateless servers answer. */
export const mcpStreamRoute = defineRoute({
  kind: 'route',
  name: 'mcp_stream',
  description: 'The MCP endpoint has no server-to-client SSE stream (stateless server): 405.',
  auth: 'public',
  http: { method: 'GET', path: MCP_PATH },
  responses: MCP_405,
  needs: {},
  handler: { kind: 'mcp_method_not_allowed' },
});

/** `DELETE /mcp`: a stateless MCP server has no session to end; 405. */
export const mcpSessionRoute = defineRoute({
  kind: 'route',
  name: 'mcp_session',
  description: 'The MCP endpoint keeps no sessions (stateless server), so there is none to end: 405.',
  auth: 'public',
  http: { method: 'DELETE', path: MCP_PATH },
  responses: MCP_405,
  needs: {},
  handler: { kind: 'mcp_method_not_allowed' },
});
