/**
 * `npm run admin -- <command> [options] [--json]`: the operator's account administration.
 *
 * Targets the local stack's DynamoDB Local by default (found through LOCAL_DATA_DIR, default
 * .local; started for the duration of the command when `npm start` is not running), or a
 * deployed table with `--table <name>` (AWS credentials and region from the usual AWS_* chain).
 */
import { parseArgs } from 'node:util';
import { DynamoAccountStore } from '../functions/adapters/dynamodb/account-store';
import { DynamoBillingStore } from '../functions/adapters/dynamodb/billing-store';
import { billingPeriodOf } from '../functions/domain/billing-period';
import { usageReport } from '../functions/use-cases/usage-report';
import { replayParked } from '../functions/use-cases/bill-redemption';
import { makeDocumentClient } from '../functions/adapters/dynamodb/client';
import { AppError } from '../functions/domain/errors';
import { systemClock } from '../functions/domain/ports';
import * as admin from '../functions/use-cases/admin';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoCodeStore } from '../functions/adapters/dynamodb/code-store';
import { DynamoExpiryStore } from '../functions/adapters/dynamodb/expiry-store';
import { cutBatchExpiry } from '../functions/use-cases/batch-expiry';
import { acquireDataDir, DEFAULT_TABLE_NAME, demoFilePath, readJsonFile, readRunningStack, resolveDataDir } from '../local/data-dir';
import { localClientConfig, startLocalTable } from '../local/dynamodb-local';
import type { DemoFile } from '../local/local-stack';

const USAGE = `Usage: npm run admin -- <command> [options] [--json]

Commands:
  create-team     --name <name>
  create-project  --team <team_id> --name <name> [--free-allotment 0] [--unit-price 0 (minor units)] [--currency USD]
                  [--stripe-customer <cus_…>] [--chat-id <telegram chat id>]
  create-plan     --project <project_id> --name <name>
  create-token    --team <team_id> --abilities a,b,c [--name <label>]   (prints the token once)
  link-telegram   --project <project_id> --chat-id <id>   (--chat-id none unlinks)
  set-tier        --project <project_id> --free-allotment <n> --unit-price <minor units> --currency <ISO>
                  [--stripe-customer <cus_…>]   (with a customer, the project's pending usage is sent out)
  usage           --project <project_id> [--period YYYY-MM (default: this month, UTC)]
                  the price, redemptions, free, billable, and of the billable: billed, pending, queued,
                  sending, retrying (since, last error) and parked
  billing replay  [--project <project_id>]   queues parked usage again for the project's current
                  Stripe customer, each record once (after fixing why Stripe refused it)
  seed-demo       idempotently creates the demo team, project, plan and an all-abilities token
  set-batch-expiry --batch <btc_…> --expires-at <ISO time | now>
                  moves the expiry of the batch's unredeemed codes earlier (a leaked CSV);
                  the expiry sweep then expires them, one access_code.expired event each

Target: the local stack (LOCAL_DATA_DIR, default .local) unless --table <name> names a deployed table.
Abilities: project-access-code:create, project-access-code:view-any, project-access-code:redeem`;

class UsageError extends Error {}

const OPTIONS = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  table: { type: 'string' },
  name: { type: 'string' },
  team: { type: 'string' },
  project: { type: 'string' },
  abilities: { type: 'string' },
  'chat-id': { type: 'string' },
  'free-allotment': { type: 'string' },
  'unit-price': { type: 'string' },
  currency: { type: 'string' },
  'stripe-customer': { type: 'string' },
  period: { type: 'string' },
  batch: { type: 'string' },
  'expires-at': { type: 'string' },
} as const;

/**
 * parseArgs reads a value that starts with "-" as another option, so `--chat-id -1001234567890`
 * (a Telegram group id) or `--free-allotment -5` would fail with a stack trace. A value that starts
 * with "-" and a digit, after an option that takes one, is joined to it (`--chat-id=-1001234567890`, which
 * parseArgs accepts as is); the value is then checked like any other.
 */
const joinNegativeValues = (args: readonly string[]): string[] => {
  const takesValue = new Set(Object.entries(OPTIONS).filter(([, o]) => o.type === 'string').map(([name]) => `--${name}`));
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if (takesValue.has(arg) && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else joined.push(arg);
  }
  return joined;
};

const parseCommandLine = () => {
  try {
    return parseArgs({ args: joinNegativeValues(process.argv.slice(2)), allowPositionals: true, options: OPTIONS });
  } catch (error) {
    // parseArgs' own errors (unknown option, missing value) are usage errors, not crashes.
    return { values: { json: process.argv.includes('--json') } as Partial<Record<keyof typeof OPTIONS, string | boolean>>, positionals: [], error: error as Error };
  }
};

