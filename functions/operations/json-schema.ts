import { toJsonSchema } from '@valibot/to-json-schema';
import type * as v from 'valibot';

/**
 * The JSON Schema (2020-12, the dialect of MCP and of OpenAPI 3.1) of a valibot schema, for the
 * OpenAPI document and the MCP tools alike. Rules across fields (partialCheck), calendar checks
 * and transformations (trim) have no JSON Schema: they are skipped ('ignore') and still enforced
 * when a call is validated. `$schema` is dropped: both embed bare schemas in their own documents.
 */
export const jsonSchemaOf = (schema: v.GenericSchema): Record<string, unknown> => {
  const { $schema: _dropped, ...rest } = toJsonSchema(schema, { errorMode: 'ignore', target: 'draft-2020-12' }) as Record<string, unknown>;
  return rest;
};
