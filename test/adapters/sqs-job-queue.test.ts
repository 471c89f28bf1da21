import { SQSClient, SendMessageBatchCommand, type SendMessageBatchCommandInput } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { SqsJobQueue, SqsSendError } from '../../functions/adapters/sqs/sqs-job-queue';
import type { PipelineMessage } from '../../functions/contracts/queue-messages';

const queueUrl = 'https://sqs.eu-west-1.amazonaws.com/123456789012/generation';
const sqsMock = mockClient(SQSClient);
const client = new SQSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
// A 1 ms backoff keeps the retry tests fast; the attempt count is what they check.
const queue = new SqsJobQueue(client, queueUrl, { maxAttempts: 3, baseDelayMs: 1 });

/** Answers every SendMessageBatch by accepting all entries, unless `fail` says otherwise. */
const acceptAll = (input: SendMessageBatchCommandInput) => ({
  Successful: (input.Entries ?? []).map((e) => ({ Id: e.Id, MessageId: `id-${e.Id}`, MD5OfMessageBody: 'x' })),
  Failed: [],
});

const chunk = (n: number): PipelineMessage => ({ kind: 'generate-chunk', job_id: 'mjb_1', chunk: n });
const sentInputs = () => sqsMock.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input);

beforeEach(() => sqsMock.reset());
afterAll(() => sqsMock.restore());

