import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONSUMER_ENTRY_DIR, CONSUMERS, consumerEntry, type Consumer, type ConsumerNeeds } from '../../functions/contracts/consumers';
import { ConfigurationError } from '../../functions/contracts/env';
import { BILLING_POLICY } from '../../functions/domain/billing';
import { CONSUMER_NEED_PORTS, declaredPorts, type ConsumerHandlerOf, type ConsumerPorts } from '../../functions/handlers/consumer';
import { CONSUMER_PORT_BUILDERS, STORE_BUILDERS, consumerEntrySources } from '../../lib/consumer-entries';
import * as wiring from '../../functions/consumer-wiring';
import { tablePorts } from '../../functions/wiring';

// import.meta.url, not import.meta.dirname: Jest 29's ESM support only provides the former.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every port of ConsumerPorts, each a stand-in object (every queue too): what a handler is handed before it is narrowed. */
const EVERY_PORT: ConsumerPorts = {
  clock: { now: () => new Date() },
  settings: { paceCodeWrites: true, billingPolicy: BILLING_POLICY },
  stores: { accounts: {}, jobs: {}, codes: {}, chats: {}, tableProbe: {}, redemptions: {}, redemptionAccounts: {}, billing: {}, expiry: {} } as unknown as ConsumerPorts['stores'],
  queues: { generation: { send: async () => undefined }, delivery: { send: async () => undefined }, billing: { send: async () => undefined }, webhookDelivery: { scheduleRetry: async () => undefined } },
  telegram: {} as ConsumerPorts['telegram'],
  messageIntervalMs: 0,
  publisher: {} as ConsumerPorts['publisher'],
  biller: {} as ConsumerPorts['biller'],
  webhooks: {} as ConsumerPorts['webhooks'],
  redelivery: { after: async () => undefined },
};

const handlerModule = async (consumer: Consumer) => (await import(join(ROOT, consumer.handler))) as { consumerHandler?: ConsumerHandlerOf<unknown> };

