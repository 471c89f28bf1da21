import type { Ability } from '../domain/abilities';
import { hashApiToken } from '../domain/api-tokens';
import { AuthenticationRequiredError, TokenMissingAbilityError } from '../domain/errors';
import type { Principal } from '../domain/model';
import type { AccountReader } from '../domain/ports';

/**
 * Resolves a bearer token to the principal it acts for.
 * 1. No token → AUTHENTICATION_REQUIRED.
 * 2. Unknown token → AUTHENTICATION_REQUIRED (indistinguishable from 1).
 * 3. None of `anyOf` abilities → TOKEN_MISSING_ABILITY naming the first of them.
 */
export const authenticate = async (
  deps: { accounts: AccountReader },
  bearerToken: string | undefined,
  anyOf: readonly Ability[],
): Promise<Principal> => {
  if (!bearerToken) throw new AuthenticationRequiredError();
  const token = await deps.accounts.findTokenByHash(hashApiToken(bearerToken));
  if (!token) throw new AuthenticationRequiredError();
  if (!anyOf.some((ability) => token.abilities.includes(ability))) {
    throw new TokenMissingAbilityError(anyOf[0] ?? 'unknown');
  }
  return { tokenId: token.id, teamId: token.teamId, abilities: token.abilities };
};
