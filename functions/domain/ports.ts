import type { Tier } from './cost';
import type { EventEnvelope } from '../contracts/events';
import type { PipelineMessage } from '../contracts/queue-messages';
import type { ApiToken, Plan, Project, Team } from './model';
import type { BillingRecord, Redemption, RedemptionAnswer, Subscription } from './redemption';

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
}

/** Storage of one-time Telegram link tokens, by the hash of the token. */
export interface TelegramLinkStore {
  putLinkToken(tokenHash: string, link: Omit<TelegramLinkToken, 'usedByChat'>): Promise<void>;
  /**
   * Marks an unexpired, unused token used by `chatId`. Returns the token when this call used
   * it, or when the same chat used it before (a repeated update); undefined otherwise.
   */
  useLinkToken(tokenHash: string, chatId: string, now: Date): Promise<{ link: TelegramLinkToken; repeated: boolean } | undefined>;
}

/** A code as redemption first looks it up: enough to find its plan, never its status. */
export interface RedeemableCode {
  code: string;
  planId: string;
  projectId: string;
  teamId: string;
  jobId: string;
}

/** What one redemption commit needs: the code, who redeems it, and the plan and project read for it. */
export interface RedemptionRequest {
  /** Canonical form. */
  code: string;
  subscriberId: string;
  plan: Pick<Plan, 'id' | 'teamId' | 'projectId'>;
  /** Its tier decides the billing; its Stripe customer (or none) goes on the billing record. */
  project: Pick<Project, 'id' | 'tier' | 'stripeCustomerId'>;
  /** Read at each attempt: the redemption time is the commit's. */
  clock: Clock;
}

/** What a redemption commit found. */
export type RedemptionOutcome =
  | { outcome: 'redeemed'; redemption: Redemption; attempts: number }
  /** The same subscriber redeemed this code before: the stored answer. */
  | { outcome: 'replayed'; answer: RedemptionAnswer }
  | { outcome: 'already-redeemed' }
  | { outcome: 'expired' }
  /** Unknown, of another team or plan, or of a job that has not finished generating. */
  | { outcome: 'not-found' };

/** Redemptions of access codes and the subscriptions they create (DynamoDB). */
export interface RedemptionStore {
  /** The code's plan and team, or undefined when there is no such code. */
  findCode(code: string): Promise<RedeemableCode | undefined>;
  /**
   * Redeems the code in one commit: the code, the period's counter (which decides the billing),
   * the subscription, the redemption with its answer, its billing record when billed and its
   * access_code.redeemed event. Retries contention itself, a bounded number of times.
   */
  redeem(request: RedemptionRequest): Promise<RedemptionOutcome>;
  getSubscription(subscriptionId: string): Promise<Subscription | undefined>;
}

/**
 * The billing records of billed redemptions, as the billing consumer and the admin's usage
 * report see them. Every mark is idempotent and conditional: a redemption never committed
 * cannot be marked, and `billed` is final.
 */
export interface BillingRecords {
  isBilled(redemptionId: string): Promise<boolean>;
  markBilled(ref: UsageRef, at: Date): Promise<void>;
  markPending(ref: UsageRef, at: Date): Promise<void>;
  markFailed(ref: UsageRef, reason: string, at: Date): Promise<void>;
  /** The project's records kept pending (no Stripe customer), oldest period first. */
  pendingForProject(projectId: string): Promise<BillingRecord[]>;
  /** A project's billing records of one period. */
  billingRecords(projectId: string, period: string): Promise<BillingRecord[]>;
}

/** Which redemption a billing mark is about (the billing consumer's `UsageRef`). */
export interface UsageRef {
  redemptionId: string;
  projectId: string;
  /** `YYYY-MM`. */
  period: string;
}
