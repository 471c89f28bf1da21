import { TelegramApiError } from 'node-telegram-bot-api';
import { DeliveryRefusedError, DeliveryThrottledError } from '../../domain/errors';

/** A permanent refusal, with Telegram's own code and description kept for the operator. */
export class TelegramRefusedError extends DeliveryRefusedError {
  constructor(
    reason: string,
    readonly errorCode: number,
    readonly description: string,
  ) {
    super(reason);
    this.message = `${this.message} (${errorCode} ${description})`;
  }
}

/**
 * Telegram has no sub-codes for refusals, only a human description under a 400 or 403, so
 * the description is the only way to tell "blocked" from "kicked". Unknown descriptions fall
 * back to a per-status reason: a 400/403 is deterministic, so retrying cannot help either way.
 */
const REFUSALS: ReadonlyArray<{ status: number; pattern: RegExp; reason: string }> = [
  { status: 403, pattern: /blocked by the user/i, reason: 'bot_blocked' },
  { status: 403, pattern: /user is deactivated/i, reason: 'user_deactivated' },
  { status: 403, pattern: /kicked/i, reason: 'bot_kicked' },
  { status: 403, pattern: /not a member/i, reason: 'bot_not_member' },
  { status: 403, pattern: /can't initiate conversation/i, reason: 'bot_cannot_initiate' },
  { status: 400, pattern: /chat not found|user not found|PEER_ID_INVALID/i, reason: 'chat_not_found' },
  { status: 400, pattern: /upgraded to a supergroup/i, reason: 'chat_migrated' },
  { status: 400, pattern: /group is deactivated/i, reason: 'chat_deactivated' },
  { status: 400, pattern: /rights to send|CHAT_WRITE_FORBIDDEN/i, reason: 'no_rights_to_send' },
];

const FALLBACK_REASONS: Readonly<Record<number, string>> = {
  400: 'bad_request',
  // Telegram answers 401 for a wrong token and 404 for one it cannot even parse.
  401: 'bot_token_invalid',
  403: 'forbidden',
  404: 'bot_token_invalid',
};

/** The machine-readable reason for a permanent Telegram refusal. */
export const refusalReason = (errorCode: number, description: string): string =>
  REFUSALS.find((r) => r.status === errorCode && r.pattern.test(description))?.reason ??
  FALLBACK_REASONS[errorCode] ??
  'rejected';

/**
 * Maps whatever the client library threw to the port's contract: 429 → throttled, other 4xx →
 * refused, everything else (5xx, network, timeout, unparsable answer) → a plain, transient Error.
 * Messages carry only Telegram's description, never what we sent.
 */
export const toDeliveryError = (method: string, error: unknown): Error => {
  if (error instanceof TelegramApiError) {
    if (error.errorCode === 429) return new DeliveryThrottledError(retryAfterSeconds(error));
    if (error.errorCode >= 400 && error.errorCode < 500) {
      return new TelegramRefusedError(refusalReason(error.errorCode, error.description), error.errorCode, error.description);
    }
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new Error(`Telegram ${method} failed transiently: ${detail}`, { cause: error });
};

/** Telegram always sends retry_after with a 429; a missing or odd one still yields a sane wait. */
const retryAfterSeconds = (error: TelegramApiError): number => {
  const value = error.retryAfter;
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.ceil(value) : 1;
};
