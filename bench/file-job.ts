/**
 * The file-job figure of `npm run bench`, and the job-time vs quantity chart.
 *
 * Ours: from the 202 of a `file` job to `completed` on GET /v1/jobs/{id} (polled every 50 ms),
 * through the local pipeline and the HTTP API, Telegram through the real client against a fake
 * Bot API. Floors, on the same DynamoDB Local in the same run: the job's code items written
 * unconditionally (BatchWriteItem, 25 a call, 1, 4, 8 or 16 calls in flight) and conditionally
 * (`attribute_not_exists`, as the design requires: one PutItem a code with 32 in flight, as the
 * generator writes them, or TransactWriteItems of 100 with 4 in flight). The figure is the
 * 1000-code job against the cheapest conditional floor (target ≤ 2×); the four sizes are the
 * chart. A separate run of the generator on a client that records DynamoDB's ConsumedCapacity
 * gives the item writes and write units a code.
 */
import { randomUUID } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { makeDocumentClient } from '../functions/adapters/dynamodb/client';
import { codeItem } from '../functions/adapters/dynamodb/code-store';
import { randomCode } from '../functions/domain/access-codes';
import { newId } from '../functions/domain/ids';
import { chunkCountOf, newQueuedJob } from '../functions/domain/jobs';
import { systemClock } from '../functions/domain/ports';
import { generateChunk } from '../functions/use-cases/generation/generate-chunk';
import { tableStores } from '../functions/wiring';
import { AwsBehaviour } from '../local/aws-behaviour';
import { ensureTable, localClientConfig } from '../local/dynamodb-local';
import { batchWrite } from './batch-write';
import { renderLineChart } from './chart';
import { atMost, median, type Bench, type BenchContext } from './figures';
import { BENCH_CHAT, startBenchService, type BenchService } from './service';

const SIZES = [100, 250, 500, 1000] as const;
const CONCURRENCIES = [1, 4, 8, 16] as const;
/** The conditional floors: how each writes, and how many calls it keeps in flight. */
const CONDITIONAL = [
  { name: 'PutItem', label: 'one conditional PutItem a code, 32 in flight', inFlight: 32, perCall: 1 },
  { name: 'Transact100', label: 'TransactWriteItems of 100 conditional puts, 4 in flight', inFlight: 4, perCall: 100 },
] as const;
type ConditionalName = (typeof CONDITIONAL)[number]['name'];
const TARGET = 2;

/** `quantity` code items as the generator stores them, with fresh random codes. */
const benchItems = (quantity: number): Record<string, unknown>[] => {
  const now = new Date();
  const job = { id: newId('job'), batchId: newId('batch'), planId: 'pln_bench', projectId: 'prj_bench', teamId: 'tea_bench', expiresAt: null };
  return Array.from({ length: quantity }, (_, slot) => codeItem(job, slot, randomCode(), now));
};

/**
 * Milliseconds to write `quantity` code items (as the generator stores them) with BatchWriteItem,
 * 25 per call, `inFlight` calls at once, unprocessed items retried with backoff.
 */
export const batchWriteFloor = async (db: DynamoDBDocumentClient, tableName: string, quantity: number, inFlight: number): Promise<number> => {
  const items = benchItems(quantity);
  const started = performance.now();
  await batchWrite(db, tableName, items, inFlight);
  return performance.now() - started;
};

/** Milliseconds to write `quantity` code items each under `attribute_not_exists(pk)`, the given way. */
const conditionalFloor = async (db: DynamoDBDocumentClient, tableName: string, quantity: number, way: (typeof CONDITIONAL)[number]): Promise<number> => {
  const items = benchItems(quantity);
  const calls: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += way.perCall) calls.push(items.slice(i, i + way.perCall));
  const put = (Item: Record<string, unknown>) => ({ TableName: tableName, Item, ConditionExpression: 'attribute_not_exists(pk)' });
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: way.inFlight }, async () => {
      while (next < calls.length) {
        const call = calls[next++]!;
        if (way.perCall === 1) await db.send(new PutCommand(put(call[0]!)));
        else await db.send(new TransactWriteCommand({ TransactItems: call.map((item) => ({ Put: put(item) })) }));
      }
    }),
  );
  return performance.now() - started;
};

