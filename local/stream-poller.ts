import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DescribeTableCommand, DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
  type AttributeValue as SdkAttributeValue,
  type GetRecordsCommandOutput,
  type GetShardIteratorInput,
  type _Record as SdkStreamRecord,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue, Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { logger as serviceLogger } from '../functions/observability';
import { localLambdaContext, runInvocation } from './lambda-context';

/** A DynamoDB Streams Lambda handler, as the event source mapping invokes it. */
export type StreamLambdaHandler = (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse | void>;

/** Where to start reading a shard the poller has no checkpoint for. */
export type StartingPosition = 'TRIM_HORIZON' | 'LATEST';

/** Settings of the poller; the defaults mirror a Lambda event source mapping. */
export interface StreamPollerOptions {
  /** Client settings of DynamoDB Local (e.g. `localClientConfig(endpoint)`); the poller builds its own clients. */
  clientConfig: DynamoDBClientConfig;
  tableName: string;
  handler: StreamLambdaHandler;
  /** For shards that exist at start and have no checkpoint (default TRIM_HORIZON: nothing is missed). Shards that appear later are always read from their start. */
  startingPosition?: StartingPosition;
  /** Keeps the position in each shard in this JSON file, so that a restart resumes after the last handled record; in memory only without it. */
  checkpointFile?: string;
  /** Records per invocation (default 100, at most 1000). */
  batchSize?: number;
  /** Wait between polls once the stream has nothing new (default 200 ms). */
  pollIntervalMs?: number;
  /** Retries of a failing batch before its remaining records are given up and kept in `discarded` (default 10); keep it equal to the event source mapping's retryAttempts. */
  maxRetryAttempts?: number;
  /** Wait before the first retry, doubled each retry up to 10 s (default 200 ms). */
  retryDelayMs?: number;
  /** The Lambda function name the handler sees in its context. */
  functionName?: string;
  logger?: Pick<typeof serviceLogger, 'error' | 'warn'>;
}

/** Records the poller stopped retrying (Lambda would report them to the on-failure destination). */
export interface DiscardedBatch {
  shardId: string;
  records: DynamoDBRecord[];
  error: string;
  discardedAt: string;
}

interface ShardState {
  shardId: string;
  parentShardId: string | undefined;
  iterator: string | undefined;
  /** Sequence number of the last record handled (or given up). */
  checkpoint: string | undefined;
  /** No more records will ever come from it. */
  finished: boolean;
}

interface CheckpointFile {
  streamArn: string;
  shards: Record<string, string>;
}

const MAX_RETRY_DELAY_MS = 10_000;
const SHARD_REFRESH_MS = 10_000;
const IDLE_GIVES_UP_AFTER_ERRORS = 5;

/** Converts an SDK attribute value to the JSON shape Lambda puts in stream events (binary as base64). */
const toLambdaValue = (value: SdkAttributeValue): AttributeValue => {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((item) => Buffer.from(item).toString('base64')) };
  if (value.L !== undefined) return { L: value.L.map(toLambdaValue) };
  if (value.M !== undefined) return { M: toLambdaImage(value.M) };
  return value as AttributeValue;
};

const toLambdaImage = (image: Record<string, SdkAttributeValue>): Record<string, AttributeValue> =>
  Object.fromEntries(Object.entries(image).map(([name, value]) => [name, toLambdaValue(value)]));

/** A stream record as DynamoDB Streams returns it, in the shape Lambda hands to a handler. */
export const toLambdaRecord = (record: SdkStreamRecord, streamArn: string): DynamoDBRecord => {
  const change = record.dynamodb ?? {};
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion,
    eventSource: record.eventSource,
    awsRegion: record.awsRegion,
    eventSourceARN: streamArn,
    dynamodb: {
      ...(change.ApproximateCreationDateTime ? { ApproximateCreationDateTime: change.ApproximateCreationDateTime.getTime() / 1000 } : {}),
      ...(change.Keys ? { Keys: toLambdaImage(change.Keys) } : {}),
      ...(change.NewImage ? { NewImage: toLambdaImage(change.NewImage) } : {}),
      ...(change.OldImage ? { OldImage: toLambdaImage(change.OldImage) } : {}),
      SequenceNumber: change.SequenceNumber,
      SizeBytes: change.SizeBytes,
      StreamViewType: change.StreamViewType,
    },
    ...(record.userIdentity
      ? { userIdentity: { type: record.userIdentity.Type, principalId: record.userIdentity.PrincipalId } }
      : {}),
  };
};

/**
 * Where a batch must be retried from, as Lambda decides with ReportBatchItemFailures: the
 * reported record with the lowest sequence number; the whole batch when an identifier is
 * empty or names no record of the batch; nothing (-1) when none is reported.
 */
