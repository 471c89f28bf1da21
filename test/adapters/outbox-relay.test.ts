import { marshall } from '@aws-sdk/util-dynamodb';
import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import type { AttributeValue, Context, DynamoDBRecord } from 'aws-lambda';
import { outboxItem } from '../../functions/contracts/outbox';
import { keys } from '../../functions/contracts/table';
import { EVENT_API_VERSION, type EventEnvelope } from '../../functions/contracts/events';
import type { EventPublisher } from '../../functions/domain/ports';
import { makeHandler, outboxEventOf } from '../../functions/handlers/stream/outbox-relay';

const STREAM_ARN = 'arn:aws:dynamodb:eu-west-1:123456789012:table/memberpass/stream/2026-05-18T00:00:00.000';
const now = new Date('2026-05-18T10:05:00Z');

const context = {
  functionName: 'outbox-relay',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

const envelope = (n: number): EventEnvelope => ({
  id: `evt_${n}`,
  type: 'access_code.generated',
  created_at: '2026-05-18T10:05:00Z',
  api_version: EVENT_API_VERSION,
  project_id: 'prj_1',
  data: { batch_id: `btc_${n}`, plan_id: 'pln_1', count: 250, expires_at: null },
});

let sequence = 100;
/** A stream record as Lambda delivers it, for an item written to the table. */
const record = (eventName: 'INSERT' | 'MODIFY' | 'REMOVE', item: Record<string, unknown>): DynamoDBRecord => {
  const image = marshall(item, { removeUndefinedValues: true }) as Record<string, AttributeValue>;
  return {
    eventID: `id-${sequence}`,
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'eu-west-1',
    eventSourceARN: STREAM_ARN,
    dynamodb: {
      ApproximateCreationDateTime: now.getTime() / 1000,
      Keys: { pk: image.pk!, sk: image.sk! },
      ...(eventName === 'REMOVE' ? {} : { NewImage: image }),
      SequenceNumber: String(sequence++).padStart(21, '0'),
      SizeBytes: 100,
      StreamViewType: 'NEW_IMAGE',
    },
  };
};

/** A publisher that records what it published and refuses the events it is told to. */
const recordingPublisher = (refuse: (event: EventEnvelope) => boolean = () => false) => {
  const published: EventEnvelope[] = [];
  const publisher: EventPublisher = {
    publish: async (events) => {
      for (const event of events) {
        if (refuse(event)) throw new Error(`refused ${event.id}`);
        published.push(event);
      }
    },
  };
  return { publisher, published };
};

describe('outbox relay handler', () => {
  test('publishes the envelope of each outbox INSERT and ignores every other record', async () => {
    const { publisher, published } = recordingPublisher();
    const event = {
      Records: [
        record('INSERT', { ...keys.plan('pln_1'), name: 'Gold' }),
        record('INSERT', outboxItem(envelope(1), now)),
        record('MODIFY', outboxItem(envelope(9), now)),
        record('REMOVE', outboxItem(envelope(8), now)),
        record('INSERT', { ...keys.team('tea_1'), type: 'team' }),
        record('INSERT', outboxItem(envelope(2), now)),
      ],
    };

    const response = await makeHandler({ publisher })(event, context);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(published).toEqual([envelope(1), envelope(2)]);
  });

  test('relays the envelope with its fields in the documented order, from a map or a JSON string', async () => {
    const { publisher, published } = recordingPublisher();
    // DynamoDB returns map keys in an order of its own.
    const { data, project_id, ...head } = envelope(1);
    const scrambled = { ...outboxItem(envelope(1), now), event: { data, project_id, ...head } };
    const asString = { ...outboxItem(envelope(2), now), event: JSON.stringify(envelope(2)) };

    await makeHandler({ publisher })({ Records: [record('INSERT', scrambled), record('INSERT', asString)] }, context);

    expect(published.map((event) => Object.keys(event))).toEqual([
      ['id', 'type', 'created_at', 'api_version', 'project_id', 'data'],
      ['id', 'type', 'created_at', 'api_version', 'project_id', 'data'],
    ]);
    expect(JSON.stringify(published[1])).toBe(JSON.stringify(envelope(2)));
  });

  test('reports exactly the records whose event was not published, by sequence number', async () => {
    const { publisher, published } = recordingPublisher((event) => event.id === 'evt_2' || event.id === 'evt_4');
    const records = [1, 2, 3, 4].map((n) => record('INSERT', outboxItem(envelope(n), now)));

    const response = await makeHandler({ publisher })({ Records: records }, context);

    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: records[1]!.dynamodb!.SequenceNumber },
      { itemIdentifier: records[3]!.dynamodb!.SequenceNumber },
    ]);
    expect(published.map((event) => event.id).sort()).toEqual(['evt_1', 'evt_3']);
  });

  test('fails the whole invocation when every record failed, so that Lambda retries the batch', async () => {
    const { publisher } = recordingPublisher(() => true);
    const records = [record('INSERT', outboxItem(envelope(1), now))];

    await expect(makeHandler({ publisher })({ Records: records }, context)).rejects.toBeInstanceOf(FullBatchFailureError);
  });

  test('treats an outbox item without a valid envelope as a failure, never as nothing to do', async () => {
    const { publisher, published } = recordingPublisher();
    const broken = { ...outboxItem(envelope(5), now), event: { id: 'evt_5', type: 'access_code.generated' } };
    const records = [record('INSERT', outboxItem(envelope(1), now)), record('INSERT', broken)];

    const response = await makeHandler({ publisher })({ Records: records }, context);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: records[1]!.dynamodb!.SequenceNumber }]);
    expect(published).toEqual([envelope(1)]);
    expect(() => outboxEventOf(records[1]!)).toThrow(/EVENT#evt_5 holds no valid event envelope: created_at/);
  });

  test('answers an empty batch with no failures', async () => {
    const { publisher } = recordingPublisher();
    expect(await makeHandler({ publisher })({ Records: [] }, context)).toEqual({ batchItemFailures: [] });
  });
});