/** What the generator wrote for a job, from the ConsumedCapacity DynamoDB Local reported per call. */
interface GenerationCapacity {
  quantity: number;
  /** Item writes of successful write calls (refused conditions write nothing). */
  itemWrites: number;
  /** Write units of those calls, table and indexes (ReturnConsumedCapacity TOTAL). */
  writeUnits: number;
  /** Write calls, by operation. */
  calls: Record<string, number>;
}

/**
 * Runs the generator's use case over every chunk of a `quantity`-code job whose codes expire
 * (so that they carry all three index keys), on a client that records the capacity of each
 * call, then every chunk again (a redelivery): what the generator writes a code, and that a
 * redelivery writes nothing.
 */
const generationCapacity = async (endpoint: string, control: DynamoDBClient, quantity: number): Promise<{ first: GenerationCapacity; again: GenerationCapacity }> => {
  const tableName = `bench-capacity-${randomUUID()}`;
  await ensureTable(control, tableName);
  const db = makeDocumentClient(localClientConfig(endpoint));
  const behaviour = new AwsBehaviour();
  behaviour.install(db);
  try {
    const stores = tableStores(db, tableName);
    const now = new Date();
    const job = newQueuedJob(
      {
        id: newId('job'), batchId: newId('batch'), teamId: 'tea_bench', projectId: 'prj_bench', planId: 'pln_bench', planName: 'Bench',
        quantity, exportType: 'file', expiryPreset: '1_month', expiresAt: new Date(now.getTime() + 30 * 86_400_000).toISOString(), telegramChatId: BENCH_CHAT,
      },
      now,
    );
    await stores.jobs.createJob(job);
    const deps = { jobs: stores.jobs, codes: stores.codes, deliveries: { send: async () => undefined }, clock: systemClock };
    const run = async (): Promise<GenerationCapacity> => {
      const from = behaviour.capacity.length;
      for (let chunk = 0; chunk < chunkCountOf(quantity); chunk++) await generateChunk(deps, job.id, chunk);
      const writes = behaviour.capacity.slice(from).filter((record) => record.written.length > 0);
      const calls: Record<string, number> = {};
      for (const record of writes) calls[record.operation] = (calls[record.operation] ?? 0) + 1;
      return { quantity, itemWrites: writes.reduce((sum, r) => sum + r.written.length, 0), writeUnits: writes.reduce((sum, r) => sum + r.writeUnits, 0), calls };
    };
    const first = await run();
    if (!(await stores.jobs.getJob(job.id))?.generatedAt) throw new Error('the capacity run did not generate the job');
    return { first, again: await run() };
  } finally {
    await control.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
    db.destroy();
  }
};

/** Where a job's time went, from its own timestamps (milliseconds; the service runs on the real clock). */
interface Phases {
  /** 202 → the generator's first chunk marked it processing. */
  queued: number;
  /** processing → every code stored (`generated_at`). */
  generating: number;
  /** generated → `completed_at` (codes read back, CSV built, sendDocument). */
  delivering: number;
  /** completed → the poll that saw it. */
  observed: number;
}

/**
 * Milliseconds from the 202 of a `file` job of `quantity` codes to `completed`, and where they
 * went; checks the CSV holds every code.
 */
