import type * as v from 'valibot';
import type { MetricName } from '../contracts/metrics';
import type { Ability } from '../domain/abilities';
import type { Principal } from '../domain/model';
import type {
  AccountReader,
  AccountStore,
  Clock,
  CodeStore,
  CursorCodec,
  ExpiryStore,
  JobQueue,
  JobStore,
  RedemptionStore,
  TableProbe,
  TelegramSender,
} from '../domain/ports';
import type { WebhookServices } from '../use-cases/webhook-endpoints';

/** What an operation's function may do to the table. */
export type TableNeed = 'read' | 'readWrite';

/**
 * What an operation's function needs besides the clock. CDK turns each into a grant plus its
 * environment variable (ServiceFunction.use*), the production wiring builds exactly these
 * dependencies, and `DepsFor` lets `run` see nothing else.
 */
export interface Needs {
  /** The table's stores (`accounts`, `jobs`, `codes`, `redemptions`), with this access. */
  readonly table?: TableNeed;
  /** The listing cursors' codec (`cursors`), with its key from a secret. */
  readonly cursorKey?: true;
  /** The generation queue (`queue`): the operation queues pipeline work. */
  readonly queue?: true;
  /** The bot's username (`botUsername`), for deep links. */
  readonly botUsername?: true;
  /** The Bot API (`telegram`), with the bot token read from its secret at cold start. */
  readonly bot?: true;
  /** The Telegram webhook's secret token (`webhookSecret`), read from its secret at cold start. */
  readonly webhookSecret?: true;
  /**
   * Webhook endpoints (`webhooks`): their store, the SSRF guard, the signed sender; `'delete'` also
   * lets the function delete items (only deleting an endpoint does).
   */
  readonly webhooks?: true | 'delete';
  /**
   * Sending to the webhook delivery queue (`webhookQueue`): the next attempt of a delivery retried
   * by hand. Without it, `webhooks`' scheduler refuses as a configuration error.
   */
  readonly webhookQueue?: true;
}

/** Every dependency an operation can be given. */
export interface ServiceDeps {
  clock: Clock;
  accounts: AccountStore;
  /** The account reads of redemption, projects cached for seconds (a table store: the `table` need). */
  redemptionAccounts: AccountReader;
  jobs: JobStore;
  codes: CodeStore;
  tableProbe: TableProbe;
  cursors: CursorCodec;
  queue: JobQueue;
  botUsername: string;
  telegram: TelegramSender;
  webhookSecret: string;
  webhooks: WebhookServices;
  /** Redemptions and subscriptions (a table store: the `table` need). */
  redemptions: RedemptionStore;
  /** The expiry index and batch expiry moves (part of the table's stores). */
  expiry: ExpiryStore;
}

/** The dependencies that `needs` asks for: what `run` (or a route's handler factory) receives. */
export type DepsFor<N extends Needs> = Pick<
  ServiceDeps,
  | 'clock'
  | (N extends { table: TableNeed } ? 'accounts' | 'redemptionAccounts' | 'jobs' | 'codes' | 'tableProbe' | 'redemptions' | 'expiry' : never)
  | (N extends { cursorKey: true } ? 'cursors' : never)
  | (N extends { queue: true } ? 'queue' : never)
  | (N extends { botUsername: true } ? 'botUsername' : never)
  | (N extends { bot: true } ? 'telegram' : never)
  | (N extends { webhookSecret: true } ? 'webhookSecret' : never)
  | (N extends { webhooks: true | 'delete' } ? 'webhooks' : never)
>;

/**
 * An input schema: one strict object over path, query, header and body fields (an unknown field
 * is refused, never dropped), maybe with cross-field rules in a pipe.
 */
export type InputSchema = v.GenericSchema<Record<string, unknown>> & { readonly type: 'strict_object'; readonly entries: v.ObjectEntries };

/**
 * An output schema: the `data` of a success, declarative (no transform or check) so that it is
 * published as JSON Schema in the OpenAPI document and as the MCP tool's outputSchema.
 */
export type OutputSchema = v.GenericSchema;

/** HTTP methods the API uses. */
export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/**
 * Where each input field comes from over HTTP: the path, the query string, a header; every other
 * field comes from the JSON body.
 */
export interface HttpBinding<S extends InputSchema> {
  readonly method: HttpMethod;
  /** API Gateway route path, with `{field}` path parameters. */
  readonly path: string;
  readonly successStatus: number;
  readonly pathParams: readonly (keyof S['entries'] & string)[];
  /** Query parameters arrive as strings: numbers and booleans are coerced as the schema expects. */
  readonly queryParams: readonly (keyof S['entries'] & string)[];
  /** Field → header name (lower case). */
  readonly headers: Readonly<Partial<Record<keyof S['entries'] & string, string>>>;
}

/**
 * API Gateway's throttling of one route, a token bucket: steady rate (requests per second) and
 * burst. Past it API Gateway answers 429 without invoking the function.
 */
