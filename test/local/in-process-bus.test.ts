import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENT_API_VERSION, EVENT_SOURCE, type AccessCodeEventType, type EventEnvelope } from '../../functions/contracts/events';
import { InProcessEventBus, type BusEvent, type FailedDelivery } from '../../local/in-process-bus';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'bus-'));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const envelope = (id: string, type: AccessCodeEventType): EventEnvelope => ({
  id,
  type,
  created_at: '2026-05-18T10:05:00.123Z',
  api_version: EVENT_API_VERSION,
  project_id: 'prj_1',
  data: { plan_id: 'pln_1' },
});

const readLines = (path: string): unknown[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as unknown);

/** A logger that keeps what it was told. */
const quietLogger = () => {
  const errors: Array<[string, Record<string, unknown>]> = [];
  return {
    errors,
    logger: { error: (message: string, extra: Record<string, unknown>) => void errors.push([message, extra]), warn: () => undefined },
  };
};

describe('InProcessEventBus', () => {
  test('appends every event to events.jsonl and hands each target the EventBridge event of its rule only', async () => {
    const bus = new InProcessEventBus({ dataDir: join(dataDir, 'nested') });
    const generated: BusEvent[] = [];
    const redeemed: BusEvent[] = [];
    bus.subscribe('AccessCodeGenerated', async (event) => void generated.push(event));
    bus.subscribe('AccessCodeRedeemed', async (event) => void redeemed.push(event));
    const events = [
      envelope('evt_1', 'access_code.generated'),
      envelope('evt_2', 'access_code.redeemed'),
      envelope('evt_3', 'access_code.expired'),
      envelope('evt_4', 'access_code.redeemed'),
    ];

    await bus.publish(events.slice(0, 2));
    await bus.publish(events.slice(2));
    await bus.idle();

    expect(readLines(bus.eventsFile)).toEqual(events);
    expect(generated).toEqual([
      {
        version: '0',
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        'detail-type': 'access_code.generated',
        source: EVENT_SOURCE,
        account: '000000000000',
        time: '2026-05-18T10:05:00Z',
        region: 'local',
        resources: [],
        detail: events[0],
      },
    ]);
    expect(redeemed.map((event) => event.detail.id)).toEqual(['evt_2', 'evt_4']);
    expect(bus.failed).toEqual([]);
  });

  test('delivers the same event to every target of a rule, and a republished event again with a new bus id', async () => {
    const bus = new InProcessEventBus({ dataDir });
    const seen: string[] = [];
    const busIds: string[] = [];
    bus.subscribe('AccessCodeExpired', async (event) => void seen.push(`a:${event.detail.id}`), 'a');
    bus.subscribe('AccessCodeExpired', async (event) => {
      seen.push(`b:${event.detail.id}`);
      busIds.push(event.id);
    }, 'b');

    await bus.publish([envelope('evt_9', 'access_code.expired')]);
    await bus.publish([envelope('evt_9', 'access_code.expired')]);
    await bus.idle();

    expect(seen.sort()).toEqual(['a:evt_9', 'a:evt_9', 'b:evt_9', 'b:evt_9']);
    expect(new Set(busIds).size).toBe(2);
    expect(readLines(bus.eventsFile)).toHaveLength(2);
  });

  test('retries a failing target, and keeps a delivery that never succeeds in `failed`, on disk and in the log', async () => {
    const { logger, errors } = quietLogger();
    const bus = new InProcessEventBus({ dataDir, maxAttempts: 3, retryDelayMs: 1, logger });
    let flakyCalls = 0;
    const delivered: string[] = [];
    bus.subscribe('AccessCodeRedeemed', async (event) => {
      flakyCalls++;
      if (flakyCalls < 3) throw new Error('endpoint down');
      delivered.push(event.detail.id);
    }, 'flaky');
    let brokenCalls = 0;
    bus.subscribe('AccessCodeRedeemed', async () => {
      brokenCalls++;
      throw new Error('always broken');
    }, 'broken');

    await bus.publish([envelope('evt_5', 'access_code.redeemed')]);
    await bus.idle();

    expect(delivered).toEqual(['evt_5']);
    expect(flakyCalls).toBe(3);
    expect(brokenCalls).toBe(3);
    const expected: FailedDelivery = {
      ruleId: 'AccessCodeRedeemed',
      target: 'broken',
      event: expect.objectContaining({ detail: envelope('evt_5', 'access_code.redeemed') }) as BusEvent,
      attempts: 3,
      error: 'always broken',
      failedAt: expect.any(String) as string,
    };
    expect(bus.failed).toEqual([expected]);
    expect(readLines(bus.failuresFile)).toEqual([expected]);
    expect(errors).toEqual([[expect.stringContaining('failed for good'), expect.objectContaining({ target: 'broken', eventId: 'evt_5' })]]);
  });

  test('keeps every line whole when publishes run concurrently', async () => {
    const bus = new InProcessEventBus({ dataDir });
    const events = Array.from({ length: 50 }, (_, index) => envelope(`evt_${index}`, 'access_code.expired'));

    await Promise.all(events.map((event) => bus.publish([event])));

    expect(readLines(bus.eventsFile)).toEqual(events);
  });

  test('refuses a target for a rule it does not know', () => {
    const bus = new InProcessEventBus({ dataDir });
    expect(() => bus.subscribe('AccessCodeStolen', async () => undefined)).toThrow(/No event rule AccessCodeStolen/);
  });
});
