import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { DynamoCodeStore } from '../../functions/adapters/dynamodb/code-store';
import { DynamoWebhookStore } from '../../functions/adapters/dynamodb/webhook-store';
import { EVENT_API_VERSION } from '../../functions/contracts/events';
import { deliveryIdFor } from '../../functions/domain/webhooks';
import { DnsWebhookUrlGuard } from '../../functions/adapters/webhooks/url-guard';
import type { Ability } from '../../functions/domain/abilities';
import type { WebhookSender } from '../../functions/domain/ports';
import { openApiDocument } from '../../functions/operations/openapi';
import { CATALOG, type CatalogEntry } from '../../functions/operations';
import type { WebhookServices } from '../../functions/use-cases/webhook-endpoints';
import { startTestApi, type ApiAnswer, type TestApi } from './api';
import { createTestTable, type TestTable } from './dynamodb';
import { createTeamFixture } from './fixtures';
import { known } from './fuzz-inputs';
import { storedCodes } from './redemption';
import { RecordingScheduler } from './webhook-doubles';

/** Every ability, and each alone: the fuzz mostly acts with all of them, so that it reaches validation. */
const TOKENS: Record<string, Ability[]> = {
  all: ['project-access-code:create', 'project-access-code:view-any', 'project-access-code:redeem'],
  create: ['project-access-code:create'],
  view: ['project-access-code:view-any'],
  redeem: ['project-access-code:redeem'],
  none: [],
};

/** The names of the fuzz tokens (`token.<name>` placeholders). */
export const TOKEN_NAMES = Object.keys(TOKENS);

/** The one host the fuzz's DNS knows: a public address, so the SSRF guard lets it through; nothing connects to it. */
const WEBHOOK_HOST = 'hooks.example.com';

/** A sender that answers every webhook with 204 without any network (the fuzz tests the API, not delivery). */
const answeringSender: WebhookSender = {
  send: async () => ({ status: 204, durationMs: 1, responseSnippet: '', outcome: 'succeeded' }),
};

/** The API on a seeded table, and what the fuzz needs to drive it. */
export interface FuzzApi {
  api: TestApi;
  table: TestTable;
  /** Placeholder name → value: tokens, ids, codes (see `known`). */
  values: Record<string, string>;
  /** Placeholders of ids, codes and other strings worth trying in any string field. */
  knownStrings: string[];
  /** The strings worth trying in a field of this name: the seeded ids of its kind (`plan_id` → the plans), then anything known. */
  hints(field: string): readonly string[];
  stop(): Promise<void>;
}

/**
 * Starts the local HTTP server (the same router and handlers as the local stack) on a fresh
 * table with webhooks wired to the real store and SSRF guard (its DNS a stand-in that knows one
 * public host), and seeds what the fuzz should be able to hit: a team with tokens of every
 * ability, another team, stored active, redeemed and expired codes, a queued job, a webhook
 * endpoint, a subscription and a listing cursor. Queued work stays queued (nothing consumes it),
 * so nothing writes to the table behind the fuzz's back.
 */
