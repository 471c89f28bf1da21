import { ResourceNotFoundError } from '../../functions/domain/errors';
import type { AccountStore } from '../../functions/domain/ports';
import type { Tier } from '../../functions/domain/cost';
import type { ApiToken, Plan, Project, Team } from '../../functions/domain/model';
import { InMemoryTelegramLinkStore } from './telegram-link-doubles';

/**
 * The account store in memory, holding to what DynamoAccountStore does: puts replace, a project
 * change on an unknown project is ResourceNotFoundError and creates nothing, a marker is written
 * once under `putMarkerIfAbsent`, tokens are found by hash only. Every value is copied in and
 * out, as a table would. test/adapters/account-store.test.ts runs the same cases over both.
 */
export class InMemoryAccountStore extends InMemoryTelegramLinkStore implements AccountStore {
  private readonly teams = new Map<string, Team>();
  private readonly projects = new Map<string, Project>();
  private readonly plans = new Map<string, Plan>();
  private readonly tokens = new Map<string, ApiToken>();
  private readonly markers = new Map<string, unknown>();
  /** Free allotment used, by `projectId#period` (the redemption store's shards on the table). */
  private readonly allotmentUsed = new Map<string, number>();

  async findTokenByHash(tokenHash: string): Promise<ApiToken | undefined> {
    return copy(this.tokens.get(tokenHash));
  }

  async findTeam(teamId: string): Promise<Team | undefined> {
    return copy(this.teams.get(teamId));
  }

  async findPlan(planId: string): Promise<Plan | undefined> {
    return copy(this.plans.get(planId));
  }

  async findProject(projectId: string): Promise<Project | undefined> {
    return copy(this.projects.get(projectId));
  }

  async freeAllotmentUsed(projectId: string, period: string): Promise<number> {
    return this.allotmentUsed.get(`${projectId}#${period}`) ?? 0;
  }

  /** Records `units` more of a project's free allotment used in `period` (what a free redemption does). */
  useAllotment(projectId: string, period: string, units: number): void {
    const key = `${projectId}#${period}`;
    this.allotmentUsed.set(key, (this.allotmentUsed.get(key) ?? 0) + units);
  }

  async putTeam(team: Team): Promise<void> {
    this.teams.set(team.id, structuredClone(team));
  }

  async putProject(project: Project): Promise<void> {
    this.projects.set(project.id, structuredClone(project));
  }

  async putPlan(plan: Plan): Promise<void> {
    this.plans.set(plan.id, structuredClone(plan));
  }

  async putToken(token: ApiToken, tokenHash: string): Promise<void> {
    this.tokens.set(tokenHash, structuredClone(token));
  }

  async deleteToken(tokenHash: string): Promise<void> {
    this.tokens.delete(tokenHash);
  }

  async setTelegramChat(projectId: string, chatId: string | null): Promise<void> {
    this.project(projectId).telegramChatId = chatId;
  }

  async setTier(projectId: string, tier: Tier, stripeCustomerId?: string | null): Promise<void> {
    const project = this.project(projectId);
    project.tier = structuredClone(tier);
    // As on the table: only a customer id given replaces the one kept.
    if (stripeCustomerId) project.stripeCustomerId = stripeCustomerId;
  }

  async getMarker<T>(name: string): Promise<T | undefined> {
    return copy(this.markers.get(name) as T | undefined);
  }

  async putMarkerIfAbsent<T>(name: string, value: T): Promise<boolean> {
    if (this.markers.has(name)) return false;
    this.markers.set(name, structuredClone(value));
    return true;
  }

  async putMarker<T>(name: string, value: T): Promise<void> {
    this.markers.set(name, structuredClone(value));
  }

  private project(projectId: string): Project {
    const project = this.projects.get(projectId);
    if (!project) throw new ResourceNotFoundError('Project', projectId);
    return project;
  }
}

const copy = <T>(value: T | undefined): T | undefined => (value === undefined ? undefined : structuredClone(value));
