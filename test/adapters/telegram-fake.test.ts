import { BotApiTelegramSender } from '../../functions/adapters/telegram/bot-api-sender';
import { DeliveryThrottledError } from '../../functions/domain/errors';
import { startFakeTelegram, telegramErrors, type FakeTelegram } from '../../local/fakes/fake-telegram';

// The fake is shared by adapter, end-to-end and benchmark runs: these pin down its own behaviour.

const TOKEN = '42:fake';

const post = async (fake: FakeTelegram, method: string, body: unknown, token = TOKEN) => {
  const response = await fetch(`${fake.apiRoot}/bot${token}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
};

describe('fake Telegram Bot API', () => {
  let fake: FakeTelegram;

  beforeEach(async () => {
    fake = await startFakeTelegram();
  });
  afterEach(() => fake.close());

  it('accepts JSON bodies and answers with a Message in the {ok, result} envelope', async () => {
    const answer = await post(fake, 'sendMessage', { chat_id: 5, text: 'hi' });

    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ ok: true, result: { message_id: 1, chat: { id: 5 }, text: 'hi' } });
    expect(fake.messagesTo('5')).toEqual(['hi']);
    expect(fake.calls[0]).toMatchObject({ method: 'sendMessage', token: TOKEN, params: { chat_id: 5, text: 'hi' } });
  });

  it('answers errors in the wire format, with the error code as HTTP status', async () => {
    fake.failNext('*', 1, telegramErrors.tooManyRequests(3));

    const answer = await post(fake, 'sendMessage', { chat_id: 5, text: 'hi' });

    expect(answer.status).toBe(429);
    expect(answer.body).toEqual({ ok: false, error_code: 429, description: 'Too Many Requests: retry after 3', parameters: { retry_after: 3 } });
    expect(fake.messagesTo(5)).toEqual([]);
    expect(fake.calls[0]?.status).toBe(429);
  });

  it('answers failNext only as many times as asked', async () => {
    fake.failNext('sendMessage', 2, telegramErrors.internal());

    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(fake, 'sendMessage', { chat_id: 5, text: `m${i}` })).status);

    expect(statuses).toEqual([500, 500, 200]);
    expect(fake.messagesTo(5)).toEqual(['m2']);
  });

  it('throttles every n-th send across chats, not getMe', async () => {
    fake.throttleEvery(3, 2);
    const sender = new BotApiTelegramSender(TOKEN, { apiRoot: fake.apiRoot });

    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      await sender.getBotUsername();
      outcomes.push(await sender.sendMessage(String(i), 'x').then(
        () => 'sent',
        (error: unknown) => (error instanceof DeliveryThrottledError ? `429 after ${error.retryAfterSeconds}` : 'other'),
      ));
    }

    expect(outcomes).toEqual(['sent', 'sent', '429 after 2', 'sent', 'sent', '429 after 2']);
  });

  it('rejects an unknown token, an unknown method and a path that is no method', async () => {
    const strict = await startFakeTelegram({ token: TOKEN });
    try {
      expect((await post(strict, 'getMe', {}, 'other')).body).toEqual({ ok: false, error_code: 401, description: 'Unauthorized' });
      expect((await post(strict, 'sendSticker', { chat_id: 1 })).status).toBe(404);
      expect((await fetch(`${strict.apiRoot}/favicon.ico`)).status).toBe(404);
    } finally {
      await strict.close();
    }
  });

  it('refuses what Telegram refuses: empty text, over-long text, a missing document, broken HTML', async () => {
    const refusal = async (method: string, body: unknown) => (await post(fake, method, body)).body.description as string;

    expect(await refusal('sendMessage', { chat_id: 1, text: ' ' })).toBe('Bad Request: message text is empty');
    expect(await refusal('sendMessage', { chat_id: 1, text: 'x'.repeat(4097) })).toBe('Bad Request: message is too long');
    expect(await refusal('sendMessage', { text: 'x' })).toBe('Bad Request: chat_id is empty');
    expect(await refusal('sendDocument', { chat_id: 1 })).toBe('Bad Request: there is no document in the request');
    expect(await refusal('sendMessage', { chat_id: 1, text: 'a < b', parse_mode: 'HTML' })).toMatch(/^Bad Request: can't parse entities/);
    expect(await refusal('sendMessage', { chat_id: 1, text: '<code>x</b>', parse_mode: 'HTML' })).toMatch(/^Bad Request: can't parse entities/);
    expect(await refusal('sendMessage', { chat_id: 1, text: '<br>', parse_mode: 'HTML' })).toMatch(/Unsupported start tag "br"/);
    expect(fake.messagesTo(1)).toEqual([]);
  });

  it('counts HTML message length after entities, as Telegram does', async () => {
    const text = `<code>${'A'.repeat(4000)}</code> &amp;`;

    expect((await post(fake, 'sendMessage', { chat_id: 1, text, parse_mode: 'HTML' })).body.result.text).toBe(`${'A'.repeat(4000)} &`);
  });

  it('records blocked chats per chat, and forgets everything on reset', async () => {
    fake.blockChat(7);

    expect((await post(fake, 'sendMessage', { chat_id: 7, text: 'x' })).status).toBe(403);
    expect((await post(fake, 'sendMessage', { chat_id: 8, text: 'y' })).status).toBe(200);
    fake.reset();
    expect(fake.calls).toEqual([]);
    expect((await post(fake, 'sendMessage', { chat_id: 7, text: 'z' })).status).toBe(200);
  });

  it('receives a multipart upload with a non-ASCII filename and content intact', async () => {
    const sender = new BotApiTelegramSender(TOKEN, { apiRoot: fake.apiRoot });
    const content = 'code,plan\nABCD-EFGH-JKMN,Café “Gold” ✓\n';

    await sender.sendDocument('9', { filename: 'codes-café.csv', content, caption: 'Plan “Gold”' });

    expect(fake.documentsTo(9)).toEqual([{ filename: 'codes-café.csv', content, caption: 'Plan “Gold”' }]);
  });
});
