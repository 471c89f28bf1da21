import { Logger } from '@aws-lambda-powertools/logger';

/** The service's structured logger (Powertools); level from POWERTOOLS_LOG_LEVEL. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'memberpass-access-codes' });
