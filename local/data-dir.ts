import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Where the local stack keeps its data unless LOCAL_DATA_DIR says otherwise. */
export const DEFAULT_DATA_DIR = '.local';

/** The table's name in DynamoDB Local unless TABLE_NAME says otherwise. */
export const DEFAULT_TABLE_NAME = 'memberpass-local';

/** The data dir in force, absolute. */
export const resolveDataDir = (env: NodeJS.ProcessEnv = process.env): string =>
  resolve(env.LOCAL_DATA_DIR || DEFAULT_DATA_DIR);

/** What a running local stack publishes about itself in `<data dir>/local.json`. */
export interface RunningStack {
  pid: number;
  dynamodb_endpoint: string;
  /** DynamoDB Local's own (java) process. */
  dynamodb_pid?: number;
  table_name: string;
  api_url?: string;
}

/** Another process owns the data dir. */
export class DataDirBusyError extends Error {}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Where the local stack keeps the demo's ids and token (read again by `seed-demo`). */
export const demoFilePath = (dataDir: string): string => join(dataDir, 'demo.json');

const lockPath = (dataDir: string) => join(dataDir, 'lock.pid');
const statePath = (dataDir: string) => join(dataDir, 'local.json');

/**
 * Takes the data dir for this process, so that two DynamoDB Locals never share one database
 * file. A lock left by a process that died is taken over. The folder is kept to its owner
 * (0700): it holds every code in plain text, the demo token and the webhook secret.
 */
export const acquireDataDir = (dataDir: string, purpose: string): { release(): void } => {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockPath(dataDir), `${process.pid}\n`, { flag: 'wx' });
      return {
        release: () => {
          rmSync(statePath(dataDir), { force: true });
          rmSync(lockPath(dataDir), { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number.parseInt(readFileSync(lockPath(dataDir), 'utf8'), 10);
      if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
        throw new DataDirBusyError(
          `The data dir ${dataDir} is in use by another process (pid ${holder}). ` +
            `Stop it first, or set LOCAL_DATA_DIR to another folder, before ${purpose}.`,
        );
      }
      rmSync(lockPath(dataDir), { force: true });
    }
  }
  throw new DataDirBusyError(`Could not lock the data dir ${dataDir}.`);
};

/** Records the running stack's endpoints for the admin CLI. */
export const writeRunningStack = (dataDir: string, state: RunningStack): void =>
  writeFileSync(statePath(dataDir), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });

/** Where the local stack keeps the Telegram webhook's secret token, made once per data dir. */
export const webhookSecretPath = (dataDir: string): string => join(dataDir, 'telegram-webhook-secret');

/** The running stack on this data dir, if its process is alive. */
export const readRunningStack = (dataDir: string): RunningStack | undefined => {
  try {
    const state = JSON.parse(readFileSync(statePath(dataDir), 'utf8')) as RunningStack;
    return isAlive(state.pid) ? state : undefined;
  } catch {
    return undefined;
  }
};

/** Reads a JSON file from the data dir, or undefined when absent or unreadable. */
export const readJsonFile = <T>(path: string): T | undefined => {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
};
