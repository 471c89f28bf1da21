/**
 * The two DynamoDB conditions on a code's `expires_at` (ISO 8601 strings compare in time order),
 * named once so that the sweep, the batch expiry moves and redemption judge expiry alike — the
 * same rule as `codeStatusAt`: a code is expired from its `expires_at` on, swept or not.
 * `placeholder` names the instant's expression value (`:at` unless the caller's expression
 * already uses it); the returned `values` go into ExpressionAttributeValues.
 */

/** "Not expired at t": no expiry (absent or null), or an expiry after t. */
export const notExpiredAt = (at: string, placeholder = ':at') => ({
  condition: `(attribute_not_exists(expires_at) OR attribute_type(expires_at, ${placeholder}NullType) OR expires_at > ${placeholder})`,
  values: { [placeholder]: at, [`${placeholder}NullType`]: 'NULL' } as Record<string, string>,
});

/** "Expired at t": an expiry at or before t (a null or absent expiry never is). */
export const expiredAt = (at: string, placeholder = ':at') => ({
  condition: `expires_at <= ${placeholder}`,
  values: { [placeholder]: at } as Record<string, string>,
});
