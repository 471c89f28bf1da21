import { randomBytes } from 'node:crypto';
import type { Context, EventBridgeEvent, SQSEvent } from 'aws-lambda';
import * as v from 'valibot';
import { toJsonSchema } from '@valibot/to-json-schema';
import { AesGcmCursorCodec } from '../../functions/adapters/crypto/aes-gcm-cursor-codec';
import { DynamoWebhookStore } from '../../functions/adapters/dynamodb/webhook-store';
import { HttpWebhookSender } from '../../functions/adapters/webhooks/http-webhook-sender';
import { DnsWebhookUrlGuard } from '../../functions/adapters/webhooks/url-guard';
import { EVENT_API_VERSION, type EventEnvelope } from '../../functions/contracts/events';
import { webhookDeliveryMessage } from '../../functions/contracts/queue-messages';
import { ResourceNotFoundError, ValidationFailedError } from '../../functions/domain/errors';
import type { Principal } from '../../functions/domain/model';
import type { WebhookRetryScheduler } from '../../functions/domain/ports';
import { deliveryIdFor } from '../../functions/domain/webhooks';
import { makeHandler as makeDispatchHandler } from '../../functions/handlers/events/webhook-dispatch';
import { makeHandler as makeDeliveryHandler } from '../../functions/handlers/queue/webhook-delivery';
import { deliverWebhook, type DeliverWebhookDeps } from '../../functions/use-cases/deliver-webhook';
import { ProjectEndpointsCache, WebhookDispatchError, dispatchWebhooks, type DispatchWebhooksDeps } from '../../functions/use-cases/dispatch-webhooks';
import {
  CreateWebhookEndpointInputSchema,
  UpdateWebhookEndpointInputSchema,
} from '../../functions/operations/webhook-endpoint-inputs';
import * as webhooks from '../../functions/use-cases/webhook-endpoints';
import { FakeClock } from '../support/clock';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { createTeamFixture } from '../support/fixtures';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/fakes/webhook-receiver';
import { TEST_RETENTION_DAYS } from '../support/webhook-store-harness';

// The endpoints API, dispatch and delivery together over DynamoDB Local, the real URL guard and
// sender, and receivers on 127.0.0.1 that verify with `standardwebhooks`. The queue is played by
// the test: a scheduler that keeps each message with its due time on the fake clock.

/** The delivery queue, played in the test: messages with their due time. */
class TestQueue implements WebhookRetryScheduler {
  readonly messages: Array<{ deliveryId: string; dueAt: number; delaySeconds: number; target: { attempt?: number; endpointId?: string } }> = [];
  readonly sent: Array<{ deliveryId: string; delaySeconds: number }> = [];
  failNext: Error | undefined;
  constructor(private readonly clock: FakeClock) {}

  async scheduleRetry(deliveryId: string, delaySeconds: number, target: { attempt?: number; endpointId?: string } = {}): Promise<void> {
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    this.sent.push({ deliveryId, delaySeconds });
    this.messages.push({ deliveryId, delaySeconds, target, dueAt: this.clock.now().getTime() + delaySeconds * 1000 });
  }

  /** Runs messages in due order, moving the clock to each, until the queue is empty. */
  async drain(deps: DeliverWebhookDeps, maxRuns = 50): Promise<void> {
    for (let run = 0; run < maxRuns && this.messages.length > 0; run++) {
      this.messages.sort((a, b) => a.dueAt - b.dueAt);
      const next = this.messages.shift()!;
      if (next.dueAt > this.clock.now().getTime()) this.clock.set(new Date(next.dueAt));
      await deliverWebhook(deps, next.deliveryId, next.target);
    }
    if (this.messages.length > 0) throw new Error('the queue did not drain');
  }
}

