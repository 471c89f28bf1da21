import { ABILITIES, isAbility, type Ability } from '../domain/abilities';
import { generateApiToken, hashApiToken } from '../domain/api-tokens';
import type { Tier } from '../domain/cost';
import { ResourceNotFoundError, ValidationFailedError, type FieldIssue } from '../domain/errors';
import { newId } from '../domain/ids';
import { isCurrency } from '../domain/money';
import type { AccountStore, BillingStore, Clock } from '../domain/ports';

/** Dependencies of the operator's account administration. */
export interface AdminDeps {
  accounts: AccountStore;
  clock: Clock;
  /** The billing records: `set-tier --stripe-customer` sends a project's pending usage out. */
  billing?: Pick<BillingStore, 'requeuePending'>;
}

/** Largest unit price accepted, in minor units, so that any cost stays an exact integer. */
export const MAX_UNIT_PRICE_MINOR = 10_000_000;

/** Tier input as an operator types it. */
export interface TierInput {
  freeAllotment: number;
  unitPriceMinor: number;
  currency: string;
}

/** Checks a tier; every bad field is named. */
export const validateTier = (input: TierInput): Tier => {
  const issues: FieldIssue[] = [];
  if (!Number.isSafeInteger(input.freeAllotment) || input.freeAllotment < 0) {
    issues.push({ path: 'free_allotment', message: 'free_allotment must be a whole number ≥ 0.' });
  }
  if (!Number.isSafeInteger(input.unitPriceMinor) || input.unitPriceMinor < 0 || input.unitPriceMinor > MAX_UNIT_PRICE_MINOR) {
    issues.push({ path: 'unit_price', message: `unit_price must be a whole number of minor units from 0 to ${MAX_UNIT_PRICE_MINOR}.` });
  }
  const currency = input.currency.toUpperCase();
  if (!isCurrency(currency)) issues.push({ path: 'currency', message: 'currency must be an ISO 4217 code such as USD.' });
  if (issues.length) throw new ValidationFailedError(issues);
  return { freeAllotment: input.freeAllotment, unitPriceMinor: input.unitPriceMinor, currency };
};

const requireName = (field: string, name: string): string => {
  const trimmed = name.trim();
  if (!trimmed || trimmed.length > 200) {
    throw new ValidationFailedError([{ path: field, message: `${field} must be 1 to 200 characters.` }]);
  }
  return trimmed;
};

/** Creates a team. */
export const createTeam = async (deps: AdminDeps, input: { name: string }) => {
  const team = { id: newId('team'), name: requireName('name', input.name), createdAt: deps.clock.now().toISOString() };
  await deps.accounts.putTeam(team);
  return { team_id: team.id, name: team.name };
};

/** Creates a project of a team with its creator tier; the Telegram chat is linked later. */
export const createProject = async (
  deps: AdminDeps,
  input: { teamId: string; name: string; tier: TierInput; stripeCustomerId?: string; telegramChatId?: string },
) => {
  const tier = validateTier(input.tier);
  const name = requireName('name', input.name);
  if (input.telegramChatId !== undefined) validateChatId(input.telegramChatId);
  if (!(await deps.accounts.findTeam(input.teamId))) throw new ResourceNotFoundError('Team', input.teamId);
  const project = {
    id: newId('project'),
    teamId: input.teamId,
    name,
    telegramChatId: input.telegramChatId ?? null,
    tier,
    stripeCustomerId: input.stripeCustomerId ?? null,
    createdAt: deps.clock.now().toISOString(),
  };
  await deps.accounts.putProject(project);
  return { project_id: project.id, team_id: project.teamId, name, tier };
};

/** Creates a plan in a project. */
export const createPlan = async (deps: AdminDeps, input: { projectId: string; name: string }) => {
  const name = requireName('name', input.name);
  const project = await deps.accounts.findProject(input.projectId);
  if (!project) throw new ResourceNotFoundError('Project', input.projectId);
  const plan = { id: newId('plan'), projectId: project.id, teamId: project.teamId, name, createdAt: deps.clock.now().toISOString() };
  await deps.accounts.putPlan(plan);
  return { plan_id: plan.id, project_id: plan.projectId, team_id: plan.teamId, name };
};

/** Parses a comma-separated ability list, refusing unknown abilities. */
export const parseAbilities = (list: string): Ability[] => {
  const names = [...new Set(list.split(',').map((s) => s.trim()).filter(Boolean))];
  const unknown = names.filter((name) => !isAbility(name));
  if (!names.length || unknown.length) {
    throw new ValidationFailedError([
      { path: 'abilities', message: unknown.length ? `Unknown abilities: ${unknown.join(', ')}.` : 'At least one ability is required.' },
    ]);
  }
  return names as Ability[];
};

/** Creates a token for a team; the plaintext is returned once and only its hash is stored. */
export const createToken = async (deps: AdminDeps, input: { teamId: string; abilities: Ability[]; name?: string }) => {
  if (!(await deps.accounts.findTeam(input.teamId))) throw new ResourceNotFoundError('Team', input.teamId);
  const token = generateApiToken();
  const record = {
    id: newId('token'),
    teamId: input.teamId,
    name: input.name?.trim() || 'api token',
    abilities: input.abilities,
    createdAt: deps.clock.now().toISOString(),
  };
  await deps.accounts.putToken(record, hashApiToken(token));
  return { token_id: record.id, team_id: record.teamId, abilities: record.abilities, token };
};

