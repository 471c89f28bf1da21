import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import * as v from 'valibot';
import { EventBridgePublisher } from '../adapters/eventbridge/event-bridge-publisher';
import { parseEnv } from '../config';
import { makeHandler } from '../handlers/stream/outbox-relay';

/** Environment of the outbox relay: the bus it publishes to (set by the CDK stack). */
const RelayEnv = v.object({ EVENT_BUS_NAME: v.pipe(v.string(), v.minLength(1)) });

const env = parseEnv(RelayEnv);

/** Lambda entry point of the outbox relay (DynamoDB Streams event source on the table). */
export const handler = makeHandler({ publisher: new EventBridgePublisher(new EventBridgeClient({}), env.EVENT_BUS_NAME) });
