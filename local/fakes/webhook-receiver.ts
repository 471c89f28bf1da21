import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One request the receiver got, with what it made of the signature and what it answered. */
export interface ReceivedWebhook {
  /** `webhook-id`. */
  id: string;
  /** `webhook-timestamp`, in seconds. */
  timestamp: string;
  signature: string;
  /** The event's `type`, when the body is JSON with one. */
  type: string | undefined;
  body: string;
  headers: Record<string, string>;
  path: string;
  /** Whether at least one of the receiver's secrets verified it (standardwebhooks `verify`). */
  verified: boolean;
  /** Indexes (into the secrets given) of the secrets that verified it. */
  verifiedWith: number[];
  /** Why verification failed with each secret that did not verify it. */
  verifyErrors: string[];
  /** The HTTP status answered. */
  status: number;
  /** When it arrived, by the wall clock. */
  receivedAt: Date;
}

/** What the receiver answers to the next requests. */
type Script =
  | { kind: 'status'; status: number; body: string }
  | { kind: 'redirect'; status: number; location: string }
  | { kind: 'stall' }
  | { kind: 'large'; bytes: number };

/** Options of `startWebhookReceiver`. */
export interface WebhookReceiverOptions {
  /** `whsec_…` secrets to verify with (several: any may verify). */
  secrets: ReadonlyArray<string>;
  /** Default 0: any free port. */
  port?: number;
  /** Serve HTTPS with this key and certificate (PEM) instead of HTTP. */
  tls?: { key: string; cert: string };
}

/**
 * A webhook receiver on 127.0.0.1 that verifies every request with the real `standardwebhooks`
 * package, records it, and answers 200 unless told otherwise (fail N times, redirect, stall,
 * a large body). Used by tests, the benchmark and `npm run webhook-receiver`.
 */
export class WebhookReceiver {
  /** Every request so far, in arrival order. */
  readonly received: ReceivedWebhook[] = [];
  private readonly scripts: Script[] = [];
  private outage: number | undefined;
  private readonly listeners = new Set<(webhook: ReceivedWebhook) => void>();

  constructor(
    private readonly server: Server | TlsServer,
    private secrets: ReadonlyArray<string>,
    private readonly scheme: 'http' | 'https' = 'http',
  ) {
    // A client that gives up mid-request (a timeout test) must not become an unhandled rejection.
    server.on('request', (req, res) => void this.handle(req, res).catch(() => res.destroy()));
  }

  /** The port it listens on, on 127.0.0.1. */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `http://127.0.0.1:<port>` (https when serving TLS); append a path for an endpoint URL. */
  get origin(): string {
    return `${this.scheme}://127.0.0.1:${this.port}`;
  }

  /** The receiver's URL with `path` (default `/webhooks`). */
  url(path = '/webhooks'): string {
    return `${this.origin}${path}`;
  }

  /** Verifies with these secrets from now on. */
  setSecrets(secrets: ReadonlyArray<string>): void {
    this.secrets = secrets;
  }

  /** Answers the next `times` requests with `status` (and `body`). */
  failNext(times: number, status = 500, body = `failure ${status}`): void {
    for (let i = 0; i < times; i++) this.scripts.push({ kind: 'status', status, body });
  }

  /** Answers every request with `status` until `recover()` (an outage of unknown length). */
  failAll(status = 500): void {
    this.outage = status;
  }

  /** Ends `failAll`: requests are answered 200 again (scripts still come first). */
  recover(): void {
    this.outage = undefined;
  }

  /** Answers the next request with a redirect to `location`. */
  redirectNext(location: string, status = 302): void {
    this.scripts.push({ kind: 'redirect', status, location });
  }

  /** Never answers the next request (until the client gives up or the receiver closes). */
  stallNext(): void {
    this.scripts.push({ kind: 'stall' });
  }

  /** Answers the next request 200 with a body of `bytes` bytes. */
  largeNext(bytes: number): void {
    this.scripts.push({ kind: 'large', bytes });
  }

  /** Calls `listener` for each request as it is recorded; returns a function that stops it. */
  onWebhook(listener: (webhook: ReceivedWebhook) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops listening and cuts open connections (a stalled request included). */
  close(): Promise<void> {
    return new Promise((done) => {
      this.server.close(() => done());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string') headers[name] = value;
    }
    const verifiedWith: number[] = [];
    const verifyErrors: string[] = [];
    this.secrets.forEach((secret, index) => {
      try {
        new Webhook(secret).verify(body, headers);
        verifiedWith.push(index);
      } catch (error) {
        verifyErrors.push((error as Error).message);
      }
    });
    let type: string | undefined;
    try {
      const parsed = JSON.parse(body) as { type?: unknown };
      type = typeof parsed.type === 'string' ? parsed.type : undefined;
    } catch {
      type = undefined;
    }
    const script = this.scripts.shift() ?? (this.outage === undefined ? undefined : { kind: 'status' as const, status: this.outage, body: `outage ${this.outage}` });
    const status = script === undefined ? 200 : script.kind === 'status' || script.kind === 'redirect' ? script.status : script.kind === 'large' ? 200 : 0;
    const webhook: ReceivedWebhook = {
      id: headers['webhook-id'] ?? '',
      timestamp: headers['webhook-timestamp'] ?? '',
      signature: headers['webhook-signature'] ?? '',
      type,
      body,
      headers,
      path: req.url ?? '',
      verified: verifiedWith.length > 0,
      verifiedWith,
      verifyErrors,
      status,
      receivedAt: new Date(),
    };
    this.received.push(webhook);
    for (const listener of this.listeners) listener(webhook);

    if (script?.kind === 'stall') return;
    if (script?.kind === 'redirect') {
      res.writeHead(script.status, { location: script.location }).end();
    } else if (script?.kind === 'large') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(script.bytes));
    } else if (script?.kind === 'status') {
      res.writeHead(script.status, { 'content-type': 'text/plain' }).end(script.body);
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ received: webhook.id }));
    }
  }
}

/** Starts a receiver on 127.0.0.1. */
export const startWebhookReceiver = async (options: WebhookReceiverOptions): Promise<WebhookReceiver> => {
  const server = options.tls ? createTlsServer(options.tls) : createServer();
  const receiver = new WebhookReceiver(server, options.secrets, options.tls ? 'https' : 'http');
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, '127.0.0.1', () => done());
  });
  return receiver;
};
