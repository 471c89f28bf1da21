import { ulid } from 'ulid';

/** Prefixes of the service's public identifiers. */
export const ID_PREFIX = {
  team: 'tea',
  project: 'prj',
  plan: 'pln',
  token: 'tok',
  job: 'mjb',
  batch: 'btc',
  event: 'evt',
  subscription: 'sub',
  redemption: 'rdm',
  user: 'usr',
} as const;

/** A new sortable identifier such as `pln_01HX…`. */
export const newId = (kind: keyof typeof ID_PREFIX): string => `${ID_PREFIX[kind]}_${ulid()}`;