describe('SqsJobQueue.send', () => {
  test('sends 25 messages as three SendMessageBatch calls of 10, 10 and 5 with JSON bodies and delays', async () => {
    sqsMock.on(SendMessageBatchCommand).callsFake(acceptAll);
    const messages = Array.from({ length: 25 }, (_, i) => ({ body: chunk(i), delaySeconds: i % 3 === 0 ? i : undefined }));

    await queue.send(messages);

    const inputs = sentInputs();
    expect(inputs.map((i) => i.Entries?.length)).toEqual([10, 10, 5]);
    expect(inputs.every((i) => i.QueueUrl === queueUrl)).toBe(true);
    const entries = inputs.flatMap((i) => i.Entries ?? []);
    expect(entries.map((e) => JSON.parse(e.MessageBody ?? ''))).toEqual(messages.map((m) => m.body));
    expect(entries.map((e) => e.DelaySeconds)).toEqual(messages.map((m) => m.delaySeconds));
    for (const input of inputs) {
      const ids = (input.Entries ?? []).map((e) => e.Id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    }
  });

  test('writes the body exactly as the JSON of the pipeline message', async () => {
    sqsMock.on(SendMessageBatchCommand).callsFake(acceptAll);

    await queue.send([{ body: { kind: 'deliver', job_id: 'mjb_9' } }]);

    expect(sentInputs()).toEqual([
      { QueueUrl: queueUrl, Entries: [{ Id: 'm0', MessageBody: '{"kind":"deliver","job_id":"mjb_9"}' }] },
    ]);
  });

  test('clamps delays into the 0..900 seconds SQS accepts, rounding fractions up', async () => {
    sqsMock.on(SendMessageBatchCommand).callsFake(acceptAll);

    await queue.send([
      { body: chunk(0), delaySeconds: -5 },
      { body: chunk(1), delaySeconds: 1.2 },
      { body: chunk(2), delaySeconds: 3600 },
    ]);

    expect(sentInputs()[0]?.Entries?.map((e) => e.DelaySeconds)).toEqual([0, 2, 900]);
  });

  test('refuses a delay that is not a number before sending anything', async () => {
    await expect(queue.send([{ body: chunk(0) }, { body: chunk(1), delaySeconds: Number.NaN }])).rejects.toThrow(RangeError);
    expect(sentInputs()).toHaveLength(0);
  });

  test('closes a batch early when the next body would pass the 256 KiB batch limit', async () => {
    sqsMock.on(SendMessageBatchCommand).callsFake(acceptAll);
    // Each body is about 100 KB, so only two fit in one 262,144-byte batch.
    const big = (n: number): PipelineMessage => ({ kind: 'deliver', job_id: `mjb_${n}_${'x'.repeat(100_000)}` });

    await queue.send([0, 1, 2, 3, 4].map((n) => ({ body: big(n) })));

    const inputs = sentInputs();
    expect(inputs.map((i) => i.Entries?.length)).toEqual([2, 2, 1]);
    for (const input of inputs) {
      const bytes = (input.Entries ?? []).reduce((sum, e) => sum + Buffer.byteLength(e.MessageBody ?? ''), 0);
      expect(bytes).toBeLessThanOrEqual(262_144);
    }
  });

  test('refuses a single message larger than 256 KiB before sending anything', async () => {
    const huge: PipelineMessage = { kind: 'deliver', job_id: 'x'.repeat(262_144) };

    await expect(queue.send([{ body: chunk(0) }, { body: huge }])).rejects.toThrow(/at most 262144/);
    expect(sentInputs()).toHaveLength(0);
  });

  test('resends only the entries SQS reported as failed', async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .callsFakeOnce((input: SendMessageBatchCommandInput) => ({
        Successful: (input.Entries ?? []).filter((e) => e.Id !== 'm1' && e.Id !== 'm3').map((e) => ({ Id: e.Id, MessageId: 'x', MD5OfMessageBody: 'x' })),
        Failed: [
          { Id: 'm1', SenderFault: false, Code: 'InternalError' },
          { Id: 'm3', SenderFault: false, Code: 'ServiceUnavailable' },
        ],
      }))
      .callsFake(acceptAll);

    await queue.send([0, 1, 2, 3, 4].map((n) => ({ body: chunk(n), delaySeconds: n })));

    const inputs = sentInputs();
    expect(inputs).toHaveLength(2);
    expect(inputs[1]).toEqual({
      QueueUrl: queueUrl,
      Entries: [
        { Id: 'm1', MessageBody: JSON.stringify(chunk(1)), DelaySeconds: 1 },
        { Id: 'm3', MessageBody: JSON.stringify(chunk(3)), DelaySeconds: 3 },
      ],
    });
  });

  test('treats an entry SQS neither confirmed nor refused as failed and resends it', async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .resolvesOnce({ Successful: [{ Id: 'm0', MessageId: 'x', MD5OfMessageBody: 'x' }], Failed: [] })
      .callsFake(acceptAll);

    await queue.send([{ body: chunk(0) }, { body: chunk(1) }]);

    expect(sentInputs()[1]?.Entries?.map((e) => e.Id)).toEqual(['m1']);
  });

  test('throws, naming how many failed, when entries still fail after the last attempt', async () => {
    sqsMock.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({
      Successful: (input.Entries ?? []).filter((e) => e.Id !== 'm2' && e.Id !== 'm4').map((e) => ({ Id: e.Id, MessageId: 'x', MD5OfMessageBody: 'x' })),
      Failed: (input.Entries ?? [])
        .filter((e) => e.Id === 'm2' || e.Id === 'm4')
        .map((e) => ({ Id: e.Id, SenderFault: false, Code: 'InternalError', Message: 'try again' })),
    }));

    const error = await queue.send([0, 1, 2, 3, 4].map((n) => ({ body: chunk(n) }))).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SqsSendError);
    expect((error as SqsSendError).message).toMatch(/^2 of 5 messages failed after 3 attempts/);
    expect((error as SqsSendError).failures.map((f) => f.index)).toEqual([2, 4]);
    expect(sentInputs().map((i) => i.Entries?.map((e) => e.Id))).toEqual([
      ['m0', 'm1', 'm2', 'm3', 'm4'],
      ['m2', 'm4'],
      ['m2', 'm4'],
    ]);
  });

  test('stops at the first batch that cannot be sent and counts the messages left unsent', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({
      Successful: [],
      Failed: Array.from({ length: 10 }, (_, i) => ({ Id: `m${i}`, SenderFault: false, Code: 'ServiceUnavailable' })),
    });

    const error = (await queue.send(Array.from({ length: 25 }, (_, i) => ({ body: chunk(i) }))).catch((e: unknown) => e)) as SqsSendError;

    expect(error.message).toMatch(/^10 of 25 messages failed after 3 attempts .*; 15 more not attempted$/);
    expect(error.unsentCount).toBe(15);
    expect(sentInputs()).toHaveLength(3);
  });

  test('does not retry a sender fault and throws at once', async () => {
    sqsMock.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({
      Successful: (input.Entries ?? []).filter((e) => e.Id !== 'm1').map((e) => ({ Id: e.Id, MessageId: 'x', MD5OfMessageBody: 'x' })),
      Failed: [
        { Id: 'm1', SenderFault: true, Code: 'InvalidMessageContents', Message: 'bad' },
      ],
    }));

    const error = (await queue.send([0, 1, 2].map((n) => ({ body: chunk(n) }))).catch((e: unknown) => e)) as SqsSendError;

    expect(error).toBeInstanceOf(SqsSendError);
    expect(error.message).toMatch(/^1 of 3 messages refused \(sender fault\).*InvalidMessageContents: bad/);
    expect(sentInputs()).toHaveLength(1);
  });

  test('lets an error of the call itself propagate (the SDK has already retried it)', async () => {
    sqsMock.on(SendMessageBatchCommand).rejects(new Error('socket hang up'));

    await expect(queue.send([{ body: chunk(0) }])).rejects.toThrow('socket hang up');
  });

  test('sends nothing for an empty list', async () => {
    await queue.send([]);
    expect(sentInputs()).toHaveLength(0);
  });
});
