import { createHash, randomBytes } from 'node:crypto';
import { DeliveryRefusedError, ResourceNotFoundError } from '../domain/errors';
import type { Principal } from '../domain/model';
import type { AccountReader, AccountWriter, Clock, TelegramLinkStore, TelegramSender } from '../domain/ports';
import { logger } from '../observability';

/** How long a link may wait for the creator to press Start. */
export const LINK_TTL_MS = 15 * 60_000;

const hashLinkToken = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Starts linking a project's creator chat.
 * 1. Load the project within the caller's team (else RESOURCE_NOT_FOUND).
 * 2. Store the hash of a fresh one-time token (32 characters of A-Za-z0-9_-, as Telegram's
 *    `start` parameter allows), valid for 15 minutes.
 * 3. Answer the deep link that opens the bot with that token.
 */
export const createTelegramLink = async (
  deps: { accounts: AccountReader; links: TelegramLinkStore; clock: Clock; botUsername: string },
  principal: Principal,
  input: { project_id: string },
) => {
  const project = await deps.accounts.findProject(input.project_id);
  if (!project || project.teamId !== principal.teamId) throw new ResourceNotFoundError('Project', input.project_id);
  const token = randomBytes(24).toString('base64url');
  const expiresAt = new Date(deps.clock.now().getTime() + LINK_TTL_MS).toISOString();
  await deps.links.putLinkToken(hashLinkToken(token), { projectId: project.id, teamId: project.teamId, expiresAt });
  return {
    project_id: project.id,
    url: `https://t.me/${deps.botUsername}?start=${token}`,
    expires_at: expiresAt,
    linked_chat: project.telegramChatId !== null,
  };
};

/** The part of a Telegram update the bot reads; anything else in it is ignored, and any of it may be missing or mistyped. */
export interface TelegramUpdate {
  update_id?: unknown;
  message?: { chat?: { id?: unknown }; text?: unknown } | unknown;
}

/** What became of one update. */
export type TelegramUpdateOutcome = 'linked' | 'repeated' | 'refused' | 'ignored' | 'undeliverable';

const START = /^\/start(?:@\w+)?(?:\s+([A-Za-z0-9_-]{1,64}))?\s*$/;

/** Telegram chat ids are integers (negative for groups and channels) within 52 bits. */
const chatIdOf = (update: TelegramUpdate): string | undefined => {
  const message = update.message;
  if (typeof message !== 'object' || message === null) return undefined;
  const chat = (message as { chat?: unknown }).chat;
  if (typeof chat !== 'object' || chat === null) return undefined;
  const id = (chat as { id?: unknown }).id;
  return typeof id === 'number' && Number.isSafeInteger(id) ? String(id) : undefined;
};

const textOf = (update: TelegramUpdate): string | undefined => {
  const message = update.message;
  const text = typeof message === 'object' && message !== null ? (message as { text?: unknown }).text : undefined;
  return typeof text === 'string' ? text : undefined;
};

/**
 * Handles one update from the bot's webhook. Telegram delivers an update again until it gets
 * a 2xx, so everything here is safe to repeat.
 * 1. Only `/start [token]` from a chat with an integer id is read; anything else is ignored.
 * 2. `/start <token>`: use the token — unexpired, and unused or used by this same chat without
 *    a confirmation yet. A crash here leaves the token usable by this chat's retry only.
 * 3. Link the chat to the token's project (a retry sets the same value again).
 * 4. Confirm in the chat, then record the confirmation: a failed send is a 5xx, and Telegram's
 *    retry comes back through 2–4; once recorded, a replay changes nothing and says nothing.
 * 5. `/start` with no, a bad, a used or an expired token: say so in the chat; nothing changes.
 * A permanent refusal from Telegram (blocked bot, unknown chat) can never succeed: it is
 * logged and answered as `undeliverable`, so that Telegram stops retrying.
 */
export const handleTelegramUpdate = async (
  deps: { accounts: AccountWriter & AccountReader; links: TelegramLinkStore; telegram: TelegramSender; clock: Clock },
  update: TelegramUpdate,
): Promise<TelegramUpdateOutcome> => {
  const text = textOf(update);
  const chat = chatIdOf(update);
  const match = text === undefined ? null : START.exec(text.trim());
  if (!match || chat === undefined) return 'ignored';
  const token = match[1];
  try {
    const use = token ? await deps.links.useLinkToken(hashLinkToken(token), chat, deps.clock.now()) : undefined;
    if (use?.outcome === 'done') return 'repeated';
    if (use?.outcome !== 'usable') {
      await deps.telegram.sendMessage(
        chat,
        token
          ? 'This MemberPass link has expired or was already used. Ask for a new one and open it within 15 minutes.'
          : 'To receive your MemberPass access codes here, open the link MemberPass gave you.',
      );
      return 'refused';
    }
    await deps.accounts.setTelegramChat(use.link.projectId, chat);
    const project = await deps.accounts.findProject(use.link.projectId);
    logger.info('telegram chat linked', { project_id: use.link.projectId, repeated: use.repeated });
    await deps.telegram.sendMessage(chat, `Linked. Access codes for "${project?.name ?? use.link.projectId}" will arrive in this chat.`);
    await deps.links.confirmLinkToken(hashLinkToken(token!), deps.clock.now());
    return 'linked';
  } catch (error) {
    if (!(error instanceof DeliveryRefusedError)) throw error;
    logger.warn('telegram refused the reply to an update; not retrying it', { update_id: update.update_id, reason: error.reason });
    return 'undeliverable';
  }
};
