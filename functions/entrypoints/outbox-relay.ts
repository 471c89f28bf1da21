import { makeHandler } from '../handlers/stream/outbox-relay';
import { productionRelayDeps } from '../wiring';

/** Lambda entry point of the outbox relay (DynamoDB Streams event source on the table). */
export const handler = makeHandler(productionRelayDeps());
