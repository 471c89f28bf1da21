import {
  ProvisionedThroughputExceededException,
  RequestLimitExceeded,
  ThrottlingException,
  TransactionCanceledException,
  TransactionConflictException,
  type AttributeValue,
  type ConsumedCapacity,
} from '@aws-sdk/client-dynamodb';
import type { MetadataBearer, MiddlewareStack } from '@smithy/types';
import { TABLE_SCHEMA } from '../functions/contracts/table';

/** What an `AwsBehaviour` does besides recording capacity. */
export interface AwsBehaviourOptions {
  /** Share of calls (0..1) refused at random with a conflict or a throttle fitting the call. Default 0. */
  faultRate?: number;
  /** Write capacity one item takes in a sliding window before writes to it are throttled. Default 1,000, DynamoDB's per-partition limit a second. */
  itemWcuPerSecond?: number;
  /** The sliding window of `itemWcuPerSecond`, in ms. Default 1,000. */
  windowMs?: number;
  /** A source of randomness in [0, 1), for a replayable run. Default `Math.random`. */
  random?: () => number;
  /**
   * How long a transaction holds its items, from the moment it is sent (or until its answer,
   * if sooner). Default 30 ms, about a TransactWriteItems on DynamoDB: DynamoDB Local's own
   * round trip includes its wait for a table-wide lock, which DynamoDB does not have, so holding
   * for the whole round trip would make conflicts far likelier than on AWS.
   */
  transactionHoldMs?: number;
}

/** The capacity one call consumed, as DynamoDB reported it, and the items it wrote. */
export interface CapacityRecord {
  operation: string;
  /** Items written (`pk|sk`), in the call's order; empty for a read. */
  written: string[];
  writeUnits: number;
  readUnits: number;
}

/** How many of each refusal the layer raised, by error name. */
export type Injected = Record<string, number>;

type Input = Record<string, any>;
type Key = Record<string, AttributeValue>;

