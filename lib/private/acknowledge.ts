/**
 * Acknowledges one cdk-nag finding on one construct, with the reason it is acceptable.
 *
 * Through aws-cdk-lib's own `Validations.acknowledge` (what cdk-nag 3 reads), so the library
 * needs no cdk-nag dependency and users who run cdk-nag see the same clean result as our
 * tests. One call per finding: `AwsSolutions-IAM5[Resource::<Fn.Arn>:*]` acknowledges that
 * resource string only, never the rule as a whole.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/**
 * Acknowledges AwsSolutions-IAM5 for one wildcard resource of `scope`'s policy. The finding
 * id is the resource as cdk-nag prints it: intrinsics flattened to `<LogicalId>` (Ref) and
 * `<LogicalId.Attr>` (GetAtt), joins concatenated — the same flattening cdk-nag applies
 * (`utils/flatten-cfn-reference`), done here on the value we grant so the two cannot differ.
 * (A reference to another stack is resolved to an import only at synth, after this runs:
 * such a resource would be reported unacknowledged, which is the safe side.)
 */
export function acknowledgeWildcardResource(scope: IConstruct, resource: string, reason: string): void {
  acknowledge(scope, `AwsSolutions-IAM5[Resource::${flatten(Stack.of(scope).resolve(resource))}]`, reason);
}

function flatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const o = node as Record<string, unknown>;
  if (Array.isArray(o['Fn::Join'])) {
    const [delimiter, items] = o['Fn::Join'] as [string, unknown[]];
    return items.map(flatten).join(delimiter);
  }
  if (o['Fn::Sub'] !== undefined) return flatten(o['Fn::Sub']);
  if (Array.isArray(o['Fn::GetAtt'])) {
    const [resource, attribute] = o['Fn::GetAtt'] as [unknown, unknown];
    return `<${flatten(resource)}.${flatten(attribute)}>`;
  }
  if (o['Fn::ImportValue'] !== undefined) return flatten(o['Fn::ImportValue']);
  if (o.Ref !== undefined) return `<${flatten(o.Ref)}>`;
  return JSON.stringify(node);
}