export const startFuzzApi = async (): Promise<FuzzApi> => {
  const table = await createTestTable();
  const store = new DynamoWebhookStore(table.db, table.tableName, { deliveryRetentionDays: 36_500 });
  const webhooks: WebhookServices = {
    endpoints: store,
    deliveries: store,
    guard: new DnsWebhookUrlGuard({
      allowPrivate: false,
      resolve: async (hostname) => {
        if (hostname === WEBHOOK_HOST) return [{ address: '93.184.215.14', family: 4 }];
        throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      },
    }),
    sender: answeringSender,
    scheduler: new RecordingScheduler(),
  };
  const api = await startTestApi(table, undefined, { webhooks });
  const team = await createTeamFixture(table.accounts, TOKENS, { freeAllotment: 5, unitPriceMinor: 3, currency: 'USD' });
  const other = await createTeamFixture(table.accounts, { all: TOKENS.all! });
  const active = await storedCodes(table, team, { quantity: 3 });
  const [expired] = await storedCodes(table, team, { quantity: 1, expiresAt: new Date('2020-01-01T00:00:00Z') });
  const [otherCode] = await storedCodes(table, other, { quantity: 1 });
  // A generated batch of its own, for expire_batch (expiring it touches none of the codes above).
  const [spare] = await storedCodes(table, team, { quantity: 1, expiresAt: new Date('2099-01-01T00:00:00Z') });
  const spareBatch = (await new DynamoCodeStore(table.db, table.tableName).getCode(spare!))!.batchId;

  const values: Record<string, string> = {};
  for (const [name, token] of Object.entries(team.tokens)) values[`token.${name}`] = token;
  values['token.other'] = other.tokens.all!;
  Object.assign(values, {
    'plan.own': team.planId,
    'plan.other': other.planId,
    'project.own': team.projectId,
    'project.other': other.projectId,
    'code.active': active[0]!,
    'code.active.lower': active[1]!.toLowerCase().replaceAll('-', ''),
    'code.redeemed': active[2]!,
    'code.expired': expired!,
    'code.other': otherCode!,
  });

  const expectOk = (answer: ApiAnswer, what: string) => {
    if (answer.status >= 300) throw new Error(`seeding the fuzz table: ${what} answered ${answer.status}: ${answer.text}`);
    return answer.body.data;
  };
  const token = values['token.all'];
  const job = expectOk(
    await api.call('POST', '/v1/access-codes/bulk-generate', {
      token,
      json: { plan_id: team.planId, quantity: 2, export_type: 'file', expiry_preset: '1_week' },
      headers: { 'idempotency-key': 'fuzz-seed' },
    }),
    'bulk-generate',
  );
  const endpoint = expectOk(
    await api.call('POST', '/v1/webhook-endpoints', {
      token,
      json: { project_id: team.projectId, url: `https://${WEBHOOK_HOST}/memberpass`, events: ['access_code.*'] },
    }),
    'create a webhook endpoint',
  );
  const subscription = expectOk(
    await api.call('POST', '/v1/access-codes/redeem', { token, json: { code: values['code.redeemed'], subscriber_id: 'sub_seed' } }),
    'redeem',
  );
  const page = expectOk(await api.call('GET', `/v1/plans/${team.planId}/access-codes?limit=1`, { token }), 'list access codes');
  // A delivery that failed after one attempt: the deliveries listing has an item, and retry has something to retry.
  const eventId = 'evt_fuzz_seed';
  const deliveryId = deliveryIdFor(eventId, endpoint.id);
  const seededAt = new Date().toISOString();
  await store.createDeliveryIfAbsent({
    id: deliveryId,
    endpointId: endpoint.id,
    projectId: team.projectId,
    eventId,
    eventType: 'access_code.redeemed',
    event: { id: eventId, type: 'access_code.redeemed', created_at: seededAt, api_version: EVENT_API_VERSION, project_id: team.projectId, data: {} } as never,
    status: 'pending',
    attemptCount: 0,
    nextAttemptAt: seededAt,
    failureReason: null,
    createdAt: seededAt,
  });
  const claim = await store.claimAttempt(deliveryId, new Date(seededAt));
  if (!claim.claimed) throw new Error(`could not claim the seeded delivery: ${claim.reason}`);
  await store.recordAttempt(
    deliveryId,
    claim.claimId,
    { attempt: 1, at: seededAt, status: 500, durationMs: 3, error: 'HTTP 500', responseSnippet: 'oops', outcome: 'failed' },
    { status: 'failed', reason: 'seeded: failed once' },
  );
  Object.assign(values, {
    'job.own': job.job_id,
    'batch.own': spareBatch,
    'endpoint.own': endpoint.id,
    'delivery.own': deliveryId,
    'subscription.own': subscription.subscription_id,
    'cursor.codes': page.next_cursor,
    'webhook.url': `https://${WEBHOOK_HOST}/memberpass`,
  });

  const knownStrings = [
    ...Object.keys(values)
      .filter((name) => !name.startsWith('token.'))
      .map(known),
    'sub_fuzz_1',
    'sub_fuzz_2',
    'pln_nope',
    'mjb_nope',
    'whe_nope',
    'whd_nope',
    'btc_nope',
    'http://127.0.0.1:1/hook',
    'https://10.0.0.1/hook',
    'https://unknown.invalid/hook',
    'ftp://hooks.example.com/x',
    '2026-05-18T10:00:00Z',
    '2099-01-01T00:00:00Z',
    '1970-01-01T00:00:00Z',
    'yesterday',
  ];
  /** Field name → the placeholder prefixes and literals that fit it. */
  const FIELD_HINTS: Record<string, string[]> = {
    code: [known('code.active'), known('code.active.lower'), known('code.redeemed'), known('code.expired'), known('code.other'), 'ABCD-EFGH-JKMN'],
    subscriber_id: ['sub_fuzz_1', 'sub_fuzz_2', 'sub_seed'],
    url: [known('webhook.url'), 'http://127.0.0.1:1/hook', 'https://10.0.0.1/hook', 'https://unknown.invalid/hook', 'ftp://hooks.example.com/x'],
    expires_at: ['2026-05-18T10:00:00Z', '2099-01-01T00:00:00Z', '1970-01-01T00:00:00Z', 'yesterday'],
    cursor: [known('cursor.codes'), 'eyJ9', 'null'],
    description: ['a hook', ''],
    idempotency_key: ['fuzz-1', 'fuzz-2', 'fuzz-seed'],
  };
  const hints = (field: string): readonly string[] => {
    if (FIELD_HINTS[field]) return FIELD_HINTS[field];
    const kind = field.replace(/_id$/, '');
    const ofKind = Object.keys(values)
      .filter((name) => name.startsWith(`${kind}.`))
      .map(known);
    // The caller's own first (`plan.own` before `plan.other`).
    const own = [...ofKind.filter((name) => name.includes('.own')), ...ofKind.filter((name) => !name.includes('.own'))];
    return own.length ? [...own, `${kind}_nope`] : knownStrings;
  };
  return {
    api,
    table,
    values,
    knownStrings,
    hints,
    stop: async () => {
      await api.close();
      await table.drop();
    },
  };
};

