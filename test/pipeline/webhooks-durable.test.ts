import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ulid } from 'ulid';
import { HttpWebhookSender } from '../../functions/adapters/webhooks/http-webhook-sender';
import { DynamoWebhookStore } from '../../functions/adapters/dynamodb/webhook-store';
import { EVENT_API_VERSION, type EventEnvelope } from '../../functions/contracts/events';
import { ENDPOINT_IN_FLIGHT_CAP, generateWebhookSecret } from '../../functions/domain/webhooks';
import { InProcessEventBus } from '../../local/in-process-bus';
import { startLocalWebhooks, type LocalWebhookOptions, type LocalWebhooks } from '../../local/webhooks';
import { FakeClock } from '../support/clock';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { quietBatchFailures } from '../support/pipeline';
import { anEndpoint } from '../support/webhook-doubles';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/fakes/webhook-receiver';
import { TEST_RETENTION_DAYS } from '../support/webhook-store-harness';

// The local webhooks (in-process bus → dispatch → in-process delivery queue → deliverer → real
// HTTP on 127.0.0.1, receivers verifying with `standardwebhooks`) over DynamoDB Local, on a fake
// clock: what a restart loses from memory and what one endpoint that never answers costs the others.

/** Waits (polling) until `done` holds, failing with `what` if it never does. */
const until = async (what: string, done: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

const generated = (projectId: string, at: Date): EventEnvelope => ({
  id: `evt_${ulid()}`,
  type: 'access_code.generated',
  created_at: at.toISOString(),
  api_version: EVENT_API_VERSION,
  project_id: projectId,
  data: { batch_id: `btc_${ulid()}`, plan_id: 'pln_1', count: 250, expires_at: null },
});

let table: TestTable;
let store: DynamoWebhookStore;
let dataDir: string;
const running: LocalWebhooks[] = [];

beforeAll(async () => {
  quietBatchFailures();
  table = await createTestTable();
  store = new DynamoWebhookStore(table.db, table.tableName, { deliveryRetentionDays: TEST_RETENTION_DAYS });
  dataDir = mkdtempSync(join(tmpdir(), 'webhooks-durable-'));
});
afterEach(async () => {
  while (running.length) await running.pop()!.stop();
});
afterAll(async () => {
  await table?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The local webhooks on a bus of their own, as `npm start` composes them (the sweep on demand here). */
const startStack = async (clock: FakeClock, options: LocalWebhookOptions = {}) => {
  const bus = new InProcessEventBus({ dataDir });
  const webhooks = await startLocalWebhooks({
    db: table.db,
    tableName: table.tableName,
    bus,
    clock,
    webhooks: {
      allowPrivateUrls: true,
      // A retry waits at most a real second on the queue, then looks at the fake clock again.
      maxQueueDelaySeconds: 1,
      sweepIntervalMs: 0,
      storeOptions: { deliveryRetentionDays: TEST_RETENTION_DAYS },
      ...options,
    },
  });
  running.push(webhooks);
  return { bus, webhooks };
};

const endpointFor = async (url: string, secret: string, projectId: string, clock: FakeClock) => {
  const endpoint = anEndpoint(url, secret, clock.now(), { projectId });
  await store.createEndpoint(endpoint);
  return endpoint;
};

describe('webhooks through a restart', () => {
  let receiver: WebhookReceiver;
  afterEach(async () => receiver?.close());

  test('a receiver down for 3 minutes while events flow and the stack restarts: every event delivered once by webhook-id, none left pending past its due time', async () => {
    const secret = generateWebhookSecret();
    receiver = await startWebhookReceiver({ secrets: [secret] });
    receiver.failAll(500);
    const clock = new FakeClock(new Date());
    const start = clock.now().getTime();
    const projectId = `prj_${ulid()}`;
    const endpoint = await endpointFor(receiver.url(), secret, projectId, clock);
    const failures = () => receiver.received.filter((r) => r.status === 500).length;

    // Three events before the restart: each fails twice (at once, then 5 s later); the third
    // attempts wait on the in-process queue (5 minutes) when the stack stops.
    const first = await startStack(clock);
    const before = [0, 1, 2].map(() => generated(projectId, clock.now()));
    await first.bus.publish(before);
    await until('the first attempts', () => failures() >= 3);
    clock.advance(6_000);
    await until('the second attempts', () => failures() >= 6);
    await first.bus.idle();
    await first.webhooks.stop();
    running.splice(running.indexOf(first.webhooks), 1);

    // Restarted on the same table; three more events while the receiver is still down.
    const second = await startStack(clock);
    const after = [0, 1, 2].map(() => generated(projectId, clock.now()));
    await second.bus.publish(after);
    await until('the first attempts after the restart', () => failures() >= 9);
    clock.advance(6_000);
    await until('the second attempts after the restart', () => failures() >= 12);

    // The receiver comes back 3 minutes in; every retry is due by 5 min 36 s (+10 % jitter).
    clock.set(new Date(start + 180_000));
    receiver.recover();
    clock.set(new Date(start + 7 * 60_000));
    const delivered = (events: EventEnvelope[]) => events.every((event) => receiver.received.some((r) => r.id === event.id && r.status === 200));
    await until('the retries queued after the restart', () => delivered(after));
    // The retries queued before the restart died with its queue: only the sweep brings them back.
    expect(delivered(before)).toBe(false);
    const swept = await second.webhooks.sweep();
    await until('the retries the restart lost', () => delivered(before));
    await second.webhooks.idle();

    expect(swept).toBe(3);
    const accepted = receiver.received.filter((r) => r.status === 200);
    expect(accepted.map((r) => r.id).sort()).toEqual([...before, ...after].map((event) => event.id).sort());
    expect(receiver.received.every((r) => r.verified)).toBe(true);
    const listing = await store.listDeliveries(endpoint.id, { limit: 20 });
    expect(listing.items.map((d) => [d.delivery.status, d.delivery.attemptCount])).toEqual(Array.from({ length: 6 }, () => ['succeeded', 3]));
    // Nothing pending is left behind, now or later.
    clock.advance(3_600_000);
    expect(await store.dueDeliveries(clock.now(), 100)).toEqual([]);
  });
});

describe('an endpoint that never answers', () => {
  let receiver: WebhookReceiver;
  let dead: Server;
  const hanging = new Set<Socket>();
  let closedByClient = 0;
  afterEach(async () => {
    for (const socket of hanging) socket.destroy();
    await new Promise((resolve) => dead?.close(resolve));
    await receiver?.close();
  });

  test('beside a healthy endpoint during a burst: the healthy one gets every event while the dead one holds at most its cap of sends, all still hanging', async () => {
    // Accepts, reads, never answers.
    dead = createServer((socket) => {
      hanging.add(socket);
      socket.on('data', () => undefined);
      socket.on('close', () => {
        hanging.delete(socket);
        closedByClient++;
      });
    });
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(dead.address() as { port: number }).port}/hooks`;
    const secret = generateWebhookSecret();
    receiver = await startWebhookReceiver({ secrets: [secret] });
    const clock = new FakeClock(new Date());
    const projectId = `prj_${ulid()}`;
    const deadEndpoint = await endpointFor(deadUrl, secret, projectId, clock);
    await endpointFor(receiver.url(), secret, projectId, clock);
    // A minute's timeout: the dead endpoint's sends stay open for the whole test.
    const { bus, webhooks } = await startStack(clock, { sender: new HttpWebhookSender({ timeoutMs: 60_000 }) });

    const burst = Array.from({ length: 30 }, () => generated(projectId, clock.now()));
    await bus.publish(burst);
    await until('every event at the healthy endpoint', () => new Set(receiver.received.map((r) => r.id)).size === burst.length);

    expect(receiver.received.map((r) => r.id).sort()).toEqual(burst.map((event) => event.id).sort());
    expect(receiver.received.every((r) => r.verified && r.status === 200)).toBe(true);
    // Meanwhile the dead endpoint holds its cap of the deliverer's 20 slots, every send still hanging.
    expect(webhooks.gate.sending(deadEndpoint.id)).toBe(ENDPOINT_IN_FLIGHT_CAP);
    expect(hanging.size).toBe(ENDPOINT_IN_FLIGHT_CAP);
    expect(closedByClient).toBe(0);
  });
});
