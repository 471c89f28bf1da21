/**
 * The service as the job benches drive it: the local pipeline (in-process queues, generator,
 * deliverer, stream relay, bus) on a fresh table of the runner's DynamoDB Local, the HTTP API in
 * front of it, Telegram through the real Bot API client against a fake Bot API on 127.0.0.1, and
 * one creator (team, project linked to a chat, plan, token) to call it as.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoAccountStore } from '../functions/adapters/dynamodb/account-store';
import { makeDocumentClient } from '../functions/adapters/dynamodb/client';
import { DynamoTableProbe } from '../functions/adapters/dynamodb/table-probe';
import { makeTelegramSender } from '../functions/adapters/telegram/factory';
import { systemClock } from '../functions/domain/ports';
import * as admin from '../functions/use-cases/admin';
import { API_ROUTES } from '../lib/api-routes';
import type { AwsBehaviour } from '../local/aws-behaviour';
import { ensureTable, localClientConfig } from '../local/dynamodb-local';
import { localHandlers } from '../local/handlers';
import { startHttpServer } from '../local/http-server';
import { startLocalPipeline } from '../local/local-stack';
import type { TelegramSender } from '../functions/domain/ports';
import { startFakeTelegram, type FakeTelegram, type FakeTelegramOptions } from '../local/fakes/fake-telegram';

process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** The chat the bench creator's project is linked to. */
export const BENCH_CHAT = '777';

/** A running service for a bench. */
export interface BenchService {
  fake: FakeTelegram;
  /** One API call as the bench creator; the JSON answer. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  planId: string;
  /** Polls GET /v1/jobs/{id} every `pollMs` until `completed` (throws on `failed` or after `timeoutMs`); the job as last seen. */
  waitForCompletion(jobId: string, options?: { pollMs?: number; timeoutMs?: number }): Promise<any>;
  stop(): Promise<void>;
}

/** A table of its own, the local pipeline on it and the HTTP API in front: what each service bench starts. */
export interface BenchStack {
  tableName: string;
  dataDir: string;
  local: Awaited<ReturnType<typeof startLocalPipeline>>;
  http: Awaited<ReturnType<typeof startHttpServer>>;
  /** Stops the API and the pipeline, drops the table, removes the data dir. */
  stop(): Promise<void>;
}

/**
 * Starts a bench's stack on the runner's DynamoDB Local. Telegram goes to `telegram` (a sender
 * against a fake Bot API), or by default to files in the data dir (benches that send nothing).
 */
export const startBenchStack = async (options: {
  dynamoEndpoint: string;
  name: string;
  telegram?: TelegramSender;
  messageIntervalMs?: number;
  webhooks?: { allowPrivateUrls: boolean };
  /** AWS's conflicts and throttles on the stack's table client, with its consumed capacity recorded. */
  awsBehaviour?: AwsBehaviour;
}): Promise<BenchStack> => {
  const dataDir = mkdtempSync(join(tmpdir(), `memberpass-bench-${options.name}-`));
  const control = new DynamoDBClient(localClientConfig(options.dynamoEndpoint));
  const db = makeDocumentClient(localClientConfig(options.dynamoEndpoint));
  const tableName = `bench-${options.name}-${randomUUID()}`;
  await ensureTable(control, tableName);
  const telegram = options.telegram ?? makeTelegramSender({ outboxDir: dataDir });
  const local = await startLocalPipeline({
    dynamoEndpoint: options.dynamoEndpoint,
    tableName,
    dataDir,
    telegram,
    ...(options.messageIntervalMs === undefined ? {} : { messageIntervalMs: options.messageIntervalMs }),
    ...(options.webhooks ? { webhooks: options.webhooks } : {}),
    ...(options.awsBehaviour ? { awsBehaviour: options.awsBehaviour } : {}),
  });
  const http = await startHttpServer(
    API_ROUTES,
    localHandlers({ ...local.deps, telegram, botUsername: 'memberpass_bench_bot', webhookSecret: randomUUID(), tableProbe: new DynamoTableProbe(db, tableName), expiry: local.pipeline.ports.stores.expiry }),
  );
  const stop = async () => {
    await http.close();
    await local.stop();
    await control.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
    control.destroy();
    db.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { tableName, dataDir, local, http, stop };
};

/** Starts the service on a fresh table; `messageIntervalMs` is the deliverer's per-chat pause. */
export const startBenchService = async (options: { dynamoEndpoint: string; messageIntervalMs: number; telegram?: FakeTelegramOptions }): Promise<BenchService> => {
  const fake = await startFakeTelegram(options.telegram);
  const stack = await startBenchStack({
    dynamoEndpoint: options.dynamoEndpoint,
    name: 'service',
    telegram: makeTelegramSender({ botToken: '123456:BENCH', apiRoot: fake.apiRoot }),
    messageIntervalMs: options.messageIntervalMs,
  }).catch(async (error: unknown) => {
    await fake.close();
    throw error;
  });
  const db = makeDocumentClient(localClientConfig(options.dynamoEndpoint));
  const { tableName, http } = stack;
  const stop = async () => {
    await stack.stop();
    await fake.close();
    db.destroy();
  };
  try {
    const adminDeps = { accounts: new DynamoAccountStore(db, tableName), clock: systemClock };
    const { team_id } = await admin.createTeam(adminDeps, { name: 'Bench' });
    const tier = { freeAllotment: 1_000_000, unitPriceMinor: 3, currency: 'USD' };
    const { project_id } = await admin.createProject(adminDeps, { teamId: team_id, name: 'Bench', tier, telegramChatId: BENCH_CHAT });
    const { plan_id } = await admin.createPlan(adminDeps, { projectId: project_id, name: 'Bench plan' });
    const { token } = await admin.createToken(adminDeps, { teamId: team_id, abilities: ['project-access-code:create', 'project-access-code:view-any'] });
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(http.url + path, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as any };
    };
    const waitForCompletion = async (jobId: string, { pollMs = 50, timeoutMs = 300_000 } = {}) => {
      const started = performance.now();
      for (;;) {
        const job = await call('GET', `/v1/jobs/${jobId}`);
        const status = job.body.data?.status;
        if (status === 'completed') return job.body.data;
        if (status === 'failed') throw new Error(`job ${jobId} failed: ${JSON.stringify(job.body.data.failure)}`);
        if (performance.now() - started > timeoutMs) {
          const { generated_count: generated, delivered_count: delivered, quantity } = job.body.data ?? {};
          throw new Error(`job ${jobId} still ${status} after ${timeoutMs / 1000} s (${generated} of ${quantity} codes generated, ${delivered} delivered)`);
        }
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    };
    return { fake, call, planId: plan_id, waitForCompletion, stop };
  } catch (error) {
    await stop();
    throw error;
  }
};
