import fc from 'fast-check';
import { CATALOG, TOOLS, type CatalogEntry, type ToolOperation } from '../../functions/operations';
import { API_ROUTES } from '../../lib/api-routes';
import { TEST_WEBHOOK_SECRET } from '../support/api';
import { documentedErrors, envelopeProblem, responseChecker, snapshotDiff, startFuzzApi, tableSnapshot, TOKEN_NAMES, type FuzzApi } from '../support/fuzz-harness';
import {
  authChoice,
  bodyChoice,
  contentTypeChoice,
  extraQuery,
  headerValue,
  known,
  nastyString,
  operationInput,
  pathMode,
  resolvePlaceholders,
  wrongValue,
  type AuthChoice,
  type BodyChoice,
  type PathMode,
} from '../support/fuzz-inputs';

// Property-based fuzzing of every HTTP route of the catalog, over real HTTP against the local
// server (the same router and handlers as `npm start`) on DynamoDB Local. For any request:
// never a 5xx; every answer, success or refusal, is on a status the OpenAPI document lists for
// that route, with a body that fits the schema the document gives it there (ajv, JSON Schema
// 2020-12 with formats); every refusal is exactly the documented envelope with a code the
// document lists for that status; and a refusal writes nothing (the whole table, read
// consistently, is the same before and after).

/** Runs per route: bounded so that both fuzz suites stay well under a minute in `npm test`. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
/** More runs for operations with more fields: the chance that a run gets every field right shrinks with each. */
const runsFor = (fields: number) => RUNS + 3 * fields;
/** FUZZ_SEED=<the seed a failure printed> replays that run. */
const SEED = process.env.FUZZ_SEED === undefined ? {} : { seed: Number(process.env.FUZZ_SEED) };

/** One generated request, as fast-check prints it when it fails (placeholders, never secrets). */
interface HttpCase {
  route: string;
  auth: AuthChoice;
  /** The operation's fields (path, query, header and body); the special routes use `body` alone. */
  input: Record<string, unknown>;
  pathMode: PathMode;
  query: Array<[string, string]>;
  contentType: string | undefined;
  body: BodyChoice;
  headers: Array<[string, string]>;
}

const routeName = (entry: CatalogEntry) => `${entry.name}: ${entry.http.method} ${entry.http.path}`;

let fuzz: FuzzApi;
let lastSnapshot: string;
const documented = documentedErrors();
const checker = responseChecker();
/** Route → `status code` → how many answers (printed with FUZZ_STATS=1, to see how deep the fuzz reaches). */
const seen = new Map<string, Map<string, number>>();

beforeAll(async () => {
  fuzz = await startFuzzApi();
  fuzz.values['telegram.secret'] = TEST_WEBHOOK_SECRET;
  lastSnapshot = await tableSnapshot(fuzz.table);
});
afterAll(async () => {
  if (process.env.FUZZ_STATS) {
    const lines = [...seen].map(([route, counts]) => `${route}\n    ${[...counts].map(([key, n]) => `${key}: ${n}`).join(', ')}`);
    console.log(`answers per route:\n${lines.join('\n')}`);
  }
  await fuzz?.stop();
});

/** A value as text for a path, query or header: strings as they are, anything else as JSON. */
const asText = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value) ?? String(value));

/** Header values must be visible ASCII for fetch (HTTP forbids the rest); anything else becomes `?`. */
const headerSafe = (value: string): string => value.replace(/[^\x20-\x7e]/g, '?');

/** `value` with lone surrogates replaced (String.prototype.toWellFormed, which this TypeScript lib lacks). */
const wellFormed = (value: string): string => value.replace(/[\ud800-\udfff]/gu, '\ufffd');

