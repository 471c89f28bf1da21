import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ToolOperation } from '../../operations/operation';
import { jsonSchemaOf } from '../../operations/json-schema';

/** The JSON Schema of an operation's input, made from the very valibot schema the HTTP route validates with, so that the two cannot drift. */
export const inputJsonSchema = (operation: ToolOperation<any, any, any>): Tool['inputSchema'] => jsonSchemaOf(operation.input) as Tool['inputSchema'];

/** The JSON Schema of a tool's structured content on success: `{data: <the operation's output>}`, as over HTTP. */
export const outputJsonSchema = (operation: ToolOperation<any, any, any>): NonNullable<Tool['outputSchema']> => ({
  type: 'object',
  properties: { data: jsonSchemaOf(operation.output) },
  required: ['data'],
});

/** The abilities a tool needs, as a sentence for its description. */
export const abilitiesSentence = (operation: ToolOperation<any, any, any>): string =>
  `Requires a token with ${operation.abilities.length > 1 ? 'one of the abilities' : 'the ability'} ${operation.abilities.join(', ')}.`;

/** An operation as an MCP tool: the catalog's name, description, input and output schemas, and hints. */
export const toolDefinition = (operation: ToolOperation<any, any, any>): Tool => ({
  name: operation.name,
  description: `${operation.description} ${abilitiesSentence(operation)}`,
  inputSchema: inputJsonSchema(operation),
  outputSchema: outputJsonSchema(operation),
  annotations: { ...operation.annotations },
});
