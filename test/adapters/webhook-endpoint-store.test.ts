import { DynamoWebhookStore } from '../../functions/adapters/dynamodb/webhook-store';
import { InvalidWebhookCursorError, type WebhookDeliveryStore, type WebhookEndpointStore, type WebhookListPosition } from '../../functions/domain/ports';
import {
  MAX_STORED_ATTEMPTS,
  SECRET_ROTATION_OVERLAP_MS,
  generateWebhookSecret,
  newWebhookEndpointId,
  rotateSecrets,
  sweepCheckAt,
  type DeliveryStatus,
  type WebhookAttempt,
  type WebhookEndpoint,
} from '../../functions/domain/webhooks';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { InMemoryWebhookDeliveryStore, aDelivery, anEndpoint } from '../support/webhook-doubles';
import { TEST_RETENTION_DAYS } from '../support/webhook-store-harness';

// One contract, two implementations of the endpoint store (the management side of webhook
// storage): the in-memory double and DynamoWebhookStore on DynamoDB Local. Both implement the
// delivery side too, on the same items, so the cases use it where the two sides meet (a failed
// delivery to reopen, attempts to keep, a deleted endpoint's outcomes). A case that passes on one
// and fails on the other is a double that drifted.

/** Both sides of webhook storage, as each implementation offers them. */
type WebhookStore = WebhookEndpointStore & WebhookDeliveryStore;

let table: TestTable | undefined;
afterAll(async () => table?.drop());

const implementations: Array<[string, () => Promise<WebhookStore>]> = [
  ['in memory', async () => new InMemoryWebhookDeliveryStore()],
  [
    'DynamoDB',
    async () => {
      table ??= await createTestTable();
      return new DynamoWebhookStore(table.db, table.tableName, { deliveryRetentionDays: TEST_RETENTION_DAYS });
    },
  ],
];

