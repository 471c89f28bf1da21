import * as v from 'valibot';

/** Environment every Lambda that touches the table needs. */
export const TableEnv = v.object({
  TABLE_NAME: v.pipe(v.string(), v.minLength(1)),
});

/** Thrown at cold start when the environment is incomplete; names every bad variable. */
export class ConfigurationError extends Error {}

/** Parses environment variables once, failing fast with every missing or bad variable named. */
export const parseEnv = <S extends v.GenericSchema>(schema: S, env: NodeJS.ProcessEnv = process.env): v.InferOutput<S> => {
  const result = v.safeParse(schema, env);
  if (result.success) return result.output;
  const problems = result.issues.map((issue) => `${v.getDotPath(issue) ?? '?'}: ${issue.message}`);
  throw new ConfigurationError(`Invalid configuration: ${problems.join('; ')}`);
};
