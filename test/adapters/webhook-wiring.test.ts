import { ConfigurationError } from '../../functions/contracts/env';
import { productionWebhookPorts, webhookQueueNeed } from '../../functions/wiring';

// Only the functions that send to the webhook delivery queue are given it (the consumers, and the
// route with the `webhookQueue` need): the wiring checks its URL at cold start where it is
// required, and elsewhere gives a scheduler that refuses as a configuration error.
const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe('the webhook wiring and the delivery queue', () => {
  test('the webhookQueue need fails at cold start without the queue URL, and passes with it', () => {
    delete process.env.WEBHOOK_DELIVERY_QUEUE_URL;
    expect(() => webhookQueueNeed()).toThrow(ConfigurationError);
    process.env.WEBHOOK_DELIVERY_QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/webhook-delivery';
    expect(webhookQueueNeed()).toEqual({});
  });

  test('a consumer (queue required) fails at cold start without the URL; a route without the need gets a scheduler that refuses', async () => {
    process.env.TABLE_NAME = 'memberpass-test';
    delete process.env.WEBHOOK_DELIVERY_QUEUE_URL;
    expect(() => productionWebhookPorts('required')).toThrow(/WEBHOOK_DELIVERY_QUEUE_URL/);
    const ports = productionWebhookPorts('ifConfigured');
    await expect(ports.scheduler.scheduleRetry('whd_1', 0)).rejects.toThrow(ConfigurationError);
    // What was built for a route without the queue is not handed to a consumer that requires it.
    expect(() => productionWebhookPorts('required')).toThrow(/WEBHOOK_DELIVERY_QUEUE_URL/);
    expect(productionWebhookPorts('ifConfigured')).toBe(ports);
  });
});
