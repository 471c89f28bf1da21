import { TelegramRefusedError } from '../../functions/adapters/telegram/errors';
import { RotatingTokenTelegramSender, type BotTokenReader } from '../../functions/adapters/telegram/rotating-token-sender';
import { startFakeTelegram, type FakeTelegram } from '../../local/fakes/fake-telegram';

const OLD = '111:old-token';
const NEW = '222:new-token';
const CHAT = '100000001';

/**
 * A secret as Powertools' getSecret with maxAge serves it: a cached value until the cache is
 * stale or the read is forced, then whatever the secret holds now.
 */
class RotatableSecret {
  stored = OLD;
  private cached: string | undefined;
  stale = false;
  forcedReads = 0;
  reads = 0;

  readonly reader: BotTokenReader = async ({ forceFetch }) => {
    this.reads++;
    if (forceFetch) this.forcedReads++;
    if (forceFetch || this.stale || this.cached === undefined) {
      this.cached = this.stored;
      this.stale = false;
    }
    return this.cached;
  };
}

describe('RotatingTokenTelegramSender against a fake Bot API over HTTP', () => {
  let fake: FakeTelegram;
  let secret: RotatableSecret;
  let sender: RotatingTokenTelegramSender;

  beforeEach(async () => {
    fake = await startFakeTelegram({ token: NEW });
    secret = new RotatableSecret();
    sender = new RotatingTokenTelegramSender(secret.reader, { apiRoot: fake.apiRoot });
  });
  afterEach(() => fake.close());

  it('re-reads the token at once on a 401 and sends with the new one', async () => {
    await secret.reader({ forceFetch: false }); // the cold start cached the old token
    secret.stored = NEW; // the operator rotates it

    await sender.sendMessage(CHAT, 'hello');

    expect(fake.messagesTo(CHAT)).toEqual(['hello']);
    expect(fake.calls.map((call) => [call.token, call.status])).toEqual([
      [OLD, 401],
      [NEW, 200],
    ]);
    expect(secret.forcedReads).toBe(1);
  });

  it('keeps the new token for later calls without forcing another read', async () => {
    await secret.reader({ forceFetch: false });
    secret.stored = NEW;
    await sender.sendMessage(CHAT, 'one');
    await sender.sendDocument(CHAT, { filename: 'c.csv', content: 'code\nX\n', caption: 'two' });

    expect(fake.calls.map((call) => call.token)).toEqual([OLD, NEW, NEW]);
    expect(fake.documentsTo(CHAT)).toHaveLength(1);
    expect(secret.forcedReads).toBe(1);
  });

  it('picks up a rotated token when the cached one expires, before Telegram ever refuses it', async () => {
    const other = await startFakeTelegram({ token: OLD });
    try {
      const early = new RotatingTokenTelegramSender(secret.reader, { apiRoot: other.apiRoot });
      await early.sendMessage(CHAT, 'with the old token');
      secret.stored = NEW;
      secret.stale = true;
      await expect(early.sendMessage(CHAT, 'with the new token')).rejects.toBeInstanceOf(TelegramRefusedError);
      expect(other.calls.map((call) => call.token)).toEqual([OLD, NEW]);
    } finally {
      await other.close();
    }
  });

  it('a token still rejected after a fresh read is the refusal it was, tried once more at most', async () => {
    const error = await sender.sendMessage(CHAT, 'nobody can send this').then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(TelegramRefusedError);
    expect((error as TelegramRefusedError).reason).toBe('bot_token_invalid');
    expect(fake.calls.map((call) => call.token)).toEqual([OLD]);
    expect(secret.forcedReads).toBe(1);
  });
});