const context = { functionName: 'test', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

let table: TestTable;
let store: DynamoWebhookStore;
let clock: FakeClock;
let queue: TestQueue;
let receiver: WebhookReceiver;
let deps: webhooks.WebhookEndpointsDeps & { cursors: AesGcmCursorCodec };
let deliverDeps: DeliverWebhookDeps;
let dispatchDeps: DispatchWebhooksDeps;
let team: { teamId: string; projectId: string };
let otherTeam: { teamId: string; projectId: string };
let principal: Principal;
let outsider: Principal;
let eventCounter = 0;

beforeAll(async () => {
  table = await createTestTable();
  store = new DynamoWebhookStore(table.db, table.tableName, { deliveryRetentionDays: TEST_RETENTION_DAYS });
  team = await createTeamFixture(table.accounts, {});
  otherTeam = await createTeamFixture(table.accounts, {});
  principal = { tokenId: 'tok_a', teamId: team.teamId, abilities: ['project-access-code:view-any'] };
  outsider = { tokenId: 'tok_b', teamId: otherTeam.teamId, abilities: ['project-access-code:view-any'] };
});
afterAll(() => table.drop());

beforeEach(async () => {
  clock = new FakeClock(new Date('2026-06-01T09:00:00Z'));
  queue = new TestQueue(clock);
  receiver = await startWebhookReceiver({ secrets: [] });
  const guard = new DnsWebhookUrlGuard({ allowPrivate: true });
  const sender = new HttpWebhookSender({ timeoutMs: 2_000 });
  deps = { accounts: table.accounts, endpoints: store, deliveries: store, guard, sender, scheduler: queue, clock, cursors: new AesGcmCursorCodec(randomBytes(32)) };
  deliverDeps = { store, guard, sender, scheduler: queue, clock, random: () => 0.5 };
  // Each test's own cache: a test's endpoints are seen by its first dispatch.
  dispatchDeps = { endpoints: store, scheduler: queue, clock, endpointCache: new ProjectEndpointsCache() };
});
afterEach(() => receiver.close());

const generated = (projectId: string): EventEnvelope => ({
  id: `evt_${Date.now()}_${++eventCounter}`,
  type: 'access_code.generated',
  created_at: clock.now().toISOString(),
  api_version: EVENT_API_VERSION,
  project_id: projectId,
  data: { batch_id: 'btc_1', plan_id: 'pln_1', count: 250, expires_at: null },
});

/** A project of its own for a test, so that its endpoints are the only ones dispatch finds. */
const freshProject = async () => createTeamFixture(table.accounts, {});
const principalOf = (fixture: { teamId: string }): Principal => ({ tokenId: 'tok_x', teamId: fixture.teamId, abilities: [] });

const create = (who: Principal, projectId: string, events: Array<'access_code.*' | 'access_code.generated' | 'access_code.redeemed'>, url = receiver.url()) =>
  webhooks.createWebhookEndpoint(deps, who, { project_id: projectId, url, events });

describe('dispatching an event to webhook endpoints', () => {
  it('makes one delivery for each enabled endpoint of the project subscribed to the type, and none for the others', async () => {
    const mine = await freshProject();
    const who = principalOf(mine);
    const wildcard = await create(who, mine.projectId, ['access_code.*']);
    const exact = await create(who, mine.projectId, ['access_code.generated']);
    await create(who, mine.projectId, ['access_code.redeemed']);
    const disabled = await create(who, mine.projectId, ['access_code.*']);
    await webhooks.updateWebhookEndpoint(deps, who, disabled.id, { enabled: false });
    await create(principal, team.projectId, ['access_code.*']); // another project
    const event = generated(mine.projectId);

    const result = await dispatchWebhooks(dispatchDeps, event);

    expect(result.deliveries.map((d) => d.endpointId).sort()).toEqual([wildcard.id, exact.id].sort());
    expect(queue.sent.map((m) => m.deliveryId).sort()).toEqual([deliveryIdFor(event.id, wildcard.id), deliveryIdFor(event.id, exact.id)].sort());
    expect(queue.sent.every((m) => m.delaySeconds === 0)).toBe(true);
    const stored = (await table.scanAll()).filter((item) => item.type === 'webhook_delivery' && item.event_id === event.id);
    expect(stored.map((item) => item.endpoint_id).sort()).toEqual([wildcard.id, exact.id].sort());
  });

  it('makes no second delivery when the same event is dispatched twice, and the receiver gets it once', async () => {
    const mine = await freshProject();
    const endpoint = await create(principalOf(mine), mine.projectId, ['access_code.*']);
    receiver.setSecrets([endpoint.secret]);
    const event = generated(mine.projectId);
    await dispatchWebhooks(dispatchDeps, event);

    const again = await dispatchWebhooks(dispatchDeps, event);
    await queue.drain(deliverDeps);

    expect(again.deliveries).toEqual([expect.objectContaining({ created: false })]);
    expect((await table.scanAll()).filter((item) => item.event_id === event.id)).toHaveLength(1);
    // The second dispatch queued the first attempt again; the claim made it once.
    expect(queue.sent).toHaveLength(2);
    expect(receiver.received.map((r) => [r.id, r.status])).toEqual([[event.id, 200]]);
  });

  it('queues on the next dispatch a delivery whose queueing failed: each endpoint gets the event once', async () => {
    const mine = await freshProject();
    const who = principalOf(mine);
    await create(who, mine.projectId, ['access_code.*']);
    await create(who, mine.projectId, ['access_code.*']);
    const event = generated(mine.projectId);
    queue.failNext = new Error('SQS unreachable');

    await expect(dispatchWebhooks(dispatchDeps, event)).rejects.toBeInstanceOf(WebhookDispatchError);
    expect(queue.sent).toHaveLength(1);
    const retried = await dispatchWebhooks(dispatchDeps, event);
    await queue.drain(deliverDeps);

    expect(retried.deliveries.map((d) => d.created)).toEqual([false, false]);
    expect(new Set(queue.sent.map((m) => m.deliveryId)).size).toBe(2);
    expect(receiver.received.map((r) => r.id)).toEqual([event.id, event.id]);
    expect(new Set(receiver.received.map((r) => r.path))).toEqual(new Set(['/webhooks']));
  });

  it('refuses a detail that is not an event envelope', async () => {
    await expect(dispatchWebhooks(dispatchDeps, { id: 'nope' })).rejects.toThrow('Not an event envelope');
  });
});

describe('webhooks end to end through the use cases', () => {
  it('delivers a generated event signed with the endpoint secret, with the event id as webhook-id', async () => {
    const mine = await freshProject();
    const endpoint = await create(principalOf(mine), mine.projectId, ['access_code.*']);
    expect(endpoint.secret).toMatch(/^whsec_/);
    receiver.setSecrets([endpoint.secret]);
    const event = generated(mine.projectId);

    await dispatchWebhooks(dispatchDeps, event);
    await queue.drain(deliverDeps);

    expect(receiver.received.map((r) => [r.id, r.type, r.verified])).toEqual([[event.id, 'access_code.generated', true]]);
    expect(JSON.parse(receiver.received[0]!.body)).toEqual(event);
  });

  it('retries a receiver that answers 500 twice: the same webhook-id three times, and the listing shows three attempts', async () => {
    const mine = await freshProject();
    const who = principalOf(mine);
    const endpoint = await create(who, mine.projectId, ['access_code.generated']);
    receiver.setSecrets([endpoint.secret]);
    receiver.failNext(2, 500);
    const event = generated(mine.projectId);

    await dispatchWebhooks(dispatchDeps, event);
    await queue.drain(deliverDeps);

    expect(receiver.received.map((r) => [r.id, r.status, r.verified])).toEqual([
      [event.id, 500, true],
      [event.id, 500, true],
      [event.id, 200, true],
    ]);
    const listing = await webhooks.listWebhookDeliveries(deps, who, endpoint.id, {});
    expect(listing.deliveries).toHaveLength(1);
    const [delivery] = listing.deliveries;
    expect(delivery).toMatchObject({ event_id: event.id, event_type: 'access_code.generated', status: 'succeeded', attempt_count: 3 });
    expect(delivery!.attempts.map((a) => [a.attempt, a.at, a.response_status, a.outcome])).toEqual([
      [1, '2026-06-01T09:00:00.000Z', 500, 'failed'],
      [2, '2026-06-01T09:00:05.000Z', 500, 'failed'],
      [3, '2026-06-01T09:05:05.000Z', 200, 'succeeded'],
    ]);
    expect(delivery!.attempts[0]).toMatchObject({ response_snippet: 'failure 500', error: expect.any(String) });
    expect(delivery!.attempts[2]!.response_snippet).toContain(event.id);
    expect((await webhooks.listWebhookDeliveries(deps, who, endpoint.id, { status: 'failed' })).deliveries).toEqual([]);
    expect((await webhooks.listWebhookDeliveries(deps, who, endpoint.id, { status: 'succeeded' })).deliveries).toHaveLength(1);
  });

  it('keeps the last 20 attempts of a delivery and counts them all', async () => {
    const mine = await freshProject();
    const endpoint = await create(principalOf(mine), mine.projectId, ['access_code.*']);
    const event = generated(mine.projectId);
    await dispatchWebhooks(dispatchDeps, event);
    const deliveryId = deliveryIdFor(event.id, endpoint.id);
    const claimAndRecord = async (n: number, outcome: 'failed' | 'succeeded', then: Parameters<typeof store.recordAttempt>[3]) => {
      const claim = await store.claimAttempt(deliveryId, clock.now());
      const claimId = claim.claimed ? claim.claimId : 'none';
      return store.recordAttempt(deliveryId, claimId, { attempt: n, at: clock.now().toISOString(), status: outcome === 'failed' ? 500 : 200, durationMs: n, responseSnippet: '', outcome }, then);
    };
    for (let n = 1; n <= 23; n++) {
      const now = clock.now().toISOString();
      const then = n === 23 ? ({ status: 'succeeded' } as const) : ({ status: 'pending', nextAttemptAt: now, checkAt: now } as const);
      expect(await claimAndRecord(n, n === 23 ? 'succeeded' : 'failed', then)).toBe(true);
    }

    const found = await store.getDeliveryWithAttempts(deliveryId);

    expect(found!.delivery).toMatchObject({ attemptCount: 23, status: 'succeeded' });
    expect(found!.attempts.map((a) => a.attempt)).toEqual(Array.from({ length: 20 }, (_, i) => i + 4));
    expect(await claimAndRecord(24, 'succeeded', { status: 'succeeded' })).toBe(false);
  });

  it('signs with both secrets for 24 hours after a rotation, then with the new one only', async () => {
    const mine = await freshProject();
    const who = principalOf(mine);
    const endpoint = await create(who, mine.projectId, ['access_code.*']);
    clock.advance(60_000);
    const rotated = await webhooks.rotateWebhookSecret(deps, who, endpoint.id);
    expect(rotated.secret).not.toBe(endpoint.secret);
    expect(rotated.previous_secrets_expire_at).toBe('2026-06-02T09:01:00.000Z');
    receiver.setSecrets([endpoint.secret, rotated.secret]);

    await dispatchWebhooks(dispatchDeps, generated(mine.projectId));
    await queue.drain(deliverDeps);
    clock.advance(24 * 3_600_000);
    await dispatchWebhooks(dispatchDeps, generated(mine.projectId));
    await queue.drain(deliverDeps);

    expect(receiver.received.map((r) => r.verifiedWith)).toEqual([[0, 1], [1]]);
  });

  it('sends a failed delivery again on request with the same webhook-id, once the endpoint is re-enabled', async () => {
    const mine = await freshProject();
    const who = principalOf(mine);
    const endpoint = await create(who, mine.projectId, ['access_code.*']);
    receiver.setSecrets([endpoint.secret]);
    receiver.failNext(1, 410);
    const event = generated(mine.projectId);
    await dispatchWebhooks(dispatchDeps, event);
    await queue.drain(deliverDeps);
    const gone = await webhooks.getWebhookEndpoint(deps, who, endpoint.id);
    expect(gone).toMatchObject({ enabled: false, disabled: { reason: 'gone', at: '2026-06-01T09:00:00.000Z', message: expect.stringContaining('410') } });

    const reenabled = await webhooks.updateWebhookEndpoint(deps, who, endpoint.id, { enabled: true });
    const retried = await webhooks.retryWebhookDelivery(deps, who, endpoint.id, deliveryIdFor(event.id, endpoint.id));

    expect(reenabled).toMatchObject({ enabled: true, disabled: null, failing_since: null });
    expect(retried).toMatchObject({ status: 'succeeded', attempt_count: 2 });
    expect(receiver.received.map((r) => [r.id, r.status, r.verified])).toEqual([
      [event.id, 410, true],
      [event.id, 200, true],
    ]);
    await expect(webhooks.retryWebhookDelivery(deps, who, endpoint.id, retried.id)).rejects.toMatchObject({ status: 422, details: [{ path: 'delivery_id' }] });
  });

  it('sends a signed webhook.test event that is not stored', async () => {
    const mine = await freshProject();
    const who = principalOf(mine);
    const endpoint = await create(who, mine.projectId, ['access_code.*']);
    receiver.setSecrets([endpoint.secret]);

    const sent = await webhooks.sendTestWebhook(deps, who, endpoint.id);

    expect(sent.attempt).toMatchObject({ response_status: 200, outcome: 'succeeded' });
    expect(receiver.received.map((r) => [r.id, r.type, r.verified])).toEqual([[sent.event_id, 'webhook.test', true]]);
    expect((await webhooks.listWebhookDeliveries(deps, who, endpoint.id, {})).deliveries).toEqual([]);
  });

  it('runs dispatch and delivery through their Lambda handlers', async () => {
    const mine = await freshProject();
    const endpoint = await create(principalOf(mine), mine.projectId, ['access_code.*']);
    receiver.setSecrets([endpoint.secret]);
    const event = generated(mine.projectId);
    const bridgeEvent = { 'detail-type': event.type, source: 'memberpass.access-codes', detail: event } as unknown as EventBridgeEvent<string, unknown>;

    await makeDispatchHandler(dispatchDeps)(bridgeEvent, context);
    const records = [...queue.messages.splice(0), { deliveryId: 'not-a-delivery' }].map((m, i) => ({
      messageId: `m${i}`,
      body: m.deliveryId === 'not-a-delivery' ? '{"kind":"deliver","job_id":"x"}' : JSON.stringify(webhookDeliveryMessage(m.deliveryId, 'target' in m ? m.target : {})),
      attributes: { ApproximateReceiveCount: '1' },
      eventSource: 'aws:sqs',
    }));
    const response = await makeDeliveryHandler(deliverDeps)({ Records: records } as unknown as SQSEvent, context);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(receiver.received.map((r) => [r.id, r.verified])).toEqual([[event.id, true]]);
  });
});

describe('managing webhook endpoints', () => {
  it('lists a project’s endpoints a page at a time, without their secrets', async () => {
    const mine = await freshProject();
    const who = principalOf(mine);
    const created = [await create(who, mine.projectId, ['access_code.*']), await create(who, mine.projectId, ['access_code.expired' as 'access_code.*']), await create(who, mine.projectId, ['access_code.*'])];

    const first = await webhooks.listWebhookEndpoints(deps, who, { project_id: mine.projectId, limit: 2 });
    const second = await webhooks.listWebhookEndpoints(deps, who, { project_id: mine.projectId, limit: 2, cursor: first.next_cursor! });

    expect([...first.endpoints, ...second.endpoints].map((e) => e.id)).toEqual(created.map((e) => e.id));
    expect(second.next_cursor).toBeNull();
    expect(JSON.stringify(first)).not.toContain('whsec_');
    await expect(webhooks.listWebhookEndpoints(deps, who, { project_id: mine.projectId, cursor: 'garbage' })).rejects.toMatchObject({ status: 422, details: [{ path: 'cursor' }] });
    await expect(
      webhooks.listWebhookEndpoints(deps, principal, { project_id: team.projectId, cursor: first.next_cursor! }),
    ).rejects.toMatchObject({ details: [{ path: 'cursor' }] });
  });

  it('updates url, events and description, and deletes an endpoint', async () => {
    const mine = await freshProject();
    const who = principalOf(mine);
    const endpoint = await create(who, mine.projectId, ['access_code.*']);

    const updated = await webhooks.updateWebhookEndpoint(deps, who, endpoint.id, { url: receiver.url('/other'), events: ['access_code.redeemed', 'access_code.redeemed'], description: 'CRM sync' });
    const cleared = await webhooks.updateWebhookEndpoint(deps, who, endpoint.id, { description: null });
    const disabled = await webhooks.updateWebhookEndpoint(deps, who, endpoint.id, { enabled: false });
    await webhooks.deleteWebhookEndpoint(deps, who, endpoint.id);

    expect(updated).toMatchObject({ url: receiver.url('/other'), events: ['access_code.redeemed'], description: 'CRM sync' });
    expect(cleared.description).toBeNull();
    expect(disabled).toMatchObject({ enabled: false, disabled: { reason: 'manual', at: '2026-06-01T09:00:00.000Z' } });
    await expect(webhooks.getWebhookEndpoint(deps, who, endpoint.id)).rejects.toBeInstanceOf(ResourceNotFoundError);
  });

  it('refuses a private URL with 422 on url when private addresses are not allowed, storing nothing', async () => {
    const mine = await freshProject();
    const who = principalOf(mine);
    const production = { ...deps, guard: new DnsWebhookUrlGuard({ allowPrivate: false }) };
    const endpoint = await create(who, mine.projectId, ['access_code.*']);

    for (const url of ['https://127.0.0.1/hook', 'https://169.254.169.254/latest', 'http://example.com/hook']) {
      const refused = webhooks.createWebhookEndpoint(production, who, { project_id: mine.projectId, url, events: ['access_code.*'] });
      await expect(refused).rejects.toBeInstanceOf(ValidationFailedError);
      await expect(refused).rejects.toMatchObject({ status: 422, details: [{ path: 'url' }] });
    }
    await expect(webhooks.updateWebhookEndpoint(production, who, endpoint.id, { url: 'https://[::1]/x' })).rejects.toMatchObject({ status: 422, details: [{ path: 'url' }] });
    expect((await webhooks.listWebhookEndpoints(deps, who, { project_id: mine.projectId })).endpoints.map((e) => [e.id, e.url])).toEqual([[endpoint.id, endpoint.url]]);
  });

  it('answers not found for another team’s project, endpoint and delivery, changing nothing', async () => {
    const endpoint = await create(principal, team.projectId, ['access_code.*']);
    receiver.setSecrets([endpoint.secret]);
    const event = generated(team.projectId);
    await dispatchWebhooks(dispatchDeps, event);
    await queue.drain(deliverDeps);
    const deliveryId = deliveryIdFor(event.id, endpoint.id);
    const before = receiver.received.length;

    const attempts = [
      () => webhooks.createWebhookEndpoint(deps, outsider, { project_id: team.projectId, url: receiver.url(), events: ['access_code.*'] }),
      () => webhooks.listWebhookEndpoints(deps, outsider, { project_id: team.projectId }),
      () => webhooks.getWebhookEndpoint(deps, outsider, endpoint.id),
      () => webhooks.updateWebhookEndpoint(deps, outsider, endpoint.id, { enabled: false }),
      () => webhooks.deleteWebhookEndpoint(deps, outsider, endpoint.id),
      () => webhooks.rotateWebhookSecret(deps, outsider, endpoint.id),
      () => webhooks.listWebhookDeliveries(deps, outsider, endpoint.id, {}),
      () => webhooks.retryWebhookDelivery(deps, outsider, endpoint.id, deliveryId),
      () => webhooks.sendTestWebhook(deps, outsider, endpoint.id),
    ];
    for (const attempt of attempts) await expect(attempt()).rejects.toMatchObject({ status: 404, code: 'RESOURCE_NOT_FOUND' });

    expect(await webhooks.getWebhookEndpoint(deps, principal, endpoint.id)).toMatchObject({ enabled: true });
    expect((await store.getEndpoint(endpoint.id))!.secrets).toHaveLength(1);
    expect(receiver.received.length).toBe(before);
    // A delivery of one endpoint is not reachable through another of the same team either.
    const second = await create(principal, team.projectId, ['access_code.redeemed']);
    await expect(webhooks.retryWebhookDelivery(deps, principal, second.id, deliveryId)).rejects.toMatchObject({ status: 404 });
  });
});

describe('the DynamoDB webhook store', () => {
  it('keeps every secret when two rotations run at once', async () => {
    const mine = await freshProject();
    const endpoint = await create(principalOf(mine), mine.projectId, ['access_code.*']);

    await Promise.all([store.rotateSecret(endpoint.id, 'whsec_b', clock.now()), store.rotateSecret(endpoint.id, 'whsec_c', clock.now())]);

    const secrets = (await store.getEndpoint(endpoint.id))!.secrets.map((s) => s.secret);
    expect(secrets).toHaveLength(3);
    expect(new Set(secrets)).toEqual(new Set([endpoint.secret, 'whsec_b', 'whsec_c']));
  });

  it('pages an endpoint’s deliveries of one status newest first, skipping the others', async () => {
    const mine = await freshProject();
    const endpoint = await create(principalOf(mine), mine.projectId, ['access_code.*']);
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) {
      clock.advance(1_000);
      const event = generated(mine.projectId);
      await dispatchWebhooks(dispatchDeps, event);
      const id = deliveryIdFor(event.id, endpoint.id);
      ids.push(id);
      if (n % 2 === 0) {
        const claim = await store.claimAttempt(id, clock.now());
        if (claim.claimed) await store.markFailed(id, claim.claimId, 'test');
      }
    }

    const pages: string[][] = [];
    let after: Record<string, string> | undefined;
    do {
      const page = await store.listDeliveries(endpoint.id, { limit: 1, status: 'failed', ...(after ? { after } : {}) });
      pages.push(page.items.map((d) => d.delivery.id));
      after = page.next ?? undefined;
    } while (after);

    expect(pages.flat()).toEqual([ids[4], ids[2], ids[0]]);
    expect((await store.listDeliveries(endpoint.id, { limit: 10, status: 'pending' })).items.map((d) => d.delivery.id)).toEqual([ids[3], ids[1]]);
  });
});