/** What the OpenAPI document promises about errors. */
export interface DocumentedErrors {
  /** Error status → the codes its documented response carries. */
  codesByStatus: ReadonlyMap<number, readonly string[]>;
  /** The statuses a catalog entry's documented responses list, and for each whether it is an error envelope ($ref). */
  responsesOf(entry: CatalogEntry): ReadonlyMap<number, { envelope: boolean }>;
}

/** The documented errors, read from the very OpenAPI document the service serves (not retyped here). */
export const documentedErrors = (): DocumentedErrors => {
  const document = openApiDocument(CATALOG) as any;
  const codesByStatus = new Map<number, string[]>();
  for (const [name, response] of Object.entries<any>(document.components.responses)) {
    // The front door's answers (429, 413) are not the service's envelopes.
    if (!/^Error\d{3}$/.test(name)) continue;
    const status = Number(name.slice('Error'.length));
    const codes = response.content['application/json'].schema.allOf[1].properties.error.properties.code.enum as string[];
    codesByStatus.set(status, codes);
  }
  return {
    codesByStatus,
    responsesOf: (entry) => {
      const responses = document.paths[entry.http.path][entry.http.method.toLowerCase()].responses as Record<string, any>;
      return new Map(Object.entries(responses).map(([status, response]) => [Number(status), { envelope: typeof response.$ref === 'string' }]));
    },
  };
};

/** Checks answers against the schemas the OpenAPI document gives them. */
export interface ResponseChecker {
  /**
   * Why `body` does not fit the schema documented for this route and status (the success's
   * `{data}` from the operation's output, an error's envelope, a special route's own), or
   * undefined when it fits; a status with no documented response, or one documented without a
   * body that came with one, is a problem too.
   */
  problem(entry: CatalogEntry, status: number, body: unknown): string | undefined;
  /** The same for an MCP tool's structured content on success, against the outputSchema tools/list gave. */
  toolProblem(outputSchema: object, structuredContent: unknown): string | undefined;
}

/** `#/components/…` references of the document replaced by what they point to (the document has no cycles). */
const resolveRefs = (value: unknown, document: any): unknown => {
  if (Array.isArray(value)) return value.map((item) => resolveRefs(item, document));
  if (value === null || typeof value !== 'object') return value;
  const ref = (value as { $ref?: unknown }).$ref;
  if (typeof ref === 'string' && ref.startsWith('#/')) {
    const target = ref.slice(2).split('/').reduce((node: any, key) => node[key.replaceAll('~1', '/').replaceAll('~0', '~')], document);
    return resolveRefs(target, document);
  }
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveRefs(item, document)]));
};