const fileJob = async (service: BenchService, quantity: number): Promise<{ elapsed: number; phases: Phases }> => {
  const documentsBefore = service.fake.documentsTo(BENCH_CHAT).length;
  const answer = await service.call('POST', '/v1/access-codes/bulk-generate', { plan_id: service.planId, quantity, export_type: 'file', expiry_preset: 'no_expiry' });
  const accepted = performance.now();
  const acceptedAt = Date.now();
  if (answer.status !== 202) throw new Error(`bulk-generate answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  const job = await service.waitForCompletion(answer.body.data.job_id as string);
  const elapsed = performance.now() - accepted;
  const at = (field: string) => Date.parse(job[field] as string);
  const phases: Phases = {
    queued: at('started_at') - acceptedAt,
    generating: at('generated_at') - at('started_at'),
    delivering: at('completed_at') - at('generated_at'),
    observed: acceptedAt + elapsed - at('completed_at'),
  };
  const documents = service.fake.documentsTo(BENCH_CHAT);
  if (documents.length !== documentsBefore + 1) throw new Error(`expected one new document, got ${documents.length - documentsBefore}`);
  const rows = documents.at(-1)!.content.trim().split('\r\n').length - 1;
  if (rows !== quantity) throw new Error(`the document holds ${rows} codes, not ${quantity}`);
  return { elapsed, phases };
};

const ms = (value: number) => `${value.toFixed(0)} ms`;

const phaseLine = (phases: Phases[]): string =>
  (['queued', 'generating', 'delivering', 'observed'] as const)
    .map((phase) => `${phase} ${ms(median(phases.map((p) => p[phase])))}`)
    .join(', ');

const perCode = (value: number, quantity: number) => (value / quantity).toFixed(3);

/** Where the time went, from figures of this run only. */
const why = (phases: Phases[], conditional: Record<ConditionalName, number>, unconditional: number): string => {
  const generating = median(phases.map((p) => p.generating));
  const delivering = median(phases.map((p) => p.delivering));
  return (
    `Measured in this run: generation took ${ms(generating)} of it, against ${ms(conditional.PutItem)} for the same 1000 conditional PutItems written bare ` +
    `(${(generating / conditional.PutItem).toFixed(2)}×), ${ms(conditional.Transact100)} as transactions of 100 and ${ms(unconditional)} unconditionally; delivery took ${ms(delivering)}. ` +
    `On DynamoDB Local a conditional PutItem takes ${(conditional.PutItem / conditional.Transact100).toFixed(1)}× the time of an item in a transaction of 100 (both measured above). ` +
    `The generator still writes one PutItem a code: on DynamoDB a transaction's item costs twice the table's write units and conflicts with a twin chunk's, a PutItem does neither (see docs/CAPACITY.md). ` +
    `Hypothesis, not measured here: on DynamoDB, where writes to different keys do not queue behind one another, the PutItems run in parallel and the gap closes.`
  );
};

