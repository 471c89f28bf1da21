import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ALLOWED_UPDATES,
  parseSetWebhookArgs,
  regionOfArn,
  SetWebhookError,
  setTelegramWebhook,
  TelegramApiError,
  webhookTarget,
} from '../../bin/telegram-set-webhook';

const TOKEN = '123456789:AAExampleExampleExampleExampleExampl';
const SECRET = 'k9Vq2fLx7TzR1wYb3NcPd8MhGs5JeUa4';
const BOT_TOKEN_ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:memberpass/prod/telegram-bot-token-AbCdEf';
const WEBHOOK_ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:memberpass/prod/telegram-webhook-secret-GhIjKl';

const outputsFor = (apiUrl: string) => ({
  'MemberPass-prod-Stateless': { ApiUrl: apiUrl },
  'MemberPass-prod-Stateful': { TelegramBotTokenSecretArn: BOT_TOKEN_ARN, TelegramWebhookSecretArn: WEBHOOK_ARN, TableName: 't' },
});

describe('the command line', () => {
  test('takes the stage and defaults to the outputs file cdk deploy writes', () => {
    expect(parseSetWebhookArgs(['--stage', 'prod'])).toEqual({ stage: 'prod', outputsFile: 'cdk-outputs.json', dropPendingUpdates: false });
    expect(parseSetWebhookArgs(['--stage', 'dev', '--outputs-file', 'out.json', '--drop-pending-updates'])).toEqual({
      stage: 'dev',
      outputsFile: 'out.json',
      dropPendingUpdates: true,
    });
  });

  test('refuses a missing or unknown stage', () => {
    expect(() => parseSetWebhookArgs([])).toThrow(SetWebhookError);
    expect(() => parseSetWebhookArgs(['--stage', 'qa'])).toThrow('Unknown stage "qa": lib/stages.ts defines dev, prod');
  });
});

describe('the target, from the outputs of cdk deploy', () => {
  test('is the API URL plus /telegram/webhook, with or without a trailing slash, and the two secret ARNs', () => {
    for (const apiUrl of ['https://api.memberpass.example/', 'https://api.memberpass.example']) {
      expect(webhookTarget(outputsFor(apiUrl), 'prod')).toEqual({
        webhookUrl: 'https://api.memberpass.example/telegram/webhook',
        botTokenSecretArn: BOT_TOKEN_ARN,
        webhookSecretArn: WEBHOOK_ARN,
      });
    }
  });

  test('says to deploy with --outputs-file when the stage is missing from the file', () => {
    expect(() => webhookTarget({}, 'prod')).toThrow(/MemberPass-prod-Stateless\.ApiUrl: run `npx cdk deploy --all -c stage=<stage> --outputs-file/);
    expect(() => webhookTarget(outputsFor('https://x.example/'), 'dev')).toThrow(/MemberPass-dev-Stateless/);
  });

  test('refuses a URL Telegram would not call', () => {
    expect(() => webhookTarget(outputsFor('http://api.memberpass.example/'), 'prod')).toThrow(/https/);
  });

  test('the Secrets Manager region is the secret ARN’s', () => {
    expect(regionOfArn(BOT_TOKEN_ARN)).toBe('eu-west-1');
    expect(() => regionOfArn('memberpass/prod/telegram-bot-token')).toThrow(SetWebhookError);
  });
});

/** A Bot API on 127.0.0.1 that keeps the webhook it is given, as Telegram does. */
const botApi = () => {
  const calls: { path: string; body: Record<string, unknown> }[] = [];
  let webhook = '';
  let refuseWith: { error_code: number; description: string } | undefined;
  let overwriteAfterSet: string | undefined;
  const server: Server = createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    request.on('end', () => {
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      calls.push({ path: request.url ?? '', body });
      const reply = (status: number, payload: object) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(payload));
      };
      if (!request.url?.startsWith(`/bot${TOKEN}/`)) return reply(401, { ok: false, error_code: 401, description: 'Unauthorized' });
      if (refuseWith) return reply(refuseWith.error_code, { ok: false, ...refuseWith });
      if (request.url.endsWith('/setWebhook')) {
        webhook = overwriteAfterSet ?? String(body.url);
        return reply(200, { ok: true, result: true, description: 'Webhook was set' });
      }
      if (request.url.endsWith('/getWebhookInfo')) return reply(200, { ok: true, result: { url: webhook, pending_update_count: 3 } });
      return reply(404, { ok: false, error_code: 404, description: 'Not Found' });
    });
  });
  return {
    calls,
    refuse: (error: { error_code: number; description: string }) => (refuseWith = error),
    raceWith: (url: string) => (overwriteAfterSet = url),
    start: () => new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`))),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};

describe('setWebhook against a Bot API on 127.0.0.1', () => {
  let api: ReturnType<typeof botApi>;
  let apiRoot: string;
  beforeEach(async () => {
    api = botApi();
    apiRoot = await api.start();
  });
  afterEach(() => api.stop());

  const input = (overrides: Partial<Parameters<typeof setTelegramWebhook>[0]> = {}) => ({
    apiRoot,
    botToken: TOKEN,
    url: 'https://api.memberpass.example/telegram/webhook',
    secretToken: SECRET,
    ...overrides,
  });

  test('sets the URL with the secret token and message updates only, and returns what Telegram then reports', async () => {
    const info = await setTelegramWebhook(input());
    expect(info).toEqual({ url: 'https://api.memberpass.example/telegram/webhook', pending_update_count: 3 });
    expect(api.calls.map((call) => call.path)).toEqual([`/bot${TOKEN}/setWebhook`, `/bot${TOKEN}/getWebhookInfo`]);
    expect(api.calls[0]!.body).toEqual({
      url: 'https://api.memberpass.example/telegram/webhook',
      secret_token: SECRET,
      allowed_updates: [...ALLOWED_UPDATES],
      drop_pending_updates: false,
    });
  });

  test('a refused token fails with Telegram’s description and without the token', async () => {
    const failure = await setTelegramWebhook(input({ botToken: '42:wrong' })).catch((error: Error) => error);
    expect(failure).toBeInstanceOf(TelegramApiError);
    expect((failure as Error).message).toBe('Telegram setWebhook failed (401): Unauthorized');
    expect((failure as Error).message).not.toContain('42:wrong');
  });

  test('a refused URL fails with the reason Telegram gives', async () => {
    api.refuse({ error_code: 400, description: 'Bad Request: bad webhook: HTTPS url must be provided for webhook' });
    await expect(setTelegramWebhook(input())).rejects.toThrow('Telegram setWebhook failed (400): Bad Request: bad webhook');
  });

  test('a webhook that is not the one just set (another setWebhook raced this one) is reported', async () => {
    api.raceWith('https://elsewhere.example/hook');
    await expect(setTelegramWebhook(input())).rejects.toThrow(/the webhook is https:\/\/elsewhere\.example\/hook, not https:\/\/api\.memberpass/);
  });

  test('an unreachable Bot API fails without printing the URL that holds the token', async () => {
    await api.stop();
    const failure = await setTelegramWebhook(input()).catch((error: Error) => error);
    expect(failure).toBeInstanceOf(TelegramApiError);
    expect((failure as Error).message).toMatch(/could not reach the Bot API/);
    expect((failure as Error).message).not.toContain(TOKEN);
    api = botApi();
    await api.start();
  });
});