const encodeSegment = (value: string, mode: PathMode): string => {
  if (mode === 'raw') return value.replace(/[/?#]/g, (c) => encodeURIComponent(c));
  return encodeURIComponent(wellFormed(value));
};

/** The entry's special inputs: what a JSON-RPC client or Telegram would send, and headers they use. */
const specialCase = (entry: Extract<CatalogEntry, { kind: 'route' }>): fc.Arbitrary<Pick<HttpCase, 'input' | 'headers' | 'auth'>> => {
  if (entry.auth === 'bearer') {
    const toolName = fc.oneof(fc.constantFrom(...TOOLS.map((tool) => tool.name)), nastyString);
    const message = fc.record(
      {
        jsonrpc: fc.oneof({ arbitrary: fc.constant('2.0'), weight: 5 }, { arbitrary: wrongValue, weight: 1 }),
        id: fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.constant(null), wrongValue),
        method: fc.oneof(fc.constantFrom('initialize', 'tools/list', 'tools/call', 'ping', 'notifications/initialized', 'resources/list'), nastyString),
        params: fc.oneof(
          fc.record({ name: toolName, arguments: fc.oneof(fc.dictionary(fc.string({ maxLength: 12 }), wrongValue, { maxKeys: 4 }), wrongValue) }, { requiredKeys: [] }),
          fc.record({ protocolVersion: fc.oneof(fc.constant('2025-06-18'), nastyString), capabilities: fc.jsonValue({ maxDepth: 1 }), clientInfo: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
          wrongValue,
        ),
      },
      { requiredKeys: [] },
    );
    const accept = fc.constantFrom<Array<[string, string]>>([['accept', 'application/json, text/event-stream']], [['accept', 'application/json']], [], [['accept', 'text/html']]);
    const protocol = fc.constantFrom<Array<[string, string]>>([], [['mcp-protocol-version', '2025-06-18']], [['mcp-protocol-version', '1999-01-01']], [['mcp-session-id', 'nope']]);
    return fc.record({
      input: fc.oneof({ arbitrary: message, weight: 4 }, { arbitrary: fc.array(message, { maxLength: 3 }), weight: 1 }) as fc.Arbitrary<Record<string, unknown>>,
      headers: fc.tuple(accept, protocol).map(([a, b]) => [...a, ...b]),
      auth: authChoice(TOKEN_NAMES),
    });
  }
  if (entry.auth === 'telegram-secret') {
    const update = fc.record(
      {
        update_id: fc.oneof(fc.nat(), wrongValue),
        message: fc.oneof(
          fc.record(
            {
              message_id: fc.oneof(fc.nat(), wrongValue),
              chat: fc.oneof(fc.record({ id: fc.oneof(fc.integer(), wrongValue), type: fc.constantFrom('private', 'group', 'channel') }, { requiredKeys: [] }), wrongValue),
              from: fc.oneof(fc.record({ id: fc.oneof(fc.integer(), wrongValue), is_bot: fc.boolean() }, { requiredKeys: [] }), wrongValue),
              text: fc.oneof(fc.constant('/start'), nastyString.map((s) => `/start ${s}`), nastyString, wrongValue),
            },
            { requiredKeys: [] },
          ),
          wrongValue,
        ),
      },
      { requiredKeys: [] },
    );
    const secret = fc.oneof(
      { arbitrary: fc.constant<Array<[string, string]>>([['x-telegram-bot-api-secret-token', known('telegram.secret')]]), weight: 4 },
      { arbitrary: fc.constant<Array<[string, string]>>([]), weight: 1 },
      { arbitrary: headerValue.map((value): Array<[string, string]> => [['x-telegram-bot-api-secret-token', value]]), weight: 1 },
      {
        arbitrary: fc.constant<Array<[string, string]>>([
          ['x-telegram-bot-api-secret-token', known('telegram.secret')],
          ['x-telegram-bot-api-secret-token', known('telegram.secret')],
        ]),
        weight: 1,
      },
    );
    return fc.record({ input: update as fc.Arbitrary<Record<string, unknown>>, headers: secret, auth: fc.constant<AuthChoice>({ kind: 'none' }) });
  }
  return fc.record({
    input: fc.dictionary(fc.string({ maxLength: 8 }), wrongValue, { maxKeys: 3 }),
    headers: fc.array(fc.tuple(fc.constantFrom('accept', 'x-forwarded-proto', 'host', 'if-none-match'), headerValue), { maxLength: 2 }),
    auth: authChoice(TOKEN_NAMES),
  });
};

/** Requests aimed at one catalog entry. */
const casesFor = (entry: CatalogEntry): fc.Arbitrary<HttpCase> => {
  const route = routeName(entry);
  const common = { pathMode, query: extraQuery, contentType: contentTypeChoice, body: bodyChoice };
  if (entry.kind === 'tool') {
    const idempotency = fc.oneof(
      { arbitrary: fc.constant<Array<[string, string]>>([]), weight: 4 },
      { arbitrary: fc.tuple(headerValue, headerValue).map(([a, b]): Array<[string, string]> => [['idempotency-key', a], ['idempotency-key', b]]), weight: 1 },
    );
    return fc.record({
      route: fc.constant(route),
      auth: authChoice(TOKEN_NAMES),
      input: operationInput(entry, fuzz.hints),
      headers: Object.keys(entry.http.headers).length ? idempotency : fc.constant([]),
      ...common,
    });
  }
  return fc.tuple(specialCase(entry), fc.record(common)).map(([special, rest]) => ({ route, ...special, ...rest }));
};

/** The request a case stands for, with its placeholders resolved. */
const toRequest = (entry: CatalogEntry, testCase: HttpCase): { path: string; init: RequestInit } => {
  const c = resolvePlaceholders(testCase, fuzz.values) as HttpCase;
  const headers = new Headers();
  const tokenOf = (name: string) => fuzz.values[`token.${name}`]!;
  if (c.auth.kind === 'token') headers.set('authorization', `Bearer ${tokenOf(c.auth.token)}`);
  if (c.auth.kind === 'raw') headers.set('authorization', headerSafe(c.auth.value));
  if (c.auth.kind === 'duplicated') for (const name of c.auth.tokens) headers.append('authorization', `Bearer ${tokenOf(name)}`);
  for (const [name, value] of c.headers) headers.append(name, headerSafe(value));

  let path = entry.http.path;
  const query = new URLSearchParams();
  let bodyFields: Record<string, unknown> = c.input;
  if (entry.kind === 'tool') {
    const operation = entry as ToolOperation<any, any, any>;
    const { pathParams, queryParams } = operation.http;
    const headerFields = operation.http.headers as Record<string, string>;
    const bodyEntries: Array<[string, unknown]> = [];
    for (const [field, value] of Object.entries(c.input)) {
      if (pathParams.includes(field)) continue;
      if (queryParams.includes(field)) {
        // An array travels as the same parameter repeated.
        for (const item of Array.isArray(value) ? value : [value]) query.append(field, asText(item));
      } else if (Object.hasOwn(headerFields, field)) {
        for (const item of Array.isArray(value) ? value : [value]) headers.append(headerFields[field]!, headerSafe(asText(item)));
      } else bodyEntries.push([field, value]);
    }
    // fromEntries, so that a `__proto__` field stays a field of the body.
    bodyFields = Object.fromEntries(bodyEntries);
    for (const field of pathParams) {
      const value = c.input[field];
      path = path.replace(`{${field}}`, value === undefined ? '' : encodeSegment(asText(value), c.pathMode));
    }
  }
  for (const [name, value] of c.query) query.append(name, wellFormed(value));
  const search = query.toString();

  const init: RequestInit = { method: entry.http.method, headers };
  if (c.contentType !== undefined) headers.set('content-type', c.contentType);
  if (entry.http.method !== 'GET') {
    const text =
      c.body.kind === 'fields' ? JSON.stringify(bodyFields) : c.body.kind === 'json' ? JSON.stringify(c.body.value) : c.body.kind === 'raw' ? c.body.text : undefined;
    // Bytes, so that fetch adds no Content-Type of its own.
    if (text !== undefined) init.body = Buffer.from(text, 'utf8');
  }
  return { path: `${path}${search ? `?${search}` : ''}`, init };
};

/** Whether `pathname` is one the entry's route matches (URL normalisation of `.` and `..` may send a request elsewhere). */
const matchesRoute = (entry: CatalogEntry, pathname: string): boolean => {
  const pattern = new RegExp(`^${entry.http.path.replace(/\{\w+\}/g, '[^/]+')}$`);
  return pattern.test(pathname);
};

const isJsonRpcError = (body: any): boolean =>
  body !== null && typeof body === 'object' && body.jsonrpc === '2.0' && typeof body.error?.code === 'number' && typeof body.error?.message === 'string';

/** Checks one answer against the properties; throws with the route, the status and the body when one fails. */
const checkAnswer = async (entry: CatalogEntry, testCase: HttpCase) => {
  const { path, init } = toRequest(entry, testCase);
  const url = new URL(fuzz.api.url + path);
  const response = await fetch(url, init);
  const text = await response.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const status = response.status;
  const counts = seen.get(entry.name) ?? new Map<string, number>();
  const key = `${status}${body?.error?.code ? ` ${body.error.code}` : ''}`;
  seen.set(entry.name, counts.set(key, (counts.get(key) ?? 0) + 1));
  const fail = (why: string) => {
    throw new Error(`${routeName(entry)} answered ${status}: ${why}\n  sent: ${init.method} ${url.pathname}${url.search.slice(0, 200)}\n  body: ${text.slice(0, 500)}`);
  };
  if (status >= 500) fail('a 5xx');
  const snapshot = await tableSnapshot(fuzz.table);
  const before = lastSnapshot;
  lastSnapshot = snapshot;
  const isMcp = entry.kind === 'route' && entry.auth === 'bearer';
  if (status < 400) {
    if (entry.kind === 'tool' && (body === undefined || !('data' in body))) fail('a success without {"data": …}');
    // JSON-RPC's "Internal error" is the MCP face of a 5xx.
    for (const message of Array.isArray(body) ? body : [body]) if (isMcp && message?.error?.code === -32603) fail('a JSON-RPC internal error (-32603)');
    const problem = checker.problem(entry, status, body);
    if (problem) fail(problem);
    return;
  }
  if (snapshot !== before) fail(`a refusal that wrote to the table (${snapshotDiff(before, snapshot)})`);

  if (!matchesRoute(entry, url.pathname)) {
    // Dot segments took the request to another path: the router's own refusal, in the envelope.
    if (status !== 404 && status !== 405) fail('a request normalised off its route, not answered 404 or 405');
    if (body?.error?.code === undefined) fail('not the error envelope');
    return;
  }
  // The MCP transport's own refusals (bad JSON-RPC, Accept, protocol version, a batch) are JSON-RPC errors, as the MCP spec has them.
  if (isMcp && status !== 401 && !isJsonRpcError(body)) fail('an MCP transport refusal that is not a JSON-RPC error');
  const response$ = documented.responsesOf(entry).get(status);
  if (!response$) fail(`status ${status} is not among the documented responses of this route (${[...documented.responsesOf(entry).keys()].join(', ')})`);
  const problem = checker.problem(entry, status, body) ?? (response$!.envelope ? envelopeProblem(body, status, documented) : undefined);
  if (problem) fail(problem);
  if (status === 401 && !response.headers.get('www-authenticate')) fail('a 401 without WWW-Authenticate');
};

describe('fuzzing every HTTP route of the catalog (fast-check, over real HTTP on DynamoDB Local)', () => {
  test('the fuzzed routes are the whole catalog, and the server serves exactly those', () => {
    expect(CATALOG.length).toBeGreaterThan(0);
    expect(TOOLS.length).toBeGreaterThan(0);
    expect([...fuzz.api.routeKeys].sort()).toEqual(CATALOG.map((entry) => `${entry.http.method} ${entry.http.path}`).sort());
    expect(API_ROUTES.map((route) => route.operation)).toEqual(CATALOG.map((entry) => entry.name));
  });

  test.each(CATALOG.map((entry) => [routeName(entry), entry] as const))(
    '%s: never a 5xx, every refusal the documented envelope with a documented code, and a refusal writes nothing',
    async (_name, entry) => {
      await fc.assert(
        fc.asyncProperty(casesFor(entry), (testCase) => checkAnswer(entry, testCase)),
        { numRuns: runsFor(entry.kind === 'tool' ? Object.keys(entry.input.entries).length : 0), ...SEED },
      );
    },
  );
});
