import type { Ability } from './abilities';
import type { Tier } from './cost';

/** A customer organisation; tokens act for one team. */
export interface Team {
  id: string;
  name: string;
  createdAt: string;
}

/** A creator's project: the unit of billing and of Telegram delivery. */
export interface Project {
  id: string;
  teamId: string;
  name: string;
  /** The creator's linked Telegram chat, or null while none is linked. */
  telegramChatId: string | null;
  tier: Tier;
  stripeCustomerId: string | null;
  createdAt: string;
}

/** A membership plan that access codes create subscriptions to. */
export interface Plan {
  id: string;
  projectId: string;
  teamId: string;
  name: string;
  createdAt: string;
}

/** A stored API token: only its hash is kept. */
export interface ApiToken {
  id: string;
  teamId: string;
  name: string;
  abilities: Ability[];
  createdAt: string;
}

/** Who is calling: the team a token acts for and what it may do. */
export interface Principal {
  tokenId: string;
  teamId: string;
  abilities: readonly Ability[];
}