/** Checks a Telegram chat id as an operator types it: an integer, negative for groups and channels. */
export const validateChatId = (chatId: string): string => {
  if (!/^-?[1-9]\d{0,15}$/.test(chatId) || !Number.isSafeInteger(Number(chatId))) {
    throw new ValidationFailedError([{ path: 'chat_id', message: 'chat_id must be a Telegram chat id (an integer, negative for groups).' }]);
  }
  return chatId;
};

/** Links (or, with null, unlinks) the creator's Telegram chat of a project. */
export const linkTelegram = async (deps: AdminDeps, input: { projectId: string; chatId: string | null }) => {
  if (input.chatId !== null) validateChatId(input.chatId);
  await deps.accounts.setTelegramChat(input.projectId, input.chatId);
  return { project_id: input.projectId, telegram_chat_id: input.chatId };
};

/**
 * Replaces a project's creator tier (and optionally its Stripe customer).
 * 1. Store the tier and customer: redemptions from now on are queued for that customer.
 * 2. With a customer, move the usage kept pending to `queued` for it; the billing forwarder
 *    sends each on. A crash between 1 and 2 leaves them pending: the billing sweep queues
 *    those it has not looked at yet, and running the command again moves the rest (each move
 *    is conditional, so nothing is sent twice). Redemptions committed on a read of the project
 *    from before step 1 (a cache of a few seconds) are pending too: the sweep queues them.
 */
export const setTier = async (deps: AdminDeps, input: { projectId: string; tier: TierInput; stripeCustomerId?: string }) => {
  const tier = validateTier(input.tier);
  await deps.accounts.setTier(input.projectId, tier, input.stripeCustomerId);
  const requeued =
    input.stripeCustomerId && deps.billing ? await deps.billing.requeuePending(input.projectId, input.stripeCustomerId, deps.clock.now()) : 0;
  return { project_id: input.projectId, tier, ...(requeued > 0 ? { pending_usage_queued: requeued } : {}) };
};

/** The demo's fixed shape: what `seed-demo` creates. */
export const DEMO = {
  teamName: 'Demo team',
  projectName: 'Demo project',
  planName: 'Premium (demo)',
  tier: { freeAllotment: 10, unitPriceMinor: 3, currency: 'USD' },
  telegramChatId: '100000001',
} as const;

interface DemoMarker {
  team_id: string;
  project_id: string;
  plan_id: string;
  token_id?: string;
  token_hash?: string;
}

/** What `seed-demo` answers. */
export interface DemoSeed {
  team_id: string;
  project_id: string;
  plan_id: string;
  token: string;
  created: boolean;
}

/**
 * Idempotently creates the demo team, project, plan and a token with every ability.
 * 1. Claim the demo's ids with a conditional write (concurrent seeders agree on one set).
 * 2. Create whatever of team, project and plan is missing (a crash halfway is repaired).
 * 3. Reuse `knownToken` if it is still the demo's token; otherwise mint one and retire the old.
 */
export const seedDemo = async (
  deps: AdminDeps,
  options: { knownToken?: string; telegramChatId?: string } = {},
): Promise<DemoSeed> => {
  const now = deps.clock.now().toISOString();
  const proposal: DemoMarker = { team_id: newId('team'), project_id: newId('project'), plan_id: newId('plan') };
  const created = await deps.accounts.putMarkerIfAbsent('demo', proposal);
  const marker = created ? proposal : ((await deps.accounts.getMarker<DemoMarker>('demo')) ?? proposal);

  if (!(await deps.accounts.findTeam(marker.team_id))) {
    await deps.accounts.putTeam({ id: marker.team_id, name: DEMO.teamName, createdAt: now });
  }
  if (!(await deps.accounts.findProject(marker.project_id))) {
    await deps.accounts.putProject({
      id: marker.project_id,
      teamId: marker.team_id,
      name: DEMO.projectName,
      telegramChatId: options.telegramChatId ?? DEMO.telegramChatId,
      tier: { ...DEMO.tier },
      stripeCustomerId: null,
      createdAt: now,
    });
  }
  if (!(await deps.accounts.findPlan(marker.plan_id))) {
    await deps.accounts.putPlan({ id: marker.plan_id, projectId: marker.project_id, teamId: marker.team_id, name: DEMO.planName, createdAt: now });
  }

  const ids = { team_id: marker.team_id, project_id: marker.project_id, plan_id: marker.plan_id };
  if (options.knownToken && marker.token_hash === hashApiToken(options.knownToken)) {
    if (await deps.accounts.findTokenByHash(marker.token_hash)) return { ...ids, token: options.knownToken, created };
  }
  const token = await createToken(deps, {
    teamId: marker.team_id,
    abilities: [...ABILITIES],
    name: 'demo token',
  });
  if (marker.token_hash) await deps.accounts.deleteToken(marker.token_hash);
  await deps.accounts.putMarker('demo', { ...ids, token_id: token.token_id, token_hash: hashApiToken(token.token) });
  return { ...ids, token: token.token, created };
};
