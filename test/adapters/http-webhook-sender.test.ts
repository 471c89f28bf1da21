import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { HttpWebhookSender } from '../../functions/adapters/webhooks/http-webhook-sender';
import { checkWebhookUrl } from '../../functions/adapters/webhooks/url-guard';
import type { WebhookMessage } from '../../functions/domain/ports';
import {
  generateWebhookSecret,
  initialSecrets,
  rotateSecrets,
  signingSecrets,
  type CheckedTarget,
} from '../../functions/domain/webhooks';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/fakes/webhook-receiver';

const envelope = {
  id: 'evt_01JWEBHOOKSENDERTEST0000',
  type: 'access_code.generated',
  created_at: '2026-05-18T10:05:00Z',
  api_version: '2026-05-01',
  project_id: 'prj_01HX',
  data: { batch_id: 'btc_01HX', plan_id: 'pln_01HX', count: 250, expires_at: null },
};
const message = (secrets: string[]): WebhookMessage => ({ id: envelope.id, body: JSON.stringify(envelope), secrets });

/** The target the guard gives for a receiver URL in local mode. */
const targetFor = async (url: string): Promise<CheckedTarget> => {
  const check = await checkWebhookUrl(url, { allowPrivate: true });
  if (!check.ok) throw new Error(check.reason);
  return check.target;
};

