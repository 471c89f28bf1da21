import { DynamoWebhookStore } from '../../functions/adapters/dynamodb/webhook-store';
import type { WebhookDeliveryStore } from '../../functions/domain/ports';
import type { WebhookAttempt, WebhookDelivery, WebhookEndpoint } from '../../functions/domain/webhooks';
import { createTestTable, type TestTable } from './dynamodb';
import { InMemoryWebhookDeliveryStore } from './webhook-doubles';

/**
 * A delivery store under test with what the tests need around it: seeding, and reading back
 * what was stored. The same delivery tests run over the in-memory double and over DynamoDB
 * Local, so the double cannot drift from the real store.
 */
export interface WebhookStoreHarness {
  readonly name: string;
  store: WebhookDeliveryStore;
  addEndpoint(endpoint: WebhookEndpoint): Promise<void>;
  addDelivery(delivery: WebhookDelivery): Promise<void>;
  endpoint(endpointId: string): Promise<WebhookEndpoint | undefined>;
  delivery(deliveryId: string): Promise<WebhookDelivery | undefined>;
  /** Recorded attempts, oldest first. */
  attempts(deliveryId: string): Promise<WebhookAttempt[]>;
  close(): Promise<void>;
}

/** The in-memory double. */
export const inMemoryHarness = async (): Promise<WebhookStoreHarness> => {
  const store = new InMemoryWebhookDeliveryStore();
  return {
    name: 'in memory',
    store,
    addEndpoint: async (endpoint) => store.addEndpoint(endpoint),
    addDelivery: async (delivery) => store.addDelivery(delivery),
    endpoint: async (id) => store.endpoints.get(id),
    delivery: async (id) => store.deliveries.get(id),
    attempts: async (id) => store.attempts.get(id) ?? [],
    close: async () => undefined,
  };
};

/** Tests run on fake clocks set in 2026: deliveries must outlive the wall clock (DynamoDB Local applies TTL). */
export const TEST_RETENTION_DAYS = 36_500;

/** The DynamoDB store on a fresh DynamoDB Local table. */
export const dynamoHarness = async (table?: TestTable): Promise<WebhookStoreHarness> => {
  const own = table ?? (await createTestTable());
  const store = new DynamoWebhookStore(own.db, own.tableName, { deliveryRetentionDays: TEST_RETENTION_DAYS });
  return {
    name: 'DynamoDB',
    store,
    addEndpoint: (endpoint) => store.createEndpoint(endpoint),
    addDelivery: async (delivery) => {
      await store.createDeliveryIfAbsent(delivery);
    },
    endpoint: (id) => store.getEndpoint(id),
    delivery: async (id) => (await store.getDeliveryWithAttempts(id))?.delivery,
    attempts: async (id) => (await store.getDeliveryWithAttempts(id))?.attempts ?? [],
    close: async () => {
      if (!table) await own.drop();
    },
  };
};
