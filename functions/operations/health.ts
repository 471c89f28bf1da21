import { defineRoute } from './operation';
import { HealthOutput } from './outputs';

/** `GET /health`: public, for monitoring and the local stack. */
export const healthRoute = defineRoute({
  kind: 'route',
  name: 'health',
  description: 'Whether the service can serve.',
  auth: 'public',
  http: { method: 'GET', path: '/health' },
  // Public and unauthenticated: enough for load balancers and uptime checks, not for a flood.
  throttle: { rateLimit: 5, burstLimit: 10 },
  responses: { 200: { description: 'The table can be read.', body: HealthOutput }, 500: 'error', 503: 'error' },
  needs: { table: 'read' },
  handler: { kind: 'health' },
});
