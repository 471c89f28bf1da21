/**
 * The expiry figures of `npm run bench`, on a DynamoDB Local of this bench's own (in memory):
 *
 * 1. One sweep of 1,000 due codes on a table that also holds 1,000 live codes, against the same
 *    sweep on a table that holds 100,000 (target ≤ 1.3×). Each run writes 1,000 fresh due codes
 *    into each table and sweeps each once, alternating. Beside it, measured in the same runs:
 *    the due read alone on each table, and a bare write floor on each (transactions of 100
 *    conditional puts of new items), which says what DynamoDB Local charges for a
 *    write on the bigger table whatever the sweep does.
 * 2. The 100,000 live codes of the big table are one batch with one expiry: the clock moves past
 *    it, and sweep runs of 60 s each (the Lambda's 70 s less the handler's 10 s margin) follow
 *    one another until none leaves a backlog, at most 20 (one run a minute for 20 minutes).
 *    Codes/s against the bare write floor on the same table (2 items a code); then one scan
 *    checks that every code of the batch is expired with exactly one access_code.expired event
 *    each, and the section fails if not.
 *
 * The live codes are written with BatchWriteItem, as `codeItem` builds them (every index key),
 * before the table's stream is turned on: on DynamoDB a stream record lasts 24 hours and costs
 * a write nothing, and codes expiring next year were generated long before; on DynamoDB Local
 * every write to a table with a stream also appends to the stream's own store, which made the
 * build about 1.3× slower (100,000 codes in 61 s against 46 s, timed apart on the bench machine).
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { ScanCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { codeItem, DynamoCodeStore } from '../functions/adapters/dynamodb/code-store';
import { makeDocumentClient } from '../functions/adapters/dynamodb/client';
import { DynamoExpiryStore } from '../functions/adapters/dynamodb/expiry-store';
import { OUTBOX_ITEM_TYPE } from '../functions/contracts/outbox';
import { createTableInput } from '../functions/contracts/table';
import { maskCode, randomCode } from '../functions/domain/access-codes';
import { newId } from '../functions/domain/ids';
import { EXPIRY_CODES_PER_SECOND, sweepExpiredCodes } from '../functions/use-cases/expiry-sweep';
import { batchWrite } from './batch-write';
import { localClientConfig, startDynamoDbLocal } from '../local/dynamodb-local';
import { atMost, median, type Bench, type BenchContext, type BenchResult, type Figure } from './figures';

/** The target: a sweep among 100× the live codes takes at most this many times as long. */
export const EXPIRY_TARGET_RATIO = 1.3;
const DUE = 1_000;
const SMALL_LIVE = 1_000;
/** BENCH_EXPIRY_LIVE overrides the big table's live codes (and so the drained batch's size). */
const LARGE_LIVE = Number(process.env.BENCH_EXPIRY_LIVE ?? 100_000);
/** Sweeps per table for the first figure, at least (each is a few seconds; the median is noisy on a shared machine). */
const MIN_SWEEP_RUNS = 5;
/** One run's time, as the Lambda gives it: 70 s timeout less the handler's 10 s margin. */
const RUN_MS = 60_000;
/** The series' bound: one run a minute for the issue's 20 minutes. */
const MAX_RUNS = 20;
/** BatchWriteItem calls in flight while building (DynamoDB Local gains nothing beyond ~8). */
const IN_FLIGHT = 8;
/** Live codes built per round (bounds the memory the build holds). */
const ROUND = 10_000;
/**
 * The bare write floor: this many transactions of 100 conditional puts, FLOOR_IN_FLIGHT at once
 * (at 8, DynamoDB Local answered "timed out waiting for a lock" past the SDK's 10 attempts on
 * this machine under load).
 */
const FLOOR_TRANSACTIONS = 10;
const FLOOR_IN_FLIGHT = 4;
const FLOOR_ITEMS = FLOOR_TRANSACTIONS * 100;

const job = (expiresAt: string) => ({
  id: newId('job'),
  batchId: newId('batch'),
  planId: 'pln_bench',
  projectId: 'prj_bench',
  teamId: 'tea_bench',
  expiresAt,
});
type BenchJob = ReturnType<typeof job>;

const fmt = (n: number) => Math.round(n).toLocaleString('en');
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');

