/**
 * API Gateway throttling per route. Each route's throttle is a property of its catalog entry
 * (`throttle` in functions/operations/), so a renamed or removed route takes its throttle with
 * it; ROUTE_THROTTLES is that, by route key (`METHOD /path`, as in the HTTP API), and every
 * other route gets DEFAULT_ROUTE_THROTTLE.
 *
 * Rates are steady requests per second, bursts the bucket size; past them API Gateway answers
 * 429 without invoking the function. They sit under the account's regional limit (10 000 rps
 * shared by every API), so that one route cannot starve the others.
 */
import { CATALOG, type RouteThrottle } from '../functions/operations';

export type { RouteThrottle };

/** What a route without a throttle of its own gets (the stage's default route settings). */
export const DEFAULT_ROUTE_THROTTLE: RouteThrottle = { rateLimit: 50, burstLimit: 100 };

/** The catalog's per-route throttles, by route key. */
export const ROUTE_THROTTLES: Readonly<Record<string, RouteThrottle>> = Object.fromEntries(
  CATALOG.flatMap((entry) => (entry.throttle ? [[`${entry.http.method} ${entry.http.path}`, entry.throttle] as const] : [])),
);
