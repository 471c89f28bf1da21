import { jsonResponse, withHttpMiddleware } from './http-api';

/** `GET /health`: liveness for the local stack and for monitoring; no auth, no I/O. */
export const makeHandler = () => withHttpMiddleware(async () => jsonResponse(200, { data: { status: 'ok' } }));