describe('the deliveries listing cursor', () => {
  it('pages with an opaque cursor, and refuses one forged within the same endpoint, altered, or issued for another filter (422 on cursor)', async () => {
    const mine = await freshProject();
    const who = principalOf(mine);
    const endpoint = await create(who, mine.projectId, ['access_code.*']);
    for (let n = 0; n < 3; n++) {
      clock.advance(1_000);
      await dispatchWebhooks(dispatchDeps, generated(mine.projectId));
    }

    const first = await webhooks.listWebhookDeliveries(deps, who, endpoint.id, { limit: 1 });
    const second = await webhooks.listWebhookDeliveries(deps, who, endpoint.id, { limit: 1, cursor: first.next_cursor! });
    const rawKey = (await store.listDeliveries(endpoint.id, { limit: 1 })).next!;
    // A position of one's own endpoint, made by hand as the plain key (what a cursor used to be).
    const forged = Buffer.from(JSON.stringify({ ...rawKey, gsi1sk: 'WHDELIVERY#9999' })).toString('base64url');
    const flipped = first.next_cursor!.slice(0, -2) + (first.next_cursor!.endsWith('AA') ? 'AB' : 'AA');
    const refused = [
      { limit: 1, cursor: forged },
      { limit: 1, cursor: Buffer.from(JSON.stringify(rawKey)).toString('base64url') },
      { limit: 1, cursor: flipped },
      { limit: 1, status: 'pending' as const, cursor: first.next_cursor! },
    ];

    expect(second.deliveries[0]!.id).not.toBe(first.deliveries[0]!.id);
    expect(first.next_cursor).not.toContain(endpoint.id);
    for (const input of refused) {
      await expect(webhooks.listWebhookDeliveries(deps, who, endpoint.id, input)).rejects.toMatchObject({ status: 422, details: [{ path: 'cursor' }] });
    }
  });
});

