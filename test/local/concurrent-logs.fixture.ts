/**
 * Run by invocation-logs.test.ts as a child process (tsx), as bin/local.ts runs the stack: the
 * environment first, then the modules that build Powertools' logger, inside the invocation
 * store. Serves two routes whose handlers log, wait until both are in flight, and log again;
 * prints the log lines on stdout.
 */
import type { ApiRoute } from '../../lib/api-routes';
import { runWithConcurrentInvocations } from '../../local/lambda-context';

process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
await runWithConcurrentInvocations(async () => {
  const { jsonResponse, withHttpMiddleware } = await import('../../functions/handlers/http/http-api');
  const { logger } = await import('../../functions/observability');
  const { startHttpServer } = await import('../../local/http-server');
  let arrived = 0;
  let open!: () => void;
  const bothInFlight = new Promise<void>((resolve) => (open = resolve));
  const handler = (name: string) =>
    withHttpMiddleware(async () => {
      logger.info('step', { who: name, step: 'before' });
      if (++arrived === 2) open();
      await bothInFlight;
      logger.info('step', { who: name, step: 'after' });
      return jsonResponse(200, { data: { name } });
    });
  const route = (id: string): ApiRoute => ({ id, operation: id, method: 'GET', path: `/${id.toLowerCase()}`, entry: 'unused', auth: 'public', tableAccess: 'none', needs: {}, queue: false });
  const server = await startHttpServer([route('First'), route('Second')], { First: handler('First'), Second: handler('Second') });
  const answers = await Promise.all([fetch(`${server.url}/first`), fetch(`${server.url}/second`)]);
  await server.close();
  console.log(JSON.stringify({ statuses: answers.map((answer) => answer.status) }));
});
