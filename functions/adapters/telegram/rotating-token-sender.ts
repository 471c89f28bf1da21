import type { TelegramSender } from '../../domain/ports';
import { BotApiTelegramSender, type BotApiSenderOptions } from './bot-api-sender';
import { TelegramRefusedError } from './errors';

/**
 * Reads the bot token: from a cache no older than its TTL, or afresh with `forceFetch`
 * (Powertools `getSecret` with `maxAge` in production, a plain function in tests).
 */
export type BotTokenReader = (options: { forceFetch: boolean }) => Promise<string>;

/** How long a bot token read from Secrets Manager is trusted before it is read again. */
export const BOT_TOKEN_MAX_AGE_SECONDS = 300;

/** Telegram answers 401 to a revoked or unknown token, and 404 to one it cannot parse. */
const isTokenRejected = (error: unknown): boolean =>
  error instanceof TelegramRefusedError && (error.errorCode === 401 || error.errorCode === 404);

/**
 * The `TelegramSender` port over a bot token that may be rotated while the function runs: the
 * token is read through the reader's cache before each call (so a rotation takes effect within
 * the cache's TTL), and read afresh at once when Telegram rejects it, the call then tried once
 * more with the new token. A token that is still rejected after that is the refusal it was.
 */
export class RotatingTokenTelegramSender implements TelegramSender {
  private current: { token: string; sender: BotApiTelegramSender } | undefined;

  constructor(
    private readonly readToken: BotTokenReader,
    private readonly options: BotApiSenderOptions = {},
  ) {}

  /** Uploads a document through the bot with the current token. */
  sendDocument(chatId: string, document: { filename: string; content: string; caption: string }): Promise<void> {
    return this.withToken((sender) => sender.sendDocument(chatId, document));
  }

  /** Sends one text message through the bot with the current token. */
  sendMessage(chatId: string, text: string): Promise<void> {
    return this.withToken((sender) => sender.sendMessage(chatId, text));
  }

  private async senderFor(forceFetch: boolean): Promise<{ token: string; sender: BotApiTelegramSender }> {
    const token = await this.readToken({ forceFetch });
    if (!token) throw new Error('The bot token secret is empty.');
    if (this.current?.token !== token) this.current = { token, sender: new BotApiTelegramSender(token, this.options) };
    return this.current;
  }

  private async withToken(call: (sender: BotApiTelegramSender) => Promise<void>): Promise<void> {
    const used = await this.senderFor(false);
    try {
      await call(used.sender);
    } catch (error) {
      if (!isTokenRejected(error)) throw error;
      const fresh = await this.senderFor(true);
      if (fresh.token === used.token) throw error;
      await call(fresh.sender);
    }
  }
}