describe('webhook endpoint inputs', () => {
  const valid = { project_id: 'prj_1', url: 'https://example.com/hooks', events: ['access_code.*'] };

  it('accepts the three types and access_code.*, and refuses anything else', () => {
    expect(v.safeParse(CreateWebhookEndpointInputSchema, { ...valid, events: ['access_code.generated', 'access_code.redeemed', 'access_code.expired', 'access_code.*'] }).success).toBe(true);
    expect(v.safeParse(CreateWebhookEndpointInputSchema, { ...valid, events: ['access_code.deleted'] }).success).toBe(false);
    expect(v.safeParse(CreateWebhookEndpointInputSchema, { ...valid, events: [] }).success).toBe(false);
    expect(v.safeParse(CreateWebhookEndpointInputSchema, { ...valid, url: 'not a url' }).success).toBe(false);
    expect(v.safeParse(CreateWebhookEndpointInputSchema, { ...valid, url: `https://example.com/${'a'.repeat(2048)}` }).success).toBe(false);
    expect(v.safeParse(CreateWebhookEndpointInputSchema, { ...valid, description: 'd'.repeat(256) }).success).toBe(true);
    expect(v.safeParse(CreateWebhookEndpointInputSchema, { ...valid, description: 'd'.repeat(257) }).success).toBe(false);
    expect(v.safeParse(UpdateWebhookEndpointInputSchema, { description: null, enabled: true }).success).toBe(true);
  });

  it('converts to JSON Schema (declarative: no transform or check)', () => {
    const schema = toJsonSchema(CreateWebhookEndpointInputSchema) as { required: string[]; properties: Record<string, { maxLength?: number; items?: { enum?: string[] } }> };
    expect(schema.required.sort()).toEqual(['events', 'project_id', 'url']);
    expect(schema.properties.url!.maxLength).toBe(2048);
    expect(schema.properties.events!.items!.enum).toContain('access_code.*');
  });
});
