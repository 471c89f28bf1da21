/**
 * API Gateway throttling per route, by route key (`METHOD /path`, as in the HTTP API). The
 * stateless stack refuses a key that is no route of the catalog (`checkRouteThrottles`: a renamed
 * or removed route would otherwise lose its throttle silently), and applies each entry to the
 * route with that key when the API has it (a test's reduced route table may not). Every other
 * route gets DEFAULT_ROUTE_THROTTLE.
 *
 * Rates are steady requests per second, bursts the bucket size; past them API Gateway answers
 * 429 without invoking the function. They sit under the account's regional limit (10 000 rps
 * shared by every API), so that one route cannot starve the others.
 */

/** A token bucket: steady rate (requests per second) and burst. */
export interface RouteThrottle {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

/** What a route without an entry in ROUTE_THROTTLES gets (the stage's default route settings). */
export const DEFAULT_ROUTE_THROTTLE: RouteThrottle = { rateLimit: 50, burstLimit: 100 };

/** Per-route throttles, by route key. */
export const ROUTE_THROTTLES: Readonly<Record<string, RouteThrottle>> = {
  // Public and unauthenticated: enough for load balancers and uptime checks, not for a flood.
  'GET /health': { rateLimit: 5, burstLimit: 10 },
  // Telegram sends at most max_connections (40 by default) concurrent updates; a flood of forged
  // updates is refused by the secret token check, but still costs an invocation each.
  'POST /telegram/webhook': { rateLimit: 40, burstLimit: 80 },
  // Each call may queue a 1000-code job: the expensive door, kept narrow.
  'POST /v1/access-codes/bulk-generate': { rateLimit: 5, burstLimit: 10 },
  // Every MCP tool call, bulk generation included, comes through this one route: narrower than
  // the default so that it does not widen the bulk-generate door by much, wide enough for agents
  // polling get_job_status.
  'POST /mcp': { rateLimit: 10, burstLimit: 20 },
  // Subscribers' apps call it; each call is one DynamoDB transaction (and maybe a Stripe event).
  'POST /v1/access-codes/redeem': { rateLimit: 100, burstLimit: 200 },
};

/**
 * Throws when `throttles` names a route key (`METHOD /path`) that none of `routes` has: the
 * throttle of a route that was renamed or removed, which would otherwise be dropped without a word.
 */
export const checkRouteThrottles = (throttles: Readonly<Record<string, RouteThrottle>>, routes: readonly { readonly method: string; readonly path: string }[]): void => {
  const keys = new Set(routes.map((route) => `${route.method} ${route.path}`));
  const stale = Object.keys(throttles).filter((key) => !keys.has(key));
  if (stale.length > 0) {
    throw new Error(`lib/route-throttles.ts throttles ${stale.join(', ')}, which no route of the catalog has: rename the key to the route's new method and path, or remove it.`);
  }
};
