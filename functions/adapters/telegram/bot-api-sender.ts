import { Api, InputFile, type ParseMode } from 'node-telegram-bot-api';
import type { TelegramSender } from '../../domain/ports';
import { toDeliveryError } from './errors';

/** How the real client is tuned; every field has a Lambda-friendly default. */
export interface BotApiSenderOptions {
  /** API origin, e.g. a local fake or a self-hosted Bot API server. Default `https://api.telegram.org`. */
  apiRoot?: string;
  /** Per-request timeout. Default 10 s: a Lambda must not hang on a stalled socket. */
  timeoutMs?: number;
  /** Internal retries on network errors and 5xx. Default 0: the queue redelivers instead. */
  maxRetries?: number;
  /** Applied to message texts and document captions; omit for plain text. */
  parseMode?: ParseMode;
}

/** Lambda-friendly defaults, in place of the library's (5-min timeout, waits up to 60 s on a 429). */
export const BOT_API_DEFAULTS = { timeoutMs: 10_000, maxRetries: 0 } as const;

/**
 * Never honour a 429 by sleeping inside the function: the library waits only when
 * retry_after × 1000 ≤ maxRetryAfterMs, and retry_after is at least 1 s, so 1 ms turns every
 * 429 into an immediate error (0 would mean "no cap", i.e. always wait). This holds even when
 * `maxRetries` is raised for network errors.
 */
const NEVER_WAIT_ON_429_MS = 1;

/** The `TelegramSender` port over the real Bot API, through node-telegram-bot-api 2.x. */
export class BotApiTelegramSender implements TelegramSender {
  private readonly api: Api;
  private readonly parseMode: ParseMode | undefined;
  private username: Promise<string> | undefined;

  constructor(botToken: string, options: BotApiSenderOptions = {}) {
    this.api = new Api(botToken, {
      apiRoot: options.apiRoot,
      timeoutMs: options.timeoutMs ?? BOT_API_DEFAULTS.timeoutMs,
      maxRetries: options.maxRetries ?? BOT_API_DEFAULTS.maxRetries,
      maxRetryAfterMs: NEVER_WAIT_ON_429_MS,
    });
    this.parseMode = options.parseMode;
  }

  /** Uploads `content` as a UTF-8 CSV file named `filename`, with `caption` under it. */
  async sendDocument(chatId: string, document: { filename: string; content: string; caption: string }): Promise<void> {
    const file = new InputFile(new TextEncoder().encode(document.content), {
      filename: document.filename,
      contentType: 'text/csv; charset=utf-8',
    });
    await this.call('sendDocument', () =>
      this.api.sendDocument({ chat_id: chatId, document: file, caption: document.caption, parse_mode: this.parseMode }),
    );
  }

  /** Sends one text message. */
  async sendMessage(chatId: string, text: string): Promise<void> {
    await this.call('sendMessage', () => this.api.sendMessage({ chat_id: chatId, text, parse_mode: this.parseMode }));
  }

  /** The bot's @username (without the @), for `https://t.me/<username>?start=…` deep links; fetched once. */
  getBotUsername(): Promise<string> {
    // Keep the first successful answer; forget a failed one so the next call asks again.
    this.username ??= this.fetchUsername().catch((error: unknown) => {
      this.username = undefined;
      throw error;
    });
    return this.username;
  }

  private async fetchUsername(): Promise<string> {
    const me = await this.call('getMe', () => this.api.getMe());
    if (!me.username) throw new Error('Telegram getMe returned a bot without a username');
    return me.username;
  }

  private async call<T>(method: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw toDeliveryError(method, error);
    }
  }
}
