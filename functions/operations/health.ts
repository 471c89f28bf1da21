import { makeHandler } from '../handlers/http/health';
import { defineRoute } from './operation';

/** `GET /health`: public, for monitoring and the local stack. */
export const healthRoute = defineRoute({
  kind: 'route',
  name: 'health',
  description: 'Whether the service can serve.',
  auth: 'public',
  http: { method: 'GET', path: '/health' },
  needs: { table: 'read' },
  makeHandler: (deps) => makeHandler(deps),
});
