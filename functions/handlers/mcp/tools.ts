import { toJsonSchema } from '@valibot/to-json-schema';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ToolOperation } from '../../operations/operation';

/**
 * The JSON Schema of an operation's input, made from the very valibot schema the HTTP route
 * validates with, so that the two cannot drift. Rules across fields (partialCheck) and
 * transformations (trim) have no JSON Schema: they are skipped ('ignore') and still enforced
 * when the call is validated. `$schema` is dropped: MCP's inputSchema is a bare object schema.
 */
export const inputJsonSchema = (operation: ToolOperation<any, any, any>): Tool['inputSchema'] => {
  const { $schema: _dropped, ...schema } = toJsonSchema(operation.input, { errorMode: 'ignore' }) as Record<string, unknown>;
  return schema as Tool['inputSchema'];
};

/** The abilities a tool needs, as a sentence for its description. */
export const abilitiesSentence = (operation: ToolOperation<any, any, any>): string =>
  `Requires a token with ${operation.abilities.length > 1 ? 'one of the abilities' : 'the ability'} ${operation.abilities.join(', ')}.`;

/** An operation as an MCP tool: the catalog's name, description, input schema and hints. */
export const toolDefinition = (operation: ToolOperation<any, any, any>): Tool => {
  const annotations: Record<string, boolean> = operation.annotations as unknown as Record<string, boolean>;
  return {
    name: operation.name,
    description: `${operation.description} ${abilitiesSentence(operation)}`,
    inputSchema: inputJsonSchema(operation),
    annotations: {
      readOnlyHint: operation.annotations.readOnlyHint,
      idempotentHint: operation.annotations.idempotentHint,
      // No tool of the catalog deletes or overwrites anything unless it says so.
      destructiveHint: annotations.destructiveHint ?? false,
      // Every tool acts on this service's own records, not on an open world.
      openWorldHint: annotations.openWorldHint ?? false,
    },
  };
};