export interface RouteThrottle {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

/** Hints for tool clients (MCP's tool annotations), each stated by every tool. */
export interface ToolAnnotations {
  /** Changes nothing. */
  readonly readOnlyHint: boolean;
  /** Calling it again with the same input has no further effect. */
  readonly idempotentHint: boolean;
  /** May delete or overwrite something that cannot be had back (MCP: not only additive updates). */
  readonly destructiveHint: boolean;
  /** Reaches beyond this service: messages a Telegram chat or calls a URL outside it. */
  readonly openWorldHint: boolean;
}

/**
 * A tool's answer together with what the call did that operators count, by business metric: the
 * handler that ran the tool emits the counts (operations and use cases emit no metric).
 */
export class Counted<T> {
  constructor(
    readonly data: T,
    readonly counts: Readonly<Partial<Record<MetricName, number>>>,
  ) {}
}

/** What a tool needs at least: the table, where bearer tokens are looked up. */
export type ToolNeeds = Needs & { readonly table: TableNeed };

/** An authenticated operation: a tool over HTTP today, over MCP later. */
export interface ToolOperation<N extends ToolNeeds = ToolNeeds, S extends InputSchema = InputSchema, O extends OutputSchema = OutputSchema> {
  readonly kind: 'tool';
  /** The tool name (snake_case); the Lambda and route ids are its PascalCase (`operationId`). */
  readonly name: string;
  /** The spec's purpose text for documented tools. */
  readonly description: string;
  /** The caller needs at least one of these. */
  readonly abilities: readonly Ability[];
  /** Every field of the operation, wherever HTTP carries it; declarative, so a JSON Schema can be made of it. */
  readonly input: S;
  /** The `data` of its success answer (HTTP and MCP alike). */
  readonly output: O;
  readonly annotations: ToolAnnotations;
  readonly http: HttpBinding<S>;
  /** Its route's throttling; none: the stage's default (lib/route-throttles.ts). */
  readonly throttle?: RouteThrottle;
  readonly needs: N;
  /** Calls the operation's use case with validated input: its answer, `Counted` when the call did something operators count. */
  run(deps: DepsFor<N>, principal: Principal, input: v.InferOutput<S>): Promise<v.InferOutput<O> | Counted<v.InferOutput<O>>>;
}

/** How a special route is protected ('bearer': its function checks the token itself, as the MCP endpoint does). */
export type RouteAuth = 'public' | 'telegram-secret' | 'bearer';

/**
 * One answer a special route can give, for its OpenAPI document: an error envelope of the
 * catalog's codes (`'error'`), or a body of its own (`body`, none when absent).
 */
export type RouteResponse = 'error' | { readonly description: string; readonly body?: v.GenericSchema; readonly headers?: Readonly<Record<string, string>> };

/**
 * Which handler serves a special route, and what it is built from. The catalog names it and never
 * builds it (operations import no handler): functions/handlers/http/catalog-handler.ts resolves
 * each kind to its factory, and each route's Lambda entry point imports its own factory alone
 * (lib/http-entries.ts).
 */
export type RouteHandlerSpec =
  | { readonly kind: 'health' }
  | { readonly kind: 'telegram_webhook' }
  /** The MCP endpoint, serving `tools`. */
  | { readonly kind: 'mcp'; readonly tools: readonly ToolOperation<any, any, any>[] }
  /** The 405 of a stateless MCP server (no stream, no session). */
  | { readonly kind: 'mcp_method_not_allowed' }
  /** The protected resource metadata of the resource at `resourcePath` ('' for the whole API). */
  | { readonly kind: 'protected_resource'; readonly resourcePath: string }
  /** The OpenAPI document of `catalog` (a thunk: the catalog includes this route). */
  | { readonly kind: 'openapi'; readonly catalog: () => readonly CatalogEntry[] };

/** The kinds of handler a special route can name. */
export type RouteHandlerKind = RouteHandlerSpec['kind'];

/** A route outside the bearer-token tools (health, Telegram's webhook): served by the handler it names. */
export interface SpecialRoute<N extends Needs = Needs> {
  readonly kind: 'route';
  readonly name: string;
  readonly description: string;
  readonly auth: RouteAuth;
  readonly http: { readonly method: HttpMethod; readonly path: string };
  /** Its route's throttling; none: the stage's default (lib/route-throttles.ts). */
  readonly throttle?: RouteThrottle;
  /** Every status it can answer, and what with. */
  readonly responses: Readonly<Record<number, RouteResponse>>;
  /** Its JSON request body, when it reads one. */
  readonly requestBody?: { readonly description: string; readonly body: v.GenericSchema };
  /** Its dependencies (what the handler is given); a route's handler declares what it reads of them. */
  readonly needs: N;
  readonly handler: RouteHandlerSpec;
}

/** Any entry of the catalog. */
export type CatalogEntry = ToolOperation<any, any, any> | SpecialRoute<any>;

/** Declares a tool, inferring its needs, schema and output types. */
export const defineOperation = <const N extends ToolNeeds, S extends InputSchema, O extends OutputSchema>(operation: ToolOperation<N, S, O>) => operation;

/** Declares a special route, inferring its needs. */
export const defineRoute = <const N extends Needs>(route: SpecialRoute<N>) => route;

/** The PascalCase id of an entry (`get_job_status` → `GetJobStatus`): its Lambda's and its route's CDK id. */
export const operationId = (name: string): string =>
  name
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
