import { makeHandler } from '../handlers/http/health';

/** Lambda entry point of `GET /health`. */
export const handler = makeHandler();
