/**
 * `npm run bench`: how far a 1000-code file job is from the floor DynamoDB Local sets.
 *
 * (a) floor: writing 1000 code-like items with BatchWriteItem (25 per call, UnprocessedItems
 *     retried) to a fresh table on the same DynamoDB Local;
 * (b) pipeline: from the 202 of a 1000-code file job to `completed` on GET /v1/jobs/{id}
 *     (polled every 50 ms), through the local pipeline (in-process queue, generator, stream
 *     relay, bus) with Telegram through the real client against a fake Bot API.
 * Each is run 3 times after a warm-up; the medians, (b)/(a) against the target ≤ 2 and the
 * peak RSS are printed. A report, not a test: it exits 0 whatever the ratio.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoAccountStore } from '../functions/adapters/dynamodb/account-store';
import { DynamoTableProbe } from '../functions/adapters/dynamodb/table-probe';
import { makeDocumentClient } from '../functions/adapters/dynamodb/client';
import { makeTelegramSender } from '../functions/adapters/telegram/factory';
import { CODE_ALPHABET } from '../functions/domain/access-codes';
import { systemClock } from '../functions/domain/ports';
import * as admin from '../functions/use-cases/admin';
import { API_ROUTES } from '../lib/api-routes';
import { ensureTable, localClientConfig, startDynamoDbLocal } from '../local/dynamodb-local';
import { localHandlers } from '../local/handlers';
import { startHttpServer } from '../local/http-server';
import { startLocalPipeline } from '../local/local-stack';
import { startFakeTelegram } from '../test/support/fake-telegram';
import { expiryBench } from './expiry';

process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const QUANTITY = 1000;
const RUNS = 3;
const TARGET_RATIO = 2;
const POLL_MS = 50;
const JOB_TIMEOUT_MS = 300_000;

let peakRss = process.memoryUsage().rss;
const rssSampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Peak resident set of another process (Linux /proc VmHWM), or undefined where unknown. */
const peakRssOf = (pid: number | undefined): number | undefined => {
  if (pid === undefined) return undefined;
  try {
    const kib = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
};

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

const fakeCode = () => Array.from(randomBytes(12), (byte) => CODE_ALPHABET[byte & 31]).join('');

/** (a) 1000 items shaped like the pipeline's code items, 25 per BatchWriteItem, on a fresh table. */
const floorRun = async (control: DynamoDBClient, db: DynamoDBDocumentClient): Promise<number> => {
  const tableName = `bench-floor-${randomUUID()}`;
  await ensureTable(control, tableName);
  const jobId = `mjb_${randomUUID()}`;
  const items = Array.from({ length: QUANTITY }, (_, slot) => {
    const code = fakeCode();
    return {
      pk: `CODE#${code}`,
      sk: 'CODE',
      type: 'access_code',
      gsi1pk: 'PLAN#pln_bench',
      gsi1sk: `CODE#${jobId}#${String(slot).padStart(6, '0')}`,
      code,
      plan_id: 'pln_bench',
      project_id: 'prj_bench',
      team_id: 'tea_bench',
      job_id: jobId,
      batch_id: 'btc_bench',
      slot,
      status: 'active',
      expires_at: null,
      created_at: new Date().toISOString(),
    };
  });
  const started = performance.now();
  for (let i = 0; i < items.length; i += 25) {
    let requests = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 20 * 2 ** attempt)));
      const result = await db.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
      requests = (result.UnprocessedItems?.[tableName] ?? []) as typeof requests;
    }
  }
  const elapsed = performance.now() - started;
  await control.send(new DeleteTableCommand({ TableName: tableName }));
  return elapsed;
};

