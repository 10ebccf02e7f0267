#!/usr/bin/env node
// The `lifeboat` executable as npm links it. An installed package runs the bundle that
// `npm pack` built (prepack); a checkout runs the TypeScript source through tsx, so
// `npx lifeboat` works right after `npm ci` and never runs a stale bundle.
import { existsSync } from 'node:fs';

const source = new URL('./lifeboat.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('../dist/lifeboat.mjs', import.meta.url).href);
}
