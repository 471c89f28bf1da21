import { randomBytes } from 'node:crypto';
import { AesGcmCursorCodec } from '../../functions/adapters/crypto/aes-gcm-cursor-codec';
import { ResourceNotFoundError, ValidationFailedError } from '../../functions/domain/errors';
import type { Principal } from '../../functions/domain/model';
import type { WebhookMessage, WebhookSender, WebhookUrlGuard } from '../../functions/domain/ports';
import { SECRET_ROTATION_OVERLAP_MS, type AttemptResult, type CheckedTarget, type UrlCheck } from '../../functions/domain/webhooks';
import * as webhooks from '../../functions/use-cases/webhook-endpoints';
import { InMemoryAccountStore } from '../support/account-doubles';
import { FakeClock } from '../support/clock';
import { InMemoryWebhookDeliveryStore, RecordingScheduler, aDelivery } from '../support/webhook-doubles';

// The endpoint operations over the in-memory webhook store (its contract suite runs the same
// cases over DynamoDB: test/adapters/webhook-endpoint-store.test.ts), real cursors, and a guard
// and a sender played by the test. test/pipeline/webhook-endpoints.test.ts runs them over
// DynamoDB Local with the real guard, sender and receivers.

const T0 = new Date('2026-12-03T12:00:00.000Z');
const TEAM = 'tea_01HX0000000000000000000001';
const owner: Principal = { tokenId: 'tok_1', teamId: TEAM, abilities: ['project-access-code:create'] };
const outsider: Principal = { tokenId: 'tok_2', teamId: 'tea_01HX0000000000000000000002', abilities: ['project-access-code:create'] };

/** Lets every URL through but those on `blocked.test`. */
class StubGuard implements WebhookUrlGuard {
  async check(url: string): Promise<UrlCheck> {
    return url.includes('blocked.test') ? { ok: false, reason: 'the URL resolves to a private address' } : { ok: true, target: { url, address: '203.0.113.7', family: 4 } };
  }
}

/** Answers each send with the next status given (200 once they run out), keeping what was sent. */
class ScriptedSender implements WebhookSender {
  readonly sent: Array<{ target: CheckedTarget; message: WebhookMessage }> = [];
  constructor(private readonly statuses: number[] = []) {}
  async send(target: CheckedTarget, message: WebhookMessage): Promise<AttemptResult> {
    this.sent.push({ target, message });
    const status = this.statuses.shift() ?? 200;
    return { status, durationMs: 5, responseSnippet: `status ${status}`, outcome: status < 300 ? 'succeeded' : 'failed' };
  }
}

const setUp = async () => {
  const accounts = new InMemoryAccountStore();
  const store = new InMemoryWebhookDeliveryStore();
  const clock = new FakeClock(T0);
  const sender = new ScriptedSender();
  for (const id of ['prj_1', 'prj_2']) {
    await accounts.putProject({ id, teamId: TEAM, name: id, telegramChatId: null, tier: { freeAllotment: 0, unitPriceMinor: 1, currency: 'USD' }, stripeCustomerId: null, createdAt: T0.toISOString() });
  }
  const deps = {
    accounts,
    endpoints: store,
    deliveries: store,
    guard: new StubGuard(),
    sender,
    scheduler: new RecordingScheduler(),
    clock,
    cursors: new AesGcmCursorCodec(randomBytes(32)),
  };
  const create = (projectId = 'prj_1', url = 'https://hooks.example.test/in') => webhooks.createWebhookEndpoint(deps, owner, { project_id: projectId, url, events: ['access_code.*'] });
  return { deps, store, clock, sender, create };
};

/** Makes the delivery's first attempt, at T0, a final failure (503). */
const failFirstAttempt = async (store: InMemoryWebhookDeliveryStore, deliveryId: string) => {
  const claim = await store.claimAttempt(deliveryId, T0, 1);
  if (!claim.claimed) throw new Error(`${deliveryId} not claimed: ${claim.reason}`);
  const attempt = { attempt: 1, at: T0.toISOString(), status: 503, durationMs: 1, responseSnippet: '', outcome: 'failed' as const };
  if (!(await store.recordAttempt(deliveryId, claim.claimId, attempt, { status: 'failed', reason: 'exhausted' }))) throw new Error('not recorded');
};

