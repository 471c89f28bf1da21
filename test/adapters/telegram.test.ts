import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BotApiTelegramSender } from '../../functions/adapters/telegram/bot-api-sender';
import { TelegramRefusedError } from '../../functions/adapters/telegram/errors';
import { makeTelegramSender } from '../../functions/adapters/telegram/factory';
import { OutboxTelegramSender, outboxFolder, readOutbox } from '../../functions/adapters/telegram/outbox-sender';
import { ConfigurationError } from '../../functions/contracts/env';
import { DeliveryRefusedError, DeliveryThrottledError } from '../../functions/domain/errors';
import { FakeClock } from '../support/clock';
import { startFakeTelegram, telegramErrors, type FakeTelegram } from '../../local/fakes/fake-telegram';

const TOKEN = '123456:TEST-token_abc';
const CHAT = '100000001';
const CSV = 'code,expires_at\n7KQ2-9XMD-4TRV,2026-06-01T00:00:00Z\nH3JW-8PNA-0QZE,2026-06-01T00:00:00Z\n';

/** The error a promise rejects with (fails the test when it resolves). */
const rejection = async (promise: Promise<unknown>): Promise<Error> => {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail, but it succeeded');
};

describe('BotApiTelegramSender against a fake Bot API over HTTP', () => {
  let fake: FakeTelegram;
  let sender: BotApiTelegramSender;

  beforeEach(async () => {
    fake = await startFakeTelegram({ token: TOKEN, botUsername: 'memberpass_codes_bot' });
    sender = new BotApiTelegramSender(TOKEN, { apiRoot: fake.apiRoot });
  });
  afterEach(() => fake.close());

  it('uploads a CSV document with its filename, caption and exact content', async () => {
    await sender.sendDocument(CHAT, { filename: 'codes-btc_01.csv', content: CSV, caption: '2 codes for Gold' });

    expect(fake.documentsTo(CHAT)).toEqual([{ filename: 'codes-btc_01.csv', content: CSV, caption: '2 codes for Gold' }]);
    const [call] = fake.callsTo('sendDocument');
    expect(call?.token).toBe(TOKEN);
    expect(call?.files[0]?.contentType).toMatch(/^text\/csv/);
  });

  it('sends a text message to the chat', async () => {
    await sender.sendMessage(CHAT, 'Your code: 7KQ2-9XMD-4TRV');

    expect(fake.messagesTo(CHAT)).toEqual(['Your code: 7KQ2-9XMD-4TRV']);
    expect(fake.callsTo('sendMessage')[0]?.params.parse_mode).toBeUndefined();
  });

  it('sends HTML when configured with that parse mode', async () => {
    const html = new BotApiTelegramSender(TOKEN, { apiRoot: fake.apiRoot, parseMode: 'HTML' });

    await html.sendMessage(CHAT, 'Code: <code>7KQ2-9XMD-4TRV</code>');
    await html.sendDocument(CHAT, { filename: 'c.csv', content: CSV, caption: '<b>Gold</b> &amp; more' });

    expect(fake.callsTo('sendMessage')[0]?.params).toMatchObject({ parse_mode: 'HTML', text: 'Code: <code>7KQ2-9XMD-4TRV</code>' });
    expect(fake.callsTo('sendDocument')[0]?.params).toMatchObject({ parse_mode: 'HTML', caption: '<b>Gold</b> &amp; more' });
  });

  it('turns a 429 into DeliveryThrottledError with retry_after, without waiting or retrying', async () => {
    fake.failNext('sendMessage', 1, telegramErrors.tooManyRequests(7));

    const error = await rejection(sender.sendMessage(CHAT, 'hello'));

    expect(error).toBeInstanceOf(DeliveryThrottledError);
    expect((error as DeliveryThrottledError).retryAfterSeconds).toBe(7);
    // A client that slept and retried would have succeeded on the second call instead.
    expect(fake.callsTo('sendMessage')).toHaveLength(1);
    expect(fake.messagesTo(CHAT)).toEqual([]);
  });

  it('does not wait on a 429 of one second either (the library would by default)', async () => {
    fake.failNext('sendDocument', 1, telegramErrors.tooManyRequests(1));

    const error = await rejection(sender.sendDocument(CHAT, { filename: 'c.csv', content: CSV, caption: 'c' }));

    expect(error).toBeInstanceOf(DeliveryThrottledError);
    expect((error as DeliveryThrottledError).retryAfterSeconds).toBe(1);
    expect(fake.callsTo('sendDocument')).toHaveLength(1);
  });

  it('still refuses to wait on a 429 when retries for network errors are turned on', async () => {
    const retrying = new BotApiTelegramSender(TOKEN, { apiRoot: fake.apiRoot, maxRetries: 2 });
    fake.failNext('sendMessage', 1, telegramErrors.tooManyRequests(1));

    await expect(retrying.sendMessage(CHAT, 'hello')).rejects.toBeInstanceOf(DeliveryThrottledError);
    expect(fake.callsTo('sendMessage')).toHaveLength(1);
  });

  it('refuses with bot_blocked when the user blocked the bot', async () => {
    fake.blockChat(CHAT);

    const error = await rejection(sender.sendMessage(CHAT, 'hello'));

    expect(error).toBeInstanceOf(DeliveryRefusedError);
    expect(error).toMatchObject({ reason: 'bot_blocked', errorCode: 403, description: 'Forbidden: bot was blocked by the user' });
    expect(error.message).toContain('bot was blocked by the user');
  });

  it('refuses with chat_not_found for a chat Telegram does not know', async () => {
    const strict = await startFakeTelegram({ knownChats: ['1'] });
    try {
      const error = await rejection(new BotApiTelegramSender(TOKEN, { apiRoot: strict.apiRoot }).sendDocument(CHAT, { filename: 'c.csv', content: CSV, caption: 'c' }));

      expect(error).toBeInstanceOf(DeliveryRefusedError);
      expect((error as DeliveryRefusedError).reason).toBe('chat_not_found');
    } finally {
      await strict.close();
    }
  });

  it('refuses with user_deactivated for a deleted account', async () => {
    fake.failChat(CHAT, telegramErrors.userDeactivated());

    await expect(sender.sendMessage(CHAT, 'hello')).rejects.toMatchObject({ reason: 'user_deactivated' });
  });

  it('refuses with bot_token_invalid when the token is wrong', async () => {
    const wrongToken = new BotApiTelegramSender('999:wrong', { apiRoot: fake.apiRoot });

    const error = await rejection(wrongToken.sendMessage(CHAT, 'hello'));

    expect(error).toBeInstanceOf(DeliveryRefusedError);
    expect((error as DeliveryRefusedError).reason).toBe('bot_token_invalid');
  });

  it('refuses with bad_request for an unknown 400, e.g. HTML that does not parse', async () => {
    const html = new BotApiTelegramSender(TOKEN, { apiRoot: fake.apiRoot, parseMode: 'HTML' });

    const error = await rejection(html.sendMessage(CHAT, 'Gold & Silver'));

    expect(error).toBeInstanceOf(TelegramRefusedError);
    expect(error).toMatchObject({ reason: 'bad_request', errorCode: 400 });
    expect((error as TelegramRefusedError).description).toMatch(/^Bad Request: can't parse entities/);
  });

  it.each([
    ['500', telegramErrors.internal()],
    ['502', telegramErrors.badGateway()],
  ])('treats a %s as transient: a plain Error, not refused, not throttled, not retried', async (_status, reply) => {
    fake.failNext('sendMessage', 1, reply);

    const error = await rejection(sender.sendMessage(CHAT, 'secret 7KQ2-9XMD-4TRV'));

    expect(error).not.toBeInstanceOf(DeliveryRefusedError);
    expect(error).not.toBeInstanceOf(DeliveryThrottledError);
    expect(error.message).toMatch(/^Telegram sendMessage failed transiently/);
    expect(error.message).not.toContain('7KQ2');
    expect(fake.callsTo('sendMessage')).toHaveLength(1);
  });

  it('treats a refused connection as transient', async () => {
    const gone = await startFakeTelegram();
    await gone.close();
    const unreachable = new BotApiTelegramSender(TOKEN, { apiRoot: gone.apiRoot });

    const error = await rejection(unreachable.sendDocument(CHAT, { filename: 'c.csv', content: CSV, caption: 'c' }));

    expect(error).not.toBeInstanceOf(DeliveryRefusedError);
    expect(error).not.toBeInstanceOf(DeliveryThrottledError);
    expect(error.message).toMatch(/^Telegram sendDocument failed transiently/);
    expect(error.message).not.toContain('7KQ2');
  });

  it('treats a timeout as transient', async () => {
    const slow = await startFakeTelegram({ latencyMs: 2_000 });
    try {
      const impatient = new BotApiTelegramSender(TOKEN, { apiRoot: slow.apiRoot, timeoutMs: 100 });

      const error = await rejection(impatient.sendMessage(CHAT, 'hello'));

      expect(error).not.toBeInstanceOf(DeliveryRefusedError);
      expect(error.message).toMatch(/timed out/);
    } finally {
      await slow.close();
    }
  });

  it('reads the bot username once and remembers it', async () => {
    expect(await sender.getBotUsername()).toBe('memberpass_codes_bot');
    expect(await sender.getBotUsername()).toBe('memberpass_codes_bot');
    expect(fake.callsTo('getMe')).toHaveLength(1);
  });

  it('asks for the bot username again after a failed attempt', async () => {
    fake.failNext('getMe', 1, telegramErrors.internal());

    await expect(sender.getBotUsername()).rejects.toThrow(/getMe failed transiently/);
    expect(await sender.getBotUsername()).toBe('memberpass_codes_bot');
    expect(fake.callsTo('getMe')).toHaveLength(2);
  });
});

describe('OutboxTelegramSender', () => {
  let dataDir: string;
  const clock = new FakeClock(new Date('2026-05-01T12:00:00.123Z'));

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'outbox-'));
  });
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  it('writes each document to a file and logs every delivery as one JSON line', async () => {
    const outbox = new OutboxTelegramSender(dataDir, clock);

    await outbox.sendDocument(CHAT, { filename: 'codes.csv', content: CSV, caption: '2 codes' });
    await outbox.sendMessage(CHAT, 'Code: 7KQ2-9XMD-4TRV');

    const path = join(outboxFolder(dataDir), `20260501T120000123Z-${CHAT}-codes.csv`);
    expect(await readFile(path, 'utf8')).toBe(CSV);
    expect(await readOutbox(dataDir)).toEqual([
      { at: '2026-05-01T12:00:00.123Z', chat_id: CHAT, document: path, caption: '2 codes' },
      { at: '2026-05-01T12:00:00.123Z', chat_id: CHAT, text: 'Code: 7KQ2-9XMD-4TRV' },
    ]);
  });

  it('keeps both documents when two share a name and a millisecond, and leaves no temporary files', async () => {
    const outbox = new OutboxTelegramSender(dataDir, clock);

    await Promise.all([
      outbox.sendDocument(CHAT, { filename: 'codes.csv', content: 'first', caption: 'a' }),
      outbox.sendDocument(CHAT, { filename: 'codes.csv', content: 'second', caption: 'b' }),
    ]);

    const entries = await readOutbox(dataDir);
    const contents = await Promise.all(entries.map((e) => ('document' in e ? readFile(e.document, 'utf8') : '')));
    expect(contents.sort()).toEqual(['first', 'second']);
    expect((await readdir(outboxFolder(dataDir))).sort()).toEqual([
      `20260501T120000123Z-${CHAT}-codes-1.csv`,
      `20260501T120000123Z-${CHAT}-codes.csv`,
      'messages.jsonl',
    ]);
  });

  it('keeps a hostile file name inside the outbox folder', async () => {
    const outbox = new OutboxTelegramSender(dataDir, clock);

    await outbox.sendDocument('../x', { filename: '../../etc/passwd', content: 'x', caption: 'c' });

    const [entry] = await readOutbox(dataDir);
    expect(entry && 'document' in entry && entry.document.startsWith(outboxFolder(dataDir) + '/')).toBe(true);
    expect(await readdir(dataDir)).toEqual(['telegram-outbox']);
  });

  it('reads an empty outbox as no entries', async () => {
    expect(await readOutbox(dataDir)).toEqual([]);
  });
});

describe('makeTelegramSender', () => {
  it('uses the real client when there is a token', () => {
    expect(makeTelegramSender({ botToken: TOKEN, outboxDir: '/tmp/x' })).toBeInstanceOf(BotApiTelegramSender);
  });

  it('falls back to the outbox without a token when a data dir is given', () => {
    expect(makeTelegramSender({ outboxDir: '/tmp/x' })).toBeInstanceOf(OutboxTelegramSender);
  });

  it('fails at cold start with neither', () => {
    expect(() => makeTelegramSender({})).toThrow(ConfigurationError);
  });
});
