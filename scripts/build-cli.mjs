// Bundles the CLI into dist/lifeboat.mjs (the package's `bin`). Dependencies stay external:
// zstd-napi is native, and the SDK is shared with whatever else the image installs.
import { chmod, cp } from 'node:fs/promises';
import { build } from 'esbuild';

await build({
  entryPoints: ['bin/lifeboat.ts'],
  outfile: 'dist/lifeboat.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
// npm makes a dependency's bin executable when it links it; the repository's own copy is
// run through `npx lifeboat` straight from here, so do it ourselves.
await chmod('dist/lifeboat.mjs', 0o755);
// The web console's page, script and styles are served from files next to the bundle.
await cp('lambdas/console/assets', 'dist/console-assets', { recursive: true });