describe('the consumers’ entry points and handlers', () => {
  test('are the files lib/consumer-entries.ts writes from the catalog (run `npm run generate:entries` after changing it), and no other', () => {
    const sources = consumerEntrySources();
    const onDisk = readdirSync(join(ROOT, CONSUMER_ENTRY_DIR))
      .filter((file) => file.endsWith('.ts'))
      .map((file) => `${CONSUMER_ENTRY_DIR}/${file}`);
    expect(onDisk.sort()).toEqual([...sources.keys()].sort());
    for (const [path, source] of sources) expect([path, readFileSync(join(ROOT, path), 'utf8')]).toEqual([path, source]);
    expect(CONSUMERS.map((consumer) => consumerEntry(consumer))).toContain('functions/entrypoints/job-sweeper.ts');
  });

  test('pass the builder of each need that provides ports, Stripe’s from its own module, and of each store listed', () => {
    const sources = consumerEntrySources();
    const billing = sources.get(consumerEntry(CONSUMERS.find((consumer) => consumer.id === 'Billing')!))!;
    expect(billing).toContain("import { stripePorts } from '../billing-wiring';");
    expect(billing).toContain("productionConsumerPorts('Billing', { queueSource: queueSourcePorts, stripe: stripePorts, table: storesPorts({ billing: billingStore }) })");
    // A consumer that lists its stores builds those alone; one that lists none builds no client.
    expect(billing).not.toContain('tablePorts');
    expect(sources.get('functions/entrypoints/webhook-sweeper.ts')).toContain('table: storesPorts({})');
    // No entry but the billing function's reaches stripe-node.
    expect([...sources.values()].filter((source) => source.includes('billing-wiring'))).toHaveLength(1);
    expect(Object.keys(CONSUMER_PORT_BUILDERS).sort()).toEqual(Object.keys(CONSUMER_NEED_PORTS).filter((need) => CONSUMER_NEED_PORTS[need as keyof typeof CONSUMER_NEED_PORTS].length > 0).sort());
    // Each store's builder is the one consumer-wiring.ts exports under that name.
    for (const [store, name] of Object.entries(STORE_BUILDERS)) expect([store, typeof (wiring as Record<string, unknown>)[name]]).toEqual([store, 'function']);
  });

  test.each(CONSUMERS.map((consumer) => [consumer.id, consumer] as const))('%s: its handler module exports consumerHandler, built from the ports its needs declare and no other', async (id, consumer) => {
    const { consumerHandler } = await handlerModule(consumer);
    expect(typeof consumerHandler).toBe('function');
    for (const paceCodeWrites of [true, false]) {
      const ports = declaredPorts(id, consumer, { ...EVERY_PORT, settings: { ...EVERY_PORT.settings, paceCodeWrites } });
      expect(typeof consumerHandler!(ports)).toBe('function');
    }
  });

  test('a handler reading a part its consumer does not declare fails as it is built, naming the part', async () => {
    const relay = CONSUMERS.find((consumer) => consumer.id === 'OutboxRelay')!;
    const generator = CONSUMERS.find((consumer) => consumer.id === 'Generator')!;
    // The generator's handler on the outbox relay's needs (the bus only): no table, no queue.
    const { consumerHandler } = await handlerModule(generator);
    expect(() => consumerHandler!(declaredPorts(relay.id, relay, EVERY_PORT))).toThrow(ConfigurationError);
    expect(() => consumerHandler!(declaredPorts(relay.id, relay, EVERY_PORT))).toThrow(/OutboxRelay reads stores/);
    // A queue the consumer does not send to is refused too, and a declared part the stack left out.
    const sweeper = CONSUMERS.find((consumer) => consumer.id === 'WebhookSweeper')!;
    expect(() => declaredPorts(sweeper.id, sweeper, EVERY_PORT).queues.billing).toThrow(/the billing queue/);
    expect(declaredPorts(sweeper.id, sweeper, EVERY_PORT).queues.webhookDelivery).toBe(EVERY_PORT.queues.webhookDelivery);
    // A queue it sends to that the stack left out fails as it is read, not at the first send.
    const { queues: _queues, ...rest } = EVERY_PORT;
    expect(() => declaredPorts(sweeper.id, sweeper, { ...rest, queues: {} as ConsumerPorts['queues'] }).queues.webhookDelivery).toThrow(/the webhookDelivery queue, which its catalog entry declares but the stack did not provide/);
    // So is a store the consumer does not list.
    const billing = CONSUMERS.find((consumer) => consumer.id === 'Billing')!;
    expect(() => declaredPorts(billing.id, billing, EVERY_PORT).stores.jobs).toThrow(/Billing reads the jobs store/);
    expect(declaredPorts(billing.id, billing, EVERY_PORT).stores.billing).toBe(EVERY_PORT.stores.billing);
    const { webhooks: _left, ...withoutWebhooks } = EVERY_PORT;
    expect(() => declaredPorts(sweeper.id, sweeper, withoutWebhooks).webhooks).toThrow(/WebhookSweeper reads webhooks, which its catalog entry declares but the stack did not provide/);
  });

  test('narrowed ports are awaitable and inspectable like a plain object (an entry point awaits them at cold start)', async () => {
    for (const consumer of CONSUMERS) {
      const ports = declaredPorts(consumer.id, consumer, EVERY_PORT);
      await expect(Promise.resolve(ports)).resolves.toBe(ports);
      expect(String(ports)).toBe('[object Object]');
      // Listing, `in` and spreading see the declared parts alone.
      expect(Object.keys({ ...ports }).sort()).toEqual(Object.keys(ports).sort());
      expect('biller' in ports).toBe((consumer.needs as ConsumerNeeds).stripe === true);
    }
  });

  test('production wiring builds a consumer from its environment alone, as its entry point does at cold start', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { TABLE_NAME: 'memberpass-test', DELIVERY_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/delivery', AWS_REGION: 'eu-west-1' });
    try {
      const { consumerHandler } = await handlerModule(CONSUMERS.find((consumer) => consumer.id === 'Generator')!);
      const ports = await wiring.productionConsumerPorts('Generator', {
        queueSource: wiring.queueSourcePorts,
        sends: wiring.sendsPorts,
        table: wiring.storesPorts({ jobs: wiring.jobsStore, codes: wiring.codesStore }),
      });
      expect(typeof consumerHandler!(ports)).toBe('function');
      expect(() => ports.stores.billing).toThrow(/Generator reads the billing store/);
      // A declared need without its builder fails at cold start, naming it.
      await expect(wiring.productionConsumerPorts('Generator', { sends: wiring.sendsPorts, table: tablePorts })).rejects.toThrow(/no builder for the needs queueSource/);
      // So does a queue URL the function was not given.
      delete process.env.DELIVERY_QUEUE_URL;
      await expect(wiring.productionConsumerPorts('Generator', { queueSource: wiring.queueSourcePorts, sends: wiring.sendsPorts, table: tablePorts })).rejects.toThrow(/DELIVERY_QUEUE_URL/);
    } finally {
      process.env = saved;
    }
  });

  test('one consumer per queue, and at most two readers of the table\'s stream (DynamoDB Streams\' guidance per shard)', () => {
    const queues = CONSUMERS.flatMap((consumer) => (consumer.source.kind === 'queue' ? [consumer.source.queue] : []));
    expect(new Set(queues).size).toBe(queues.length);
    expect(CONSUMERS.filter((consumer) => consumer.source.kind === 'stream').length).toBeLessThanOrEqual(2);
  });
});
