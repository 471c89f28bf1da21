import * as v from 'valibot';
import { jsonSchemaOf } from './json-schema';
import { defineRoute, type CatalogEntry, type RouteResponse, type SpecialRoute, type ToolOperation } from './operation';
import { ErrorEnvelope } from './outputs';
import { OPENAPI_PATH } from './paths';

type JsonObject = Record<string, unknown>;

/** What each error status means in this API, and the codes it carries. */
const ERRORS: Record<number, { description: string; codes: string[] }> = {
  400: { description: 'The request is malformed HTTP: a path parameter that is not validly percent-encoded.', codes: ['BAD_REQUEST'] },
  401: {
    description:
      'No bearer token, or one the service does not know. Send the token the operator issued you (admin CLI) as `Authorization: Bearer <token>`; there is no OAuth flow.',
    codes: ['AUTHENTICATION_REQUIRED'],
  },
  403: { description: 'The token lacks the ability this operation needs.', codes: ['TOKEN_MISSING_ABILITY'] },
  404: { description: 'The resource does not exist, or not for the caller’s team.', codes: ['RESOURCE_NOT_FOUND'] },
  409: { description: 'A conflict with the resource’s state or an earlier request.', codes: ['IDEMPOTENCY_KEY_REUSED', 'CODE_ALREADY_REDEEMED'] },
  410: { description: 'The access code has expired.', codes: ['CODE_EXPIRED'] },
  415: { description: 'The body is not declared as JSON.', codes: ['UNSUPPORTED_MEDIA_TYPE'] },
  422: {
    description: 'The input is not valid; `details` names every bad field, unknown fields included (a field this operation does not take is refused, never ignored).',
    codes: ['VALIDATION_FAILED'],
  },
  500: { description: 'Something went wrong on the service’s side.', codes: ['INTERNAL_ERROR'] },
  503: { description: 'The service cannot reach its data store right now; retry later.', codes: ['SERVICE_UNAVAILABLE'] },
};

/**
 * Statuses an operation can answer beyond those every tool shares (401, 403, 404, 422, 429, 500;
 * 413 and 415 when it takes a body; 400 with path parameters), by tool name: what its use case
 * refuses with.
 */
const EXTRA_STATUSES: Readonly<Record<string, readonly number[]>> = {
  bulk_generate_access_codes: [409],
  redeem_access_code: [409, 410],
};

const errorRef = (status: number) => ({ $ref: `#/components/responses/Error${status}` });

/** The front door's answers, which come before any function (API Gateway's throttle and body limit; the local server's body limit). */
const FRONT_DOOR = {
  429: { $ref: '#/components/responses/TooManyRequests' },
  413: { $ref: '#/components/responses/PayloadTooLarge' },
};

/** A JSON body of `schema`. */
const jsonContent = (schema: JsonObject) => ({ 'application/json': { schema } });

/** `{data: …}`: the success envelope around an operation's output. */
const dataEnvelope = (operation: ToolOperation<any, any, any>) => ({
  description: 'Success: the result under `data`.',
  content: jsonContent({ type: 'object', required: ['data'], properties: { data: jsonSchemaOf(operation.output) } }),
});

/** The input's JSON Schema, split by field. */
const inputFields = (operation: ToolOperation<any, any, any>): { properties: Record<string, JsonObject>; required: string[] } => {
  const schema = jsonSchemaOf(operation.input) as { properties?: Record<string, JsonObject>; required?: string[] };
  return { properties: schema.properties ?? {}, required: schema.required ?? [] };
};

