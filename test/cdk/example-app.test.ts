/**
 * The example app as `cdk synth` builds it — real esbuild bundling, cdk-nag plugins, the
 * feature flags of cdk.json — synthesized once for this file, with no AWS credentials and
 * no Docker.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { createExampleApp } from '../../bin/example-stack.js';
import { HANDLERS } from '../../lib/private/handlers.js';
import { FEATURE_FLAGS } from '../support/cdk.js';

let app: App;
let assembly: CloudAssembly;

// Bounded by the cdk project's hookTimeout (vitest.config.ts): bundling is slow on a loaded machine.
beforeAll(() => {
  // No credentials and no Docker: nothing here may need either.
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE']) delete process.env[k];
  app = createExampleApp({ context: FEATURE_FLAGS });
  // The cdk-nag plugins run here too: an unacknowledged finding would throw.
  assembly = app.synth();
});

describe('the example app', () => {
  it('GIVEN the example stack WHEN synthesized THEN it has the VPC, the cluster, the protected service and Lifeboat', () => {
    const template = Template.fromJSON(assembly.getStackByName('LifeboatExample').template);
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::ECS::Cluster', 1);
    template.resourceCountIs('AWS::ECS::Service', 1);
    template.resourceCountIs('AWS::Lambda::Function', HANDLERS.length);
    template.resourceCountIs('Custom::LifeboatService', 1);
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(30 3 * * ? *)', ScheduleExpressionTimezone: 'Europe/Paris' });
    template.hasOutput('LifeboatTable', {});
    template.hasOutput('LifeboatBucket', {});
  });

  it.each([
    ['AwsSolutions', () => new AwsSolutionsChecks()],
    ['Serverless', () => new ServerlessChecks()],
  ] as const)('GIVEN the %s pack WHEN it reviews the app THEN every finding is acknowledged', (_pack, pack) => {
    const report = pack().validateScope(app);
    const findings = report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`));
    expect(findings).toEqual([]);
  });

  it('GIVEN the functions WHEN bundled with the local esbuild THEN each is one ESM file without the native zstd module', () => {
    const stack = assembly.getStackByName('LifeboatExample');
    const functions = Object.values(stack.template.Resources as Record<string, { Type: string; Properties: { Code: { S3Key: string } } }>).filter(
      (r) => r.Type === 'AWS::Lambda::Function',
    );
    expect(functions).toHaveLength(HANDLERS.length);
    for (const fn of functions) {
      // The code's S3 key is the asset hash; the bundle is staged as asset.<hash>.
      const dir = join(assembly.directory, `asset.${fn.Properties.Code.S3Key.replace(/\.zip$/, '')}`);
      const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
      expect(code.startsWith('import { createRequire as __lifeboatCreateRequire }')).toBe(true);
      expect(code).not.toMatch(/zstd-napi|binding\.node/);
      expect(existsSync(join(dir, 'index.mjs.map'))).toBe(true);
    }
  });

  it('GIVEN no image in the context WHEN synthesized THEN the service runs the example image built from the Dockerfile (arm64, example-kv)', () => {
    const manifest = JSON.parse(readFileSync(join(assembly.directory, 'LifeboatExample.assets.json'), 'utf8')) as {
      dockerImages: Record<string, { source: { directory: string; dockerBuildTarget?: string; platform?: string } }>;
    };
    const images = Object.values(manifest.dockerImages);
    expect(images).toHaveLength(1);
    expect(images[0]!.source).toMatchObject({ dockerBuildTarget: 'example-kv', platform: 'linux/arm64' });
    // The build context is staged without node_modules (.dockerignore): synth stays fast.
    const context = join(assembly.directory, images[0]!.source.directory);
    expect(existsSync(join(context, 'Dockerfile'))).toBe(true);
    expect(existsSync(join(context, 'node_modules'))).toBe(false);
    const dockerfile = readFileSync(join(context, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM \S+ AS lifeboat$/m);
    expect(dockerfile).toMatch(/^FROM lifeboat AS example-kv$/m);
    const template = Template.fromJSON(assembly.getStackByName('LifeboatExample').template);
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [{ Name: 'notes', PortMappings: [{ ContainerPort: 8080 }] }],
    });
  });
});
