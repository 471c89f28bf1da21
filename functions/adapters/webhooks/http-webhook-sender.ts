import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Webhook } from 'standardwebhooks';
import type { WebhookMessage, WebhookSender } from '../../domain/ports';
import type { AttemptResult, CheckedTarget } from '../../domain/webhooks';

/** How the sender is tuned; every field has a production default. */
export interface HttpWebhookSenderOptions {
  /** Whole-attempt limit: connect, send, response headers and snippet. Default `WEBHOOK_TIMEOUT_MS`. */
  timeoutMs?: number;
  /** The instant each attempt is signed at. Default the wall clock: receivers compare it with theirs. */
  now?: () => Date;
  /** Default `MemberPass-Webhooks/1.0`. */
  userAgent?: string;
  /** Certificate authorities to trust instead of the public ones (tests with a local CA). */
  ca?: string | Buffer;
}

/**
 * A 2xx within 10 s is a success. Short enough that an endpoint that hangs holds a delivery slot
 * for 10 s at most; long enough for a receiver that does real work before answering.
 */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** Keep-alive pools kept at most (one per checked address, port and TLS name); the least recently used go first. */
const MAX_POOLS = 256;

/** Idle keep-alive sockets are closed after this long (receivers commonly close theirs after 5 s or more). */
const IDLE_SOCKET_MS = 4_000;

/** How much of a response body an attempt record keeps. */
export const RESPONSE_SNIPPET_BYTES = 1024;

const DEFAULT_USER_AGENT = 'MemberPass-Webhooks/1.0';

/** The `webhook-signature` value: one `v1,…` signature per secret, space-separated (Standard Webhooks). */
export const signatureHeader = (message: WebhookMessage, at: Date): string =>
  message.secrets.map((secret) => new Webhook(secret).sign(message.id, at, message.body)).join(' ');

/**
 * A lookup that answers every name with the address the guard checked, so the socket goes
 * there and nowhere else, while the URL's host still names the Host header and TLS SNI.
 */
const pinnedLookup = (target: CheckedTarget): LookupFunction =>
  ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  }) as LookupFunction;

/** The host to hand node's client: brackets off IPv6 literals. */
const bareHost = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, '$1');

const outcomeOf = (status: number): AttemptResult['outcome'] => {
  if (status >= 200 && status < 300) return 'succeeded';
  return status === 410 ? 'gone' : 'failed';
};

const errorFor = (status: number, response: IncomingMessage): string | undefined => {
  if (status >= 200 && status < 300) return undefined;
  if (status >= 300 && status < 400) {
    return `Redirect (${status}) to ${response.headers.location ?? 'nowhere'} not followed: webhook URLs must answer directly.`;
  }
  return status === 410 ? 'The endpoint answered 410 Gone.' : `The endpoint answered ${status}.`;
};

/**
 * The `WebhookSender` port over node:http/https: POSTs the signed body to the address the guard
 * checked, follows no redirect, gives up after the timeout, and keeps the first 1 KiB of the
 * answer. Never throws: every failure is an attempt result.
 */
export class HttpWebhookSender implements WebhookSender {
  private readonly timeoutMs: number;
  private readonly now: () => Date;
  private readonly userAgent: string;
  private readonly ca: string | Buffer | undefined;

  constructor(options: HttpWebhookSenderOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
    this.now = options.now ?? (() => new Date());
    this.userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.ca = options.ca;
  }

  private readonly pools = new Map<string, HttpAgent>();

  /** The keep-alive pool of one checked target (address, port, scheme, TLS name). */
  private agentFor(url: URL, target: CheckedTarget): HttpAgent {
    const key = `${url.protocol}//${target.address}:${url.port}/${url.hostname}`;
    const found = this.pools.get(key);
    if (found) {
      this.pools.delete(key);
      this.pools.set(key, found);
      return found;
    }
    const options = { keepAlive: true, keepAliveMsecs: 1_000, timeout: IDLE_SOCKET_MS, scheduling: 'lifo' as const };
    const agent = url.protocol === 'https:' ? new HttpsAgent(options) : new HttpAgent(options);
    this.pools.set(key, agent);
    if (this.pools.size > MAX_POOLS) {
      const [oldest, pool] = this.pools.entries().next().value as [string, HttpAgent];
      this.pools.delete(oldest);
      pool.destroy();
    }
    return agent;
  }

