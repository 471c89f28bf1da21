import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type * as v from 'valibot';
import type { FieldIssue } from '../../domain/errors';
import type { MetricName } from '../../contracts/metrics';
import { countMetric } from '../../observability';
import { Counted, type DepsFor, type InputSchema, type OutputSchema, type ServiceDeps, type ToolNeeds, type ToolOperation } from '../../operations/operation';
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

/** An operation's input as a caller sent it, before validation, and what was wrong with where it came. */
export interface GatheredInput {
  readonly fields: Record<string, unknown>;
  /** Fields sent where they do not travel (a path field in the body), reported with the schema's own findings. */
  readonly misplaced?: readonly FieldIssue[];
}

/** Where each bound field travels over HTTP, for the message naming a misplaced one. */
const placeOf = (http: ToolOperation<ToolNeeds, InputSchema>['http'], field: string): string =>
  http.pathParams.includes(field) ? 'in the path' : http.queryParams.includes(field) ? 'in the query string' : `as the ${String((http.headers as Record<string, string>)[field])} header`;

/**
 * The operation's input, gathered from where its HTTP binding says each field travels: the path,
 * the query string, headers, and the JSON body for the rest. Every key of the body is kept, so
 * that the strict schema refuses one it does not know (a typo is never dropped silently); a bound
 * field sent in the body is refused as misplaced, never taken from there. A body is read when the
 * operation has body fields, or when a body comes with a method that writes (an unknown field of
 * a body-less write is refused too).
 */
export const httpInput = <S extends InputSchema>(operation: ToolOperation<ToolNeeds, S>, event: APIGatewayProxyEventV2): GatheredInput => {
  const { http, input } = operation;
  const bound = new Set<string>([...http.pathParams, ...http.queryParams, ...Object.keys(http.headers)]);
  const bodyFields = Object.keys(input.entries).filter((field) => !bound.has(field));
  const fields: Record<string, unknown> = {};
  const misplaced: FieldIssue[] = [];
  const hasBody = event.body !== undefined && event.body !== '';
  if (bodyFields.length > 0 || (hasBody && http.method !== 'GET')) {
    if (hasBody) requireJsonContentType(event);
    // A body whose every field is optional may be left out altogether (POST …/expire, …/rotate-secret).
    const optionalOnly = bodyFields.every((field) => (input.entries[field] as { type?: string }).type === 'optional');
    const body = !hasBody && optionalOnly ? {} : decodeJsonObject(event.body, event.isBase64Encoded);
    for (const key of Object.keys(body)) {
      if (bound.has(key)) misplaced.push({ path: key, message: `${key} is sent ${placeOf(http, key)}, not in the body.` });
      // defineProperty, so that a `__proto__` key stays a plain field for the schema to refuse.
      else Object.defineProperty(fields, key, { value: body[key], enumerable: true, writable: true, configurable: true });
    }
  }
  for (const field of http.pathParams) {
    const value = event.pathParameters?.[field];
    if (value !== undefined) fields[field] = value;
  }
  for (const field of http.queryParams) {
    const value = event.queryStringParameters?.[field];
    if (value !== undefined) fields[field] = coerceQueryValue(input.entries[field], value);
  }
  for (const [field, header] of Object.entries(http.headers) as Array<[string, string]>) {
    const value = event.headers?.[header];
    if (value !== undefined) fields[field] = value;
  }
  return misplaced.length ? { fields, misplaced } : { fields };
};

/**
 * One call of a tool, whatever carried it (HTTP or MCP), so that the two cannot diverge:
 * 1. who you are and what you may do (AUTHENTICATION_REQUIRED, TOKEN_MISSING_ABILITY);
 * 2. the input, gathered only now (reading a body may itself be refused), validated every field
 *    at once, unknown fields included (VALIDATION_FAILED, fields renamed to the caller's names by
 *    `rename`);
 * 3. the operation's use case. Nothing is written before step 3. What the call did that
 *    operators count (`Counted`) is emitted here, so a tool counts the same over HTTP and MCP.
 */
export const runTool = async <N extends ToolNeeds, S extends InputSchema, O extends OutputSchema>(
  operation: ToolOperation<N, S, O>,
  deps: DepsFor<N>,
  token: string | undefined,
  gather: () => GatheredInput,
  rename: Readonly<Record<string, string>> = {},
): Promise<v.InferOutput<O>> => {
  // N extends ToolNeeds, so `accounts` is there; TypeScript cannot resolve DepsFor<N> for a generic N.
  const principal = await authenticate(deps as unknown as Pick<ServiceDeps, 'accounts'>, token, operation.abilities);
  const { fields, misplaced } = gather();
  const input = parseWith(operation.input, fields, rename, misplaced) as v.InferOutput<S>;
  const ran = await operation.run(deps, principal, input);
  if (!(ran instanceof Counted)) return ran;
  for (const [name, value] of Object.entries(ran.counts) as Array<[MetricName, number]>) countMetric(name, value);
  return ran.data;
};

/**
 * The HTTP handler of a tool operation. Checks run in the documented order: who you are, what you
 * may do, what you sent (every field at once, in the caller's names: headers by header name);
 * what exists is the use case's business.
 */
export const toolHandler = <N extends ToolNeeds, S extends InputSchema, O extends OutputSchema>(operation: ToolOperation<N, S, O>, deps: DepsFor<N>): HttpHandler => {
  const rename = operation.http.headers as Readonly<Record<string, string>>;
  return withHttpMiddleware(async (event) => {
    const data = await runTool(operation, deps, bearerToken(event), () => httpInput(operation as unknown as ToolOperation<ToolNeeds, S>, event), rename);
    return jsonResponse(operation.http.successStatus, { data });
  });
};
