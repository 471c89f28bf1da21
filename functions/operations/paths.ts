/** Where the protected resource metadata (RFC 9728) of the whole API is served; `<this>/mcp` is the MCP endpoint's. */
export const PROTECTED_RESOURCE_PATH = '/.well-known/oauth-protected-resource';

/** The MCP endpoint's path. */
export const MCP_PATH = '/mcp';

/** The MCP endpoint's protected resource metadata, at RFC 9728's path form (the well-known prefix, then the resource's path). */
export const MCP_PROTECTED_RESOURCE_PATH = `${PROTECTED_RESOURCE_PATH}${MCP_PATH}`;

/** Where the OpenAPI document is served. */
export const OPENAPI_PATH = '/v1/openapi.json';
