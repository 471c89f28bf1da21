import type { SynthesizedService } from './synth';

/** A resource of a synthesized template, loosely typed for assertions. */
export interface TemplateResource {
  Type: string;
  Properties: Record<string, any>;
}

/** One IAM policy statement, as synthesized. */
export interface Statement {
  Action: string | string[];
  Resource: unknown;
  Effect: string;
  Condition?: unknown;
}

/** The actions of a statement, always as a list. */
export const actionsOf = (statement: { Action: string | string[] }): string[] => [statement.Action].flat();

/** The logical id inside `{Ref: id}` or `{'Fn::GetAtt': [id, attribute]}`. */
export const logicalIdOf = (ref: unknown, kind: 'Ref' | 'Fn::GetAtt'): string => {
  const value = (ref as Record<string, any>)[kind];
  return kind === 'Ref' ? value : value[0];
};

/**
 * Lookups in the templates of a synthesized service: functions by their id in the stateless
 * stack, the statements of their roles, and references to the stateful stack resolved to what
 * it exports.
 */
export const inspect = (service: SynthesizedService) => {
  const resources: Record<string, TemplateResource> = service.statelessTemplate.toJSON().Resources;
  const stateful = service.statefulTemplate.toJSON();
  const statefulResources: Record<string, TemplateResource> = stateful.Resources;
  const statefulOutputs: Record<string, { Value: unknown; Export?: { Name: string } }> = stateful.Outputs;

  /** Replaces a reference to the stateful stack (weak or strong) by the value it exports. */
  const fromStateful = (value: unknown): unknown => {
    const ref = value as Record<string, any>;
    if (ref?.['Fn::GetStackOutput']) {
      if (ref['Fn::GetStackOutput'].StackName !== service.stateful.stackName) {
        throw new Error(`reference to an unexpected stack: ${JSON.stringify(ref)}`);
      }
      return statefulOutputs[ref['Fn::GetStackOutput'].OutputName]?.Value;
    }
    if (ref?.['Fn::ImportValue']) {
      return Object.values(statefulOutputs).find((o) => o.Export?.Name === ref['Fn::ImportValue'])?.Value;
    }
    return value;
  };

  /** The logical id of the one stateful resource of this type whose id starts with `prefix`. */
  const statefulId = (type: string, prefix = ''): string => {
    const ids = Object.keys(statefulResources).filter((id) => statefulResources[id]!.Type === type && id.startsWith(prefix));
    if (ids.length !== 1) throw new Error(`expected one ${type} ${prefix}, found ${ids.join(', ') || 'none'}`);
    return ids[0]!;
  };

  /** The Lambda function resource of the ServiceFunction registered under `id`. */
  const functionOf = (id: string): { id: string; resource: TemplateResource } => {
    const fn = service.stateless.functions.get(id);
    if (!fn) throw new Error(`no function ${id}`);
    const logicalId = service.stateless.getLogicalId(fn.function.node.defaultChild as never);
    return { id: logicalId, resource: resources[logicalId]! };
  };

  /** Every statement of every inline policy attached to the role with this logical id. */
  const statementsOfRole = (roleId: string): Statement[] =>
    Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((role: unknown) => logicalIdOf(role, 'Ref') === roleId))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement);

  /** Every statement of every inline policy attached to the role of function `id`. */
  const statementsOf = (id: string): Statement[] =>
    statementsOfRole(logicalIdOf(functionOf(id).resource.Properties.Role, 'Fn::GetAtt'));

  /** The event source mappings of function `id`. */
  const eventSourcesOf = (id: string): TemplateResource[] => {
    const fnId = functionOf(id).id;
    return Object.values(resources).filter(
      (r) => r.Type === 'AWS::Lambda::EventSourceMapping' && logicalIdOf(r.Properties.FunctionName, 'Ref') === fnId,
    );
  };

  return {
    resources,
    statefulResources,
    fromStateful,
    statefulId,
    functionOf,
    statementsOf,
    statementsOfRole,
    eventSourcesOf,
  };
};
