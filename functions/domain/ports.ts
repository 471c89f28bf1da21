import type { Tier } from './cost';
import type { EventEnvelope } from '../contracts/events';
import type { PipelineMessage } from '../contracts/queue-messages';
import type { ApiToken, Plan, Project, Team } from './model';

/** Reads of the account data (teams, projects, plans, tokens, usage) the API needs. */
export interface AccountReader {
  findTokenByHash(tokenHash: string): Promise<ApiToken | undefined>;
  findPlan(planId: string): Promise<Plan | undefined>;
  findProject(projectId: string): Promise<Project | undefined>;
  /** Redemptions counted for a project in a billing period (`YYYY-MM`); 0 when none. */
  countRedemptions(projectId: string, period: string): Promise<number>;
}

/** Writes of account data, used by the admin CLI. */
export interface AccountWriter {
  findTeam(teamId: string): Promise<Team | undefined>;
  putTeam(team: Team): Promise<void>;
  putProject(project: Project): Promise<void>;
  putPlan(plan: Plan): Promise<void>;
  putToken(token: ApiToken, tokenHash: string): Promise<void>;
  deleteToken(tokenHash: string): Promise<void>;
  setTelegramChat(projectId: string, chatId: string | null): Promise<void>;
  setTier(projectId: string, tier: Tier, stripeCustomerId?: string | null): Promise<void>;
  /** Reads a small named record the admin keeps for itself (e.g. the demo seed). */
  getMarker<T>(name: string): Promise<T | undefined>;
  /** Writes it only when absent; returns false when another writer got there first. */
  putMarkerIfAbsent<T>(name: string, value: T): Promise<boolean>;
  putMarker<T>(name: string, value: T): Promise<void>;
}

/** The account store: what the API reads, what the admin writes, and the chat-link tokens. */
export type AccountStore = AccountReader & AccountWriter & TelegramLinkStore;

/** The current time; a fake one in tests. */
export interface Clock {
  now(): Date;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => new Date() };

/**
 * The creator's Telegram chat, as delivery sees it. Implementations throw
 * `DeliveryRefusedError` for permanent refusals and `DeliveryThrottledError` on 429;
 * any other error is transient.
 */
export interface TelegramSender {
  sendDocument(chatId: string, document: { filename: string; content: string; caption: string }): Promise<void>;
  sendMessage(chatId: string, text: string): Promise<void>;
}

/** A queue of messages of type M (SQS in AWS). At-least-once: every consumer must be idempotent. */
export interface MessageQueue<M> {
  /** Enqueues all messages or throws; `delaySeconds` (0..900) postpones visibility. */
  send(messages: ReadonlyArray<{ body: M; delaySeconds?: number }>): Promise<void>;
}

/** The generation queue. */
export type JobQueue = MessageQueue<PipelineMessage>;

/** Publishes committed events to the event bus (EventBridge in AWS). */
export interface EventPublisher {
  /** Publishes all events or throws; a retry may publish some again, with the same ids. */
  publish(events: ReadonlyArray<EventEnvelope>): Promise<void>;
}

/** A one-time link token waiting for the creator to press Start in Telegram. */
export interface TelegramLinkToken {
  projectId: string;
  teamId: string;
  expiresAt: string;
  /** The chat that used it, once used. */
  usedByChat: string | null;
  /** When the chat was told it is linked; until then a retry of the same update may finish the job. */
  confirmedAt: string | null;
}

/** What trying a link token found. */
export type LinkTokenUse =
  /** This call used it (`repeated: false`), or the same chat used it before and was not yet told (`repeated: true`). */
  | { outcome: 'usable'; link: TelegramLinkToken; repeated: boolean }
  /** The same chat used it and was told: a replay, nothing to do. */
  | { outcome: 'done'; link: TelegramLinkToken }
  /** Unknown, expired, or used by another chat. */
  | { outcome: 'refused' };

/** Storage of one-time Telegram link tokens, by the hash of the token. */
export interface TelegramLinkStore {
  putLinkToken(tokenHash: string, link: Omit<TelegramLinkToken, 'usedByChat' | 'confirmedAt'>): Promise<void>;
  /**
   * Marks an unexpired token used by `chatId`. Usable while unexpired and either unused or used
   * by the same chat without a confirmation yet (the retry of an update whose reply failed);
   * an expired token is never usable, whoever used it.
   */
  useLinkToken(tokenHash: string, chatId: string, now: Date): Promise<LinkTokenUse>;
  /** Records that the chat was told it is linked; later replays of the update change nothing. */
  confirmLinkToken(tokenHash: string, now: Date): Promise<void>;
}
