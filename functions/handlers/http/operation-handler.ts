import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type * as v from 'valibot';
import type { CatalogEntry, DepsFor, InputSchema, Needs, ServiceDeps, ToolNeeds, ToolOperation } from '../../operations/operation';
import { authenticate } from '../../use-cases/authenticate';
import { bearerToken, jsonResponse, requireJsonContentType, withHttpMiddleware, type HttpHandler } from './http-api';
import { decodeJsonObject, parseWith } from './validation';

/** The type a schema field expects once optional/nullable wrappers are set aside. */
const expectedType = (schema: v.GenericSchema): string => {
  let current = schema as v.GenericSchema & { wrapped?: v.GenericSchema };
  while (current.wrapped && ['optional', 'nullable', 'nullish', 'exact_optional'].includes(current.type)) {
    current = current.wrapped as typeof current;
  }
  return current.type;
};

/**
 * A query string value as the schema expects it: query strings carry only strings, so a field
 * that expects a number or a boolean gets one when the text is one. Anything else stays a string,
 * for the schema to refuse with the field's own message.
 */
const coerceQueryValue = (schema: v.GenericSchema | undefined, raw: string): unknown => {
  const type = schema ? expectedType(schema) : 'string';
  if (type === 'number' && /^[+-]?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (type === 'boolean' && (raw === 'true' || raw === 'false')) return raw === 'true';
  return raw;
};

/**
 * The operation's input object, gathered from where its HTTP binding says each field travels:
 * the path, the query string, headers, and the JSON body for the rest. A body is read only when
 * the operation has body fields; bound fields are never taken from it.
 */
export const httpInput = <S extends InputSchema>(operation: ToolOperation<ToolNeeds, S>, event: APIGatewayProxyEventV2): Record<string, unknown> => {
  const { http, input } = operation;
  const bound = new Set<string>([...http.pathParams, ...http.queryParams, ...Object.keys(http.headers)]);
  const bodyFields = Object.keys(input.entries).filter((field) => !bound.has(field));
  const gathered: Record<string, unknown> = {};
  if (bodyFields.length > 0) {
    const hasBody = event.body !== undefined && event.body !== '';
    if (hasBody) requireJsonContentType(event);
    // A body whose every field is optional may be left out altogether (POST …/expire).
    const optionalOnly = bodyFields.every((field) => (input.entries[field] as { type?: string }).type === 'optional');
    const body = !hasBody && optionalOnly ? {} : decodeJsonObject(event.body, event.isBase64Encoded);
    // A strict schema refuses unknown fields, so it must see them; bound fields still never come from the body.
    const taken = (input as { type?: string }).type === 'strict_object' ? Object.keys(body).filter((field) => !bound.has(field)) : bodyFields;
    // defineProperty: a body key `__proto__` stays a field (to be refused), never the object's prototype.
    for (const field of taken) if (field in body) Object.defineProperty(gathered, field, { value: body[field], enumerable: true, writable: true, configurable: true });
  }
  for (const field of http.pathParams) {
    const value = event.pathParameters?.[field];
    if (value !== undefined) gathered[field] = value;
  }
  for (const field of http.queryParams) {
    const value = event.queryStringParameters?.[field];
    if (value !== undefined) gathered[field] = coerceQueryValue(input.entries[field], value);
  }
  for (const [field, header] of Object.entries(http.headers) as Array<[string, string]>) {
    const value = event.headers?.[header];
    if (value !== undefined) gathered[field] = value;
  }
  return gathered;
};

/**
 * One call of a tool, whatever carried it (HTTP or MCP), so that the two cannot diverge:
 * 1. who you are and what you may do (AUTHENTICATION_REQUIRED, TOKEN_MISSING_ABILITY);
 * 2. the input, gathered only now (reading a body may itself be refused), validated every field
 *    at once (VALIDATION_FAILED, fields renamed to the caller's names by `rename`);
 * 3. the operation's use case. Nothing is written before step 3.
 */
export const runTool = async <N extends ToolNeeds, S extends InputSchema, O>(
  operation: ToolOperation<N, S, O>,
  deps: DepsFor<N>,
  token: string | undefined,
  gather: () => Record<string, unknown>,
  rename: Readonly<Record<string, string>> = {},
): Promise<O> => {
  // N extends ToolNeeds, so `accounts` is there; TypeScript cannot resolve DepsFor<N> for a generic N.
  const principal = await authenticate(deps as unknown as Pick<ServiceDeps, 'accounts'>, token, operation.abilities);
  const input = parseWith(operation.input, gather(), rename) as v.InferOutput<S>;
  return operation.run(deps, principal, input);
};

/**
 * The HTTP handler of a tool operation. Checks run in the documented order: who you are, what you
 * may do, what you sent (every field at once, in the caller's names: headers by header name);
 * what exists is the use case's business.
 */
export const toolHandler = <N extends ToolNeeds, S extends InputSchema, O>(operation: ToolOperation<N, S, O>, deps: DepsFor<N>): HttpHandler => {
  const rename = operation.http.headers as Readonly<Record<string, string>>;
  return withHttpMiddleware(async (event) => {
    const data = await runTool(operation, deps, bearerToken(event), () => httpInput(operation as unknown as ToolOperation<ToolNeeds, S>, event), rename);
    return jsonResponse(operation.http.successStatus, { data });
  });
};

/** The HTTP handler of any catalog entry: a tool through `toolHandler`, a special route through its own factory. */
export const catalogHandler = <N extends Needs>(entry: CatalogEntry, deps: DepsFor<N>): HttpHandler =>
  entry.kind === 'tool' ? toolHandler(entry, deps) : entry.makeHandler(deps);
