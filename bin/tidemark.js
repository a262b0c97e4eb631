#!/usr/bin/env node
// Entry point of the `tidemark` command; the CLI itself is compiled to dist/ by `npm run build`
// (run automatically by `npm install` / `npm ci` through the `prepare` script).
import { fileURLToPath } from 'node:url';

// The AWS SDK warns on every run under Node 20 about its own future releases; its versions are pinned.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv, fileURLToPath(import.meta.url));
