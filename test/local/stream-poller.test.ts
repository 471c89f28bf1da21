import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { outboxItem } from '../../functions/contracts/outbox';
import { createTableInput, keys } from '../../functions/contracts/table';
import { EVENT_API_VERSION, type EventEnvelope } from '../../functions/contracts/events';
import type { EventPublisher } from '../../functions/domain/ports';
import { makeHandler } from '../../functions/handlers/stream/outbox-relay';
import { localClientConfig } from '../../local/dynamodb-local';
import { InProcessEventBus, type BusEvent } from '../../local/in-process-bus';
import { StreamPoller, retryFrom, type StreamLambdaHandler, type StreamPollerOptions } from '../../local/stream-poller';
import { createTestTable, dynamoEndpoint, type TestTable } from '../support/dynamodb';

const now = new Date('2026-05-18T10:05:00Z');
const silent = { error: () => undefined, warn: () => undefined };

const generated = (id: string): EventEnvelope => ({
  id,
  type: 'access_code.generated',
  created_at: '2026-05-18T10:05:00Z',
  api_version: EVENT_API_VERSION,
  project_id: 'prj_1',
  data: { batch_id: 'btc_1', plan_id: 'pln_1', count: 250, expires_at: null },
});

let table: TestTable;
let poller: StreamPoller | undefined;
let dir: string;
beforeEach(async () => {
  table = await createTestTable();
  dir = mkdtempSync(join(tmpdir(), 'poller-'));
});
afterEach(async () => {
  await poller?.stop();
  poller = undefined;
  await table.drop();
  rmSync(dir, { recursive: true, force: true });
});

const startPoller = async (handler: StreamLambdaHandler, options: Partial<StreamPollerOptions> = {}) => {
  poller = new StreamPoller({
    clientConfig: localClientConfig(dynamoEndpoint()),
    tableName: table.tableName,
    handler,
    pollIntervalMs: 20,
    retryDelayMs: 5,
    logger: silent,
    ...options,
  });
  await poller.start();
  return poller;
};

/** A handler that keeps each batch it is given and answers with `respond`. */
const recordingHandler = (respond: (records: DynamoDBRecord[], call: number) => DynamoDBBatchResponse | Promise<never> = () => ({ batchItemFailures: [] })) => {
  const batches: DynamoDBRecord[][] = [];
  const handler: StreamLambdaHandler = async (event: DynamoDBStreamEvent) => {
    batches.push(event.Records);
    return respond(event.Records, batches.length);
  };
  return { handler, batches };
};

const pkOf = (record: DynamoDBRecord) => record.dynamodb?.Keys?.pk?.S;
const put = (item: Record<string, unknown>) => table.db.send(new PutCommand({ TableName: table.tableName, Item: item }));