const main = async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'memberpass-bench-'));
  console.log('starting DynamoDB Local (in memory), a fake Telegram, the pipeline and the API…');
  const dynamo = await startDynamoDbLocal();
  const fake = await startFakeTelegram();
  const control = new DynamoDBClient(localClientConfig(dynamo.endpoint));
  const db = makeDocumentClient(localClientConfig(dynamo.endpoint));
  const tableName = `bench-${randomUUID()}`;
  await ensureTable(control, tableName);
  const telegram = makeTelegramSender({ botToken: '123456:BENCH', apiRoot: fake.apiRoot });
  const local = await startLocalPipeline({ dynamoEndpoint: dynamo.endpoint, tableName, dataDir, telegram, messageIntervalMs: 5 });
  const http = await startHttpServer(
    API_ROUTES,
    localHandlers({ ...local.deps, telegram, botUsername: 'memberpass_bench_bot', webhookSecret: randomUUID(), tableProbe: new DynamoTableProbe(db, tableName), expiry: local.pipeline.ports.stores.expiry }),
  );

  try {
    const accounts = new DynamoAccountStore(db, tableName);
    const adminDeps = { accounts, clock: systemClock };
    const { team_id } = await admin.createTeam(adminDeps, { name: 'Bench' });
    const tier = { freeAllotment: 1_000_000, unitPriceMinor: 3, currency: 'USD' };
    const { project_id } = await admin.createProject(adminDeps, { teamId: team_id, name: 'Bench', tier, telegramChatId: '777' });
    const { plan_id } = await admin.createPlan(adminDeps, { projectId: project_id, name: 'Bench plan' });
    const { token } = await admin.createToken(adminDeps, { teamId: team_id, abilities: ['project-access-code:create'] });
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(http.url + path, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as any };
    };

    /** (b) From the 202 to `completed`, polling every 50 ms. */
    const pipelineRun = async (): Promise<number> => {
      const documentsBefore = fake.documentsTo('777').length;
      const answer = await call('POST', '/v1/access-codes/bulk-generate', {
        plan_id,
        quantity: QUANTITY,
        export_type: 'file',
        expiry_preset: 'no_expiry',
      });
      const accepted = performance.now();
      if (answer.status !== 202) throw new Error(`bulk-generate answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      const jobId: string = answer.body.data.job_id;
      for (;;) {
        const job = await call('GET', `/v1/jobs/${jobId}`);
        const status = job.body.data?.status;
        if (status === 'completed') break;
        if (status === 'failed') throw new Error(`job ${jobId} failed: ${JSON.stringify(job.body.data.failure)}`);
        if (performance.now() - accepted > JOB_TIMEOUT_MS) throw new Error(`job ${jobId} still ${status} after ${JOB_TIMEOUT_MS} ms`);
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      const elapsed = performance.now() - accepted;
      const documents = fake.documentsTo('777');
      if (documents.length !== documentsBefore + 1) throw new Error(`expected one new document, got ${documents.length - documentsBefore}`);
      const rows = documents.at(-1)!.content.trim().split('\r\n').length - 1;
      if (rows !== QUANTITY) throw new Error(`the document holds ${rows} codes, not ${QUANTITY}`);
      return elapsed;
    };

    console.log('warming up…');
    await floorRun(control, db);
    await pipelineRun();

    const floors: number[] = [];
    const pipelines: number[] = [];
    for (let run = 1; run <= RUNS; run++) {
      floors.push(await floorRun(control, db));
      pipelines.push(await pipelineRun());
      console.log(`run ${run}/${RUNS}: floor ${floors.at(-1)!.toFixed(0)} ms, pipeline ${pipelines.at(-1)!.toFixed(0)} ms`);
    }

    const floor = median(floors);
    const pipeline = median(pipelines);
    const ratio = pipeline / floor;
    const fmt = (values: number[]) => values.map((v) => v.toFixed(0)).join(' / ');
    const rows: Array<[string, string, string]> = [
      ['(a) floor: 1000 items, BatchWriteItem ×25', fmt(floors), `${floor.toFixed(0)} ms`],
      ['(b) 1000-code file job: 202 → completed', fmt(pipelines), `${pipeline.toFixed(0)} ms`],
      ['(b)/(a)', '', `${ratio.toFixed(2)} (target ≤ ${TARGET_RATIO})`],
      ['peak RSS: node (API + pipeline + fake)', '', mib(peakRss)],
    ];
    rows.splice(3, 0, ...(await expiryBench(control, db, Number(process.env.BENCH_EXPIRY_LIVE ?? 100_000))));
    const javaPeak = peakRssOf(dynamo.pid);
    if (javaPeak !== undefined) rows.push(['peak RSS: DynamoDB Local (JVM)', '', mib(javaPeak)]);
    const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i]!.length), ['measure', 'runs (ms)', 'median'][i]!.length));
    const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
    console.log();
    console.log(line(['measure', 'runs (ms)', 'median']));
    console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const row of rows) console.log(line(row));
    console.log();
    console.log(`${ratio <= TARGET_RATIO ? 'PASS' : 'MISS'}: the pipeline takes ${ratio.toFixed(2)}× the BatchWriteItem floor (target ≤ ${TARGET_RATIO}×).`);
  } finally {
    clearInterval(rssSampler);
    await http.close();
    await local.stop();
    await fake.close();
    control.destroy();
    db.destroy();
    await dynamo.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
};

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error('the benchmark could not run:', error);
    process.exit(1);
  },
);