const toolOperation = (operation: ToolOperation<any, any, any>): JsonObject => {
  const { http } = operation;
  const { properties, required } = inputFields(operation);
  const headers = http.headers as Readonly<Record<string, string>>;
  const bound = new Set<string>([...http.pathParams, ...http.queryParams, ...Object.keys(headers)]);
  const parameter = (field: string, location: 'path' | 'query' | 'header', name = field) => {
    const { description, ...schema } = properties[field] ?? {};
    return {
      name,
      in: location,
      required: location === 'path' || required.includes(field),
      ...(typeof description === 'string' ? { description } : {}),
      schema,
    };
  };
  const parameters = [
    ...http.pathParams.map((field: string) => parameter(field, 'path')),
    ...http.queryParams.map((field: string) => parameter(field, 'query')),
    ...Object.entries(headers).map(([field, header]) => parameter(field, 'header', header)),
  ];
  const bodyFields = Object.keys(properties).filter((field) => !bound.has(field));
  // A write reads any body it is sent (to refuse unknown fields), so it may answer 415 even without body fields.
  const takesBody = http.method !== 'GET';
  // 400: the router refuses a path parameter that is not validly percent-encoded before any handler runs.
  const statuses = [
    ...(http.pathParams.length ? [400] : []),
    401,
    403,
    404,
    ...(takesBody ? [415] : []),
    422,
    ...(EXTRA_STATUSES[operation.name] ?? []),
    500,
  ].sort();
  const abilities = operation.abilities.join(', ');
  const bodyRequired = bodyFields.filter((field) => required.includes(field));
  return {
    operationId: operation.name,
    summary: operation.name,
    description: `${operation.description}\n\nRequired abilities (any one of): ${abilities}.`,
    'x-required-abilities': [...operation.abilities],
    security: [{ bearerAuth: [] }],
    ...(parameters.length ? { parameters } : {}),
    ...(bodyFields.length
      ? {
          requestBody: {
            // A body of optional fields only may be left out (POST …/expire).
            required: bodyRequired.length > 0,
            content: jsonContent({
              type: 'object',
              properties: Object.fromEntries(bodyFields.map((field) => [field, properties[field]])),
              required: bodyRequired,
              additionalProperties: false,
            }),
          },
        }
      : {}),
    responses: {
      [String(http.successStatus)]: dataEnvelope(operation),
      ...Object.fromEntries(statuses.map((status) => [String(status), errorRef(status)])),
      ...(takesBody ? { 413: FRONT_DOOR[413] } : {}),
      429: FRONT_DOOR[429],
    },
  };
};

/** A special route's own responses, as its catalog entry declares them. */
const specialOperation = (entry: Extract<CatalogEntry, { kind: 'route' }>): JsonObject => {
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(entry.responses as Record<string, RouteResponse>)) {
    if (response === 'error') {
      responses[status] = errorRef(Number(status));
      continue;
    }
    responses[status] = {
      description: response.description,
      ...(response.headers
        ? { headers: Object.fromEntries(Object.entries(response.headers).map(([name, value]) => [name, { schema: { type: 'string', const: value } }])) }
        : {}),
      ...(response.body ? { content: jsonContent(jsonSchemaOf(response.body)) } : {}),
    };
  }
  responses['429'] = FRONT_DOOR[429];
  return {
    operationId: entry.name,
    summary: entry.name,
    description: entry.description,
    security: entry.auth === 'bearer' ? [{ bearerAuth: [] }] : entry.auth === 'telegram-secret' ? [{ telegramSecret: [] }] : [],
    ...(entry.requestBody
      ? { requestBody: { required: true, description: entry.requestBody.description, content: jsonContent(jsonSchemaOf(entry.requestBody.body)) } }
      : {}),
    responses,
  };
};

/** What each group of operations (the path's first segment after `/v1`) is about. */
const TAG_DESCRIPTIONS: Record<string, string> = {
  'access-codes': 'Preview, generate and redeem access codes.',
  batches: 'A generated batch of codes.',
  jobs: 'Generation jobs.',
  plans: 'A plan’s access codes.',
  subscriptions: 'Subscriptions that redemptions created.',
  telegram: 'Linking the creator’s Telegram chat.',
  'webhook-endpoints': 'Signed webhooks for a project’s events.',
  mcp: 'The same tools over the Model Context Protocol.',
  meta: 'Health, this document and the protected-resource metadata.',
};

/** The tag of an operation: the first path segment after `/v1`, `mcp`, or `meta` for the rest. */
const tagOf = (path: string): string => {
  const segments = path.split('/').filter(Boolean);
  if (segments[0] === 'v1' && segments[1] && segments[1] !== 'openapi.json') return segments[1];
  if (segments[0] === 'mcp') return 'mcp';
  if (segments[0] === 'telegram') return 'telegram';
  return 'meta';
};

