import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** The meter events path of Stripe's v1 API. */
export const METER_EVENTS_PATH = '/v1/billing/meter_events';

/** Stripe's error body: `{"error": {type, code?, param?, message}}`; the HTTP status is separate. */
export interface StripeErrorBody {
  type: 'invalid_request_error' | 'api_error' | 'idempotency_error';
  code?: string;
  param?: string;
  message: string;
}

/** A meter event the fake accepted, as Stripe would store it. */
export interface RecordedMeterEvent {
  event_name: string;
  identifier: string;
  payload: Record<string, string>;
  /** Unix seconds. */
  timestamp: number;
  /** Unix seconds, by the fake's clock. */
  created: number;
}

/** One request the fake received, whatever it answered. */
export interface StripeCall {
  method: string;
  path: string;
  /** The bearer (or basic-auth user) key sent; empty when none. */
  apiKey: string;
  /** Form fields as sent, nested keys flat (`payload[stripe_customer_id]`). */
  params: Record<string, string>;
  /** The HTTP status answered. */
  status: number;
  /** Stripe's error code when it answered an error that has one. */
  errorCode?: string;
}

/** Options of `startFakeStripe`. */
export interface FakeStripeOptions {
  /** The only key accepted (others get 401). Default: any key that looks like one. */
  apiKey?: string;
  /** Port on 127.0.0.1. Default: a free one. */
  port?: number;
  /** Delay before each answer, holding the customer's slot, e.g. to make a benchmark feel the network. Default 0. */
  latencyMs?: number;
  /**
   * The fake's clock: `failFor` windows, `created`, and Stripe's timestamp rule (within the past
   * 35 days, at most 5 minutes ahead). Default the wall clock.
   */
  now?: () => Date;
  /** Whether the duplicate-identifier answer carries `code: duplicate_meter_event` (older API versions do not). Default true. */
  duplicateCode?: boolean;
}

/** The errors Stripe really sends, by HTTP status, for `failNext` / `failFor`. */
export const stripeErrors: Readonly<Record<number, StripeErrorBody>> = {
  400: { type: 'invalid_request_error', message: 'Invalid request.' },
  401: { type: 'invalid_request_error', message: 'Invalid API Key provided.' },
  402: { type: 'invalid_request_error', message: 'The request failed.' },
  403: { type: 'invalid_request_error', message: 'The provided key does not have the required permissions for this endpoint.' },
  404: { type: 'invalid_request_error', code: 'resource_missing', message: 'No such resource.' },
  409: { type: 'invalid_request_error', code: 'lock_timeout', message: 'This object cannot be accessed right now because another API request or Stripe process is currently accessing it.' },
  429: { type: 'invalid_request_error', code: 'rate_limit', message: 'Request rate limit exceeded. Please retry your request later.' },
  500: { type: 'api_error', message: 'An unknown error occurred, please try again later.' },
  502: { type: 'api_error', message: 'Bad gateway.' },
  503: { type: 'api_error', message: 'Service unavailable, please try again later.' },
};

const DAY_S = 86_400;
const PAST_LIMIT_S = 35 * DAY_S;
const FUTURE_LIMIT_S = 5 * 60;

type Answer = { status: number; body: unknown; errorCode?: string };

/**
 * A fake Stripe API on 127.0.0.1 for Billing Meter events: real HTTP, `POST
 * /v1/billing/meter_events` with Stripe's form encoding (`payload[stripe_customer_id]=…`),
 * bearer or basic auth, Stripe's `{"error": {…}}` answers. It keeps identifiers forever (Stripe:
 * at least 24 hours) and answers a repeat with Stripe's duplicate error, and it enforces Stripe's
 * rule of one concurrent call per customer per meter by answering a second one with 429
 * `rate_limit`. Failures are scriptable; `pause()` holds requests so concurrency is testable
 * without timing. Every call is recorded.
 *
 * Control routes for a fake run as a separate process (`npm run fake-stripe`), no key needed:
 * `POST /_fake/fail-for?ms=30000&status=500`, `POST /_fake/fail-next?n=3&status=429`,
 * `POST /_fake/reset`, `GET /_fake/meter-events`.
 */