describe('webhook endpoint operations', () => {
  test('creates an endpoint showing its secret once; lists a project’s endpoints a page at a time under cursors bound to the project; another team sees none of it', async () => {
    const { deps, clock, create } = await setUp();
    const created = [];
    for (let i = 0; i < 3; i++) {
      created.push(await create());
      clock.advance(1000);
    }
    await create('prj_2');

    expect(created[0]).toMatchObject({ project_id: 'prj_1', enabled: true, disabled: null, created_at: T0.toISOString(), secret: expect.stringMatching(/^whsec_/) });
    expect(await webhooks.getWebhookEndpoint(deps, owner, created[0]!.id)).not.toHaveProperty('secret');
    const first = await webhooks.listWebhookEndpoints(deps, owner, { project_id: 'prj_1', limit: 2 });
    const second = await webhooks.listWebhookEndpoints(deps, owner, { project_id: 'prj_1', limit: 2, cursor: first.next_cursor! });
    // Oldest first is id order: ids are ULIDs of the wall clock (within one millisecond their order is drawn).
    expect([...first.endpoints, ...second.endpoints].map((e) => e.id)).toEqual(created.map((e) => e.id).sort());
    expect(second.next_cursor).toBeNull();

    await expect(webhooks.listWebhookEndpoints(deps, owner, { project_id: 'prj_2', cursor: first.next_cursor! })).rejects.toBeInstanceOf(ValidationFailedError);
    await expect(webhooks.getWebhookEndpoint(deps, outsider, created[0]!.id)).rejects.toBeInstanceOf(ResourceNotFoundError);
    await expect(webhooks.listWebhookEndpoints(deps, outsider, { project_id: 'prj_1' })).rejects.toBeInstanceOf(ResourceNotFoundError);
    await expect(create('prj_1', 'https://blocked.test/in')).rejects.toBeInstanceOf(ValidationFailedError);
  });

  test('a patch that leaves `enabled` as it is keeps the failing streak; disabling by hand and re-enabling clear it; a deleted endpoint is not found', async () => {
    const { deps, store, clock, create } = await setUp();
    const { id } = await create();
    await store.recordEndpointFailure(id, T0);
    clock.advance(60_000);

    expect(await webhooks.updateWebhookEndpoint(deps, owner, id, { enabled: true, description: 'orders' })).toMatchObject({ description: 'orders', failing_since: T0.toISOString() });
    expect(await webhooks.updateWebhookEndpoint(deps, owner, id, { enabled: false })).toMatchObject({ enabled: false, disabled: { at: clock.now().toISOString(), reason: 'manual' } });
    expect(await webhooks.updateWebhookEndpoint(deps, owner, id, { enabled: true })).toMatchObject({ enabled: true, disabled: null, failing_since: null });
    await expect(webhooks.updateWebhookEndpoint(deps, outsider, id, { enabled: false })).rejects.toBeInstanceOf(ResourceNotFoundError);

    await webhooks.deleteWebhookEndpoint(deps, owner, id);
    await expect(webhooks.getWebhookEndpoint(deps, owner, id)).rejects.toBeInstanceOf(ResourceNotFoundError);
    await expect(webhooks.rotateWebhookSecret(deps, owner, id)).rejects.toBeInstanceOf(ResourceNotFoundError);
  });

  test('rotating answers the new secret and when the previous one stops signing; deliveries are then signed with both', async () => {
    const { deps, store, sender, create } = await setUp();
    const { id, secret } = await create();

    const rotated = await webhooks.rotateWebhookSecret(deps, owner, id);
    expect(rotated).toEqual({ id, secret: expect.stringMatching(/^whsec_/), previous_secrets_expire_at: new Date(T0.getTime() + SECRET_ROTATION_OVERLAP_MS).toISOString() });
    const delivery = aDelivery((await store.getEndpoint(id))!, T0);
    await store.createDeliveryIfAbsent(delivery);
    await failFirstAttempt(store, delivery.id);

    await webhooks.retryWebhookDelivery(deps, owner, id, delivery.id);
    expect(sender.sent.map((s) => s.message.secrets)).toEqual([[rotated.secret, secret]]);
  });

  test('retries a failed delivery once, now, as its next attempt; a succeeded or not yet due one is refused; another endpoint’s delivery is not found', async () => {
    const { deps, store, clock, sender, create } = await setUp();
    const endpoint = await create();
    const other = await create();
    const failed = aDelivery((await store.getEndpoint(endpoint.id))!, T0);
    const notDue = { ...aDelivery((await store.getEndpoint(endpoint.id))!, T0), nextAttemptAt: new Date(T0.getTime() + 3_600_000).toISOString() };
    await store.createDeliveryIfAbsent(failed);
    await store.createDeliveryIfAbsent(notDue);
    await failFirstAttempt(store, failed.id);
    clock.advance(60_000);

    const retried = await webhooks.retryWebhookDelivery(deps, owner, endpoint.id, failed.id);
    expect(retried).toMatchObject({ id: failed.id, status: 'succeeded', attempt_count: 2, failure_reason: null });
    expect(retried.attempts.map((a) => [a.attempt, a.response_status])).toEqual([
      [1, 503],
      [2, 200],
    ]);
    expect(sender.sent.map((s) => s.message.id)).toEqual([failed.eventId]);

    await expect(webhooks.retryWebhookDelivery(deps, owner, endpoint.id, failed.id)).rejects.toBeInstanceOf(ValidationFailedError);
    await expect(webhooks.retryWebhookDelivery(deps, owner, endpoint.id, notDue.id)).rejects.toBeInstanceOf(ValidationFailedError);
    await expect(webhooks.retryWebhookDelivery(deps, owner, other.id, failed.id)).rejects.toBeInstanceOf(ResourceNotFoundError);
    expect(sender.sent).toHaveLength(1);
  });
});
