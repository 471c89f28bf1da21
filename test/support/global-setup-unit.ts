import { quietEnvironment } from './global-setup';

/** The unit tier's setup: the quiet environment, and no DynamoDB Local (so no Java). */
export default async function globalSetupUnit(): Promise<void> {
  quietEnvironment();
}
