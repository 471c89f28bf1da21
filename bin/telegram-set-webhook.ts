/**
 * `npm run telegram:set-webhook -- --stage prod [--outputs-file cdk-outputs.json] [--drop-pending-updates]`
 *
 * Points the stage's bot at its deployed API: reads the API URL and the ARNs of the two Telegram
 * secrets from the outputs file `cdk deploy --outputs-file` wrote (the stacks' CloudFormation
 * outputs), reads both secrets from Secrets Manager (AWS credentials from the usual AWS_* chain),
 * calls the Bot API's setWebhook with `secret_token`, and checks with getWebhookInfo that
 * Telegram took the URL. Run it after the first deploy, after a custom domain change, and after
 * changing the webhook secret. Prints neither secret.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STAGES } from '../lib/stages';

/** The public Bot API, unless the stage names another (telegramApiRoot). */
export const DEFAULT_TELEGRAM_API_ROOT = 'https://api.telegram.org';

/** The webhook receives only what it handles: messages (`/start <token>` links a chat). */
export const ALLOWED_UPDATES = ['message'] as const;

/** A command line or outputs file the script cannot work with; the message says what to do. */
export class SetWebhookError extends Error {}

/** What the command line asks for. */
export interface SetWebhookArgs {
  readonly stage: string;
  readonly outputsFile: string;
  readonly dropPendingUpdates: boolean;
}

/** Parses the command line (without `node script`); refuses a missing or unknown stage. */
export const parseSetWebhookArgs = (argv: readonly string[]): SetWebhookArgs => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      stage: { type: 'string' },
      'outputs-file': { type: 'string', default: 'cdk-outputs.json' },
      'drop-pending-updates': { type: 'boolean', default: false },
    },
  });
  if (values.stage === undefined) throw new SetWebhookError('--stage is required, e.g. --stage prod');
  if (!Object.hasOwn(STAGES, values.stage)) {
    throw new SetWebhookError(`Unknown stage "${values.stage}": lib/stages.ts defines ${Object.keys(STAGES).join(', ')}`);
  }
  return { stage: values.stage, outputsFile: values['outputs-file']!, dropPendingUpdates: values['drop-pending-updates']! };
};

/** Where Telegram must send updates, and where the token and the secret token live. */
export interface WebhookTarget {
  readonly webhookUrl: string;
  readonly botTokenSecretArn: string;
  readonly webhookSecretArn: string;
}

const output = (outputs: Record<string, Record<string, unknown>>, stack: string, name: string): string => {
  const value = outputs[stack]?.[name];
  if (typeof value !== 'string' || value === '') {
    throw new SetWebhookError(
      `The outputs file has no ${stack}.${name}: run \`npx cdk deploy --all -c stage=<stage> --outputs-file cdk-outputs.json\` first`,
    );
  }
  return value;
};