export class FakeStripe {
  /** Pass this as `STRIPE_API_BASE`. */
  readonly apiBase: string;
  readonly port: number;
  /** Every request so far, in arrival order (control routes excepted). */
  readonly calls: StripeCall[] = [];
  /** Every meter event accepted, once per identifier, in order of acceptance. */
  readonly meterEvents: RecordedMeterEvent[] = [];

  private readonly identifiers = new Set<string>();
  private readonly busy = new Set<string>();
  private scripted: Array<{ remaining: number; status: number; customer?: string }> = [];
  private failing: { until: number; status: number } | undefined;
  private gate: { opened: Promise<void>; open: () => void } | undefined;
  private held = 0;
  private heldWaiters: Array<{ count: number; done: () => void }> = [];
  private dropping = 0;
  private nextRequestId = 1;
  /** Aborted by `close()`, so an answer still waiting does not keep the process alive. */
  private readonly closing = new AbortController();

  private constructor(
    private readonly server: Server,
    private readonly options: FakeStripeOptions,
  ) {
    this.port = (server.address() as AddressInfo).port;
    this.apiBase = `http://127.0.0.1:${this.port}`;
  }

  /** Starts a fake on 127.0.0.1 (a free port unless `port` is given). */
  static async start(options: FakeStripeOptions = {}): Promise<FakeStripe> {
    const server = createServer();
    await new Promise<void>((ready, fail) => {
      server.once('error', fail);
      server.listen(options.port ?? 0, '127.0.0.1', ready);
    });
    const fake = new FakeStripe(server, options);
    server.on('request', (request, response) => void fake.handle(request, response));
    return fake;
  }

  /**
   * The next `times` requests (only those for `customer`'s meter events, when given) are
   * answered with `status` and Stripe's body for it.
   */
  failNext(times: number, status: number, customer?: string): void {
    this.scripted.push({ remaining: times, status, ...(customer === undefined ? {} : { customer }) });
  }

  /** Forgets every scripted failure still to come (`failNext`, `failFor`). */
  clearFailures(): void {
    this.scripted = [];
    this.failing = undefined;
  }

  /** Every request for the next `ms` (by the fake's clock) is answered with `status`. */
  failFor(ms: number, status: number): void {
    this.failing = { until: this.now().getTime() + ms, status };
  }

  /**
   * The next `times` accepted meter events are recorded, then their connection is cut before
   * the answer: Stripe has the event, the caller does not know it.
   */
  dropNextAnswers(times: number): void {
    this.dropping += times;
  }

  /** From now on, accepted meter events wait (holding their customer's slot) until `resume()`. */
  pause(): void {
    if (this.gate) return;
    let open!: () => void;
    const opened = new Promise<void>((done) => (open = done));
    this.gate = { opened, open };
  }

  /** Lets every held request answer. */
  resume(): void {
    this.gate?.open();
    this.gate = undefined;
  }

  /** Resolves once `count` requests are held by `pause()`. */
  whenHeld(count: number): Promise<void> {
    if (this.held >= count) return Promise.resolve();
    return new Promise((done) => this.heldWaiters.push({ count, done }));
  }

  /** Accepted meter events for one customer, in order. */
  eventsFor(customerId: string): RecordedMeterEvent[] {
    return this.meterEvents.filter((event) => event.payload.stripe_customer_id === customerId);
  }

  /** Meter event calls answered with `status`. */
  answered(status: number): StripeCall[] {
    return this.calls.filter((call) => call.path === METER_EVENTS_PATH && call.status === status);
  }

  /** Forgets calls, events, identifiers and every scripted failure; lets held requests go. */
  reset(): void {
    this.resume();
    this.calls.length = 0;
    this.meterEvents.length = 0;
    this.identifiers.clear();
    this.scripted = [];
    this.failing = undefined;
    this.dropping = 0;
  }