  /** Closes every kept-alive socket (tests, and a local stack that stops). */
  close(): void {
    for (const pool of this.pools.values()) pool.destroy();
    this.pools.clear();
  }

  /** Makes one attempt, signed at this moment. */
  send(target: CheckedTarget, message: WebhookMessage): Promise<AttemptResult> {
    const url = new URL(target.url);
    // Signed now, not when the delivery was created: receivers refuse timestamps over 5 min old.
    const signedAt = this.now();
    const body = Buffer.from(message.body, 'utf8');
    const options: RequestOptions & { servername?: string; ca?: string | Buffer } = {
      method: 'POST',
      protocol: url.protocol,
      hostname: bareHost(url),
      port: url.port === '' ? undefined : Number(url.port),
      path: `${url.pathname}${url.search}`,
      headers: {
        host: url.host,
        'content-type': 'application/json',
        'content-length': body.length,
        'user-agent': this.userAgent,
        'webhook-id': message.id,
        'webhook-timestamp': String(Math.floor(signedAt.getTime() / 1000)),
        'webhook-signature': signatureHeader(message, signedAt),
      },
      lookup: pinnedLookup(target),
      // Kept alive, in a pool of this checked address alone: a reused socket goes where the
      // guard's check of this attempt says, like a new one would.
      agent: this.agentFor(url, target),
    };
    // TLS: the certificate is checked against the URL's host name, not the pinned address, and
    // SNI names it (node leaves SNI out for IP literals).
    if (url.protocol === 'https:' && !url.hostname.startsWith('[') && bareHost(url) !== target.address) {
      options.servername = bareHost(url);
    }
    if (this.ca !== undefined) options.ca = this.ca;
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);

    return new Promise<AttemptResult>((resolve) => {
      let settled = false;
      let status: number | null = null;
      let snippet = Buffer.alloc(0);
      let response: IncomingMessage | undefined;
      const finish = (result: Omit<AttemptResult, 'durationMs' | 'responseSnippet'>, keepSocket = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        // A response read to its end leaves its socket to the pool; any other is cut, so that a
        // huge or endless body cannot hold the function.
        if (!keepSocket) {
          response?.destroy();
          req.destroy();
        }
        resolve({ ...result, durationMs: elapsed(), responseSnippet: new TextDecoder().decode(snippet) });
      };
      const finishWithResponse = (complete = false) => {
        if (status === null || response === undefined) return;
        const error = errorFor(status, response);
        finish({ status, outcome: outcomeOf(status), ...(error === undefined ? {} : { error }) }, complete);
      };

      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(options, (res) => {
        response = res;
        status = res.statusCode ?? 0;
        res.on('data', (chunk: Buffer) => {
          snippet = Buffer.concat([snippet, chunk]).subarray(0, RESPONSE_SNIPPET_BYTES);
          if (snippet.length >= RESPONSE_SNIPPET_BYTES) finishWithResponse();
        });
        res.on('end', () => finishWithResponse(true));
        // A body cut short still leaves the status that was answered.
        res.on('error', () => finishWithResponse());
        res.on('close', () => finishWithResponse());
      });
      const timer = setTimeout(() => {
        // Headers in time but a body still trickling: the status counts, the snippet is what came.
        if (status !== null) finishWithResponse(false);
        else finish({ status: null, outcome: 'failed', error: `No response within ${this.timeoutMs} ms.` });
      }, this.timeoutMs);
      req.on('error', (error: NodeJS.ErrnoException) => {
        finish({ status: null, outcome: 'failed', error: `Request failed: ${error.code ?? error.message}.` });
      });
      req.end(body);
    });
  }
}
