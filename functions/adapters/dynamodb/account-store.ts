import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { Ability } from '../../domain/abilities';
import type { Tier } from '../../domain/cost';
import { ResourceNotFoundError } from '../../domain/errors';
import type { ApiToken, Plan, Project, Team } from '../../domain/model';
import type { AccountStore, LinkTokenUse, TelegramLinkStore, TelegramLinkToken } from '../../domain/ports';
import { ALLOTMENT_SHARDS, allotmentKeys, indexKeys, keys } from '../../contracts/table';

type Item = Record<string, unknown>;

const tierToItem = (tier: Tier) => ({
  free_allotment: tier.freeAllotment,
  unit_price_minor: tier.unitPriceMinor,
  currency: tier.currency,
});

const tierFromItem = (item: Item): Tier => ({
  freeAllotment: item.free_allotment as number,
  unitPriceMinor: item.unit_price_minor as number,
  currency: item.currency as string,
});

/** Accounts (teams, projects, plans, tokens, usage counters) in the service's DynamoDB table. */
export class DynamoAccountStore implements AccountStore, TelegramLinkStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  private async get(key: Item): Promise<Item | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: key }));
    return Item;
  }

  private async put(item: Item): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.tableName, Item: item }));
  }

  async findTokenByHash(tokenHash: string): Promise<ApiToken | undefined> {
    const item = await this.get(keys.token(tokenHash));
    if (!item) return undefined;
    return {
      id: item.token_id as string,
      teamId: item.team_id as string,
      name: item.name as string,
      abilities: item.abilities as Ability[],
      createdAt: item.created_at as string,
    };
  }

  async findTeam(teamId: string): Promise<Team | undefined> {
    const item = await this.get(keys.team(teamId));
    if (!item) return undefined;
    return { id: item.team_id as string, name: item.name as string, createdAt: item.created_at as string };
  }

  async findPlan(planId: string): Promise<Plan | undefined> {
    const item = await this.get(keys.plan(planId));
    if (!item) return undefined;
    return {
      id: item.plan_id as string,
      projectId: item.project_id as string,
      teamId: item.team_id as string,
      name: item.name as string,
      createdAt: item.created_at as string,
    };
  }

  async findProject(projectId: string): Promise<Project | undefined> {
    const item = await this.get(keys.project(projectId));
    if (!item) return undefined;
    return {
      id: item.project_id as string,
      teamId: item.team_id as string,
      name: item.name as string,
      telegramChatId: (item.telegram_chat_id as string | undefined) ?? null,
      tier: tierFromItem(item),
      stripeCustomerId: (item.stripe_customer_id as string | undefined) ?? null,
      createdAt: item.created_at as string,
    };
  }

  /** Σ (initial − remaining) over the period's allotment shards: one BatchGetItem (ALLOTMENT_SHARDS ≤ 100 keys). */
  async freeAllotmentUsed(projectId: string, period: string): Promise<number> {
    let pending: Item[] = Array.from({ length: ALLOTMENT_SHARDS }, (_, shard) => allotmentKeys.shard(projectId, period, shard));
    let used = 0;
    while (pending.length > 0) {
      const { Responses, UnprocessedKeys } = await this.db.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending } } }));
      for (const item of Responses?.[this.tableName] ?? []) used += (item.initial as number) - (item.remaining as number);
      pending = (UnprocessedKeys?.[this.tableName]?.Keys as Item[] | undefined) ?? [];
    }
    return used;
  }

  async putTeam(team: Team): Promise<void> {
    await this.put({
      ...keys.team(team.id),
      type: 'team',
      team_id: team.id,
      name: team.name,
      created_at: team.createdAt,
    });
  }

  async putProject(project: Project): Promise<void> {
    await this.put({
      ...keys.project(project.id),
      type: 'project',
      ...indexKeys.teamMember(project.teamId, `PROJECT#${project.id}`),
      project_id: project.id,
      team_id: project.teamId,
      name: project.name,
      ...(project.telegramChatId === null ? {} : { telegram_chat_id: project.telegramChatId }),
      ...tierToItem(project.tier),
      ...(project.stripeCustomerId === null ? {} : { stripe_customer_id: project.stripeCustomerId }),
      created_at: project.createdAt,
    });
  }

  async putPlan(plan: Plan): Promise<void> {
    await this.put({
      ...keys.plan(plan.id),
      type: 'plan',
      ...indexKeys.projectPlan(plan.projectId, plan.id),
      plan_id: plan.id,
      project_id: plan.projectId,
      team_id: plan.teamId,
      name: plan.name,
      created_at: plan.createdAt,
    });
  }

  async putToken(token: ApiToken, tokenHash: string): Promise<void> {
    await this.put({
      ...keys.token(tokenHash),
      type: 'token',
      ...indexKeys.teamMember(token.teamId, `TOKEN#${token.id}`),
      token_id: token.id,
      team_id: token.teamId,
      name: token.name,
      abilities: token.abilities,
      created_at: token.createdAt,
    });
  }

  async deleteToken(tokenHash: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: keys.token(tokenHash) }));
  }

  async setTelegramChat(projectId: string, chatId: string | null): Promise<void> {
    await this.updateProject(
      projectId,
      chatId === null
        ? { UpdateExpression: 'REMOVE telegram_chat_id' }
        : { UpdateExpression: 'SET telegram_chat_id = :chat', ExpressionAttributeValues: { ':chat': chatId } },
    );
  }

  async setTier(projectId: string, tier: Tier, stripeCustomerId?: string | null): Promise<void> {
    const values: Item = {
      ':allotment': tier.freeAllotment,
      ':price': tier.unitPriceMinor,
      ':currency': tier.currency,
    };
    let expression = 'SET free_allotment = :allotment, unit_price_minor = :price, currency = :currency';
    if (stripeCustomerId) {
      expression += ', stripe_customer_id = :customer';
      values[':customer'] = stripeCustomerId;
    }
    await this.updateProject(projectId, { UpdateExpression: expression, ExpressionAttributeValues: values });
  }

  private async updateProject(
    projectId: string,
    update: { UpdateExpression: string; ExpressionAttributeValues?: Item },
  ): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.project(projectId),
          ConditionExpression: 'attribute_exists(pk)',
          ...update,
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new ResourceNotFoundError('Project', projectId);
      throw error;
    }
  }

  async getMarker<T>(name: string): Promise<T | undefined> {
    const item = await this.get(keys.marker(name));
    return item?.value as T | undefined;
  }

  async putMarkerIfAbsent<T>(name: string, value: T): Promise<boolean> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.marker(name), type: 'marker', value },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async putMarker<T>(name: string, value: T): Promise<void> {
    await this.put({ ...keys.marker(name), type: 'marker', value });
  }

  async putLinkToken(tokenHash: string, link: Omit<TelegramLinkToken, 'usedByChat' | 'confirmedAt'>): Promise<void> {
    await this.put({
      ...keys.telegramLink(tokenHash),
      type: 'telegram_link',
      project_id: link.projectId,
      team_id: link.teamId,
      expires_at: link.expiresAt,
      ttl: Math.ceil(new Date(link.expiresAt).getTime() / 1000) + 86_400,
    });
  }

  async useLinkToken(tokenHash: string, chatId: string, now: Date): Promise<LinkTokenUse> {
    const toLink = (item: Item): TelegramLinkToken => ({
      projectId: item.project_id as string,
      teamId: item.team_id as string,
      expiresAt: item.expires_at as string,
      usedByChat: (item.used_by_chat as string | undefined) ?? null,
      confirmedAt: (item.confirmed_at as string | undefined) ?? null,
    });
    try {
      // Expiry is checked on every use, the first and a retry alike: an old update replayed
      // after the token expired must not link anything again.
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.telegramLink(tokenHash),
          UpdateExpression: 'SET used_by_chat = :chat, used_at = if_not_exists(used_at, :now)',
          ConditionExpression:
            'attribute_exists(pk) AND expires_at > :now AND ' +
            '(attribute_not_exists(used_by_chat) OR (used_by_chat = :chat AND attribute_not_exists(confirmed_at)))',
          ExpressionAttributeValues: { ':chat': chatId, ':now': now.toISOString() },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const old = Attributes ?? {};
      return { outcome: 'usable', link: toLink({ ...old, used_by_chat: chatId }), repeated: old.used_by_chat === chatId };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const item = await this.get(keys.telegramLink(tokenHash));
      return item && item.used_by_chat === chatId && item.confirmed_at !== undefined
        ? { outcome: 'done', link: toLink(item) }
        : { outcome: 'refused' };
    }
  }

  async confirmLinkToken(tokenHash: string, now: Date): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.telegramLink(tokenHash),
        UpdateExpression: 'SET confirmed_at = if_not_exists(confirmed_at, :now)',
        ConditionExpression: 'attribute_exists(used_by_chat)',
        ExpressionAttributeValues: { ':now': now.toISOString() },
      }),
    );
  }
}