const T0 = new Date('2026-06-01T09:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const iso = (seconds: number) => at(seconds).toISOString();
let counter = 0;
/** A project no other case uses (the DynamoDB half shares one table). */
const aProject = () => `prj_contract_${Date.now()}_${++counter}`;
const endpointIn = (projectId: string, overrides: Partial<WebhookEndpoint> = {}) =>
  anEndpoint('https://hooks.example.test/in', generateWebhookSecret(), T0, { projectId, ...overrides });
const anAttempt = (attempt: number, seconds: number, outcome: WebhookAttempt['outcome'] = 'failed'): WebhookAttempt => ({
  attempt,
  at: iso(seconds),
  status: outcome === 'succeeded' ? 200 : 503,
  durationMs: 12,
  responseSnippet: `answer ${attempt}`,
  outcome,
});
const ids = (page: { items: Array<{ id: string } | { delivery: { id: string } }> }) =>
  page.items.map((item) => ('delivery' in item ? item.delivery.id : item.id));

describe.each(implementations)('the webhook endpoint store (%s)', (_name, open) => {
  let store: WebhookStore;
  beforeAll(async () => {
    store = await open();
  });

  /** Claims the delivery's next attempt at `seconds` and records it as `then`. */
  const attempt = async (deliveryId: string, number: number, seconds: number, then: Parameters<WebhookStore['recordAttempt']>[3]) => {
    const claim = await store.claimAttempt(deliveryId, at(seconds), number);
    if (!claim.claimed) throw new Error(`attempt ${number} of ${deliveryId} not claimed: ${claim.reason}`);
    expect(await store.recordAttempt(deliveryId, claim.claimId, anAttempt(number, seconds), then)).toBe(true);
  };

  test('reads back an endpoint as it was stored, as a copy; an unknown id is undefined; a second create of the same id is refused and keeps the first', async () => {
    const project = aProject();
    const busy = endpointIn(project, {
      description: 'orders',
      events: ['access_code.redeemed', 'access_code.expired'],
      secrets: rotateSecrets(endpointIn(project).secrets, generateWebhookSecret(), at(60)),
      lastSuccessAt: iso(90),
      failingSince: iso(120),
    });
    const disabled = endpointIn(project, { enabled: false, disabledAt: iso(30), disabledReason: 'gone' });
    await store.createEndpoint(busy);
    await store.createEndpoint(disabled);

    expect(await store.getEndpoint(busy.id)).toEqual(busy);
    expect(await store.getEndpoint(disabled.id)).toEqual(disabled);
    expect(await store.getEndpoint(newWebhookEndpointId())).toBeUndefined();
    const read = (await store.getEndpoint(busy.id))!;
    read.url = 'https://changed.example.test';
    read.secrets.pop();
    expect(await store.getEndpoint(busy.id)).toEqual(busy);

    await expect(store.createEndpoint({ ...busy, url: 'https://intruder.example.test' })).rejects.toThrow();
    expect(await store.getEndpoint(busy.id)).toEqual(busy);
  });

  test('lists a project’s endpoints oldest first, a page at a time; a page that fills its limit has a next, which may read an empty page', async () => {
    const project = aProject();
    // Endpoint ids are ULIDs: their order is the order of creation.
    const endpoints = Array.from({ length: 3 }, () => newWebhookEndpointId())
      .sort()
      .map((id, i) => endpointIn(project, { id, createdAt: iso(i) }));
    for (const endpoint of [endpoints[2]!, endpoints[0]!, endpoints[1]!]) await store.createEndpoint(endpoint);
    await store.createEndpoint(endpointIn(aProject()));

    const first = await store.listEndpoints(project, { limit: 2 });
    expect(first.items).toEqual(endpoints.slice(0, 2));
    expect(first.next).not.toBeNull();
    expect(await store.listEndpoints(project, { limit: 2, after: first.next! })).toEqual({ items: [endpoints[2]], next: null });

    const whole = await store.listEndpoints(project, { limit: 3 });
    expect(whole.items).toEqual(endpoints);
    expect(await store.listEndpoints(project, { limit: 3, after: whole.next! })).toEqual({ items: [], next: null });
    expect(await store.listEndpoints(project, { limit: 4 })).toEqual({ items: endpoints, next: null });

    expect(await store.projectEndpoints(project)).toEqual(endpoints);
    expect(await store.projectEndpoints(aProject())).toEqual([]);
    expect(await store.listEndpoints(aProject(), { limit: 5 })).toEqual({ items: [], next: null });
  });

  test('refuses a position that is not one of the listing’s: another project’s, another endpoint’s, the other listing’s, or not a key', async () => {
    const [project, other] = [aProject(), aProject()];
    const [mine, theirs] = [endpointIn(project), endpointIn(other)];
    for (const endpoint of [mine, endpointIn(project), theirs, endpointIn(other)]) await store.createEndpoint(endpoint);
    for (const endpoint of [mine, theirs]) {
      for (const eventId of ['evt_1', 'evt_2']) await store.createDeliveryIfAbsent(aDelivery(endpoint, T0, `${eventId}_${endpoint.id}`));
    }
    const theirEndpoints = (await store.listEndpoints(other, { limit: 1 })).next!;
    const theirDeliveries = (await store.listDeliveries(theirs.id, { limit: 1 })).next!;
    const notAKey = { pk: 'WHENDPOINT#x' } as WebhookListPosition;

    for (const after of [theirEndpoints, theirDeliveries, notAKey]) {
      await expect(store.listEndpoints(project, { limit: 1, after })).rejects.toBeInstanceOf(InvalidWebhookCursorError);
      await expect(store.listDeliveries(mine.id, { limit: 1, after })).rejects.toBeInstanceOf(InvalidWebhookCursorError);
    }
    // Each position still works where it belongs.
    expect(ids(await store.listEndpoints(other, { limit: 5, after: theirEndpoints }))).toHaveLength(1);
    expect(ids(await store.listDeliveries(theirs.id, { limit: 5, after: theirDeliveries }))).toHaveLength(1);
  });

  test('applies changes and keeps the rest; null clears the description; no change reads it back; an unknown endpoint is undefined and not created', async () => {
    const endpoint = endpointIn(aProject(), { description: 'old' });
    await store.createEndpoint(endpoint);

    const changed = await store.updateEndpoint(endpoint.id, { url: 'https://new.example.test/hook', events: ['access_code.expired'], description: null }, at(10));
    expect(changed).toEqual({ ...endpoint, url: 'https://new.example.test/hook', events: ['access_code.expired'], description: null });
    expect(await store.getEndpoint(endpoint.id)).toEqual(changed);
    expect(await store.updateEndpoint(endpoint.id, { description: 'new' }, at(11))).toEqual({ ...changed, description: 'new' });
    expect(await store.updateEndpoint(endpoint.id, {}, at(12))).toEqual({ ...changed, description: 'new' });

    const unknown = newWebhookEndpointId();
    expect(await store.updateEndpoint(unknown, { url: 'https://x.example.test', enabled: false }, at(13))).toBeUndefined();
    expect(await store.updateEndpoint(unknown, {}, at(13))).toBeUndefined();
    expect(await store.getEndpoint(unknown)).toBeUndefined();
  });

  test('disabling by hand records manual at its time, once; a disabled endpoint keeps its own reason and time; enabling clears them and the failing streak, not the last success', async () => {
    const project = aProject();
    const mine = endpointIn(project, { lastSuccessAt: iso(-100) });
    const gone = endpointIn(project);
    await store.createEndpoint(mine);
    await store.createEndpoint(gone);

    expect(await store.recordEndpointFailure(mine.id, at(1))).toBe(iso(1));
    const off = { ...mine, enabled: false, disabledAt: iso(2), disabledReason: 'manual', failingSince: iso(1) };
    expect(await store.updateEndpoint(mine.id, { enabled: false }, at(2))).toEqual(off);
    expect(await store.updateEndpoint(mine.id, { enabled: false }, at(3))).toEqual(off);

    await store.disableEndpoint(gone.id, 'gone', at(4));
    expect(await store.updateEndpoint(gone.id, { enabled: false, description: 'paused' }, at(5))).toEqual({
      ...gone,
      enabled: false,
      disabledAt: iso(4),
      disabledReason: 'gone',
      description: 'paused',
    });

    expect(await store.updateEndpoint(mine.id, { enabled: true }, at(6))).toEqual(mine);
    expect(await store.updateEndpoint(gone.id, { enabled: true }, at(6))).toEqual({ ...gone, description: 'paused' });
  });

  test('a deleted endpoint is gone for good: not read, listed, changed or rotated, and the delivery side’s writes do not bring it back; its deliveries stay; deleting again is harmless', async () => {
    const project = aProject();
    const endpoint = endpointIn(project);
    await store.createEndpoint(endpoint);
    const delivery = aDelivery(endpoint, T0);
    await store.createDeliveryIfAbsent(delivery);

    await store.deleteEndpoint(endpoint.id);

    expect(await store.getEndpoint(endpoint.id)).toBeUndefined();
    expect(await store.projectEndpoints(project)).toEqual([]);
    expect(await store.updateEndpoint(endpoint.id, { enabled: true }, at(1))).toBeUndefined();
    expect(await store.rotateSecret(endpoint.id, generateWebhookSecret(), at(1))).toBeUndefined();
    await store.recordEndpointSuccess(endpoint.id, at(2));
    expect(await store.recordEndpointFailure(endpoint.id, at(3))).toBe(iso(3));
    await store.disableEndpoint(endpoint.id, 'failing', at(4));
    expect(await store.getEndpoint(endpoint.id)).toBeUndefined();
    expect(await store.projectEndpoints(project)).toEqual([]);

    expect(await store.getDeliveryWithAttempts(delivery.id)).toEqual({ delivery: { ...delivery, nextAttemptAt: delivery.createdAt }, attempts: [] });
    expect(ids(await store.listDeliveries(endpoint.id, { limit: 5 }))).toEqual([delivery.id]);
    await expect(store.deleteEndpoint(endpoint.id)).resolves.toBeUndefined();
  });

  test('rotating makes the new secret current and keeps the old one signing for the overlap; concurrent rotations lose no secret; an unknown endpoint is undefined', async () => {
    const endpoint = endpointIn(aProject());
    await store.createEndpoint(endpoint);
    const first = endpoint.secrets[0]!.secret;
    const second = generateWebhookSecret();

    const rotated = await store.rotateSecret(endpoint.id, second, at(60));
    expect(rotated).toEqual({
      ...endpoint,
      secrets: [
        { secret: second, createdAt: iso(60), expiresAt: null },
        { secret: first, createdAt: T0.toISOString(), expiresAt: new Date(at(60).getTime() + SECRET_ROTATION_OVERLAP_MS).toISOString() },
      ],
    });
    expect(await store.getEndpoint(endpoint.id)).toEqual(rotated);

    const racing = [generateWebhookSecret(), generateWebhookSecret(), generateWebhookSecret()];
    await Promise.all(racing.map((secret) => store.rotateSecret(endpoint.id, secret, at(120))));
    const after = (await store.getEndpoint(endpoint.id))!;
    expect(after.secrets.map((s) => s.secret).sort()).toEqual([first, second, ...racing].sort());
    expect(after.secrets.filter((s) => s.expiresAt === null)).toHaveLength(1);
    expect(racing).toContain(after.secrets[0]!.secret);

    expect(await store.rotateSecret(newWebhookEndpointId(), generateWebhookSecret(), at(1))).toBeUndefined();
  });

  test('records a delivery once, pending and due at its next attempt (else its creation) exactly; the same id again is refused and changes nothing', async () => {
    const endpoint = endpointIn(aProject());
    await store.createEndpoint(endpoint);
    const now = aDelivery(endpoint, T0);
    const later = { ...aDelivery(endpoint, T0), nextAttemptAt: iso(30) };

    expect(await store.createDeliveryIfAbsent(now)).toBe(true);
    expect(await store.createDeliveryIfAbsent(later)).toBe(true);
    const stored = { delivery: { ...now, nextAttemptAt: T0.toISOString() }, attempts: [] };
    expect(await store.getDeliveryWithAttempts(now.id)).toEqual(stored);
    expect(await store.createDeliveryIfAbsent({ ...now, createdAt: iso(5), nextAttemptAt: iso(500), status: 'failed' })).toBe(false);
    expect(await store.getDeliveryWithAttempts(now.id)).toEqual(stored);
    expect(await store.getDeliveryWithAttempts('whd_unknown')).toBeUndefined();

    expect(await store.claimAttempt(later.id, new Date(at(30).getTime() - 1), 1)).toEqual({ claimed: false, reason: 'not-due', dueAt: iso(30) });
    expect(await store.claimAttempt(later.id, at(30), 1)).toMatchObject({ claimed: true, delivery: { id: later.id, nextAttemptAt: iso(30) } });
  });

  test('lists an endpoint’s deliveries newest first, a page at a time, with their attempts; a status filter fills its pages from the reads after it', async () => {
    const endpoint = endpointIn(aProject());
    await store.createEndpoint(endpoint);
    const deliveries = [0, 1, 2, 3, 4].map((i) => aDelivery(endpoint, at(i)));
    for (const delivery of deliveries) await store.createDeliveryIfAbsent(delivery);
    for (const i of [0, 2, 3]) await attempt(deliveries[i]!.id, 1, 10, { status: 'failed', reason: 'exhausted' });
    const [d0, d1, d2, d3, d4] = deliveries.map((d) => d.id);

    const pages = async (status?: DeliveryStatus, limit = 2) => {
      const read: string[][] = [];
      let after: WebhookListPosition | null | undefined;
      do {
        const page = await store.listDeliveries(endpoint.id, { limit, ...(after ? { after } : {}), ...(status ? { status } : {}) });
        read.push(ids(page));
        after = page.next;
      } while (after);
      return read;
    };
    expect(await pages()).toEqual([[d4, d3], [d2, d1], [d0]]);
    expect(await pages('failed')).toEqual([[d3, d2], [d0]]);
    expect(await pages('pending')).toEqual([[d4, d1], []]);
    expect(await pages('succeeded')).toEqual([[]]);
    // A page that read as many items as it may has a next, even when nothing follows.
    expect(await pages(undefined, 5)).toEqual([[d4, d3, d2, d1, d0], []]);
    expect(await pages('failed', 3)).toEqual([[d3, d2, d0], []]);

    const first = await store.listDeliveries(endpoint.id, { limit: 1, status: 'failed' });
    expect(first.items).toEqual([await store.getDeliveryWithAttempts(d3!)]);
    expect(first.items[0]!.attempts).toEqual([anAttempt(1, 10)]);
  });

  test('reopens a failed delivery only: pending again, due at the time given (and for the sweep after its grace), its attempts kept', async () => {
    const endpoint = endpointIn(aProject());
    await store.createEndpoint(endpoint);
    const delivery = aDelivery(endpoint, T0);
    await store.createDeliveryIfAbsent(delivery);
    await attempt(delivery.id, 1, 0, { status: 'failed', reason: 'exhausted' });

    expect(await store.reopenDelivery(delivery.id, at(100))).toBe(true);
    expect(await store.getDeliveryWithAttempts(delivery.id)).toEqual({
      delivery: { ...delivery, status: 'pending', attemptCount: 1, nextAttemptAt: iso(100), failureReason: null },
      attempts: [anAttempt(1, 0)],
    });
    expect(await store.reopenDelivery(delivery.id, at(101))).toBe(false);

    const checkAt = Date.parse(sweepCheckAt(iso(100), true));
    const swept = async (ms: number) => (await store.dueDeliveries(new Date(ms), 800)).filter((due) => due.deliveryId === delivery.id);
    expect(await swept(checkAt - 1)).toEqual([]);
    expect(await swept(checkAt)).toEqual([{ deliveryId: delivery.id, endpointId: endpoint.id, attempt: 2 }]);
    expect(await store.claimAttempt(delivery.id, new Date(at(100).getTime() - 1), 2)).toEqual({ claimed: false, reason: 'not-due', dueAt: iso(100) });

    await attempt(delivery.id, 2, 100, { status: 'succeeded' });
    expect(await store.reopenDelivery(delivery.id, at(200))).toBe(false);
    expect((await store.getDeliveryWithAttempts(delivery.id))?.delivery.status).toBe('succeeded');
    expect(await store.reopenDelivery('whd_unknown', at(200))).toBe(false);
    expect(await store.getDeliveryWithAttempts('whd_unknown')).toBeUndefined();
  });

  test(`keeps a delivery’s last ${MAX_STORED_ATTEMPTS} attempts, oldest first`, async () => {
    const endpoint = endpointIn(aProject());
    await store.createEndpoint(endpoint);
    const delivery = aDelivery(endpoint, T0);
    await store.createDeliveryIfAbsent(delivery);
    const count = MAX_STORED_ATTEMPTS + 2;
    for (let n = 1; n <= count; n++) await attempt(delivery.id, n, n, { status: 'pending', nextAttemptAt: iso(n + 1), checkAt: iso(n + 1) });

    const stored = (await store.getDeliveryWithAttempts(delivery.id))!;
    expect(stored.delivery.attemptCount).toBe(count);
    expect(stored.attempts.map((a) => a.attempt)).toEqual(Array.from({ length: MAX_STORED_ATTEMPTS }, (_, i) => i + 3));
    expect(stored.attempts.at(-1)).toEqual(anAttempt(count, count));
  });
});