/** Reads the target of stage `stage` from the parsed outputs file of `cdk deploy --outputs-file`. */
export const webhookTarget = (outputs: unknown, stage: string): WebhookTarget => {
  if (typeof outputs !== 'object' || outputs === null) throw new SetWebhookError('The outputs file is not a JSON object');
  const all = outputs as Record<string, Record<string, unknown>>;
  const apiUrl = output(all, `MemberPass-${stage}-Stateless`, 'ApiUrl');
  if (!/^https:\/\/[^\s/]+\//.test(apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`)) {
    throw new SetWebhookError(`ApiUrl must be an https URL (Telegram only calls https webhooks), got ${apiUrl}`);
  }
  return {
    webhookUrl: new URL('telegram/webhook', apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`).href,
    botTokenSecretArn: output(all, `MemberPass-${stage}-Stateful`, 'TelegramBotTokenSecretArn'),
    webhookSecretArn: output(all, `MemberPass-${stage}-Stateful`, 'TelegramWebhookSecretArn'),
  };
};

/** The region of an ARN (`arn:aws:secretsmanager:<region>:…`), for the Secrets Manager client. */
export const regionOfArn = (arn: string): string => {
  const region = arn.split(':')[3];
  if (!region) throw new SetWebhookError(`Not an ARN with a region: ${arn}`);
  return region;
};

/** The Bot API refused a call; carries Telegram's description, never the token. */
export class TelegramApiError extends Error {
  constructor(
    readonly method: string,
    readonly errorCode: number | undefined,
    description: string,
  ) {
    super(`Telegram ${method} failed${errorCode ? ` (${errorCode})` : ''}: ${description}`);
  }
}

/** What setTelegramWebhook needs. */
export interface SetTelegramWebhookInput {
  readonly apiRoot: string;
  readonly botToken: string;
  readonly url: string;
  readonly secretToken: string;
  readonly dropPendingUpdates?: boolean;
}

/** What Telegram reports about the webhook after the change (getWebhookInfo). */
export interface WebhookInfo {
  readonly url: string;
  readonly pending_update_count: number;
  readonly last_error_message?: string;
}

const callBotApi = async <T>(apiRoot: string, botToken: string, method: string, body: object): Promise<T> => {
  // The token is part of the URL: never let the URL reach an error message.
  let response: Response;
  try {
    response = await fetch(`${apiRoot.replace(/\/+$/, '')}/bot${botToken}/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch (error) {
    throw new TelegramApiError(method, undefined, `could not reach the Bot API (${(error as Error).cause ?? (error as Error).name})`);
  }
  const payload = (await response.json().catch(() => undefined)) as { ok?: boolean; result?: T; error_code?: number; description?: string } | undefined;
  if (!payload?.ok) throw new TelegramApiError(method, payload?.error_code ?? response.status, payload?.description ?? `HTTP ${response.status}`);
  return payload.result as T;
};

/**
 * Points the bot at `url`, with the secret token Telegram will send in
 * X-Telegram-Bot-Api-Secret-Token, then asks Telegram what it now has.
 * 1. setWebhook (idempotent: the same call again changes nothing).
 * 2. getWebhookInfo: the URL must be the one just set, or another setWebhook raced this one.
 */
export const setTelegramWebhook = async (input: SetTelegramWebhookInput): Promise<WebhookInfo> => {
  await callBotApi<boolean>(input.apiRoot, input.botToken, 'setWebhook', {
    url: input.url,
    secret_token: input.secretToken,
    allowed_updates: ALLOWED_UPDATES,
    drop_pending_updates: input.dropPendingUpdates ?? false,
  });
  const info = await callBotApi<WebhookInfo>(input.apiRoot, input.botToken, 'getWebhookInfo', {});
  if (info.url !== input.url) throw new TelegramApiError('getWebhookInfo', undefined, `the webhook is ${info.url || 'unset'}, not ${input.url}`);
  return info;
};

const readSecret = async (client: SecretsManagerClient, arn: string, what: string): Promise<string> => {
  const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: arn })).catch((error: Error) => {
    throw new SetWebhookError(`Could not read the ${what} secret (${error.name}): ${what === 'bot token' ? 'put the token in it first (README)' : error.message}`);
  });
  if (!SecretString) throw new SetWebhookError(`The ${what} secret is empty: put the value in it first (README)`);
  return SecretString.trim();
};

const main = async (): Promise<void> => {
  const args = parseSetWebhookArgs(process.argv.slice(2));
  let outputs: unknown;
  try {
    outputs = JSON.parse(readFileSync(args.outputsFile, 'utf8'));
  } catch (error) {
    throw new SetWebhookError(
      `Cannot read ${args.outputsFile} (${(error as Error).message}): run \`npx cdk deploy --all -c stage=${args.stage} --outputs-file ${args.outputsFile}\` first`,
    );
  }
  const target = webhookTarget(outputs, args.stage);
  const secrets = new SecretsManagerClient({ region: regionOfArn(target.botTokenSecretArn) });
  const [botToken, secretToken] = await Promise.all([
    readSecret(secrets, target.botTokenSecretArn, 'bot token'),
    readSecret(secrets, target.webhookSecretArn, 'webhook'),
  ]);
  const info = await setTelegramWebhook({
    apiRoot: STAGES[args.stage]!.telegramApiRoot ?? DEFAULT_TELEGRAM_API_ROOT,
    botToken,
    url: target.webhookUrl,
    secretToken,
    dropPendingUpdates: args.dropPendingUpdates,
  });
  console.log(`Telegram now sends the bot's updates to ${info.url} (${info.pending_update_count} pending).`);
};

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: Error) => {
    console.error(error instanceof SetWebhookError || error instanceof TelegramApiError ? error.message : error);
    process.exitCode = 1;
  });
}
