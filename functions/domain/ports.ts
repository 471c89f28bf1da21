import type { Tier } from './cost';
import type { EventEnvelope } from '../contracts/events';
import type { PipelineMessage } from '../contracts/queue-messages';
import type { AccessCodeRecord, AccessCodeStatus } from './access-code-record';
import type { CodeGenerator } from './access-codes';
import type { Job, JobFailure } from './jobs';
import type { ApiToken, Plan, Project, Team } from './model';
import type { CodeForRedemption, Redemption, RedemptionIds, Subscription } from './redemption';

/** Reads of the account data (teams, projects, plans, tokens, usage) the API needs. */
export interface AccountReader {
  findTokenByHash(tokenHash: string): Promise<ApiToken | undefined>;
  findPlan(planId: string): Promise<Plan | undefined>;
  findProject(projectId: string): Promise<Project | undefined>;
  /** Units of a project's free allotment used in a billing period (`YYYY-MM`); 0 when none. */
  freeAllotmentUsed(projectId: string, period: string): Promise<number>;
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

/** Whether the service's table can be read right now; the health check's port. */
export interface TableProbe {
  /** Resolves when one read succeeded; rejects on any error, or when `signal` aborts first. */
  check(signal: AbortSignal): Promise<void>;
}

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

/** The Idempotency-Key of a request, scoped to the caller's team. */
export interface IdempotencyClaim {
  teamId: string;
  key: string;
  /** Hash of the request body: the same key with another body is refused. */
  requestHash: string;
  /** The claim is honoured until then. */
  expiresAt: Date;
}

/** What creating a job under an Idempotency-Key found. */
export type CreateJobResult =
  | { outcome: 'created' }
  | { outcome: 'replayed'; jobId: string }
  | { outcome: 'key-reused' };

/** Storage of the job aggregate: its lifecycle, progress counters and delivery lease. */
export interface JobStore {
  /** Writes a new job, atomically with its idempotency claim when there is one. */
  createJob(job: Job, claim?: IdempotencyClaim): Promise<CreateJobResult>;
  /** The job (strongly consistent), or undefined; `countStored` tells its progress while generating. */
  getJob(jobId: string): Promise<Job | undefined>;
  /** queued → processing; a no-op otherwise. */
  markProcessing(jobId: string, now: Date): Promise<void>;
  /** Codes stored so far for a job (strongly consistent). */
  countStored(jobId: string): Promise<number>;
  /**
   * Marks the batch generated and commits its access_code.generated event in one transaction.
   * True for the one caller that did it; false when it was done before or the job ended.
   */
  markGenerated(jobId: string, event: EventEnvelope, now: Date): Promise<boolean>;
  /** Takes the delivery lease of a generated, unfinished job; undefined when someone else holds it. */
  acquireDeliveryLease(jobId: string, owner: string, until: Date, now: Date): Promise<Job | undefined>;
  /** Records delivery progress under the lease; false when the lease was lost. */
  recordDelivered(jobId: string, owner: string, deliveredCount: number, now: Date): Promise<boolean>;
  /** Gives the lease back (so that the next delivery message can take it at once). */
  releaseLease(jobId: string, owner: string): Promise<void>;
  /** processing → completed under the lease. */
  completeJob(jobId: string, owner: string, now: Date): Promise<boolean>;
  /** queued|processing → failed; false when the job had already ended. */
  failJob(jobId: string, failure: JobFailure, now: Date): Promise<boolean>;
  /** Jobs not yet completed or failed, oldest first, up to `limit`. */
  activeJobs(limit: number): Promise<Job[]>;
  /**
   * Notes that the sweeper pushed the job on: the `streak` of pushes without progress and the
   * job's `updatedAt` it saw (progress moves `updatedAt`, a push does not).
   */
  recordRequeue(jobId: string, now: Date, streak: number, seenUpdatedAt: string): Promise<void>;
}

/** What a listing of a plan's codes is restricted to; `asOf` is the instant statuses are judged at. */
export interface CodeFilter {
  jobId?: string;
  status?: AccessCodeStatus;
  asOf: Date;
}

/**
 * Where a listing stopped: which part of the listing (see `statusParts`) and the index position
 * of the last code read in it. Never a code; sealed into an opaque cursor before it leaves.
 */
export interface CodePosition {
  part: number;
  after: string | null;
}

/** A page of codes and where the next one starts (null at the end). */
export interface CodePage {
  codes: AccessCodeRecord[];
  next: CodePosition | null;
}

/** A write rate limit: `take(n)` resolves when n more writes may go. */
export interface Pace {
  take(count: number): Promise<void>;
}

/** Storage of the access codes: generation writes them, listing, redemption and expiry read and move them. */
export interface CodeStore {
  /**
   * Stores one code per slot not yet filled, each unique service-wide (a collision takes the
   * slot's next candidate). Slots filled before (a redelivered chunk, or the same chunk running
   * at once) are left alone and not counted again. `slots` are whole chunks of the job
   * (`chunkSlots`). Returns how many slots this call filled. `pace`, when given, is asked
   * before each code's write.
   */
  storeCodes(job: Job, slots: readonly number[], generate: CodeGenerator, now: Date, pace?: Pace): Promise<number>;
  /** The job's codes in slot order from slot `fromSlot` on (strongly consistent). */
  jobCodes(jobId: string, fromSlot?: number, limit?: number): Promise<Array<{ slot: number; code: string }>>;
  /**
   * A page of a plan's codes, optionally of one job and/or one status as shown at `asOf`
   * (`codeStatusAt`). Every call reads a bounded number of items whatever the filter: the page
   * may be short, with a `next` position, when the bound is reached. Orders:
   * no status: job then slot; `active`: expiry (soonest first, no expiry last) then job, slot;
   * `redeemed`: job then slot; `expired`: codes marked expired (job, slot), then active codes
   * past their expiry (expiry, job, slot). Throws `InvalidCursorError` for a position that does
   * not belong to this filter.
   */
  listCodes(planId: string, filter: CodeFilter, page: { limit: number; after?: CodePosition }): Promise<CodePage>;
  /** One code by its canonical form (strongly consistent), or undefined. */
  getCode(code: string): Promise<AccessCodeRecord | undefined>;
  /**
   * active → expired for a code whose expiry has passed at `now`, in one conditional write that
   * also moves its listing index keys; false when it is not (or no longer) such a code.
   */
  expireCode(code: string, now: Date): Promise<boolean>;
}

/** Seals listing positions into opaque, tamper-evident cursors bound to what they were issued for. */
export interface CursorCodec {
  /** An opaque cursor for `position`, valid only with the same `context`. */
  seal(position: unknown, context: string): Promise<string>;
  /** The position sealed into `cursor` with `context`; undefined for any other string. */
  open(cursor: string, context: string): Promise<unknown>;
}

/** A cursor this listing did not issue (malformed, tampered with, or issued for another listing). */
export class InvalidCursorError extends Error {}

/** What one redemption commit needs: the code as read, who redeems it, the plan and project, and its ids. */
export interface RedemptionRequest {
  code: CodeForRedemption;
  subscriberId: string;
  plan: Pick<Plan, 'id' | 'teamId' | 'projectId'>;
  /** Its tier decides the billing; its Stripe customer (or none) goes on the usage record. */
  project: Pick<Project, 'id' | 'tier' | 'stripeCustomerId'>;
  ids: RedemptionIds;
  /** Read at each attempt: the redemption time is the commit's. */
  clock: Clock;
}

/** What a redemption commit did. */
export type RedemptionCommitResult =
  | { outcome: 'redeemed'; redemption: Redemption; attempts: number }
  /** The code was no longer redeemable at the commit (redeemed or expired meanwhile): read it again. */
  | { outcome: 'code-changed' };

/** Redemptions of access codes and the subscriptions they create (DynamoDB). */
export interface RedemptionStore {
  /** The code as redemption needs it (where it belongs, its state, its redemption), or undefined. */
  findCode(code: string): Promise<CodeForRedemption | undefined>;
  /** True once the code's job stored its whole batch: a code of an unfinished job does not exist yet for anyone. */
  isBatchGenerated(jobId: string): Promise<boolean>;
  /**
   * Redeems the code in one commit, conditioned on the code being active, of the plan's team,
   * and not expired at the commit's time: the code with its redemption and answer, one unit of
   * the period's free allotment or else the usage record, the subscription and the
   * access_code.redeemed event (`redemptionCommit` decides what each holds). Retries AWS's
   * conflicts and throttles itself, within a bounded time.
   */
  redeem(request: RedemptionRequest): Promise<RedemptionCommitResult>;
  getSubscription(subscriptionId: string): Promise<Subscription | undefined>;
}

