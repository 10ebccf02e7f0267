/**
 * The layering of lambdas/ and lib/, read from the source with the TypeScript parser: the
 * domain and the contract are pure (no SDK, no I/O, no process environment) and each layer
 * imports only the layers below it (rules in test/support/layers.ts). A failure names the
 * file, the line and the import.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkFile, checkTree, formatViolations, layerOf, sourceFacts } from '../support/layers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('layering', () => {
  it('the tree follows the rules', () => {
    const { files, violations } = checkTree(root, ['lambdas', 'lib']);
    // Guards against a walk that silently finds nothing (e.g. after a folder moves).
    expect(files.filter((f) => f.startsWith('lambdas/domain/')).length).toBeGreaterThan(5);
    expect(files.some((f) => f.startsWith('lambdas/contract/'))).toBe(true);
    expect(formatViolations(violations)).toEqual([]);
    // Every folder of lambdas/ is a layer with rules (a new folder must be placed in test/support/layers.ts).
    expect(files.filter((f) => f.startsWith('lambdas/') && layerOf(f) === 'other')).toEqual([]);
  });

  // The checker itself, on made-up files: each rule must be able to fail.
  const check = (file: string, text: string) => formatViolations(checkFile(root, file, sourceFacts(file, text)));

  it('refuses SDKs, Node I/O, unknown packages and process access in the domain', () => {
    const found = check(
      'lambdas/domain/bad.ts',
      [
        "import { S3Client } from '@aws-sdk/client-s3';",
        "import type { Logger } from '@aws-lambda-powertools/logger';",
        "import { readFile } from 'node:fs/promises';",
        "import { spawn } from 'child_process';",
        "import { Stack } from 'aws-cdk-lib';",
        "import pLimit from 'p-limit';",
        'export const table = process.env.LIFEBOAT_TABLE;',
        "export const load = () => import('node:http');",
        "export const get = () => fetch('http://x');",
        "export const zstd = require('zstd-napi');",
      ].join('\n'),
    );
    expect(found).toHaveLength(10);
    expect(found[0]).toBe("lambdas/domain/bad.ts:1 imports '@aws-sdk/client-s3': an AWS SDK client (belongs in lambdas/adapters/); the domain layer is pure");
    expect(found.join('\n')).toMatch(/bad\.ts:6 imports 'p-limit': not a known pure package/);
    expect(found.join('\n')).toMatch(/bad\.ts:7 uses process\.env/);
  });

  it('accepts pure packages and type-only domain imports in the contract, but not values', () => {
    expect(check('lambdas/domain/ok.ts', "import { z } from 'zod';\nimport { DateTime } from 'luxon';\nimport { createHash } from 'node:crypto';")).toEqual([]);
    expect(check('lambdas/contract/ok.ts', "import type { ReportFormat } from '../domain/drill-report.js';")).toEqual([]);
    expect(check('lambdas/contract/ok2.ts', "import { type ReportFormat } from '../domain/drill-report.js';")).toEqual([]);
    expect(check('lambdas/contract/bad.ts', "import { buildDrillReport } from '../domain/drill-report.js';")).toEqual([
      "lambdas/contract/bad.ts:1 imports '../domain/drill-report.js': contract may take only types from the domain (use `import type`)",
    ]);
  });

  it('refuses imports that point up the layers', () => {
    expect(check('lambdas/domain/x.ts', "import { a } from '../adapters/catalog.js';")).toHaveLength(1);
    expect(check('lambdas/adapters/x.ts', "import { a } from '../control/failover.js';")).toHaveLength(1);
    expect(check('lambdas/adapters/stores/x.ts', "export { a } from '../../handlers/runtime.js';")).toHaveLength(1);
    expect(check('lambdas/handlers/x.ts', "import { a } from '../local/local-mode.js';")).toHaveLength(1);
    expect(check('lambdas/engine/x.ts', "import { a } from '../../lib/lifeboat.js';")).toHaveLength(1);
    // Recipes sit on the engine: the engine and the adapters know nothing of them.
    expect(check('lambdas/engine/x.ts', "import { a } from '../recipes/index.js';")).toHaveLength(1);
    expect(check('lambdas/recipes/x.ts', "import { a } from '../agent/checks.js';")).toHaveLength(1);
    expect(check('lambdas/recipes/x.ts', "import { a } from '../engine/snapshot.js';")).toEqual([]);
    expect(check('lambdas/agent/x.ts', "import { a } from '../recipes/index.js';")).toEqual([]);
    // The console sits beside the handlers: over a runtime, below local mode, never reaching into it.
    expect(check('lambdas/console/x.ts', "import { a } from '../local/local-mode.js';")).toHaveLength(1);
    expect(check('lambdas/handlers/x.ts', "import { a } from '../console/server.js';")).toHaveLength(1);
    expect(check('lambdas/console/x.ts', "import type { Runtime } from '../runtime/runtime.js';\nimport { a } from '../control/drills/start.js';")).toEqual([]);
    expect(check('lambdas/local/x.ts', "import { createConsole } from '../console/server.js';")).toEqual([]);
    expect(check('lib/x.ts', "import { a } from '../lambdas/adapters/aws.js';")).toEqual([
      "lib/x.ts:1 imports '../lambdas/adapters/aws.js': lib may import only lib, domain, contract; 'lambdas/adapters/aws.js' is in adapters",
    ]);
    // Downward imports, and anything in bin/ and test/, pass.
    expect(check('lambdas/local/x.ts', "import { a } from '../handlers/runtime.js';\nimport { b } from '../agent/agent.js';")).toEqual([]);
    expect(check('lib/private/x.ts', "import type { P } from '../../lambdas/domain/service-policy.js';\nimport { Stack } from 'aws-cdk-lib';")).toEqual([]);
    expect(check('bin/x.ts', "import { a } from '../lambdas/local/local-mode.js';")).toEqual([]);
  });
});
