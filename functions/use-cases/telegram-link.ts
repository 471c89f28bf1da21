import { createHash, randomBytes } from 'node:crypto';
import { ResourceNotFoundError } from '../domain/errors';
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

/** The part of a Telegram update the bot reads. */
export interface TelegramUpdate {
  update_id?: number;
  message?: { chat?: { id?: number | string }; text?: string };
}

const START = /^\/start(?:@\w+)?(?:\s+([A-Za-z0-9_-]{1,64}))?\s*$/;

/**
 * Handles one update from the bot's webhook. Telegram may deliver an update more than once,
 * so everything here is safe to repeat.
 * 1. `/start <token>`: use the token (once, unexpired), link the chat to its project, confirm in
 *    the chat. The same update again re-links (harmless) and says nothing more.
 * 2. `/start` with a bad, used or expired token: say so in the chat.
 * 3. Anything else: ignored.
 */
export const handleTelegramUpdate = async (
  deps: { accounts: AccountWriter & AccountReader; links: TelegramLinkStore; telegram: TelegramSender; clock: Clock },
  update: TelegramUpdate,
): Promise<'linked' | 'repeated' | 'refused' | 'ignored'> => {
  const text = update.message?.text;
  const chatId = update.message?.chat?.id;
  const match = typeof text === 'string' ? START.exec(text.trim()) : null;
  if (!match || chatId === undefined) return 'ignored';
  const chat = String(chatId);
  const token = match[1];
  const used = token ? await deps.links.useLinkToken(hashLinkToken(token), chat, deps.clock.now()) : undefined;
  if (!used) {
    await deps.telegram.sendMessage(
      chat,
      token
        ? 'This MemberPass link has expired or was already used. Ask for a new one and open it within 15 minutes.'
        : 'To receive your MemberPass access codes here, open the link MemberPass gave you.',
    );
    return 'refused';
  }
  await deps.accounts.setTelegramChat(used.link.projectId, chat);
  if (used.repeated) return 'repeated';
  const project = await deps.accounts.findProject(used.link.projectId);
  logger.info('telegram chat linked', { project_id: used.link.projectId });
  await deps.telegram.sendMessage(chat, `Linked. Access codes for "${project?.name ?? used.link.projectId}" will arrive in this chat.`);
  return 'linked';
};