  /** Stops listening and drops kept-alive connections. */
  async close(): Promise<void> {
    this.closing.abort();
    this.resume();
    this.server.closeAllConnections();
    await new Promise<void>((done) => this.server.close(() => done()));
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.apiBase);
    let text: string;
    try {
      text = await readAll(request);
    } catch {
      return;
    }
    if (url.pathname.startsWith('/_fake/')) return this.control(request.method ?? 'GET', url, response);
    const call: StripeCall = {
      method: request.method ?? 'GET',
      path: url.pathname,
      apiKey: keyOf(request.headers.authorization),
      params: Object.fromEntries(new URLSearchParams(text)),
      status: 200,
    };
    this.calls.push(call);
    const answer = this.answer(call);
    if ('event' in answer) return this.accept(call, answer.event, answer.slot, response);
    this.send(call, response, answer);
  }

  /** Checks in the order Stripe does: key, (scripted trouble), route, parameters, concurrency, identifier. */
  private answer(call: StripeCall): Answer | { event: RecordedMeterEvent; slot: string } {
    if (call.apiKey === '') return error(401, { type: 'invalid_request_error', message: 'You did not provide an API key.' });
    if ((this.options.apiKey !== undefined && call.apiKey !== this.options.apiKey) || !/^(sk|rk)_/.test(call.apiKey)) {
      return error(401, { type: 'invalid_request_error', message: `Invalid API Key provided: ${mask(call.apiKey)}` });
    }
    const trouble = this.takeScripted(call.params['payload[stripe_customer_id]']);
    if (trouble !== undefined) return error(trouble, stripeErrors[trouble] ?? stripeErrors[500]!);
    if (call.path !== METER_EVENTS_PATH || call.method !== 'POST') {
      return error(404, { type: 'invalid_request_error', message: `Unrecognized request URL (${call.method}: ${call.path}).` });
    }
    const event = this.parseEvent(call.params);
    if ('status' in event) return event;
    const slot = `${event.event_name}\u0000${event.payload.stripe_customer_id}`;
    if (this.busy.has(slot)) {
      return error(429, {
        type: 'invalid_request_error',
        code: 'rate_limit',
        message: 'Too many concurrent requests for this customer and meter: send one meter event per customer per meter at a time.',
      });
    }
    if (this.identifiers.has(event.identifier)) {
      return error(400, {
        type: 'invalid_request_error',
        ...(this.options.duplicateCode === false ? {} : { code: 'duplicate_meter_event' }),
        message: `An event already exists with identifier ${event.identifier}.`,
      });
    }
    return { event, slot };
  }

  private takeScripted(customer: string | undefined): number | undefined {
    const entry = this.scripted.find((s) => s.remaining > 0 && (s.customer === undefined || s.customer === customer));
    if (entry) {
      entry.remaining -= 1;
      return entry.status;
    }
    if (this.failing && this.now().getTime() < this.failing.until) return this.failing.status;
    return undefined;
  }

  private parseEvent(params: Record<string, string>): RecordedMeterEvent | Answer {
    for (const param of ['event_name', 'payload[stripe_customer_id]', 'payload[value]']) {
      if (!params[param]) return error(400, { type: 'invalid_request_error', code: 'parameter_missing', param, message: `Missing required param: ${param}.` });
    }
    const payload: Record<string, string> = {};
    for (const [key, value] of Object.entries(params)) {
      const nested = /^payload\[([^\]]+)\]$/.exec(key);
      if (nested) payload[nested[1]!] = value;
    }
    if (!/^-?\d+(\.\d+)?$/.test(payload.value ?? '')) {
      return error(400, { type: 'invalid_request_error', param: 'payload[value]', message: 'The value must be a number.' });
    }
    const now = Math.floor(this.now().getTime() / 1000);
    const timestamp = params.timestamp === undefined ? now : Number(params.timestamp);
    if (!Number.isInteger(timestamp)) {
      return error(400, { type: 'invalid_request_error', code: 'parameter_invalid_integer', param: 'timestamp', message: 'Invalid integer: timestamp.' });
    }
    if (timestamp < now - PAST_LIMIT_S || timestamp > now + FUTURE_LIMIT_S) {
      return error(400, {
        type: 'invalid_request_error',
        param: 'timestamp',
        message: 'Timestamp must be within the past 35 calendar days or up to 5 minutes in the future.',
      });
    }
    const identifier = params.identifier || `auto_${this.nextRequestId}_${now}`;
    return { event_name: params.event_name!, identifier, payload, timestamp, created: now };
  }

  /** Records the event, holds the customer's slot while paused or delayed, then answers (or cuts the line). */
  private async accept(call: StripeCall, event: RecordedMeterEvent, slot: string, response: ServerResponse): Promise<void> {
    this.identifiers.add(event.identifier);
    this.meterEvents.push(event);
    this.busy.add(slot);
    try {
      if (this.gate) await this.hold(this.gate.opened);
      if (this.options.latencyMs) await sleep(this.options.latencyMs, undefined, { signal: this.closing.signal });
    } catch {
      return; // closed meanwhile: the connection is gone
    } finally {
      this.busy.delete(slot);
    }
    if (this.dropping > 0) {
      this.dropping -= 1;
      call.status = 0;
      response.socket?.destroy();
      return;
    }
    this.send(call, response, { status: 200, body: { object: 'billing.meter_event', livemode: false, ...event } });
  }

  private async hold(opened: Promise<void>): Promise<void> {
    this.held += 1;
    this.heldWaiters = this.heldWaiters.filter((waiter) => (waiter.count <= this.held ? (waiter.done(), false) : true));
    try {
      await opened;
    } finally {
      this.held -= 1;
    }
  }

  private send(call: StripeCall, response: ServerResponse, answer: Answer): void {
    call.status = answer.status;
    if (answer.errorCode) call.errorCode = answer.errorCode;
    response
      .writeHead(answer.status, { 'content-type': 'application/json', 'request-id': `req_fake${this.nextRequestId++}` })
      .end(JSON.stringify(answer.body));
  }

  private control(method: string, url: URL, response: ServerResponse): void {
    const number = (name: string, fallback: number) => {
      const value = Number(url.searchParams.get(name) ?? fallback);
      return Number.isFinite(value) ? value : fallback;
    };
    const ok = (body: unknown): void => void response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (method === 'GET' && url.pathname === '/_fake/meter-events') return ok({ data: this.meterEvents });
    if (method === 'POST' && url.pathname === '/_fake/fail-for') {
      this.failFor(number('ms', 30_000), number('status', 500));
      return ok({ ok: true });
    }
    if (method === 'POST' && url.pathname === '/_fake/fail-next') {
      this.failNext(number('n', 1), number('status', 500));
      return ok({ ok: true });
    }
    if (method === 'POST' && url.pathname === '/_fake/reset') {
      this.reset();
      return ok({ ok: true });
    }
    response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'unknown control route' } }));
  }
}

/** Starts a fake Stripe API on 127.0.0.1 (shorthand for `FakeStripe.start`). */
export const startFakeStripe = (options?: FakeStripeOptions): Promise<FakeStripe> => FakeStripe.start(options);

const error = (status: number, body: StripeErrorBody): Answer => ({ status, body: { error: body }, ...(body.code ? { errorCode: body.code } : {}) });

/** `Bearer sk_…`, or basic auth with the key as the user (`curl -u sk_…:`). */
const keyOf = (authorization: string | undefined): string => {
  if (!authorization) return '';
  const [scheme, value = ''] = authorization.split(' ', 2);
  if (scheme?.toLowerCase() === 'bearer') return value.trim();
  if (scheme?.toLowerCase() === 'basic') return Buffer.from(value, 'base64').toString('utf8').split(':')[0] ?? '';
  return '';
};

/** Stripe shows only the end of a wrong key, and so does the fake. */
const mask = (key: string): string => (key.length > 8 ? `${key.slice(0, 3)}${'*'.repeat(key.length - 7)}${key.slice(-4)}` : '****');

const readAll = async (request: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};