const parsed = parseCommandLine();
const values = parsed.values as {
  [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string;
};
const { positionals } = parsed;

const required = (name: keyof typeof values): string => {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required.`);
  return value;
};

const wholeNumber = (name: keyof typeof values, fallback?: number): number => {
  const raw = values[name];
  if (raw === undefined && fallback !== undefined) return fallback;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw)) throw new UsageError(`--${name} must be a whole number ≥ 0, got "${String(raw)}".`);
  return Number(raw);
};

const tierFromFlags = (defaults?: admin.TierInput): admin.TierInput => ({
  freeAllotment: wholeNumber('free-allotment', defaults?.freeAllotment),
  unitPriceMinor: wholeNumber('unit-price', defaults?.unitPriceMinor),
  currency: values.currency ?? defaults?.currency ?? required('currency'),
});

/** Opens the target table; the returned `close` releases whatever was started for it. */
const expiryStoreOf = (db: DynamoDBDocumentClient, tableName: string) => new DynamoExpiryStore(db, tableName, new DynamoCodeStore(db, tableName));

const openTarget = async (): Promise<{ store: DynamoAccountStore; billing: DynamoBillingStore; expiry: DynamoExpiryStore; dataDir?: string; close(): Promise<void> }> => {
  if (values.table) {
    const db = makeDocumentClient();
    return {
      store: new DynamoAccountStore(db, values.table),
      billing: new DynamoBillingStore(db, values.table),
      expiry: expiryStoreOf(db, values.table),
      close: async () => db.destroy(),
    };
  }
  const dataDir = resolveDataDir();
  const running = readRunningStack(dataDir);
  if (running) {
    const db = makeDocumentClient(localClientConfig(running.dynamodb_endpoint));
    return {
      store: new DynamoAccountStore(db, running.table_name),
      billing: new DynamoBillingStore(db, running.table_name),
      expiry: expiryStoreOf(db, running.table_name),
      dataDir,
      close: async () => db.destroy(),
    };
  }
  const lock = acquireDataDir(dataDir, 'running the admin CLI');
  const tableName = process.env.TABLE_NAME || DEFAULT_TABLE_NAME;
  const dynamo = await startLocalTable(dataDir, tableName).catch((error: unknown) => {
    lock.release();
    throw error;
  });
  const db = makeDocumentClient(localClientConfig(dynamo.endpoint));
  return {
    store: new DynamoAccountStore(db, tableName),
    billing: new DynamoBillingStore(db, tableName),
    expiry: expiryStoreOf(db, tableName),
    dataDir,
    close: async () => {
      db.destroy();
      await dynamo.stop();
      lock.release();
    },
  };
};

const run = async (command: string, target: Awaited<ReturnType<typeof openTarget>>): Promise<object> => {
  const deps = { accounts: target.store, billing: target.billing, clock: systemClock };
  switch (command) {
    case 'create-team':
      return admin.createTeam(deps, { name: required('name') });
    case 'create-project':
      return admin.createProject(deps, {
        teamId: required('team'),
        name: values.name ?? 'Project',
        tier: tierFromFlags({ freeAllotment: 0, unitPriceMinor: 0, currency: 'USD' }),
        ...(values['stripe-customer'] ? { stripeCustomerId: values['stripe-customer'] } : {}),
        ...(values['chat-id'] ? { telegramChatId: values['chat-id'] } : {}),
      });
    case 'create-plan':
      return admin.createPlan(deps, { projectId: required('project'), name: required('name') });
    case 'create-token':
      return admin.createToken(deps, {
        teamId: required('team'),
        abilities: admin.parseAbilities(required('abilities')),
        ...(values.name ? { name: values.name } : {}),
      });
    case 'link-telegram': {
      const chatId = required('chat-id');
      return admin.linkTelegram(deps, { projectId: required('project'), chatId: chatId === 'none' ? null : chatId });
    }
    case 'set-tier':
      return admin.setTier(deps, {
        projectId: required('project'),
        tier: tierFromFlags(),
        ...(values['stripe-customer'] ? { stripeCustomerId: values['stripe-customer'] } : {}),
      });
    case 'usage': {
      const period = values.period ?? billingPeriodOf(systemClock.now());
      if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(period)) throw new UsageError(`--period must be YYYY-MM, got "${period}".`);
      return usageReport(deps, { projectId: required('project'), period });
    }
    case 'billing': {
      if (positionals[1] !== 'replay') throw new UsageError('Usage: billing replay [--project <project_id>]');
      return replayParked({ billing: target.billing, accounts: target.store, clock: systemClock }, values.project ? { projectId: values.project } : {});
    }
    case 'seed-demo': {
      const demoFile = target.dataDir ? demoFilePath(target.dataDir) : undefined;
      const known = demoFile ? readJsonFile<DemoFile>(demoFile)?.token : undefined;
      return admin.seedDemo(deps, known ? { knownToken: known } : {});
    }
    case 'set-batch-expiry':
      return cutBatchExpiry({ expiry: target.expiry, clock: systemClock }, { batchId: required('batch'), expiresAt: required('expires-at') });
    default:
      throw new UsageError(`Unknown command "${command}".`);
  }
};

const print = (result: object) => {
  if (values.json) {
    console.log(JSON.stringify(result));
    return;
  }
  for (const [key, value] of Object.entries(result)) {
    console.log(`${key.padEnd(18)} ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  }
  if ('token' in result) console.log('\nThe token is shown only now; store it safely.');
};

const main = async () => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  if ('error' in parsed) throw new UsageError(parsed.error.message);
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    process.exit(command || values.help ? 0 : 2);
  }
  if (!['create-team', 'create-project', 'create-plan', 'create-token', 'link-telegram', 'set-tier', 'usage', 'billing', 'seed-demo', 'set-batch-expiry'].includes(command)) {
    throw new UsageError(`Unknown command "${command}".`);
  }
  const target = await openTarget();
  try {
    print(await run(command, target));
  } finally {
    await target.close();
  }
};

main().catch((error: unknown) => {
  const asJson = values.json;
  if (error instanceof UsageError) {
    console.error(asJson ? JSON.stringify({ error: { code: 'USAGE', message: error.message } }) : `${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (error instanceof AppError) {
    const payload = { error: { code: error.code, message: error.message, details: error.details } };
    console.error(asJson ? JSON.stringify(payload) : [error.message, ...error.details.map((d) => `  ${d.path}: ${d.message}`)].join('\n'));
    process.exit(1);
  }
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
