#!/usr/bin/env node
/**
 * The `lifeboat` executable. A signal aborts the running command, which cleans up (aborts
 * uploads, removes staging directories) and exits 128+signal; a second signal exits at once.
 */
import { runCli } from './cli/program.js';

// The SDK's Node 20 end-of-support notice would otherwise open every command's stderr.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;
const controller = new AbortController();
let received: keyof typeof SIGNAL_EXIT | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (received) process.exit(SIGNAL_EXIT[sig]);
    received = sig;
    process.stderr.write(`lifeboat: ${sig} received, cleaning up (send it again to exit now)\n`);
    controller.abort();
  });
}

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
});
process.exitCode = received && code !== 0 ? SIGNAL_EXIT[received] : code;