const WRITE_OPERATIONS = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);
const CAPACITY_OPERATIONS = new Set([...WRITE_OPERATIONS, 'GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);

const itemKey = (key: Key | undefined): string =>
  `${key?.[TABLE_SCHEMA.partitionKey]?.S ?? '?'}|${key?.[TABLE_SCHEMA.sortKey]?.S ?? '?'}`;

/** The items a write call touches, in its order (a transaction's ConditionChecks included: AWS locks them too). */
const touchedItems = (operation: string, input: Input): string[] => {
  switch (operation) {
    case 'PutItem':
      return [itemKey(input.Item)];
    case 'UpdateItem':
    case 'DeleteItem':
      return [itemKey(input.Key)];
    case 'TransactWriteItems':
      return (input.TransactItems ?? []).map((entry: Input) => itemKey(entry.Put?.Item ?? entry.Update?.Key ?? entry.Delete?.Key ?? entry.ConditionCheck?.Key));
    case 'BatchWriteItem':
      return Object.values(input.RequestItems ?? {}).flatMap((requests) =>
        (requests as Input[]).map((request) => itemKey(request.PutRequest?.Item ?? request.DeleteRequest?.Key)),
      );
    default:
      return [];
  }
};

/** Total units of a call's `ConsumedCapacity` (asked as TOTAL: one entry per table). */
const totalUnits = (consumed: ConsumedCapacity | ConsumedCapacity[] | undefined): number =>
  (consumed === undefined ? [] : Array.isArray(consumed) ? consumed : [consumed]).reduce((sum, entry) => sum + (entry.CapacityUnits ?? 0), 0);

const metadata = { httpStatusCode: 400, attempts: 1, totalRetryDelay: 0 };

/**
 * A layer over a DynamoDB client that makes DynamoDB Local behave like DynamoDB where it does
 * not (tests and `npm start` opt in; Lambda never has it):
 * - a write to an item that an in-flight transaction of this client holds (`transactionHoldMs`)
 *   fails with `TransactionConflictException`, and a transaction touching such an item is
 *   cancelled with a `TransactionConflict` reason at that item (DynamoDB Local serialises every
 *   write instead);
 * - writes to one item beyond `itemWcuPerSecond` in a sliding second are throttled
 *   (`ProvisionedThroughputExceededException`);
 * - a share of all calls is refused at random with a conflict or throttle that fits the call;
 * - every call's consumed capacity is recorded, with the items it wrote.
 * The refusals are raised inside the SDK's retry loop, as AWS's would be: the SDK retries the
 * throttles, and the service's own code has to cope with the conflicts.
 */
export class AwsBehaviour {
  /** One record per call that reached DynamoDB Local (refused calls are not recorded). */
  readonly capacity: CapacityRecord[] = [];
  readonly injected: Injected = {};
  /** Items held by in-flight transactions: until when, per holder. */
  private readonly held = new Map<string, Map<symbol, number>>();
  private readonly recentWrites = new Map<string, Array<{ at: number; units: number }>>();
  private readonly faultRate: number;
  private readonly itemWcuPerSecond: number;
  private readonly random: () => number;
  private readonly transactionHoldMs: number;
  private readonly windowMs: number;

  constructor(options: AwsBehaviourOptions = {}) {
    this.faultRate = options.faultRate ?? 0;
    this.itemWcuPerSecond = options.itemWcuPerSecond ?? 1_000;
    this.random = options.random ?? Math.random;
    this.transactionHoldMs = options.transactionHoldMs ?? 30;
    this.windowMs = options.windowMs ?? 1_000;
  }

  /** Installs the layer on a client (a document client shares its base client's stack). */
  install(client: { middlewareStack: MiddlewareStack<any, MetadataBearer> }): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (CAPACITY_OPERATIONS.has(context.commandName?.replace(/Command$/, '') ?? '')) (args.input as Input).ReturnConsumedCapacity ??= 'TOTAL';
        return next(args);
      },
      { step: 'initialize', name: 'awsBehaviourCapacity', priority: 'low' },
    );
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const operation = (context.commandName ?? '').replace(/Command$/, '');
        const input = args.input as Input;
        const written = WRITE_OPERATIONS.has(operation) ? touchedItems(operation, input) : [];
        this.refuseIfAwsWould(operation, written);
        const holder = operation === 'TransactWriteItems' ? Symbol(operation) : undefined;
        if (holder) {
          const until = Date.now() + this.transactionHoldMs;
          for (const key of written) this.held.set(key, (this.held.get(key) ?? new Map()).set(holder, until));
        }
        try {
          const result = await next(args);
          const output = result.output as Input;
          const units = totalUnits(output.ConsumedCapacity);
          const write = WRITE_OPERATIONS.has(operation);
          this.capacity.push({ operation, written, writeUnits: write ? units : 0, readUnits: write ? 0 : units });
          this.noteWrites(written, write ? units : 0);
          return result;
        } finally {
          if (holder) {
            for (const key of written) {
              const holders = this.held.get(key);
              holders?.delete(holder);
              if (holders?.size === 0) this.held.delete(key);
            }
          }
        }
      },
      { step: 'deserialize', name: 'awsBehaviour', priority: 'high' },
    );
  }

  /** Write units recorded per item written, over every call so far. */
  writesPerItem(): Map<string, { writes: number; units: number }> {
    const perItem = new Map<string, { writes: number; units: number }>();
    for (const record of this.capacity) {
      for (const key of record.written) {
        const entry = perItem.get(key) ?? { writes: 0, units: 0 };
        entry.writes += 1;
        entry.units += record.writeUnits / record.written.length;
        perItem.set(key, entry);
      }
    }
    return perItem;
  }

  private refuseIfAwsWould(operation: string, written: string[]): void {
    const now = Date.now();
    const heldAt = written.findIndex((key) => [...(this.held.get(key)?.values() ?? [])].some((until) => until > now));
    if (heldAt >= 0) this.raise(operation, written, heldAt, 'conflict');
    const hot = written.findIndex((key) => this.unitsInWindow(key) >= this.itemWcuPerSecond);
    if (hot >= 0) this.raise(operation, written, hot, 'hot');
    if (this.faultRate > 0 && this.random() < this.faultRate) {
      const at = Math.floor(this.random() * Math.max(1, written.length));
      this.raise(operation, written, at, written.length > 0 && this.random() < 0.5 ? 'conflict' : 'throttle');
    }
  }

  private raise(operation: string, written: string[], at: number, kind: 'conflict' | 'throttle' | 'hot'): never {
    let error: Error;
    if (operation === 'TransactWriteItems') {
      const code = kind === 'conflict' ? 'TransactionConflict' : 'ThrottlingError';
      error = new TransactionCanceledException({
        message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${written.map((_, i) => (i === at ? code : 'None')).join(', ')}]`,
        $metadata: metadata,
        CancellationReasons: written.map((_, i) => (i === at ? { Code: code, Message: kind === 'conflict' ? 'Transaction is ongoing for the item' : 'Throughput exceeds the current capacity' } : { Code: 'None' })),
      });
    } else if (kind === 'conflict') {
      error = new TransactionConflictException({ message: 'Transaction is ongoing for the item', $metadata: metadata });
    } else if (kind === 'hot') {
      // What DynamoDB answers for an item (partition) past its own throughput.
      error = new ProvisionedThroughputExceededException({ message: 'Throughput exceeds the current capacity for one or more global secondary indexes or items.', $metadata: metadata });
    } else {
      const throttles = [ProvisionedThroughputExceededException, ThrottlingException, RequestLimitExceeded] as const;
      const Throttle = throttles[Math.floor(this.random() * throttles.length)]!;
      error = new Throttle({ message: 'The level of configured provisioned throughput for the table was exceeded.', $metadata: metadata });
    }
    this.injected[error.name] = (this.injected[error.name] ?? 0) + 1;
    throw error;
  }

  private unitsInWindow(key: string): number {
    const entries = this.recentWrites.get(key);
    if (!entries) return 0;
    const since = Date.now() - this.windowMs;
    while (entries.length > 0 && entries[0]!.at < since) entries.shift();
    return entries.reduce((sum, entry) => sum + entry.units, 0);
  }

  private noteWrites(written: string[], units: number): void {
    const now = Date.now();
    for (const key of written) {
      const entries = this.recentWrites.get(key) ?? [];
      entries.push({ at: now, units: units / written.length });
      this.recentWrites.set(key, entries);
    }
  }
}
