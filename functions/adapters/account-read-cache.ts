import { LRUCache } from 'lru-cache';
import type { AccountReader } from '../domain/ports';

/** How long a warm function may answer each kind of account read from memory (0: never). */
export interface AccountReadTtls {
  tokens: number;
  plans: number;
  projects: number;
}

/**
 * What may be cached, and why. A plan never changes team or project: its read is cached for
 * minutes. A token's revocation takes effect within `tokens` (every route). A project's tier and
 * Stripe customer may be up to `projects` old where only redemption reads them: a redemption
 * priced on a tier changed seconds ago is still one the creator set, and a usage record written
 * `pending` for a customer linked seconds ago is sent by the billing sweep. Routes that must see a
 * change at once (a chat just linked, before generating) read the project uncached.
 */
export const ACCOUNT_READ_TTLS = {
  /** Every route but redemption. */
  api: { tokens: 10_000, plans: 300_000, projects: 0 },
  /** Redemption: the project too, since every redemption of a project reads it. */
  redemption: { tokens: 10_000, plans: 300_000, projects: 10_000 },
} as const satisfies Record<string, AccountReadTtls>;

/** Entries per kind a warm function keeps at most. */
const MAX_ENTRIES = 10_000;

type CachedRead = 'findTokenByHash' | 'findPlan' | 'findProject';

/**
 * `store` with its token, plan and project reads answered from memory for a bounded time. Only
 * what was found is kept (a token created a moment ago works at once); concurrent misses of one
 * key share one read. Every other method goes to the store itself.
 */
export const withAccountReadCache = <T extends AccountReader>(store: T, ttls: AccountReadTtls): T => {
  // Built on first use: lru-cache allocates its `max` slots up front (a few ms each at cold start).
  const cache = <V extends {}>(ttl: number, read: (id: string) => Promise<V | undefined>) => {
    if (ttl <= 0) return undefined;
    let built: LRUCache<string, V> | undefined;
    return { fetch: (id: string) => (built ??= new LRUCache<string, V>({ max: MAX_ENTRIES, ttl, fetchMethod: (key) => read(key) })).fetch(id) };
  };
  const caches: Record<CachedRead, { fetch(id: string): Promise<unknown> } | undefined> = {
    findTokenByHash: cache(ttls.tokens, (hash) => store.findTokenByHash(hash)),
    findPlan: cache(ttls.plans, (id) => store.findPlan(id)),
    findProject: cache(ttls.projects, (id) => store.findProject(id)),
  };
  return new Proxy(store, {
    get(target, property, receiver) {
      const cached = caches[property as CachedRead];
      if (cached) return (id: string) => cached.fetch(id);
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
};