/**
 * A response checker over `document` (by default the very document the service serves), with
 * ajv's JSON Schema 2020-12 (OpenAPI 3.1's dialect) and its formats (date-time, uri), strict:
 * an unknown keyword or format in a schema is itself an error.
 */
export const responseChecker = (document: any = openApiDocument(CATALOG)): ResponseChecker => {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  const validators = new Map<string, ReturnType<typeof ajv.compile> | 'no body' | undefined>();
  const validatorOf = (entry: CatalogEntry, status: number) => {
    const key = `${entry.http.method} ${entry.http.path} ${status}`;
    if (!validators.has(key)) {
      const response = document.paths[entry.http.path]?.[entry.http.method.toLowerCase()]?.responses?.[String(status)];
      const resolved = resolveRefs(response, document) as any;
      const schema = resolved?.content?.['application/json']?.schema;
      validators.set(key, resolved === undefined ? undefined : schema === undefined ? 'no body' : ajv.compile(schema));
    }
    return validators.get(key);
  };
  const toolValidators = new Map<string, ReturnType<typeof ajv.compile>>();
  const describe = (errors: typeof ajv.errors) => ajv.errorsText(errors, { dataVar: 'body' });
  return {
    problem: (entry, status, body) => {
      const validate = validatorOf(entry, status);
      if (validate === undefined) return `status ${status} is not among the documented responses of ${entry.http.method} ${entry.http.path}`;
      if (validate === 'no body') return body === undefined ? undefined : `status ${status} is documented without a body, and came with one`;
      return validate(body) ? undefined : `the body does not fit its documented schema: ${describe(validate.errors)}`;
    },
    toolProblem: (outputSchema, structuredContent) => {
      const key = JSON.stringify(outputSchema);
      const validate = toolValidators.get(key) ?? toolValidators.set(key, ajv.compile(outputSchema)).get(key)!;
      return validate(structuredContent) ? undefined : `the structured content does not fit the tool's outputSchema: ${describe(validate.errors)}`;
    },
  };
};

/** Why `body` is not exactly the documented envelope with a code documented for `status`, or undefined when it is. */
export const envelopeProblem = (body: unknown, status: number, documented: DocumentedErrors): string | undefined => {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'the body is not a JSON object';
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== 'error') return `the body has keys ${JSON.stringify(keys)}, not just "error"`;
  const error = (body as { error: unknown }).error as Record<string, unknown>;
  if (error === null || typeof error !== 'object') return '"error" is not an object';
  if (JSON.stringify(Object.keys(error).sort()) !== JSON.stringify(['code', 'details', 'message'])) return `"error" has keys ${JSON.stringify(Object.keys(error))}`;
  if (typeof error.code !== 'string' || typeof error.message !== 'string' || !Array.isArray(error.details)) return 'code, message or details has the wrong type';
  for (const detail of error.details as unknown[]) {
    const d = detail as Record<string, unknown>;
    if (d === null || typeof d !== 'object' || typeof d.path !== 'string' || typeof d.message !== 'string') return `a detail is not {path, message}: ${JSON.stringify(detail)}`;
  }
  const codes = documented.codesByStatus.get(status);
  if (!codes) return `status ${status} has no documented error response`;
  if (!codes.includes(error.code)) return `code ${error.code} is not documented for ${status} (documented: ${codes.join(', ')})`;
  return undefined;
};

/** A snapshot of every item in the table (consistent read), comparable with `===`. */
export const tableSnapshot = async (table: TestTable): Promise<string> => {
  const items = await table.scanAll();
  return items.map((item) => JSON.stringify(item, Object.keys(item).sort())).sort().join('\n');
};

/** The lines of `after` that are not in `before` and vice versa, for a failure message (at most a few). */
export const snapshotDiff = (before: string, after: string): string => {
  const was = new Set(before.split('\n'));
  const now = new Set(after.split('\n'));
  const added = [...now].filter((line) => !was.has(line)).slice(0, 3);
  const removed = [...was].filter((line) => !now.has(line)).slice(0, 3);
  // Items may hold token hashes and codes: name only their keys.
  const keyOf = (line: string) => {
    const item = JSON.parse(line) as Record<string, unknown>;
    return JSON.stringify({ pk: item.pk, sk: item.sk, type: item.type });
  };
  return `written: ${added.map(keyOf).join(', ') || 'nothing'}; removed or changed: ${removed.map(keyOf).join(', ') || 'nothing'}`;
};
