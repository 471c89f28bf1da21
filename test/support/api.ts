import { DynamoExpiryStore } from '../../functions/adapters/dynamodb/expiry-store';
import { DynamoJobStore } from '../../functions/adapters/dynamodb/job-store';
import { DynamoCodeStore } from '../../functions/adapters/dynamodb/code-store';
import { AesGcmCursorCodec, randomCursorKey } from '../../functions/adapters/crypto/aes-gcm-cursor-codec';
import { DynamoTableProbe } from '../../functions/adapters/dynamodb/table-probe';
import { systemClock, type Clock } from '../../functions/domain/ports';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutboxTelegramSender } from '../../functions/adapters/telegram/outbox-sender';
import { InProcessQueue } from '../../local/in-process-queue';
import type { LocalApiDeps } from '../../local/handlers';
import { API_ROUTES } from '../../lib/api-routes';
import { localHandlers } from '../../local/handlers';
import { DynamoRedemptionStore } from '../../functions/adapters/dynamodb/redemption-store';
import { startHttpServer, type LocalHttpServer } from '../../local/http-server';
import type { TestTable } from './dynamodb';

/** The webhook secret token the test API expects from Telegram. */
export const TEST_WEBHOOK_SECRET = 'test-webhook-secret';

/** An answer as a test sees it. */
export interface ApiAnswer {
  status: number;
  body: any;
  text: string;
}

/** What a test may send with a request. */
export interface CallOptions {
  token?: string;
  json?: unknown;
  body?: string | Buffer;
  headers?: Record<string, string>;
}

/** A function that calls the API at `baseUrl` over real HTTP and reads the answer as JSON when it is. */
export const httpCaller =
  (baseUrl: string) =>
  async (method: string, path: string, options: CallOptions = {}): Promise<ApiAnswer> => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    let body: string | Buffer | undefined = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(baseUrl + path, { method, headers, body });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed, text };
  };

/** The API served over real HTTP on 127.0.0.1 by the local stack's server, on a test table. */
export interface TestApi {
  url: string;
  /** The routes the local router serves, as `METHOD path`. */
  routeKeys: readonly string[];
  call(method: string, path: string, options?: CallOptions): Promise<ApiAnswer>;
  close(): Promise<void>;
}

/**
 * Starts the API over a test table. Unless told otherwise, queued work stays on an in-process
 * queue that nothing consumes, so tests can look at what was queued.
 */
export const startTestApi = async (table: TestTable, clock: Clock = systemClock, deps: Partial<LocalApiDeps> = {}): Promise<TestApi> => {
  const server: LocalHttpServer = await startHttpServer(
    API_ROUTES,
    localHandlers({
      accounts: table.accounts,
      jobs: new DynamoJobStore(table.db, table.tableName),
      codes: new DynamoCodeStore(table.db, table.tableName),
      cursors: new AesGcmCursorCodec(randomCursorKey()),
      queue: new InProcessQueue(),
      clock,
      telegram: new OutboxTelegramSender(mkdtempSync(join(tmpdir(), 'memberpass-api-'))),
      botUsername: 'memberpass_test_bot',
      webhookSecret: TEST_WEBHOOK_SECRET,
      tableProbe: new DynamoTableProbe(table.db, table.tableName),
      redemptions: new DynamoRedemptionStore(table.db, table.tableName),
      redemptionAccounts: table.accounts,
      expiry: new DynamoExpiryStore(table.db, table.tableName, new DynamoCodeStore(table.db, table.tableName)),
      ...deps,
    }),
  );
  return {
    url: server.url,
    routeKeys: server.routeKeys,
    close: () => server.close(),
    call: httpCaller(server.url),
  };
};