describe('StreamPoller against DynamoDB Local', () => {
  test('relays the envelope of an outbox item committed in a transaction with a state change, and nothing else', async () => {
    const published: EventEnvelope[] = [];
    const publisher: EventPublisher = { publish: async (events) => void published.push(...events) };
    await startPoller(makeHandler({ publisher }));
    const event = generated('evt_01HXGEN');

    await table.db.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: table.tableName, Item: { ...keys.plan('pln_1'), name: 'Gold', status: 'active' } } },
          { Put: { TableName: table.tableName, Item: outboxItem(event, now) } },
        ],
      }),
    );
    await poller!.idle();

    expect(published).toEqual([event]);
  });

  test('wired as in the local stack, delivers a committed outbox event to the bus target of its rule', async () => {
    const bus = new InProcessEventBus({ dataDir: dir });
    const received: BusEvent[] = [];
    bus.subscribe('AccessCodeGenerated', async (event) => void received.push(event));
    await startPoller(makeHandler({ publisher: bus }));
    const event = generated('evt_01HXBUS');

    await put(outboxItem(event, now));
    await poller!.idle();
    await bus.idle();

    expect(received.map((busEvent) => [busEvent['detail-type'], busEvent.detail])).toEqual([['access_code.generated', event]]);
    expect(readFileSync(bus.eventsFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as unknown)).toEqual([event]);
  });

  test('keeps reading when writes to other tables of the shared DynamoDB Local come before the first write to this one', async () => {
    // DynamoDB Local numbers stream records across all tables: an iterator taken on an empty
    // shard then points below this shard's first record, and GetRecords answers "trimmed".
    const other = await createTestTable();
    try {
      const { handler, batches } = recordingHandler();
      await startPoller(handler);
      await poller!.idle();

      await other.db.send(new PutCommand({ TableName: other.tableName, Item: { pk: 'ELSEWHERE', sk: 'X' } }));
      await put({ pk: 'ITEM#1', sk: 'ITEM' });
      await poller!.idle();

      expect(batches.flat().map(pkOf)).toEqual(['ITEM#1']);
    } finally {
      await other.drop();
    }
  });

  test('hands the handler records shaped like Lambda DynamoDB stream records', async () => {
    const { handler, batches } = recordingHandler();
    await startPoller(handler);

    await put({ ...keys.team('tea_1'), name: 'Acme', size: 3 });
    await poller!.idle();

    expect(batches).toHaveLength(1);
    expect(batches[0]).toEqual([
      {
        eventID: expect.any(String),
        eventName: 'INSERT',
        eventVersion: '1.1',
        eventSource: 'aws:dynamodb',
        awsRegion: expect.any(String),
        eventSourceARN: poller!.streamArn,
        dynamodb: {
          ApproximateCreationDateTime: expect.any(Number),
          Keys: { pk: { S: 'TEAM#tea_1' }, sk: { S: 'TEAM' } },
          NewImage: { pk: { S: 'TEAM#tea_1' }, sk: { S: 'TEAM' }, name: { S: 'Acme' }, size: { N: '3' } },
          SequenceNumber: expect.stringMatching(/^\d+$/),
          SizeBytes: expect.any(Number),
          StreamViewType: 'NEW_IMAGE',
        },
      },
    ]);
    expect(poller!.streamArn).toContain(`table/${table.tableName}/stream/`);
  });

  test('retries from the first record the handler reported as failed, as Lambda does', async () => {
    for (const n of [1, 2, 3, 4]) await put({ pk: `ITEM#${n}`, sk: 'ITEM' });
    const { handler, batches } = recordingHandler((records, call) =>
      // The first call fails the 2nd and 4th records: Lambda resumes at the 2nd.
      call === 1 ? { batchItemFailures: [1, 3].map((i) => ({ itemIdentifier: records[i]!.dynamodb!.SequenceNumber! })) } : { batchItemFailures: [] },
    );

    await startPoller(handler);
    await poller!.idle();

    expect(batches.map((batch) => batch.map(pkOf))).toEqual([
      ['ITEM#1', 'ITEM#2', 'ITEM#3', 'ITEM#4'],
      ['ITEM#2', 'ITEM#3', 'ITEM#4'],
    ]);
  });

  test('gives a batch whose handler threw to the handler again, and a failing outbox record reaches the relay again', async () => {
    let attempts = 0;
    const published: string[] = [];
    const publisher: EventPublisher = {
      publish: async (events) => {
        attempts++;
        if (attempts < 3) throw new Error('EventBridge unavailable');
        published.push(...events.map((event) => event.id));
      },
    };
    await startPoller(makeHandler({ publisher }));

    await put(outboxItem(generated('evt_RETRY'), now));
    await poller!.idle();

    expect(attempts).toBe(3);
    expect(published).toEqual(['evt_RETRY']);
    expect(poller!.discarded).toEqual([]);
  });

  test('gives up a batch after the last retry, keeps it in `discarded`, and goes on with later records', async () => {
    const { handler, batches } = recordingHandler((records) =>
      pkOf(records[0]!) === 'ITEM#poison' ? Promise.reject(new Error('cannot handle')) : { batchItemFailures: [] },
    );
    await put({ pk: 'ITEM#poison', sk: 'ITEM' });
    await startPoller(handler, { maxRetryAttempts: 2 });
    await poller!.idle();

    await put({ pk: 'ITEM#next', sk: 'ITEM' });
    await poller!.idle();

    expect(batches.map((batch) => batch.map(pkOf))).toEqual([['ITEM#poison'], ['ITEM#poison'], ['ITEM#poison'], ['ITEM#next']]);
    expect(poller!.discarded).toEqual([
      { shardId: expect.any(String), records: [expect.objectContaining({ eventName: 'INSERT' })], error: 'the handler threw: cannot handle', discardedAt: expect.any(String) },
    ]);
  });

  test('with LATEST, starts after what the stream already holds', async () => {
    await put({ pk: 'ITEM#before', sk: 'ITEM' });
    const { handler, batches } = recordingHandler();
    await startPoller(handler, { startingPosition: 'LATEST' });

    await put({ pk: 'ITEM#after', sk: 'ITEM' });
    await poller!.idle();

    expect(batches.flat().map(pkOf)).toEqual(['ITEM#after']);
  });

  test('with a checkpoint file, a restarted poller resumes after the last record handled', async () => {
    const checkpointFile = join(dir, 'stream-checkpoints.json');
    const first = recordingHandler();
    await put({ pk: 'ITEM#1', sk: 'ITEM' });
    await startPoller(first.handler, { checkpointFile });
    await poller!.idle();
    await poller!.stop();

    await put({ pk: 'ITEM#2', sk: 'ITEM' });
    const second = recordingHandler();
    await startPoller(second.handler, { checkpointFile });
    await poller!.idle();

    expect(first.batches.flat().map(pkOf)).toEqual(['ITEM#1']);
    expect(second.batches.flat().map(pkOf)).toEqual(['ITEM#2']);
  });

  test('idle() rejects with the cause when the stream keeps failing to be read, instead of waiting forever', async () => {
    // A forwarding proxy to DynamoDB Local that can be taken away once the poller has started.
    const target = new URL(dynamoEndpoint());
    const proxy = createServer((req, res) => {
      const upstream = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((listening) => proxy.listen(0, '127.0.0.1', listening));
    const { port } = proxy.address() as AddressInfo;
    const cut = new StreamPoller({
      // One attempt a poll: the local retry strategy (10 attempts, backoff to 2 s) would make each failed poll take seconds.
      clientConfig: { ...localClientConfig(`http://127.0.0.1:${port}`), maxAttempts: 1, retryStrategy: undefined },
      tableName: table.tableName,
      handler: async () => undefined,
      retryDelayMs: 5,
      logger: silent,
    });
    await cut.start();
    try {
      proxy.closeAllConnections();
      await new Promise((closed) => proxy.close(closed));
      await expect(cut.idle()).rejects.toThrow(`Reading the stream of ${table.tableName} failed 5 times in a row`);
    } finally {
      await cut.stop();
    }
  });

  test('refuses to start on a table without a stream, or on no table at all', async () => {
    const control = new DynamoDBClient(localClientConfig(dynamoEndpoint()));
    const { StreamSpecification: _stream, ...withoutStream } = createTableInput(`${table.tableName}-nostream`);
    await control.send(new CreateTableCommand(withoutStream));
    try {
      for (const [tableName, error] of [
        [withoutStream.TableName!, /has no enabled stream/],
        ['no-such-table', /not found|non-existent/i],
      ] as const) {
        const refused = new StreamPoller({ clientConfig: localClientConfig(dynamoEndpoint()), tableName, handler: async () => undefined });
        await expect(refused.start()).rejects.toThrow(error);
        await refused.stop();
      }
    } finally {
      await control.send(new DeleteTableCommand({ TableName: withoutStream.TableName }));
      control.destroy();
    }
  });
});

describe('retryFrom', () => {
  const records = ['100', '200', '300'].map((seq) => ({ dynamodb: { SequenceNumber: seq } }) as DynamoDBRecord);

  test('is -1 when nothing failed, and the earliest reported record otherwise', () => {
    expect(retryFrom(records, undefined)).toBe(-1);
    expect(retryFrom(records, { batchItemFailures: [] })).toBe(-1);
    expect(retryFrom(records, { batchItemFailures: [{ itemIdentifier: '300' }, { itemIdentifier: '200' }] })).toBe(1);
  });

  test('is the whole batch for an empty identifier or one that names no record of the batch', () => {
    expect(retryFrom(records, { batchItemFailures: [{ itemIdentifier: '' }] })).toBe(0);
    expect(retryFrom(records, { batchItemFailures: [{ itemIdentifier: '300' }, { itemIdentifier: '999' }] })).toBe(0);
  });
});
