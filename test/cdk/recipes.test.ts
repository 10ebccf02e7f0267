/**
 * Database recipes through the CDK: protect() takes a typed `recipe`, `database` and
 * `drill.checks`, stores them in the service's policy (the custom resource), and refuses a
 * recipe or check that cannot work at synth time, naming the value and the fix.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { Lifeboat, type ProtectionPolicy, ProtectionPolicyError } from '../../lib/index.js';
import { fargateService, testStack } from '../support/cdk.js';

function protect(patch: Partial<ProtectionPolicy>): Template {
  const stack = testStack();
  new Lifeboat(stack, 'Lifeboat', { dashboard: false }).protect(fargateService(stack).service, {
    name: 'orders',
    dataDirectory: '/var/lib/postgresql/data',
    ...patch,
  });
  return Template.fromStack(stack);
}

function errorOf(patch: Partial<ProtectionPolicy>): Error {
  try {
    protect(patch);
  } catch (err) {
    return err as Error;
  }
  throw new Error('protect() accepted the policy');
}

describe('protect() with a database recipe', () => {
  it('GIVEN recipe postgres with typed checks and no verify command WHEN synthesized THEN the stored policy carries recipe, database and checks', () => {
    const template = protect({
      recipe: 'postgres',
      database: { name: 'orders', user: 'app' },
      drill: { checks: [{ type: 'integrity' }, { type: 'sql', name: 'orders exist', query: 'select count(*) from orders', expect: { atLeast: 1 } }] },
    });
    const [resource] = Object.values(template.findResources('Custom::LifeboatService')) as { Properties: { Policy: unknown } }[];
    // The policy is a JSON string, joined with tokens (table names): look for the literal parts.
    const text = JSON.stringify(resource!.Properties.Policy).replace(/\\"/g, '"');
    expect(text).toContain('"recipe":"postgres"');
    expect(text).toContain('"database":{"name":"orders","user":"app"}');
    expect(text).toContain('"checks":[{"type":"integrity"},{"type":"sql","name":"orders exist","query":"select count(*) from orders","expect":{"atLeast":1}}]');
    expect(text).not.toContain('verifyCommand');
  }, 120_000);

  it.each<[string, Partial<ProtectionPolicy>, RegExp]>([
    ['a misspelt recipe', { recipe: 'postgress' as never }, /recipe is "postgress", which is not a recipe; did you mean "postgres"\?/],
    [
      'a sql check without a recipe',
      { drill: { checks: [{ type: 'sql', query: 'select 1', expect: { rows: 1 } }] } },
      /drill.checks\[0\] is a sql check, but the policy has no recipe.*add "recipe": "postgres"/,
    ],
    [
      'a sql check without an expectation',
      { recipe: 'sqlite', drill: { checks: [{ type: 'sql', query: 'select 1' } as never] } },
      /drill.checks\[0\].expect is missing: a sql check needs an expectation/,
    ],
    [
      'a drill with neither verify command nor checks',
      { recipe: 'postgres', drill: {} },
      /drill.verifyCommand is null; a drill must verify the restored data.*or typed checks/,
    ],
  ])('refuses %s at synth time, naming the value and the fix', (_what, patch, message) => {
    const error = errorOf(patch);
    expect(error).toBeInstanceOf(ProtectionPolicyError);
    expect(error.message).toMatch(/^protect\('orders'\): /);
    expect(error.message).toMatch(message);
  });
});
