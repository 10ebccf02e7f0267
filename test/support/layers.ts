/**
 * Reads the imports of the code base with the TypeScript parser (not regexes) and checks
 * them against the layering rules of docs/ARCHITECTURE.md: the domain and the contract are
 * pure (no SDK, no I/O, no environment), and every layer imports only the layers below it.
 * Used by test/unit/layering.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** One import (static, re-export, dynamic `import()`, `require()` or `import('x')` type). */
export interface ImportRef {
  specifier: string;
  typeOnly: boolean;
  line: number;
}

export interface SourceFacts {
  imports: ImportRef[];
  /** Uses of ambient I/O that need no import: `process.*`, `fetch(…)`. */
  ambientIo: { what: string; line: number }[];
}

export interface Violation {
  file: string;
  line: number;
  problem: string;
}

export function sourceFacts(fileName: string, text: string): SourceFacts {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const imports: ImportRef[] = [];
  const ambientIo: SourceFacts['ambientIo'] = [];
  const lineOf = (node: ts.Node) => sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;

  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const bindings = clause?.namedBindings;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            bindings !== undefined &&
            ts.isNamedImports(bindings) &&
            bindings.elements.length > 0 &&
            bindings.elements.every((e) => e.isTypeOnly)));
      imports.push({ specifier: node.moduleSpecifier.text, typeOnly, line: lineOf(node) });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      imports.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly, line: lineOf(node) });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const expr = node.moduleReference.expression;
      if (ts.isStringLiteral(expr)) imports.push({ specifier: expr.text, typeOnly: node.isTypeOnly, line: lineOf(node) });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      imports.push({ specifier: node.argument.literal.text, typeOnly: true, line: lineOf(node) });
    } else if (ts.isCallExpression(node)) {
      const [arg] = node.arguments;
      const isImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === 'require';
      if ((isImport || isRequire) && arg !== undefined) {
        // A computed specifier cannot be checked, so it is reported as such.
        const specifier = ts.isStringLiteralLike(arg) ? arg.text : `<computed: ${arg.getText(sf)}>`;
        imports.push({ specifier, typeOnly: false, line: lineOf(node) });
      }
      if (ts.isIdentifier(node.expression) && node.expression.text === 'fetch') ambientIo.push({ what: 'fetch()', line: lineOf(node) });
    } else if (ts.isPropertyAccessExpression(node) || ts.isElementAccessExpression(node)) {
      const target = node.expression;
      const isProcess =
        (ts.isIdentifier(target) && target.text === 'process') ||
        (ts.isPropertyAccessExpression(target) &&
          ts.isIdentifier(target.expression) &&
          target.expression.text === 'globalThis' &&
          target.name.text === 'process');
      if (isProcess) ambientIo.push({ what: node.getText(sf), line: lineOf(node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return { imports, ambientIo };
}

/**
 * Packages the pure layers may import: they compute and do no I/O. A package that is not
 * here is refused, so adding one is a decision written down with its reason.
 */
export const PURE_PACKAGES: Record<string, string> = {
  zod: 'validation of plain data',
  luxon: 'calendar arithmetic in time zones',
  'fastest-levenshtein': 'edit distance for did-you-mean suggestions',
  ms: 'parses durations',
  croner: 'computes cron fire times',
  'escape-html': 'string escaping for the HTML report',
  xmlbuilder2: 'builds the JUnit report in memory',
  'node:crypto': 'random ids and hashes, no I/O',
  'node:util': 'formatting helpers',
  'node:path': 'path strings only',
  'node:buffer': 'byte arrays',
  'node:assert': 'invariants',
};

/** Why a package is refused in the pure layers, for the common cases. */
const IMPURE: [RegExp, string][] = [
  [/^@aws-sdk\//, 'an AWS SDK client (belongs in lambdas/adapters/)'],
  [/^@aws-lambda-powertools\//, 'Powertools logging/metrics (belongs in adapters or handlers)'],
  [/^(aws-cdk-lib|constructs|cdk-nag)(\/|$)/, 'CDK (belongs in lib/)'],
  [/^aws-lambda$/, 'Lambda event types (belong in lambdas/handlers/)'],
  [/^(zstd-napi|tar-stream)$/, 'a native/streaming codec (belongs in lambdas/engine/ or adapters)'],
  [
    /^(node:)?(fs|fs\/promises|net|child_process|http|https|http2|dgram|dns|dns\/promises|tls|os|process|worker_threads|cluster|readline|stream|stream\/promises|zlib|module|inspector|v8|vm)$/,
    'Node I/O or process access',
  ],
];

/** The folders of the code base, as layers. */
export type Layer =
  | 'domain'
  | 'contract'
  | 'adapters'
  | 'engine'
  | 'recipes'
  | 'control'
  | 'runtime'
  | 'agent'
  | 'handlers'
  | 'console'
  | 'local'
  | 'lib'
  | 'bin'
  | 'test'
  | 'other';

export function layerOf(repoRelative: string): Layer {
  const parts = repoRelative.split(/[\\/]/);
  if (parts[0] === 'lambdas' && parts.length > 2) {
    const folder = parts[1] as Layer;
    if (['domain', 'contract', 'adapters', 'engine', 'recipes', 'control', 'runtime', 'agent', 'handlers', 'console', 'local'].includes(folder)) return folder;
    return 'other';
  }
  if (parts[0] === 'lib' || parts[0] === 'bin' || parts[0] === 'test') return parts[0];
  return 'other';
}

/**
 * Which layers each layer may import (besides itself). Downward only:
 * domain/contract ← adapters ← engine ← recipes (database engines over the snapshot engine)
 * ← control ← runtime (the composition root) ← agent, handlers, console (the web console,
 * over a runtime) ← local; lib/ (the CDK
 * construct) sees only the pure layers. `contract` may take *types* from the domain (e.g. the
 * report formats a key names); the domain may read contract's plain data.
 */
export const MAY_IMPORT: Record<Exclude<Layer, 'bin' | 'test' | 'other'>, Layer[]> = {
  domain: ['contract'],
  contract: [], // plus type-only imports from domain, checked separately
  adapters: ['domain', 'contract'],
  engine: ['domain', 'contract', 'adapters'],
  recipes: ['domain', 'contract', 'adapters', 'engine'],
  control: ['domain', 'contract', 'adapters', 'engine', 'recipes'],
  runtime: ['domain', 'contract', 'adapters', 'engine', 'recipes', 'control'],
  agent: ['domain', 'contract', 'adapters', 'engine', 'recipes', 'control', 'runtime'],
  handlers: ['domain', 'contract', 'adapters', 'engine', 'recipes', 'control', 'runtime'],
  console: ['domain', 'contract', 'adapters', 'engine', 'recipes', 'control', 'runtime'],
  local: ['domain', 'contract', 'adapters', 'engine', 'recipes', 'control', 'runtime', 'agent', 'handlers', 'console'],
  lib: ['domain', 'contract'],
};

const PURE_LAYERS: Layer[] = ['domain', 'contract'];

function bareName(specifier: string): string {
  if (specifier.startsWith('node:')) return specifier;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** The problems of one file; `file` is relative to `root`, with `/` separators. */
export function checkFile(root: string, file: string, facts: SourceFacts): Violation[] {
  const layer = layerOf(file);
  const out: Violation[] = [];
  if (layer === 'bin' || layer === 'test' || layer === 'other') return out;
  const pure = PURE_LAYERS.includes(layer);

  for (const imp of facts.imports) {
    const { specifier, line } = imp;
    const at = (problem: string) => out.push({ file, line, problem: `imports '${specifier}': ${problem}` });
    if (specifier.startsWith('<computed')) {
      at('a computed module name cannot be checked; import a literal path');
      continue;
    }
    if (specifier.startsWith('.')) {
      const target = relative(root, resolve(root, dirname(file), specifier))
        .split(sep)
        .join('/');
      const to = layerOf(target);
      if (to === layer) continue;
      if (layer === 'contract' && to === 'domain') {
        if (!imp.typeOnly) at('contract may take only types from the domain (use `import type`)');
        continue;
      }
      if (!(MAY_IMPORT[layer] as Layer[]).includes(to)) {
        at(`${layer} may import only ${[layer, ...MAY_IMPORT[layer]].join(', ')}; '${target}' is in ${to}`);
      }
      continue;
    }
    if (!pure) continue;
    const impure = IMPURE.find(([re]) => re.test(specifier));
    if (impure) at(`${impure[1]}; the ${layer} layer is pure`);
    else if (!(bareName(specifier) in PURE_PACKAGES) && !(specifier in PURE_PACKAGES)) {
      at(`not a known pure package; if it does no I/O, add it to PURE_PACKAGES in test/support/layers.ts with the reason`);
    }
  }
  if (pure) {
    for (const io of facts.ambientIo) {
      out.push({ file, line: io.line, problem: `uses ${io.what}: the ${layer} layer does no I/O and reads no environment (take it as a parameter)` });
    }
  }
  return out;
}

/** Every .ts file under the given folders of `root` (relative paths, `/` separators). */
export function sourceFiles(root: string, folders: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
    }
  };
  for (const folder of folders) walk(folder);
  return out.sort();
}

export function checkTree(root: string, folders: string[]): { files: string[]; violations: Violation[] } {
  const files = sourceFiles(root, folders);
  const violations = files.flatMap((file) => checkFile(root, file, sourceFacts(file, readFileSync(join(root, file), 'utf8'))));
  return { files, violations };
}

export function formatViolations(violations: Violation[]): string[] {
  return violations.map((v) => `${v.file}:${v.line} ${v.problem}`);
}
