import { ConfigurationError } from '../../contracts/env';
import type { Clock, TelegramSender } from '../../domain/ports';
import { BotApiTelegramSender, type BotApiSenderOptions } from './bot-api-sender';
import { OutboxTelegramSender } from './outbox-sender';

/** What `makeTelegramSender` needs; `outboxDir` is the local stack's fallback when there is no token. */
export interface TelegramConfig extends BotApiSenderOptions {
  botToken?: string;
  /** Data dir for the outbox sender; used only when `botToken` is absent. */
  outboxDir?: string;
  /** Clock for the outbox timestamps. */
  clock?: Clock;
}

/**
 * The sender the configuration asks for: the real Bot API client when there is a token, the
 * outbox folder when there is none but a local data dir, and a cold-start failure otherwise,
 * so a deployed function without a token never silently writes codes to its /tmp.
 */
export const makeTelegramSender = (config: TelegramConfig): TelegramSender => {
  const { botToken, outboxDir, clock, ...options } = config;
  if (botToken) return new BotApiTelegramSender(botToken, options);
  if (outboxDir) return new OutboxTelegramSender(outboxDir, clock);
  throw new ConfigurationError('Invalid configuration: TELEGRAM_BOT_TOKEN is required (no outbox dir outside the local stack)');
};
