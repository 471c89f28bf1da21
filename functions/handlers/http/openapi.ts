import { toJsonSchema } from '@valibot/to-json-schema';
import type { CatalogEntry, ToolOperation } from '../../operations/operation';
import { jsonResponse, withHttpMiddleware, type HttpHandler } from './http-api';

/** Where the OpenAPI document is served. */
export const OPENAPI_PATH = '/v1/openapi.json';

type JsonObject = Record<string, unknown>;

/** What each error status means in this API, and the codes it carries. */
const ERRORS: Record<number, { description: string; codes: string[] }> = {
  400: { description: 'The request is malformed HTTP: a path parameter that is not validly percent-encoded.', codes: ['BAD_REQUEST'] },
  401: { description: 'No bearer token, or one the service does not know.', codes: ['AUTHENTICATION_REQUIRED'] },
  403: { description: 'The token lacks the ability this operation needs.', codes: ['TOKEN_MISSING_ABILITY'] },
  404: { description: 'The resource does not exist, or not for the caller’s team.', codes: ['RESOURCE_NOT_FOUND'] },
  409: { description: 'A conflict with the resource’s state or an earlier request.', codes: ['IDEMPOTENCY_KEY_REUSED', 'CODE_ALREADY_REDEEMED'] },
  410: { description: 'The access code has expired.', codes: ['CODE_EXPIRED'] },
  415: { description: 'The body is not declared as JSON.', codes: ['UNSUPPORTED_MEDIA_TYPE'] },
  422: { description: 'The input is not valid; `details` names every bad field.', codes: ['VALIDATION_FAILED'] },
  500: { description: 'Something went wrong on the service’s side.', codes: ['INTERNAL_ERROR'] },
};

/**
 * Statuses an operation can answer beyond those every tool shares (401, 403, 404, 422, 500, 415
 * with a body, and 400 with path parameters), by tool name: what its use case refuses with.
 */
const EXTRA_STATUSES: Readonly<Record<string, readonly number[]>> = {
  bulk_generate_access_codes: [409],
  redeem_access_code: [409, 410],
};

const errorRef = (status: number) => ({ $ref: `#/components/responses/Error${status}` });

/** `{data: …}`: the success envelope (the data's own shape is described in the operation's text). */
const dataEnvelope = (description: string) => ({
  description,
  content: { 'application/json': { schema: { type: 'object', required: ['data'], properties: { data: {} } } } },
});

/** The JSON Schema of a valibot schema, without `$schema` (OpenAPI 3.1 sets the dialect). */
const jsonSchemaOf = (operation: ToolOperation<any, any, any>): { properties: Record<string, JsonObject>; required: string[] } => {
  const schema = toJsonSchema(operation.input, { errorMode: 'ignore' }) as { properties?: Record<string, JsonObject>; required?: string[] };
  return { properties: schema.properties ?? {}, required: schema.required ?? [] };
};

const toolOperation = (operation: ToolOperation<any, any, any>): JsonObject => {
  const { http } = operation;
  const { properties, required } = jsonSchemaOf(operation);
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
  // 400: the router refuses a path parameter that is not validly percent-encoded before any handler runs.
  const statuses = [...(http.pathParams.length ? [400] : []), 401, 403, 404, ...(bodyFields.length ? [415] : []), 422, ...(EXTRA_STATUSES[operation.name] ?? []), 500].sort();
  const abilities = operation.abilities.join(', ');
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
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: Object.fromEntries(bodyFields.map((field) => [field, properties[field]])),
                  required: bodyFields.filter((field) => required.includes(field)),
                },
              },
            },
          },
        }
      : {}),
    responses: {
      [String(http.successStatus)]: dataEnvelope('Success: the result under `data`.'),
      ...Object.fromEntries(statuses.map((status) => [String(status), errorRef(status)])),
    },
  };
};

/** Special routes: what they answer, by name (anything else answers JSON 200 or the error envelope). */
const specialOperation = (entry: Extract<CatalogEntry, { kind: 'route' }>): JsonObject => {
  const base = { operationId: entry.name, summary: entry.name, description: entry.description };
  if (entry.auth === 'bearer') {
    return {
      ...base,
      security: [{ bearerAuth: [] }],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', description: 'A JSON-RPC 2.0 message.' } } } },
      responses: {
        '200': { description: 'The JSON-RPC response.', content: { 'application/json': { schema: { type: 'object' } } } },
        '202': { description: 'A notification or response was accepted.' },
        '401': errorRef(401),
        '500': errorRef(500),
      },
    };
  }
  if (entry.auth === 'telegram-secret') {
    return {
      ...base,
      security: [{ telegramSecret: [] }],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', description: 'A Telegram Update.' } } } },
      // 422: a body that is not a JSON object is refused before any update is read.
      responses: { '200': { description: 'The update was handled.' }, '401': errorRef(401), '422': errorRef(422), '500': errorRef(500) },
    };
  }
  return {
    ...base,
    security: [],
    responses: {
      '200': { description: 'Success.', content: { 'application/json': { schema: { type: 'object' } } } },
      '405': { description: 'Not offered on this method.', content: { 'application/json': { schema: { type: 'object' } } } },
      '500': errorRef(500),
    },
  };
};

/**
 * The OpenAPI 3.1 document of every route of `catalog`: parameters and request bodies from the
 * same valibot schemas the handlers validate with, the success and error envelopes, the error
 * statuses each route can answer, the bearer scheme and the abilities each operation needs.
 */
export const openApiDocument = (catalog: readonly CatalogEntry[]): JsonObject => {
  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const entry of catalog) {
    const operation = entry.kind === 'tool' ? toolOperation(entry) : specialOperation(entry);
    (paths[entry.http.path] ??= {})[entry.http.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'MemberPass access codes API',
      version: '1.0.0',
      description:
        'Bulk generation, listing and redemption of access codes. Authenticate with `Authorization: Bearer <token>`; tokens are issued by the operator with the admin CLI (`npm run admin`), each with abilities. The same tools are served over MCP at `/mcp`.',
    },
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API token issued with the admin CLI; each operation needs one of its listed abilities.' },
        telegramSecret: { type: 'apiKey', in: 'header', name: 'X-Telegram-Bot-Api-Secret-Token', description: 'Telegram’s webhook secret token.' },
      },
      schemas: {
        ErrorEnvelope: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message', 'details'],
              properties: {
                code: { type: 'string', description: 'A documented machine code.' },
                message: { type: 'string' },
                details: {
                  type: 'array',
                  items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string' }, message: { type: 'string' } } },
                },
              },
            },
          },
        },
      },
      responses: Object.fromEntries(
        Object.entries(ERRORS).map(([status, { description, codes }]) => [
          `Error${status}`,
          {
            description: `${description} Codes: ${codes.join(', ')}.`,
            content: {
              'application/json': {
                schema: {
                  allOf: [
                    { $ref: '#/components/schemas/ErrorEnvelope' },
                    { type: 'object', properties: { error: { type: 'object', properties: { code: { enum: codes } } } } },
                  ],
                },
              },
            },
          },
        ]),
      ),
    },
  };
};

/** `GET /v1/openapi.json`: the document, generated once (at cold start) from `catalog`. */
export const makeOpenApiHandler = (catalog: readonly CatalogEntry[]): HttpHandler => {
  const document = openApiDocument(catalog);
  return withHttpMiddleware(async () => jsonResponse(200, document, { 'cache-control': 'public, max-age=300' }));
};
