import { consumer, type ConsumerId } from '../../functions/contracts/consumers';
import { LOCAL_SETTINGS } from '../../local/consumers';
import type { Clock, TableStores } from '../../functions/domain/ports';
import { declaredPorts, type ConsumerPorts, type ConsumerQueues, type ConsumerSettings } from '../../functions/handlers/consumer';

/** Some of a consumer's ports, as a test gives them. */
export type SomePorts = Partial<Omit<ConsumerPorts, 'queues' | 'stores' | 'settings' | 'clock'>> & {
  clock: Clock;
  queues?: Partial<ConsumerQueues>;
  stores?: Partial<TableStores>;
  settings?: Partial<ConsumerSettings>;
};

/**
 * The ports of consumer `id` from what a test gives, narrowed as both stacks narrow them
 * (`declaredPorts`): its handler, built on these with its module's `consumerHandler`, is the one
 * Lambda runs, and fails as it is built if it reads a part its catalog entry does not declare.
 */
export const consumerPorts = (id: ConsumerId, ports: SomePorts): ConsumerPorts =>
  declaredPorts(id, consumer(id), {
    ...ports,
    settings: { ...LOCAL_SETTINGS, ...ports.settings },
  } as Partial<ConsumerPorts>);
