import { EventBridgeClient, PutEventsCommand, type PutEventsCommandInput } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import {
  EventBridgePublisher,
  EventPublishError,
  MAX_REQUEST_BYTES,
  entrySize,
} from '../../functions/adapters/eventbridge/event-bridge-publisher';
import { EVENT_API_VERSION, EVENT_SOURCE, type EventEnvelope } from '../../functions/contracts/events';

const BUS = 'memberpass-events-test';
const eventBridge = mockClient(EventBridgeClient);
const noWait = async () => {};

const redeemed = (n: number, extra: Record<string, unknown> = {}): EventEnvelope => ({
  id: `evt_${String(n).padStart(3, '0')}`,
  type: 'access_code.redeemed',
  created_at: '2026-05-18T10:05:00Z',
  api_version: EVENT_API_VERSION,
  project_id: 'prj_1',
  data: { subscription_id: `sub_${n}`, plan_id: 'pln_1', subscriber_id: `usr_${n}`, access_code: 'masked_4TRVX', ...extra },
});

/** Every PutEvents request sent, in order. */
const sentRequests = (): PutEventsCommandInput[] => eventBridge.commandCalls(PutEventsCommand).map((call) => call.args[0].input);
const sentIds = (input: PutEventsCommandInput) => input.Entries!.map((entry) => (JSON.parse(entry.Detail!) as EventEnvelope).id);

/** Answers every request by accepting every entry. */
const acceptAll = () =>
  eventBridge.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => ({
    FailedEntryCount: 0,
    Entries: input.Entries!.map((_, index) => ({ EventId: `eb-${index}` })),
  }));

beforeEach(() => eventBridge.reset());

describe('EventBridgePublisher', () => {
  test('sends 23 events as requests of 10, 10 and 3 entries, in order, each entry fully formed', async () => {
    acceptAll();
    const events = Array.from({ length: 23 }, (_, index) => redeemed(index));

    await new EventBridgePublisher(new EventBridgeClient({}), BUS, { sleep: noWait }).publish(events);

    const requests = sentRequests();
    expect(requests.map((request) => request.Entries!.length)).toEqual([10, 10, 3]);
    expect(requests.flatMap(sentIds)).toEqual(events.map((event) => event.id));
    expect(requests[2]!.Entries![2]).toEqual({
      EventBusName: BUS,
      Source: EVENT_SOURCE,
      DetailType: 'access_code.redeemed',
      Detail: JSON.stringify(events[22]),
      Time: new Date('2026-05-18T10:05:00Z'),
    });
  });

  test('sends nothing for no events', async () => {
    acceptAll();
    await new EventBridgePublisher(new EventBridgeClient({}), BUS).publish([]);
    expect(sentRequests()).toHaveLength(0);
  });

  test('starts a new request before the entries would reach 256 KiB', async () => {
    acceptAll();
    // Each entry is ~60 KiB: four fit under 256 KiB, a fifth would not.
    const events = Array.from({ length: 6 }, (_, index) => redeemed(index, { padding: 'x'.repeat(60 * 1024) }));

    await new EventBridgePublisher(new EventBridgeClient({}), BUS).publish(events);

    const requests = sentRequests();
    expect(requests.map((request) => request.Entries!.length)).toEqual([4, 2]);
    for (const request of requests) {
      expect(request.Entries!.reduce((sum, entry) => sum + entrySize(entry), 0)).toBeLessThan(MAX_REQUEST_BYTES);
    }
  });

  test('refuses an event too large for any request without sending anything', async () => {
    acceptAll();
    const huge = redeemed(1, { padding: 'x'.repeat(MAX_REQUEST_BYTES) });

    await expect(new EventBridgePublisher(new EventBridgeClient({}), BUS).publish([redeemed(0), huge])).rejects.toThrow(
      /1 of 2 events were not published .*evt_001 \(EntryTooLarge/,
    );
    expect(sentRequests()).toHaveLength(0);
  });

  test('sends refused entries again alone, and succeeds when they are accepted', async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 2,
        Entries: [
          { EventId: 'eb-0' },
          { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' },
          { EventId: 'eb-2' },
          { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal' },
        ],
      })
      .resolvesOnce({ FailedEntryCount: 0, Entries: [{ EventId: 'eb-1' }, { EventId: 'eb-3' }] });
    const delays: number[] = [];
    const publisher = new EventBridgePublisher(new EventBridgeClient({}), BUS, {
      baseDelayMs: 50,
      sleep: async (ms) => void delays.push(ms),
    });

    await publisher.publish([0, 1, 2, 3].map((n) => redeemed(n)));

    expect(sentRequests().map(sentIds)).toEqual([['evt_000', 'evt_001', 'evt_002', 'evt_003'], ['evt_001', 'evt_003']]);
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeLessThanOrEqual(50);
  });

  test('gives up after the last attempt and throws an error naming each refused event and its reason', async () => {
    eventBridge.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => ({
      FailedEntryCount: 1,
      Entries: input.Entries!.map((entry) =>
        (JSON.parse(entry.Detail!) as EventEnvelope).id === 'evt_001'
          ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }
          : { EventId: 'eb' },
      ),
    }));
    const publisher = new EventBridgePublisher(new EventBridgeClient({}), BUS, { maxAttempts: 3, sleep: noWait });

    const error = await publisher.publish([0, 1, 2].map((n) => redeemed(n))).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(EventPublishError);
    expect((error as EventPublishError).failures).toEqual([
      { eventId: 'evt_001', errorCode: 'ThrottlingException', errorMessage: 'Rate exceeded' },
    ]);
    expect((error as Error).message).toBe(
      `1 of 3 events were not published to event bus ${BUS}: evt_001 (ThrottlingException: Rate exceeded)`,
    );
    expect(sentRequests().map(sentIds)).toEqual([['evt_000', 'evt_001', 'evt_002'], ['evt_001'], ['evt_001']]);
  });

  test('lets a request that failed whole (after the SDK retried it) reach the caller', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('socket hang up'));
    await expect(new EventBridgePublisher(new EventBridgeClient({}), BUS).publish([redeemed(0)])).rejects.toThrow('socket hang up');
  });
});
