import fc from 'fast-check';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { TOOLS, type ToolOperation } from '../../functions/operations';
import { documentedErrors, envelopeProblem, responseChecker, snapshotDiff, startFuzzApi, tableSnapshot, TOKEN_NAMES, type FuzzApi } from '../support/fuzz-harness';
import { operationInput, resolvePlaceholders } from '../support/fuzz-inputs';

// Property-based fuzzing of every MCP tool, through the official MCP client over Streamable
// HTTP against the local server's /mcp on DynamoDB Local. For any arguments: the call answers
// (no JSON-RPC error, no INTERNAL_ERROR); a success's structured content fits the outputSchema
// tools/list gave (checked by the client itself, and again here with ajv) and its text is the
// same JSON; a tool error carries exactly the documented envelope as text (and no structured
// content, which is the success's shape), with a code the OpenAPI document lists for one of that
// tool's documented statuses; a tool error writes nothing.

/** Runs per tool: bounded so that both fuzz suites stay well under a minute in `npm test`. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 20);
/** More runs for operations with more fields: the chance that a run gets every field right shrinks with each. */
const runsFor = (fields: number) => RUNS + 3 * fields;
/** FUZZ_SEED=<the seed a failure printed> replays that run. */
const SEED = process.env.FUZZ_SEED === undefined ? {} : { seed: Number(process.env.FUZZ_SEED) };

/** One generated call, as fast-check prints it when it fails (placeholders, never secrets). */
interface McpCase {
  tool: string;
  /** Which fuzz token the client authenticates with. */
  token: string;
  arguments: Record<string, unknown>;
}

let fuzz: FuzzApi;
let lastSnapshot: string;
const clients = new Map<string, Client>();
const documented = documentedErrors();
const checker = responseChecker();
/** Tool name → the outputSchema tools/list gave. */
const outputSchemas = new Map<string, object>();
/** Tool → outcome → how many calls (printed with FUZZ_STATS=1). */
const seen = new Map<string, Map<string, number>>();

beforeAll(async () => {
  fuzz = await startFuzzApi();
  // Every token of the fixture connects (the endpoint lets any known token in; each tool checks its abilities).
  for (const name of TOKEN_NAMES) {
    const client = new Client({ name: 'memberpass-fuzz', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${fuzz.api.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${fuzz.values[`token.${name}`]}` } },
      }),
    );
    clients.set(name, client);
  }
  for (const tool of (await clients.get('all')!.listTools()).tools) outputSchemas.set(tool.name, tool.outputSchema!);
  lastSnapshot = await tableSnapshot(fuzz.table);
});
afterAll(async () => {
  if (process.env.FUZZ_STATS) {
    const lines = [...seen].map(([tool, counts]) => `${tool}\n    ${[...counts].map(([key, n]) => `${key}: ${n}`).join(', ')}`);
    console.log(`MCP outcomes per tool:\n${lines.join('\n')}`);
  }
  for (const client of clients.values()) await client.close();
  await fuzz?.stop();
});

/** Calls mostly with the all-abilities token (so the fuzz reaches validation), sometimes with a narrower one. */
const casesFor = (tool: ToolOperation<any, any, any>): fc.Arbitrary<McpCase> =>
  fc.record({
    tool: fc.constant(tool.name),
    token: fc.oneof({ arbitrary: fc.constant('all'), weight: 6 }, { arbitrary: fc.constantFrom(...TOKEN_NAMES), weight: 1 }),
    arguments: operationInput(tool, fuzz.hints),
  });

/** The statuses the OpenAPI document lists for the tool's HTTP route: a tool error's code must belong to one of them. */
const documentedCodesOf = (tool: ToolOperation<any, any, any>): Set<string> => {
  const codes = new Set<string>();
  for (const [status, response] of documented.responsesOf(tool)) {
    if (response.envelope && status < 500) for (const code of documented.codesByStatus.get(status) ?? []) codes.add(code);
  }
  return codes;
};

const checkCall = async (tool: ToolOperation<any, any, any>, testCase: McpCase) => {
  const args = resolvePlaceholders(testCase.arguments, fuzz.values) as Record<string, unknown>;
  const fail = (why: string, result?: unknown) => {
    throw new Error(`MCP tool ${tool.name}: ${why}\n  result: ${JSON.stringify(result)?.slice(0, 500)}`);
  };
  let result: any;
  try {
    result = await clients.get(testCase.token)!.callTool({ name: tool.name, arguments: args });
  } catch (error) {
    fail(`the call failed as a protocol error: ${(error as Error).message}`);
  }
  const snapshot = await tableSnapshot(fuzz.table);
  const before = lastSnapshot;
  lastSnapshot = snapshot;
  const counts = seen.get(tool.name) ?? new Map<string, number>();
  let text: any;
  try {
    text = JSON.parse(result.content?.[0]?.text);
  } catch {
    fail('the text content is not JSON', result);
  }
  const key = result.isError ? String(text?.error?.code) : 'data';
  seen.set(tool.name, counts.set(key, (counts.get(key) ?? 0) + 1));
  if (!result.isError) {
    if (JSON.stringify(text) !== JSON.stringify(result.structuredContent)) fail('the text and the structured content differ', result);
    if (!result.structuredContent || !('data' in result.structuredContent)) fail('a success without {"data": …}', result);
    const problem = checker.toolProblem(outputSchemas.get(tool.name)!, result.structuredContent);
    if (problem) fail(problem, result);
    // The same answer over HTTP would fit the OpenAPI document's schema for the route's success.
    const http = checker.problem(tool, tool.http.successStatus, result.structuredContent);
    if (http) fail(http, result);
    return;
  }
  if (result.structuredContent !== undefined) fail('a tool error with structured content (that is the success’s shape)', result);
  const code = text?.error?.code;
  if (code === 'INTERNAL_ERROR') fail('INTERNAL_ERROR (the MCP face of a 5xx)', result);
  const status = [...documented.codesByStatus].find(([, codes]) => codes.includes(code))?.[0];
  if (status === undefined) fail(`the code ${code} is not documented`, result);
  const problem = envelopeProblem(text, status!, documented) ?? checker.problem(tool, status!, text);
  if (problem) fail(problem, result);
  if (!documentedCodesOf(tool).has(code)) fail(`the code ${code} is not among this tool's documented answers`, result);
  if (snapshot !== before) fail(`a tool error that wrote to the table (${snapshotDiff(before, snapshot)})`, result);
};

describe('fuzzing every MCP tool (fast-check, the official MCP client over Streamable HTTP on DynamoDB Local)', () => {
  test('the fuzzed tools are the catalog\'s tools, and tools/list offers exactly those', async () => {
    expect(TOOLS.length).toBeGreaterThan(0);
    const { tools } = await clients.get('all')!.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(TOOLS.map((tool) => tool.name).sort());
  });

  test.each(TOOLS.map((tool) => [tool.name, tool] as const))(
    '%s: any arguments get an answer, every tool error the documented envelope with a documented code, and a tool error writes nothing',
    async (_name, tool) => {
      await fc.assert(
        fc.asyncProperty(casesFor(tool), (testCase) => checkCall(tool, testCase)),
        { numRuns: runsFor(Object.keys(tool.input.entries).length), ...SEED },
      );
    },
  );
});