/** The 1000-code file job against the best BatchWriteItem floor, and the job-time vs quantity curve. */
export const fileJobBench: Bench = {
  name: 'file-job',
  title: 'A file job, 202 → completed, against writing its codes with conditional writes (and, beside it, BatchWriteItem)',
  run: async (context: BenchContext) => {
    const control = new DynamoDBClient(localClientConfig(context.dynamoEndpoint));
    const db = makeDocumentClient(localClientConfig(context.dynamoEndpoint));
    const floorTable = `bench-floor-${randomUUID()}`;
    await ensureTable(control, floorTable);
    const service = await startBenchService({ dynamoEndpoint: context.dynamoEndpoint, messageIntervalMs: 5 });
    try {
      context.log('warming up…');
      await batchWriteFloor(db, floorTable, 1000, 8);
      for (const way of CONDITIONAL) await conditionalFloor(db, floorTable, 1000, way);
      await fileJob(service, 1000);
      context.log('the generator on a capacity-recording client…');
      const capacity = await generationCapacity(context.dynamoEndpoint, control, 1000);
      const floors = new Map<string, number[]>();
      const conditionalRuns = new Map<string, number[]>();
      const ours = new Map<number, number[]>(SIZES.map((size) => [size, []]));
      const phases: Phases[] = [];
      for (let run = 1; run <= context.runs; run++) {
        for (const size of SIZES) {
          for (const inFlight of CONCURRENCIES) {
            const key = `${size}@${inFlight}`;
            floors.set(key, [...(floors.get(key) ?? []), await batchWriteFloor(db, floorTable, size, inFlight)]);
          }
          for (const way of CONDITIONAL) {
            const key = `${size}@${way.name}`;
            conditionalRuns.set(key, [...(conditionalRuns.get(key) ?? []), await conditionalFloor(db, floorTable, size, way)]);
          }
          const job = await fileJob(service, size);
          ours.get(size)!.push(job.elapsed);
          if (size === 1000) phases.push(job.phases);
        }
        const line = SIZES.map((size) => `${size}: ${ms(ours.get(size)!.at(-1)!)}`).join(', ');
        context.log(`run ${run}/${context.runs}: file jobs ${line}`);
      }
      // Per size, the concurrency whose median is lowest.
      const best = new Map(
        SIZES.map((size) => {
          const [inFlight] = [...CONCURRENCIES].sort((a, b) => median(floors.get(`${size}@${a}`)!) - median(floors.get(`${size}@${b}`)!));
          return [size, { inFlight: inFlight!, runs: floors.get(`${size}@${inFlight}`)! }];
        }),
      );
      const top = best.get(1000)!;
      const byConcurrency = CONCURRENCIES.map((inFlight) => `${inFlight} in flight ${ms(median(floors.get(`1000@${inFlight}`)!))}`).join(', ');
      // The cheapest conditional write per size: what the design's conditions cost at the least.
      const cheapest = (size: number) => {
        const [way] = [...CONDITIONAL].sort((a, b) => median(conditionalRuns.get(`${size}@${a.name}`)!) - median(conditionalRuns.get(`${size}@${b.name}`)!));
        return { way: way!, runs: conditionalRuns.get(`${size}@${way!.name}`)! };
      };
      const conditional1000 = Object.fromEntries(CONDITIONAL.map((way) => [way.name, median(conditionalRuns.get(`1000@${way.name}`)!)])) as Record<ConditionalName, number>;
      const curve = SIZES.map(
        (size) => `${size}: ${ms(median(ours.get(size)!))} vs ${ms(median(cheapest(size).runs))} conditional, ${ms(median(best.get(size)!.runs))} unconditional`,
      ).join('; ');
      const floor = cheapest(1000);
      const figure = atMost('1000-code file job: 202 → completed, against the cheapest conditional write', 'ms', ours.get(1000)!, floor.runs, TARGET);
      const { first, again } = capacity;
      const note =
        `Conditional floor: the same 1000 code items, each under attribute_not_exists(pk), the cheaper of ${CONDITIONAL.map((way) => `${way.label} (${ms(conditional1000[way.name])})`).join(' and ')}: ${floor.way.label}. ` +
        `Unconditional floor, beside it: BatchWriteItem, 25 per call, best of ${CONCURRENCIES.join(', ')} in flight: ${top.inFlight} won (${byConcurrency}); ours is ${(median(ours.get(1000)!) / median(top.runs)).toFixed(2)}× it. ` +
        `Ours polls GET /v1/jobs/{id} every 50 ms and checks the CSV holds every code. ` +
        `Median per size, ours vs floors: ${curve}. ` +
        `Where the 1000-code job's time goes (medians, from the job's own timestamps): ${phaseLine(phases)}. ` +
        `Writes a code, from the ConsumedCapacity DynamoDB Local reported for each call of the generator on a 1000-code job whose codes expire (all three index keys): ` +
        `${perCode(first.itemWrites, first.quantity)} item writes and ${perCode(first.writeUnits, first.quantity)} write units (table and indexes) a code ` +
        `(${Object.entries(first.calls).map(([operation, count]) => `${count} ${operation}`).join(', ')}); every chunk delivered again wrote ${again.itemWrites} items. ` +
        (figure.met ? '' : `Misses ${TARGET}× by ${(((figure.ratio - TARGET) / TARGET) * 100).toFixed(0)}%. `) +
        why(phases, conditional1000, median(top.runs));
      const chart = renderLineChart({
        title: 'File job: 202 → completed, against the conditional and unconditional write floors',
        xLabel: 'codes in the job',
        yLabel: 'milliseconds (median)',
        xs: [...SIZES],
        series: [
          { label: 'file job, 202 → completed', color: '#1f77b4', values: SIZES.map((size) => median(ours.get(size)!)) },
          { label: 'floor: conditional writes, cheapest way', color: '#2ca02c', values: SIZES.map((size) => median(cheapest(size).runs)), dashed: true },
          { label: 'floor: BatchWriteItem, best concurrency', color: '#ff7f0e', values: SIZES.map((size) => median(best.get(size)!.runs)), dashed: true },
        ],
      });
      return {
        figures: [{ ...figure, note }],
        artifacts: [{ file: 'job-time.svg', content: chart, markdown: '![File job time vs quantity, against the conditional and unconditional write floors](job-time.svg)' }],
      };
    } finally {
      await service.stop();
      await control.send(new DeleteTableCommand({ TableName: floorTable })).catch(() => undefined);
      control.destroy();
      db.destroy();
    }
  },
};
