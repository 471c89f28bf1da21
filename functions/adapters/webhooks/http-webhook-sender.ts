import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Webhook } from 'standardwebhooks';
import type { WebhookMessage, WebhookSender } from '../../domain/webhook-ports';
import type { AttemptResult, CheckedTarget } from '../../domain/webhooks';

/** How the sender is tuned; every field has a production default. */
export interface HttpWebhookSenderOptions {
  /** Whole-attempt limit: connect, send, response headers and snippet. Default 15 s. */
  timeoutMs?: number;
  /** The instant each attempt is signed at. Default the wall clock: receivers compare it with theirs. */
  now?: () => Date;
  /** Default `MemberPass-Webhooks/1.0`. */
  userAgent?: string;
  /** Certificate authorities to trust instead of the public ones (tests with a local CA). */
  ca?: string | Buffer;
}

/** The bar: a 2xx within 15 s is a success. */
export const WEBHOOK_TIMEOUT_MS = 15_000;

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
      // Not kept alive: each attempt resolves and checks again, a pooled socket would skip that.
      agent: false,
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
      const finish = (result: Omit<AttemptResult, 'durationMs' | 'responseSnippet'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        // Nothing more is read: a huge or endless body must not hold the function.
        response?.destroy();
        req.destroy();
        resolve({ ...result, durationMs: elapsed(), responseSnippet: new TextDecoder().decode(snippet) });
      };
      const finishWithResponse = () => {
        if (status === null || response === undefined) return;
        const error = errorFor(status, response);
        finish({ status, outcome: outcomeOf(status), ...(error === undefined ? {} : { error }) });
      };

      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(options, (res) => {
        response = res;
        status = res.statusCode ?? 0;
        res.on('data', (chunk: Buffer) => {
          snippet = Buffer.concat([snippet, chunk]).subarray(0, RESPONSE_SNIPPET_BYTES);
          if (snippet.length >= RESPONSE_SNIPPET_BYTES) finishWithResponse();
        });
        res.on('end', finishWithResponse);
        // A body cut short still leaves the status that was answered.
        res.on('error', finishWithResponse);
        res.on('close', finishWithResponse);
      });
      const timer = setTimeout(() => {
        // Headers in time but a body still trickling: the status counts, the snippet is what came.
        if (status !== null) finishWithResponse();
        else finish({ status: null, outcome: 'failed', error: `No response within ${this.timeoutMs} ms.` });
      }, this.timeoutMs);
      req.on('error', (error: NodeJS.ErrnoException) => {
        finish({ status: null, outcome: 'failed', error: `Request failed: ${error.code ?? error.message}.` });
      });
      req.end(body);
    });
  }
}
