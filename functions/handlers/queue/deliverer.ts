import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { parseDeliverMessage } from '../../contracts/queue-messages';
import { METRIC, countMetric } from '../../observability';
import { deliverJob, deliveryRun, type DeliveryDeps, type DeliveryRun } from '../../use-cases/generation/deliver-job';
import { withObservability } from '../middleware';
import { processSqsRecords } from './sqs-records';
import type { ConsumerHandlerOf, ConsumerPorts } from '../consumer';

/** Counts what one delivery call did, whether it ended or threw part-way. */
const countDelivery = (done: DeliveryRun): void => {
  countMetric(METRIC.messagesDelivered, done.messagesSent);
  countMetric(METRIC.telegramThrottled, done.throttled);
  if (done.completed) countMetric(METRIC.jobsCompleted);
  if (done.failed) countMetric(METRIC.jobsFailed);
};

/**
 * The deliverer Lambda: delivery messages from the delivery queue. Records run one after
 * another, never side by side, so that an invocation sends to one chat at a time at most: the
 * bot's budget (DELIVERER in pipeline-settings) counts on it, whatever the batch size.
 */
export const makeHandler = (deps: DeliveryDeps) =>
  withObservability(
    async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
      processSqsRecords(
        event,
        context,
        parseDeliverMessage,
        async (message) => {
          const done = deliveryRun();
          try {
            await deliverJob(deps, message, { remainingMs: () => context.getRemainingTimeInMillis() }, done);
          } finally {
            countDelivery(done);
          }
        },
        false,
      ),
  );

/** The deliverer's dependencies from the Deliverer consumer's ports (tests run its use case by hand on them). */
export const delivererDeps = (ports: ConsumerPorts): DeliveryDeps => ({
  jobs: ports.stores.jobs,
  codes: ports.stores.codes,
  chats: ports.stores.chats,
  deliveries: ports.queues.delivery,
  telegram: ports.telegram,
  clock: ports.clock,
  messageIntervalMs: ports.messageIntervalMs,
});

/** The Deliverer consumer. */
export const consumerHandler: ConsumerHandlerOf<ReturnType<typeof makeHandler>> = (ports) => makeHandler(delivererDeps(ports));
