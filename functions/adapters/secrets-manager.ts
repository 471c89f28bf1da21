import { ConfigurationError } from '../contracts/env';

/**
 * The string value of the Secrets Manager secret `name`, through Powertools Parameters' cache
 * (`maxAge` seconds; `forceFetch` reads afresh). Powertools and the Secrets Manager client load
 * on the first read, so a function that reads no secret, or reads one only on some paths, does
 * not evaluate them at cold start. An empty or binary secret is a ConfigurationError.
 */
export const secretString = async (name: string, options: { maxAge?: number; forceFetch?: boolean } = {}): Promise<string> => {
  const { getSecret } = await import('@aws-lambda-powertools/parameters/secrets');
  const value = await getSecret(name, options);
  if (typeof value !== 'string' || !value) throw new ConfigurationError(`the secret ${name} is empty`);
  return value;
};