export const retryFrom = (records: readonly DynamoDBRecord[], response: DynamoDBBatchResponse | void): number => {
  const failures = response?.batchItemFailures ?? [];
  if (failures.length === 0) return -1;
  const indexes = failures.map((failure) => records.findIndex((record) => record.dynamodb?.SequenceNumber === failure.itemIdentifier));
  if (failures.some((failure) => !failure.itemIdentifier) || indexes.includes(-1)) return 0;
  // Stream sequence numbers grow within a shard, so the lowest is the earliest in the batch.
  return Math.min(...indexes);
};


/**
 * The local counterpart of a Lambda event source mapping on the table's stream (DynamoDB
 * Local serves the DynamoDB Streams API). It reads every shard in order, parents before
 * children, invokes the handler with batches shaped like Lambda's, and on a reported or
 * thrown failure retries from the first failed record with backoff, as Lambda does with
 * ReportBatchItemFailures. So a record is handled at least once, in order within its shard.
 */
export class StreamPoller {
  /** Batches given up after the last retry, oldest first. */
  readonly discarded: DiscardedBatch[] = [];

  readonly #options: Required<Omit<StreamPollerOptions, 'checkpointFile' | 'clientConfig'>> & { checkpointFile?: string };
  readonly #dynamodb: DynamoDBClient;
  readonly #streams: DynamoDBStreamsClient;
  readonly #shards = new Map<string, ShardState>();
  #streamArn = '';
  #running: Promise<void> | undefined;
  #stopped = false;
  // Wake the loop's sleep: stop() wakes any sleep, idle() only the wait between polls.
  #wake: (() => void) | undefined;
  #wakeFromIdle: (() => void) | undefined;
  #lastRefresh = 0;
  #refreshNeeded = false;
  // Callers of idle(): `armed` once a whole poll cycle has begun after the call.
  #idleWaiters: Array<{ resolve: () => void; reject: (error: Error) => void; armed: boolean }> = [];

