import { ROUTE_THROTTLES } from '../../lib/route-throttles';
import { TOOLS, operationId } from '../../functions/operations';
import { actionsOf, inspect, type Statement } from './inspect';
import { synthService, type SynthesizedService } from './synth';

let service: SynthesizedService;
let view: ReturnType<typeof inspect>;

beforeAll(() => {
  service = synthService({ stage: 'prod' });
  view = inspect(service);
});

/**
 * A function's grants as `action on resource` lines, with what every function has on its own
 * (X-Ray, writing to its own log group) set aside.
 */
const grantsOf = (id: string): Set<string> => {
  const ownLogGroup = new RegExp(`^\\{"Fn::GetAtt":\\["${id}LogGroup[0-9A-F]{8}","Arn"\\]\\}$`);
  return new Set(
    view
      .statementsOf(id)
      .filter((statement: Statement) => !actionsOf(statement).every((action) => action.startsWith('xray:')))
      .flatMap((statement: Statement) =>
        actionsOf(statement).flatMap((action) => [statement.Resource].flat().map((resource) => `${action} on ${JSON.stringify(resource)}`)),
      )
      .filter((grant) => !(/^logs:(CreateLogStream|PutLogEvents) on /.test(grant) && ownLogGroup.test(grant.replace(/^\S+ on /, '')))),
  );
};

const environmentOf = (id: string): Record<string, unknown> => view.functionOf(id).resource.Properties.Environment.Variables;

const routeOf = (routeKey: string) => {
  const matches = Object.values(service.statelessTemplate.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: routeKey } }));
  expect(matches).toHaveLength(1);
  return matches[0]!;
};

describe('the agent interface in the template', () => {
  test('POST /mcp is routed to an Mcp function; GET and DELETE /mcp to functions of their own', () => {
    for (const [routeKey, id] of [
      ['POST /mcp', 'Mcp'],
      ['GET /mcp', 'McpStream'],
      ['DELETE /mcp', 'McpSession'],
    ] as const) {
      const target = routeOf(routeKey).Properties.Target;
      const integration = view.resources[target['Fn::Join'][1][1].Ref as string]!;
      expect(integration.Properties.IntegrationUri).toEqual({ 'Fn::GetAtt': [view.functionOf(id).id, 'Arn'] });
    }
  });

  test("the Mcp function's grants are exactly the union of its tools' grants, nothing more", () => {
    const union = new Set(TOOLS.flatMap((tool) => [...grantsOf(operationId(tool.name))]));
    const mcp = grantsOf('Mcp');
    expect(mcp.size).toBeGreaterThan(0);
    expect([...mcp].sort()).toEqual([...union].sort());
  });

  test("the Mcp function's configuration is the union of its tools' (table, queue, cursor key), nothing more", () => {
    const names = (id: string) => Object.keys(environmentOf(id));
    const union = new Set(TOOLS.flatMap((tool) => names(operationId(tool.name))));
    expect(names('Mcp').sort()).toEqual([...union].sort());
    expect(names('Mcp')).toEqual(expect.arrayContaining(['TABLE_NAME', 'QUEUE_URL', 'CURSOR_KEY_SECRET']));
  });

  test('the OpenAPI document, the resource metadata and the 405s of /mcp are public and may touch nothing', () => {
    for (const [routeKey, id] of [
      ['GET /v1/openapi.json', 'OpenapiDocument'],
      ['GET /.well-known/oauth-protected-resource', 'OauthProtectedResource'],
      ['GET /mcp', 'McpStream'],
      ['DELETE /mcp', 'McpSession'],
    ] as const) {
      const route = routeOf(routeKey);
      expect(route.Properties.AuthorizationType ?? 'NONE').toBe('NONE');
      expect(route.Properties.AuthorizerId).toBeUndefined();
      expect([...grantsOf(id)]).toEqual([]);
      expect(environmentOf(id).TABLE_NAME).toBeUndefined();
    }
  });

  test('POST /mcp has a throttle of its own on the stage', () => {
    expect(ROUTE_THROTTLES['POST /mcp']).toBeDefined();
    const stage = Object.values(service.statelessTemplate.findResources('AWS::ApiGatewayV2::Stage'))[0]!;
    expect(stage.Properties.RouteSettings['POST /mcp']).toMatchObject({
      ThrottlingRateLimit: ROUTE_THROTTLES['POST /mcp']!.rateLimit,
      ThrottlingBurstLimit: ROUTE_THROTTLES['POST /mcp']!.burstLimit,
    });
  });
});
