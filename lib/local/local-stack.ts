import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoAccountStore } from '../../functions/adapters/dynamodb/account-store';
import { makeDocumentClient } from '../../functions/adapters/dynamodb/client';
import { systemClock, type Clock } from '../../functions/domain/ports';
import { seedDemo, type DemoSeed } from '../../functions/use-cases/admin';
import type { ApiDeps } from '../../functions/wiring';
import { API_ROUTES } from '../api-routes';
import { acquireDataDir, readJsonFile, writeRunningStack } from './data-dir';
import { ensureTable, localClientConfig, startDynamoDbLocal } from './dynamodb-local';
import { localHandlers } from './handlers';
import { startHttpServer } from './http-server';

/** The demo as written to `<data dir>/demo.json`. */
export interface DemoFile {
  api_url: string;
  token: string;
  team_id: string;
  project_id: string;
  plan_id: string;
}

/** Settings of the local stack. */
export interface LocalStackOptions {
  dataDir: string;
  host: string;
  port: number;
  tableName: string;
  clock?: Clock;
}

/** A running local stack. */
export interface LocalStack {
  apiUrl: string;
  dynamoEndpoint: string;
  demo: DemoFile;
  demoFile: string;
  stop(): Promise<void>;
}

/** The dependencies the handlers get locally: the same DynamoDB adapters, pointed at DynamoDB Local. */
export const localDeps = (dynamoEndpoint: string, tableName: string, clock: Clock = systemClock): ApiDeps => ({
  accounts: new DynamoAccountStore(makeDocumentClient(localClientConfig(dynamoEndpoint)), tableName),
  clock,
});

/**
 * Starts the whole service on one machine.
 * 1. Lock the data dir (a second stack on it fails clearly).
 * 2. Start DynamoDB Local on it and create the table from the shared definition.
 * 3. Seed the demo idempotently, keeping the demo token across restarts.
 * 4. Serve the API routes with the same handler code as Lambda.
 */
export const startLocalStack = async (options: LocalStackOptions): Promise<LocalStack> => {
  const lock = acquireDataDir(options.dataDir, 'starting the local stack');
  const cleanups: Array<() => Promise<void> | void> = [() => lock.release()];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    const dynamo = await startDynamoDbLocal({ dataDir: join(options.dataDir, 'dynamodb') });
    cleanups.push(() => dynamo.stop());
    const control = new DynamoDBClient(localClientConfig(dynamo.endpoint));
    await ensureTable(control, options.tableName);
    control.destroy();

    const deps = localDeps(dynamo.endpoint, options.tableName, options.clock);
    const demoFile = join(options.dataDir, 'demo.json');
    const previous = readJsonFile<DemoFile>(demoFile);
    const seed: DemoSeed = await seedDemo(deps, previous?.token ? { knownToken: previous.token } : {});

    const http = await startHttpServer(API_ROUTES, localHandlers(deps), { host: options.host, port: options.port });
    cleanups.push(() => http.close());
    const demo: DemoFile = {
      api_url: http.url,
      token: seed.token,
      team_id: seed.team_id,
      project_id: seed.project_id,
      plan_id: seed.plan_id,
    };
    writeFileSync(demoFile, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
    writeRunningStack(options.dataDir, {
      pid: process.pid,
      dynamodb_endpoint: dynamo.endpoint,
      ...(dynamo.pid === undefined ? {} : { dynamodb_pid: dynamo.pid }),
      table_name: options.tableName,
      api_url: http.url,
    });
    return { apiUrl: http.url, dynamoEndpoint: dynamo.endpoint, demo, demoFile, stop };
  } catch (error) {
    await stop();
    throw error;
  }
};
