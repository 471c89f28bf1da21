import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { SqsWebhookRetryScheduler } from '../../functions/adapters/sqs/webhook-retry-scheduler';
import { parseWebhookDeliveryMessage } from '../../functions/contracts/queue-messages';

const queueUrl = 'https://sqs.eu-west-1.amazonaws.com/123456789012/webhook-delivery';
const sqsMock = mockClient(SQSClient);
const client = new SQSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
const scheduler = new SqsWebhookRetryScheduler(client, queueUrl);
const sentInputs = () => sqsMock.commandCalls(SendMessageCommand).map((call) => call.args[0].input);

beforeEach(() => {
  sqsMock.reset();
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
});
afterAll(() => sqsMock.restore());

describe('SqsWebhookRetryScheduler', () => {
  test("sends one message carrying the delivery id and the attempt, in its endpoint's fair-queue group, with the asked delay", async () => {
    await scheduler.scheduleRetry('whd_abc', 5, { attempt: 2, endpointId: 'whe_1' });

    expect(sentInputs()).toEqual([
      {
        QueueUrl: queueUrl,
        MessageBody: '{"kind":"webhook-delivery","delivery_id":"whd_abc","attempt":2,"endpoint_id":"whe_1"}',
        DelaySeconds: 5,
        MessageGroupId: 'whe_1',
      },
    ]);
    expect(parseWebhookDeliveryMessage(sentInputs()[0]!.MessageBody!)).toEqual({ kind: 'webhook-delivery', delivery_id: 'whd_abc', attempt: 2, endpoint_id: 'whe_1' });
  });

  test('sends a delay past 15 minutes at the 900-second cap, and a first attempt with none', async () => {
    await scheduler.scheduleRetry('whd_late', 36_000);
    await scheduler.scheduleRetry('whd_now', 0);

    expect(sentInputs().map((input) => input.DelaySeconds)).toEqual([900, 0]);
  });

  test('lets an SQS failure through, so the caller (and its queue message) retries', async () => {
    sqsMock.on(SendMessageCommand).rejects(new Error('throttled'));

    await expect(scheduler.scheduleRetry('whd_abc', 5)).rejects.toThrow('throttled');
  });

  test('reads back only delivery messages: another queue body is not one', () => {
    expect(parseWebhookDeliveryMessage('{"kind":"deliver","job_id":"mjb_1"}')).toBeUndefined();
    expect(parseWebhookDeliveryMessage('{"kind":"webhook-delivery","delivery_id":"mjb_1"}')).toBeUndefined();
    expect(parseWebhookDeliveryMessage('not json')).toBeUndefined();
  });
});