describe('HTTP webhook sender', () => {
  const secret = generateWebhookSecret();
  let receiver: WebhookReceiver;
  const sender = new HttpWebhookSender();

  beforeEach(async () => {
    receiver = await startWebhookReceiver({ secrets: [secret] });
  });
  afterEach(() => receiver.close());

  it('POSTs the envelope as JSON with Standard Webhooks headers that standardwebhooks verifies', async () => {
    const result = await sender.send(await targetFor(receiver.url()), message([secret]));

    expect(result).toMatchObject({ status: 200, outcome: 'succeeded', responseSnippet: JSON.stringify({ received: envelope.id }) });
    expect(result.error).toBeUndefined();
    expect(receiver.received).toHaveLength(1);
    const got = receiver.received[0]!;
    expect(got).toMatchObject({ id: envelope.id, type: 'access_code.generated', verified: true, path: '/webhooks' });
    expect(JSON.parse(got.body)).toEqual(envelope);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['user-agent']).toBe('MemberPass-Webhooks/1.0');
    expect(got.signature).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
  });

  it('keeps the connection alive: three attempts to one receiver, one after another, go over one socket', async () => {
    const own = new HttpWebhookSender();
    const sockets = new Set<unknown>();
    const http = await import('node:http');
    const server = http.createServer((req, res) => {
      sockets.add(req.socket);
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const target = await targetFor(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`);
      const results = [];
      for (let n = 0; n < 3; n++) results.push(await own.send(target, message([secret])));

      expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(sockets.size).toBe(1);
    } finally {
      own.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('is not verified by a receiver holding another secret', async () => {
    await sender.send(await targetFor(receiver.url()), message([generateWebhookSecret()]));

    expect(receiver.received[0]).toMatchObject({ verified: false, verifyErrors: ['No matching signature found'] });
  });

  it('signs each attempt at its own time, and every attempt verifies', async () => {
    const first = new Date();
    const instants = [first, new Date(first.getTime() + 60_000)];
    const clocked = new HttpWebhookSender({ now: () => instants.shift()! });
    const target = await targetFor(receiver.url());

    await clocked.send(target, message([secret]));
    await clocked.send(target, message([secret]));

    const [a, b] = receiver.received;
    expect(Number(b!.timestamp) - Number(a!.timestamp)).toBe(60);
    expect(a!.signature).not.toBe(b!.signature);
    expect(a!.id).toBe(b!.id);
    expect([a!.verified, b!.verified]).toEqual([true, true]);
  });

  describe('during a secret rotation', () => {
    const rotatedAt = new Date();
    const oldSecret = generateWebhookSecret();
    const newSecret = generateWebhookSecret();
    const secrets = rotateSecrets(initialSecrets(oldSecret, new Date(rotatedAt.getTime() - 86_400_000 * 30)), newSecret, rotatedAt);
    const signingAt = (hours: number) => signingSecrets(secrets, new Date(rotatedAt.getTime() + hours * 3_600_000)).map((s) => s.secret);

    it('carries signatures that verify with the old and with the new secret during the 24 h overlap', async () => {
      receiver.setSecrets([oldSecret, newSecret]);

      await sender.send(await targetFor(receiver.url()), message(signingAt(23)));

      expect(receiver.received[0]!.signature.split(' ')).toHaveLength(2);
      expect(receiver.received[0]!.verifiedWith).toEqual([0, 1]);
    });

    it('verifies only with the new secret after the overlap', async () => {
      receiver.setSecrets([oldSecret, newSecret]);

      await sender.send(await targetFor(receiver.url()), message(signingAt(24)));

      expect(receiver.received[0]!.signature.split(' ')).toHaveLength(1);
      expect(receiver.received[0]!.verifiedWith).toEqual([1]);
    });
  });

  it('does not follow a redirect and counts it as a failure', async () => {
    const elsewhere = await startWebhookReceiver({ secrets: [secret] });
    try {
      receiver.redirectNext(elsewhere.url('/stolen'), 307);

      const result = await sender.send(await targetFor(receiver.url()), message([secret]));

      expect(result).toMatchObject({ status: 307, outcome: 'failed', error: expect.stringContaining('not followed') });
      expect(elsewhere.received).toHaveLength(0);
    } finally {
      await elsewhere.close();
    }
  });

  it('gives up on a receiver that does not answer within the timeout', async () => {
    receiver.stallNext();
    const impatient = new HttpWebhookSender({ timeoutMs: 200 });

    const result = await impatient.send(await targetFor(receiver.url()), message([secret]));

    expect(result).toMatchObject({ status: null, outcome: 'failed', error: 'No response within 200 ms.', responseSnippet: '' });
    expect(receiver.received).toHaveLength(1);
  });

  it('reports 410 as gone', async () => {
    receiver.failNext(1, 410, 'endpoint removed');

    const result = await sender.send(await targetFor(receiver.url()), message([secret]));

    expect(result).toMatchObject({ status: 410, outcome: 'gone', responseSnippet: 'endpoint removed' });
  });

  it('reports a 500 as a failure with the start of the response', async () => {
    receiver.failNext(1, 500, 'database on fire');

    const result = await sender.send(await targetFor(receiver.url()), message([secret]));

    expect(result).toMatchObject({ status: 500, outcome: 'failed', error: 'The endpoint answered 500.', responseSnippet: 'database on fire' });
  });

  it('keeps only the first 1 KiB of a large response', async () => {
    receiver.largeNext(1_000_000);

    const result = await sender.send(await targetFor(receiver.url()), message([secret]));

    expect(result.outcome).toBe('succeeded');
    expect(result.responseSnippet).toBe('x'.repeat(1024));
  });

  it('connects to the checked address and keeps the URL host in the Host header (no second DNS lookup)', async () => {
    const port = new URL(receiver.origin).port;
    // `.invalid` never resolves (RFC 6761): the request can only arrive through the pinned address.
    const target: CheckedTarget = { url: `http://hooks.memberpass.invalid:${port}/in`, address: '127.0.0.1', family: 4 };

    const result = await sender.send(target, message([secret]));

    expect(result.outcome).toBe('succeeded');
    expect(receiver.received[0]).toMatchObject({ path: '/in', verified: true });
    expect(receiver.received[0]!.headers.host).toBe(`hooks.memberpass.invalid:${port}`);
  });

  it('reports a refused connection as a failure without a status', async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((done) => closed.close(() => done()));

    const result = await sender.send(await targetFor(`http://127.0.0.1:${port}/`), message([secret]));

    expect(result).toMatchObject({ status: null, outcome: 'failed', error: 'Request failed: ECONNREFUSED.' });
  });
});

describe('HTTP webhook sender over TLS, pinned to the checked address', () => {
  const secret = generateWebhookSecret();
  const HOST = 'hooks.memberpass.test';
  let receiver: WebhookReceiver;
  let cert: string;

  beforeAll(async () => {
    // A throwaway self-signed certificate for HOST, made with the openssl CLI.
    const dir = mkdtempSync(join(tmpdir(), 'webhook-tls-'));
    try {
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', `/CN=${HOST}`, '-addext', `subjectAltName=DNS:${HOST}`,
      ], { stdio: 'ignore' });
      cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
      receiver = await startWebhookReceiver({ secrets: [secret], tls: { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  afterAll(() => receiver.close());

  it('checks the certificate against the URL host name while connecting to the pinned address', async () => {
    const sender = new HttpWebhookSender({ ca: cert });
    const target: CheckedTarget = { url: `https://${HOST}:${receiver.port}/tls`, address: '127.0.0.1', family: 4 };

    const result = await sender.send(target, message([secret]));

    expect(result).toMatchObject({ status: 200, outcome: 'succeeded' });
    expect(receiver.received.at(-1)).toMatchObject({ path: '/tls', verified: true });
    expect(receiver.received.at(-1)!.headers.host).toBe(`${HOST}:${receiver.port}`);
  });

  it('refuses a certificate that does not name the URL host, though the address is the same', async () => {
    const sender = new HttpWebhookSender({ ca: cert });
    const before = receiver.received.length;
    const target: CheckedTarget = { url: `https://other.memberpass.test:${receiver.port}/tls`, address: '127.0.0.1', family: 4 };

    const result = await sender.send(target, message([secret]));

    expect(result).toMatchObject({ status: null, outcome: 'failed', error: 'Request failed: ERR_TLS_CERT_ALTNAME_INVALID.' });
    expect(receiver.received).toHaveLength(before);
  });

  it('refuses a certificate from an authority it does not trust', async () => {
    const target: CheckedTarget = { url: `https://${HOST}:${receiver.port}/tls`, address: '127.0.0.1', family: 4 };

    const result = await new HttpWebhookSender().send(target, message([secret]));

    expect(result).toMatchObject({ status: null, outcome: 'failed', error: expect.stringMatching(/^Request failed: (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\.$/) });
  });
});