/**
 * The OpenAPI 3.1 document of every route of `catalog`: parameters and request bodies from the
 * same valibot schemas the handlers validate with, the success and error envelopes, the error
 * statuses each route can answer, the bearer scheme and the abilities each operation needs.
 */
export const openApiDocument = (catalog: readonly CatalogEntry[], baseUrl = '/'): JsonObject => {
  const paths: Record<string, Record<string, JsonObject>> = {};
  const tags = new Set<string>();
  for (const entry of catalog) {
    const tag = tagOf(entry.http.path);
    tags.add(tag);
    const operation = { ...(entry.kind === 'tool' ? toolOperation(entry) : specialOperation(entry)), tags: [tag] };
    (paths[entry.http.path] ??= {})[entry.http.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'MemberPass access codes API',
      version: '1.0.0',
      description:
        'Bulk generation, listing and redemption of access codes. Authenticate with `Authorization: Bearer <token>`; tokens are issued by the operator with the admin CLI (`npm run admin`), each with abilities. There is no OAuth authorization server: a client that gets a 401 must be given a token. The same tools are served over MCP at `/mcp`.',
    },
    servers: [{ url: baseUrl, description: 'This API, where this document was served from.' }],
    tags: [...tags].sort().map((name) => ({ name, description: TAG_DESCRIPTIONS[name] ?? name })),
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API token issued with the admin CLI; each operation needs one of its listed abilities.' },
        telegramSecret: { type: 'apiKey', in: 'header', name: 'X-Telegram-Bot-Api-Secret-Token', description: 'Telegram’s webhook secret token.' },
      },
      schemas: { ErrorEnvelope: jsonSchemaOf(ErrorEnvelope) },
      responses: {
        ...Object.fromEntries(
          Object.entries(ERRORS).map(([status, { description, codes }]) => [
            `Error${status}`,
            {
              description: `${description} Codes: ${codes.join(', ')}.`,
              ...(status === '401'
                ? {
                    headers: {
                      'WWW-Authenticate': {
                        description:
                          'The challenge (RFC 6750): `Bearer realm="memberpass"`, `error="invalid_token"` when a token was sent, and `resource_metadata` (RFC 9728).',
                        schema: { type: 'string' },
                      },
                    },
                  }
                : {}),
              content: jsonContent({
                allOf: [
                  { $ref: '#/components/schemas/ErrorEnvelope' },
                  { type: 'object', properties: { error: { type: 'object', properties: { code: { enum: codes } } } } },
                ],
              }),
            },
          ]),
        ),
        TooManyRequests: {
          description: 'The front door’s throttle for this route (API Gateway); retry later. Not in the error envelope: it comes before any function runs.',
          content: jsonContent({ type: 'object', required: ['message'], properties: { message: { type: 'string' } } }),
        },
        PayloadTooLarge: {
          description: 'The body is over the front door’s 10 MB (bodies over 64 KiB that get through are refused with 422).',
          content: jsonContent({
            anyOf: [{ $ref: '#/components/schemas/ErrorEnvelope' }, { type: 'object', required: ['message'], properties: { message: { type: 'string' } } }],
          }),
        },
      },
    },
  };
};

/**
 * `GET /v1/openapi.json`: the OpenAPI 3.1 document of every route, generated at cold start from
 * `catalog` (a thunk: the catalog includes this route).
 */
export const openApiRoute = (catalog: () => readonly CatalogEntry[]): SpecialRoute<{}> =>
  defineRoute({
    kind: 'route',
    name: 'openapi_document',
    description: 'The OpenAPI 3.1 document of this API, generated from the operation catalog.',
    auth: 'public',
    http: { method: 'GET', path: OPENAPI_PATH },
    responses: { 200: { description: 'The OpenAPI 3.1 document.', body: v.record(v.string(), v.unknown()) }, 500: 'error' },
    needs: {},
    handler: { kind: 'openapi', catalog },
  });