/** One table of the bench: the service's definition, its store, and the live codes it holds. */
interface BenchTable {
  tableName: string;
  store: DynamoExpiryStore;
  live: number;
}

/**
 * A table as `ensureTable` makes it, with `live` codes of `batch` written before its stream is
 * turned on (every attribute and index key `codeItem` gives a generated code, one slot each).
 */
const buildTable = async (control: DynamoDBClient, db: DynamoDBDocumentClient, live: number, batch: BenchJob, log: (line: string) => void): Promise<BenchTable> => {
  const tableName = `bench-expiry-${randomUUID()}`;
  const { StreamSpecification, ...input } = createTableInput(tableName);
  await control.send(new CreateTableCommand(input));
  const started = performance.now();
  const now = new Date();
  for (let slot = 0; slot < live; slot += ROUND) {
    const items = Array.from({ length: Math.min(ROUND, live - slot) }, (_, i) => codeItem(batch, slot + i, randomCode(), now));
    await batchWrite(db, tableName, items, IN_FLIGHT);
    if ((slot + ROUND) % 50_000 === 0) log(`expiry: ${fmt(slot + ROUND)} live codes written (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }
  await control.send(new UpdateTableCommand({ TableName: tableName, StreamSpecification }));
  log(`expiry: ${fmt(live)} live codes in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return { tableName, store: new DynamoExpiryStore(db, tableName, new DynamoCodeStore(db, tableName)), live };
};

/** What one sweep of DUE fresh due codes took on one table, with its due read timed apart. */
interface SweepSample {
  sweepMs: number;
  readMs: number;
}

/** Writes DUE fresh due codes (as generated), times the due read alone, then one sweep. */
const sweepDue = async (db: DynamoDBDocumentClient, table: BenchTable): Promise<SweepSample> => {
  const written = new Date();
  const due = job(new Date(written.getTime() - 60_000).toISOString());
  await batchWrite(
    db,
    table.tableName,
    Array.from({ length: DUE }, (_, slot) => codeItem(due, slot, randomCode(), written)),
  );
  const now = new Date();
  const readStarted = performance.now();
  const read = await table.store.dueCodes(now, 2 * DUE);
  const readMs = performance.now() - readStarted;
  if (read.codes.length !== DUE || read.more) throw new Error(`the due read found ${read.codes.length} codes (more: ${read.more}), not ${DUE}`);
  const result = await sweepExpiredCodes({ expiry: table.store, clock: { now: () => now } });
  if (result.expired !== DUE || result.backlogLeft) {
    throw new Error(`the sweep expired ${result.expired} codes (backlog left: ${result.backlogLeft}), not ${DUE}`);
  }
  return { sweepMs: result.durationMs, readMs };
};

/** The bare write floor: FLOOR_TRANSACTIONS transactions of 100 conditional puts of new ~380 B items, FLOOR_IN_FLIGHT at once; ms. */
const bareWrites = async (db: DynamoDBDocumentClient, table: BenchTable): Promise<number> => {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next++ < FLOOR_TRANSACTIONS) {
      await db.send(
        new TransactWriteCommand({
          TransactItems: Array.from({ length: 100 }, () => ({
            Put: { TableName: table.tableName, Item: { pk: `BENCH#${randomUUID()}`, sk: 'FLOOR', pad: 'x'.repeat(300) }, ConditionExpression: 'attribute_not_exists(pk)' },
          })),
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: FLOOR_IN_FLIGHT }, worker));
  return performance.now() - started;
};

/** What one scan found of a batch: its codes by status, and its access_code.expired events. */
interface BatchCount {
  codes: number;
  expired: number;
  events: number;
  distinctEventIds: number;
  /** Events whose masked code matches no expired code of the batch, or one more time than it should. */
  unmatchedEvents: number;
}

/** Scans the whole table (4 segments) once for `batchId`'s codes and access_code.expired events. */
const countBatch = async (db: DynamoDBDocumentClient, tableName: string, batchId: string): Promise<BatchCount> => {
  const expiredMasks = new Map<string, number>();
  const eventMasks = new Map<string, number>();
  const eventIds = new Set<string>();
  const count: BatchCount = { codes: 0, expired: 0, events: 0, distinctEventIds: 0, unmatchedEvents: 0 };
  const SEGMENTS = 4;
  await Promise.all(
    Array.from({ length: SEGMENTS }, async (_, segment) => {
      let start: Record<string, unknown> | undefined;
      do {
        const page = await db.send(
          new ScanCommand({
            TableName: tableName,
            Segment: segment,
            TotalSegments: SEGMENTS,
            ExclusiveStartKey: start,
            ConsistentRead: true,
            FilterExpression: '(#type = :code AND batch_id = :batch) OR (#type = :outbox AND #event.#data.batch_id = :batch)',
            ProjectionExpression: '#type, #status, code, #event.id, #event.#type, #event.#data.access_code',
            ExpressionAttributeNames: { '#type': 'type', '#status': 'status', '#event': 'event', '#data': 'data' },
            ExpressionAttributeValues: { ':code': 'access_code', ':outbox': OUTBOX_ITEM_TYPE, ':batch': batchId },
          }),
        );
        for (const item of page.Items ?? []) {
          if (item.type === 'access_code') {
            count.codes++;
            if (item.status === 'expired') {
              count.expired++;
              const mask = maskCode(item.code);
              expiredMasks.set(mask, (expiredMasks.get(mask) ?? 0) + 1);
            }
          } else if (item.event?.type === 'access_code.expired') {
            count.events++;
            eventIds.add(item.event.id);
            const mask = item.event.data.access_code as string;
            eventMasks.set(mask, (eventMasks.get(mask) ?? 0) + 1);
          }
        }
        start = page.LastEvaluatedKey;
      } while (start);
    }),
  );
  count.distinctEventIds = eventIds.size;
  for (const [mask, events] of eventMasks) count.unmatchedEvents += Math.max(0, events - (expiredMasks.get(mask) ?? 0));
  return count;
};

/** Figure 1: the sweep of 1,000 due codes among SMALL_LIVE vs LARGE_LIVE live codes, with its explanation measured beside it. */
const sweepFigure = async (db: DynamoDBDocumentClient, small: BenchTable, large: BenchTable, runs: number, log: (line: string) => void) => {
  // One warm-up sweep on each (JIT, the JVM's caches), not counted.
  await sweepDue(db, small);
  await sweepDue(db, large);
  const samples = { small: [] as SweepSample[], large: [] as SweepSample[], smallBare: [] as number[], largeBare: [] as number[] };
  for (let run = 1; run <= runs; run++) {
    // Alternate which goes first, so neither always follows the other's writes.
    const order = run % 2 ? (['small', 'large'] as const) : (['large', 'small'] as const);
    for (const which of order) {
      const table = which === 'small' ? small : large;
      samples[which].push(await sweepDue(db, table));
      samples[`${which}Bare`].push(await bareWrites(db, table));
    }
    const [s, l] = [samples.small.at(-1)!, samples.large.at(-1)!];
    log(
      `expiry run ${run}/${runs}: sweep ${s.sweepMs.toFixed(0)} ms among ${fmt(small.live)}, ${l.sweepMs.toFixed(0)} ms among ${fmt(large.live)}; ` +
        `due read ${s.readMs.toFixed(0)} / ${l.readMs.toFixed(0)} ms; bare writes ${samples.smallBare.at(-1)!.toFixed(0)} / ${samples.largeBare.at(-1)!.toFixed(0)} ms`,
    );
  }
  const ours = samples.large.map((s) => s.sweepMs);
  const floor = samples.small.map((s) => s.sweepMs);
  const read = { small: median(samples.small.map((s) => s.readMs)), large: median(samples.large.map((s) => s.readMs)) };
  const bare = { small: median(samples.smallBare), large: median(samples.largeBare) };
  const figure = atMost(
    `expiry sweep of 1,000 due codes among ${fmt(large.live)} vs ${fmt(small.live)} live codes`,
    'ms',
    ours,
    floor,
    EXPIRY_TARGET_RATIO,
    `Floor: the same sweep (1,000 due codes: 32 bucket queries, 20 transactions of 50 code updates + 50 events, 8 in flight) on a table with ${fmt(small.live)} live codes; ` +
      `ours: on a table with ${fmt(large.live)}. ${runs} runs; each writes 1,000 fresh due codes into each table and sweeps each once, alternating. ` +
      `Live codes as the generator writes them (every index key), expiring next year. ` +
      `Measured in the same runs (medians, ${fmt(small.live)} vs ${fmt(large.live)} live): the due read alone (the sweep's query of 32 buckets, every due key) ${read.small.toFixed(0)} ms vs ${read.large.toFixed(0)} ms (${(read.large / read.small).toFixed(2)}×); ` +
      `a bare write floor (${FLOOR_TRANSACTIONS} transactions of 100 conditional puts of new items, ${FLOOR_IN_FLIGHT} in flight, nothing the sweep reads) ${bare.small.toFixed(0)} ms vs ${bare.large.toFixed(0)} ms (${(bare.large / bare.small).toFixed(2)}×).`,
  );
  if (!figure.met) {
    figure.note +=
      ` Missed by ${(figure.ratio - EXPIRY_TARGET_RATIO).toFixed(2)}× over the target. The due read does not grow with the live codes (${(read.large / read.small).toFixed(2)}×, ${read.large.toFixed(0)} ms of ${figure.ours.toFixed(0)}); ` +
      `the bare writes, which read nothing and touch no code, slow down by ${(bare.large / bare.small).toFixed(2)}× on the bigger table: DynamoDB Local's cost of a write grows with the table it writes to, and the sweep's time is its writes.`;
  }
  return { figure, bareLargeMs: bare.large };
};

/** Figure 2: the big table's LARGE_LIVE codes, one batch, expired at once and drained by a bounded series of sweep runs. */
const drainFigure = async (db: DynamoDBDocumentClient, large: BenchTable, batch: BenchJob, bareLargeMs: number, log: (line: string) => void): Promise<Figure> => {
  const at = new Date(Date.parse(batch.expiresAt) + 1000);
  const perRun: Array<{ expired: number; ms: number; pages: number }> = [];
  const failures: string[] = [];
  const started = performance.now();
  let backlogLeft = true;
  while (backlogLeft && perRun.length < MAX_RUNS) {
    const runStarted = Date.now();
    let result;
    try {
      result = await sweepExpiredCodes({ expiry: large.store, clock: { now: () => at }, deadline: runStarted + RUN_MS });
    } catch (error) {
      // A failed run is a failed Lambda invocation: what it committed stays, the next run takes the rest.
      failures.push(error instanceof Error ? error.message : String(error));
      perRun.push({ expired: Number.NaN, ms: Date.now() - runStarted, pages: Number.NaN });
      log(`expiry drain run ${perRun.length} failed: ${failures.at(-1)}`);
      continue;
    }
    perRun.push({ expired: result.expired, ms: result.durationMs, pages: result.pages });
    backlogLeft = result.backlogLeft;
    log(`expiry drain run ${perRun.length}: ${fmt(result.expired)} codes in ${(result.durationMs / 1000).toFixed(1)} s (${fmt((result.expired * 1000) / result.durationMs)} codes/s, ${result.pages} pages), backlog left: ${backlogLeft}`);
  }
  const wallMs = performance.now() - started;
  const expired = perRun.reduce((sum, run) => sum + (Number.isNaN(run.expired) ? 0 : run.expired), 0);
  const count = await countBatch(db, large.tableName, batch.batchId);
  log(`expiry drain: ${fmt(expired)} expired by the runs; the scan found ${fmt(count.codes)} codes of the batch, ${fmt(count.expired)} expired, ${fmt(count.events)} access_code.expired events (${fmt(count.distinctEventIds)} ids, ${count.unmatchedEvents} unmatched)`);
  const mismatches = [
    count.codes !== large.live && `${count.codes} codes of the batch stored, not ${large.live}`,
    count.expired !== large.live && `${count.expired} codes expired, not ${large.live}`,
    !failures.length && expired !== large.live && `the runs report ${expired} expired, not ${large.live}`,
    count.events !== count.expired && `${count.events} access_code.expired events for ${count.expired} expired codes`,
    count.distinctEventIds !== count.events && `${count.events - count.distinctEventIds} event ids repeated`,
    count.unmatchedEvents !== 0 && `${count.unmatchedEvents} events match no expired code of the batch`,
  ].filter(Boolean);
  if (backlogLeft || mismatches.length) {
    throw new Error(
      `the ${fmt(large.live)}-code expiry ${backlogLeft ? `left a backlog after ${MAX_RUNS} runs` : `drained in ${perRun.length} runs`}, expired ${fmt(expired)} codes` +
        (mismatches.length ? `, and: ${mismatches.join('; ')}` : ''),
    );
  }
  const ours = (count.expired * 1000) / wallMs;
  // The floor in codes/s: a code is two items (its update and its event).
  const floor = (FLOOR_ITEMS / 2) * (1000 / bareLargeMs);
  const perRunRates = perRun.filter((run) => !Number.isNaN(run.expired)).map((run) => (run.expired * 1000) / run.ms);
  return {
    figure: `${fmt(large.live)} codes of one batch expired at once, drained by sweep runs of ${RUN_MS / 1000} s (codes/s)`,
    unit: 'codes/s',
    ours,
    floor,
    ratio: ours / floor,
    target: `drained in ≤ ${MAX_RUNS} runs, 1 event a code`,
    met: true,
    runs: { ours: perRunRates, floor: [floor] },
    note:
      `The big table's ${fmt(large.live)} live codes are one batch with one expiry; the clock moves 1 s past it and sweep runs follow one another (each with the Lambda's ${RUN_MS / 1000} s) until one leaves no backlog, at most ${MAX_RUNS}. ` +
      `Drained in ${perRun.length} runs${failures.length ? ` (${failures.length} failed, which the next run covered as the Lambda's next invocation would: ${failures.join('; ')})` : ''}, ${(wallMs / 1000).toFixed(0)} s wall time, ${fmt(ours)} codes/s (per run: ${perRunRates.map(fmt).join(', ')}; the sweep's pace cap is ${fmt(EXPIRY_CODES_PER_SECOND)}). ` +
      `One scan afterwards: ${fmt(count.codes)} codes of the batch, ${fmt(count.expired)} expired, ${fmt(count.events)} access_code.expired events with ${fmt(count.distinctEventIds)} distinct ids, each matching an expired code of the batch (the bench fails the section on any difference). ` +
      `Floor: the bare write floor on the same table (transactions of 100 conditional puts, ${FLOOR_IN_FLIGHT} in flight, median of the first figure's runs) in codes/s at 2 items a code.`,
  };
};

/** The figures, on clients of the bench's own DynamoDB Local. */
const measure = async (control: DynamoDBClient, db: DynamoDBDocumentClient, context: Pick<BenchContext, 'runs' | 'log'>): Promise<BenchResult> => {
  const tables: BenchTable[] = [];
  const loadBefore = load();
  try {
    const nextYear = new Date(Date.now() + 365 * 86_400_000).toISOString();
    const small = await buildTable(control, db, SMALL_LIVE, job(nextYear), context.log);
    tables.push(small);
    const batch = job(nextYear);
    const large = await buildTable(control, db, LARGE_LIVE, batch, context.log);
    tables.push(large);
    const { figure, bareLargeMs } = await sweepFigure(db, small, large, Math.max(context.runs, MIN_SWEEP_RUNS), context.log);
    const loadMid = load();
    const drain = await drainFigure(db, large, batch, bareLargeMs, context.log);
    const loads = ` Load average (1 / 5 / 15 min) at the start ${loadBefore}, after the first figure ${loadMid}, at the end ${load()}: the machine is shared.`;
    figure.note += loads;
    drain.note += loads;
    return { figures: [figure, drain] };
  } finally {
    for (const table of tables) await control.send(new DeleteTableCommand({ TableName: table.tableName })).catch(() => undefined);
  }
};

const TITLE = 'Expiry: one sweep of 1,000 due codes among 1,000 vs 100,000 live codes; a 100,000-code batch expired at once, drained by sweep runs';

/** One sweep of 1,000 due codes among 1,000 vs 100,000 live codes, and a 100,000-code expiry drained. */
export const expiryBench: Bench = {
  name: 'expiry',
  title: TITLE,
  run: async (context: BenchContext): Promise<BenchResult> => {
    // A DynamoDB Local of its own (both tables on it), not the runner's: after this bench's
    // hundreds of thousands of writes, a shared one kept its CPU busy for minutes after the
    // tables were dropped, and the next bench measured that. Stopping the process ends it.
    const dynamo = await startDynamoDbLocal();
    const control = new DynamoDBClient(localClientConfig(dynamo.endpoint));
    const db = makeDocumentClient(localClientConfig(dynamo.endpoint));
    try {
      return await measure(control, db, context);
    } finally {
      control.destroy();
      db.destroy();
      await dynamo.stop();
    }
  },
};