  constructor(options: StreamPollerOptions) {
    this.#options = {
      tableName: options.tableName,
      handler: options.handler,
      startingPosition: options.startingPosition ?? 'TRIM_HORIZON',
      checkpointFile: options.checkpointFile,
      batchSize: options.batchSize ?? 100,
      pollIntervalMs: options.pollIntervalMs ?? 200,
      maxRetryAttempts: options.maxRetryAttempts ?? 10,
      retryDelayMs: options.retryDelayMs ?? 200,
      functionName: options.functionName ?? 'outbox-relay',
      logger: options.logger ?? serviceLogger,
    };
    this.#dynamodb = new DynamoDBClient(options.clientConfig);
    this.#streams = new DynamoDBStreamsClient(options.clientConfig);
  }

  /** The ARN of the stream being read (known once started). */
  get streamArn(): string {
    return this.#streamArn;
  }

  /**
   * Finds the table's stream and positions every shard, then polls in the background. Resolves
   * once positioned, so with LATEST a write made after `start()` resolves is never missed.
   */
  async start(): Promise<void> {
    if (this.#running) throw new Error('The stream poller is already started.');
    const table = await this.#dynamodb.send(new DescribeTableCommand({ TableName: this.#options.tableName }));
    const streamArn = table.Table?.LatestStreamArn;
    if (!streamArn || !table.Table?.StreamSpecification?.StreamEnabled) {
      throw new Error(`Table ${this.#options.tableName} has no enabled stream.`);
    }
    this.#streamArn = streamArn;
    const saved = this.#readCheckpoints();
    for (const shard of await this.#describeShards()) {
      const checkpoint = saved?.[shard.ShardId!];
      // With checkpoints from an earlier run, a shard they do not know is newer: read it all.
      const position = checkpoint ? undefined : saved ? 'TRIM_HORIZON' : this.#options.startingPosition;
      await this.#addShard(shard, position, checkpoint);
    }
    this.#lastRefresh = Date.now();
    this.#running = this.#loop();
  }

  /**
   * Stops after the batch in progress; the position is kept in the checkpoint file, if any. A
   * poller whose start failed writes none: the file keeps the position of the last run.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    if (this.#running) {
      await this.#running;
      this.#writeCheckpoints();
    }
    for (const waiter of this.#idleWaiters) waiter.resolve();
    this.#idleWaiters = [];
    this.#dynamodb.destroy();
    this.#streams.destroy();
  }

  /**
   * Resolves once everything on the stream when it was called has been handled (or given up):
   * a full poll cycle that began after the call found nothing new. Rejects when the stream
   * keeps failing to be read, rather than waiting forever. For tests.
   */
  idle(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#idleWaiters.push({ resolve, reject, armed: false });
      this.#wakeFromIdle?.();
    });
  }

  async #loop(): Promise<void> {
    let errors = 0;
    while (!this.#stopped) {
      for (const waiter of this.#idleWaiters) waiter.armed = true;
      let busy: boolean;
      try {
        busy = await this.#pollOnce();
        errors = 0;
      } catch (error) {
        errors++;
        this.#options.logger.warn('stream poll failed; retrying', { table: this.#options.tableName, error: String(error) });
        if (errors >= IDLE_GIVES_UP_AFTER_ERRORS) {
          const failed = this.#idleWaiters.filter((waiter) => waiter.armed);
          this.#idleWaiters = this.#idleWaiters.filter((waiter) => !waiter.armed);
          const reason = new Error(`Reading the stream of ${this.#options.tableName} failed ${errors} times in a row: ${String(error)}`);
          for (const waiter of failed) waiter.reject(reason);
        }
        await this.#sleep(this.#backoff(errors));
        continue;
      }
      if (busy) continue;
      const ready = this.#idleWaiters.filter((waiter) => waiter.armed);
      this.#idleWaiters = this.#idleWaiters.filter((waiter) => !waiter.armed);
      for (const waiter of ready) waiter.resolve();
      await this.#sleep(this.#options.pollIntervalMs, true);
    }
  }

  /** One pass over the readable shards; true when it found records or the shard set changed. */
  async #pollOnce(): Promise<boolean> {
    let busy = false;
    if (this.#refreshNeeded || Date.now() - this.#lastRefresh > SHARD_REFRESH_MS) {
      busy = (await this.#refreshShards()) || busy;
    }
    for (const shard of this.#shards.values()) {
      if (this.#stopped) return false;
      if (shard.finished || !this.#parentDone(shard)) continue;
      const page = await this.#getRecords(shard);
      if (!page) {
        // No iterator could be read this time: look again before calling the stream idle.
        busy = true;
        continue;
      }
      const records = (page.Records ?? []).map((record) => toLambdaRecord(record, this.#streamArn));
      if (records.length > 0) {
        busy = true;
        await this.#deliver(shard, records);
        if (this.#stopped) return false;
      }
      shard.iterator = page.NextShardIterator;
      if (!page.NextShardIterator) {
        // A closed shard: its children, if any, are readable now.
        shard.finished = true;
        this.#refreshNeeded = true;
        busy = true;
      }
    }
    return busy;
  }

  /** The next page of a shard, repositioning once on an iterator that is no longer valid. */
  async #getRecords(shard: ShardState): Promise<GetRecordsCommandOutput | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!shard.iterator) await this.#reposition(shard);
      if (!shard.iterator) return undefined;
      try {
        return await this.#streams.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: this.#options.batchSize }));
      } catch (error) {
        // Expired: iterators last 15 minutes. Trimmed: in AWS, records older than the retention;
        // in DynamoDB Local also an iterator taken on an empty shard once writes to other tables
        // have moved the shared sequence counter past it. Either way, resume after the
        // checkpoint, or from the oldest record when nothing was read (so nothing is skipped).
        if (!(error instanceof ExpiredIteratorException || error instanceof TrimmedDataAccessException)) throw error;
        shard.iterator = undefined;
      }
    }
    return undefined;
  }

  /** Invokes the handler until the batch is handled, retrying from the first failed record. */
  async #deliver(shard: ShardState, records: DynamoDBRecord[]): Promise<void> {
    let pending = records;
    for (let retry = 0; ; retry++) {
      let from: number;
      let reason: string;
      try {
        const context = localLambdaContext({ functionName: this.#options.functionName, remainingMs: () => 60_000 });
        const records = pending;
        const response = await runInvocation(context, () => this.#options.handler({ Records: records }, context));
        from = retryFrom(pending, response);
        reason = 'the handler reported failed records';
      } catch (error) {
        from = 0;
        reason = `the handler threw: ${error instanceof Error ? error.message : String(error)}`;
      }
      if (from === -1) {
        this.#checkpoint(shard, pending.at(-1)!);
        return;
      }
      if (from > 0) this.#checkpoint(shard, pending[from - 1]!);
      pending = pending.slice(from);
      if (retry >= this.#options.maxRetryAttempts) {
        this.discarded.push({ shardId: shard.shardId, records: pending, error: reason, discardedAt: new Date().toISOString() });
        this.#options.logger.error('stream records given up after the last retry; they are kept in `discarded`', {
          table: this.#options.tableName,
          shardId: shard.shardId,
          sequenceNumbers: pending.map((record) => record.dynamodb?.SequenceNumber),
          retries: retry,
          reason,
        });
        this.#checkpoint(shard, pending.at(-1)!);
        return;
      }
      this.#options.logger.warn('stream batch failed; retrying from the first failed record', {
        table: this.#options.tableName,
        shardId: shard.shardId,
        from: pending[0]?.dynamodb?.SequenceNumber,
        retry: retry + 1,
        reason,
      });
      await this.#sleep(this.#backoff(retry + 1));
      // Stopping mid-retry leaves the checkpoint before these records: a restart reads them again.
      if (this.#stopped) return;
    }
  }

  #checkpoint(shard: ShardState, record: DynamoDBRecord): void {
    shard.checkpoint = record.dynamodb?.SequenceNumber ?? shard.checkpoint;
    this.#writeCheckpoints();
  }

  #parentDone(shard: ShardState): boolean {
    const parent = shard.parentShardId ? this.#shards.get(shard.parentShardId) : undefined;
    // A parent no longer described has been trimmed, so nothing of it is left to read first.
    return !parent || parent.finished;
  }

  async #describeShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let start: string | undefined;
    do {
      const page = await this.#streams.send(new DescribeStreamCommand({ StreamArn: this.#streamArn, ExclusiveStartShardId: start }));
      shards.push(...(page.StreamDescription?.Shards ?? []));
      start = page.StreamDescription?.LastEvaluatedShardId;
    } while (start);
    return shards;
  }

  /** Adds shards that appeared since the last look (read from their start); true if any did. */
  async #refreshShards(): Promise<boolean> {
    const shards = await this.#describeShards();
    this.#lastRefresh = Date.now();
    this.#refreshNeeded = false;
    let added = false;
    for (const shard of shards) {
      if (this.#shards.has(shard.ShardId!)) continue;
      await this.#addShard(shard, 'TRIM_HORIZON', undefined);
      added = true;
    }
    return added;
  }

  async #addShard(shard: Shard, position: StartingPosition | undefined, checkpoint: string | undefined): Promise<void> {
    const state: ShardState = {
      shardId: shard.ShardId!,
      parentShardId: shard.ParentShardId,
      iterator: undefined,
      checkpoint,
      // LATEST in a closed shard would never yield a record.
      finished: position === 'LATEST' && Boolean(shard.SequenceNumberRange?.EndingSequenceNumber),
    };
    this.#shards.set(state.shardId, state);
    if (!state.finished) await this.#reposition(state, position);
  }

  /** Gets an iterator after the checkpoint, or at `position` for a shard never read. */
  async #reposition(shard: ShardState, position: StartingPosition = 'TRIM_HORIZON'): Promise<void> {
    const input: GetShardIteratorInput = shard.checkpoint
      ? { StreamArn: this.#streamArn, ShardId: shard.shardId, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: shard.checkpoint }
      : { StreamArn: this.#streamArn, ShardId: shard.shardId, ShardIteratorType: position };
    try {
      shard.iterator = (await this.#streams.send(new GetShardIteratorCommand(input))).ShardIterator;
    } catch (error) {
      if (!(error instanceof TrimmedDataAccessException)) throw error;
      this.#options.logger.warn('stream checkpoint is older than the retained records; reading from the oldest', {
        shardId: shard.shardId,
        checkpoint: shard.checkpoint,
      });
      shard.iterator = (
        await this.#streams.send(
          new GetShardIteratorCommand({ StreamArn: this.#streamArn, ShardId: shard.shardId, ShardIteratorType: 'TRIM_HORIZON' }),
        )
      ).ShardIterator;
    }
  }

  /** The saved positions for this stream; undefined without a file or for another stream. */
  #readCheckpoints(): Record<string, string> | undefined {
    if (!this.#options.checkpointFile) return undefined;
    try {
      const saved = JSON.parse(readFileSync(this.#options.checkpointFile, 'utf8')) as CheckpointFile;
      // A recreated table has a new stream: old positions mean nothing there.
      return saved.streamArn === this.#streamArn ? saved.shards : undefined;
    } catch {
      return undefined;
    }
  }

  #writeCheckpoints(): void {
    const file = this.#options.checkpointFile;
    if (!file || !this.#streamArn) return;
    const shards: Record<string, string> = {};
    for (const shard of this.#shards.values()) if (shard.checkpoint) shards[shard.shardId] = shard.checkpoint;
    const content: CheckpointFile = { streamArn: this.#streamArn, shards };
    mkdirSync(dirname(file), { recursive: true });
    // Write then rename, so that a crash never leaves a half-written file.
    writeFileSync(`${file}.tmp`, `${JSON.stringify(content, null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
  }

  #backoff(attempt: number): number {
    return Math.min(MAX_RETRY_DELAY_MS, this.#options.retryDelayMs * 2 ** (attempt - 1));
  }

  /** Sleeps, but wakes at once on stop(), and on idle() when `wakeOnIdle`. */
  #sleep(ms: number, wakeOnIdle = false): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        this.#wakeFromIdle = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
      if (wakeOnIdle) this.#wakeFromIdle = done;
    });
  }
}
