import { DynamoAccountStore } from './adapters/dynamodb/account-store';
import { makeDocumentClient } from './adapters/dynamodb/client';
import { TableEnv, parseEnv } from './config';
import { systemClock, type AccountStore, type Clock } from './domain/ports';

/** What the HTTP handlers need, in production and in the local stack alike. */
export interface ApiDeps {
  accounts: AccountStore;
  clock: Clock;
}

let cached: ApiDeps | undefined;

/**
 * The production wiring: configuration parsed and SDK clients built once per cold start.
 * Entry points call it at module load, so a bad environment fails the init, not a request.
 */
export const productionDeps = (): ApiDeps => {
  if (cached) return cached;
  const env = parseEnv(TableEnv);
  const db = makeDocumentClient();
  cached = { accounts: new DynamoAccountStore(db, env.TABLE_NAME), clock: systemClock };
  return cached;
};
