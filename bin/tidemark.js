#!/usr/bin/env node
// Entry point of the `tidemark` command; the CLI itself is compiled to dist/ by `npm run build`
// (run automatically by `npm install` / `npm ci` through the `prepare` script).
import { fileURLToPath } from 'node:url';

const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv, fileURLToPath(import.meta.url));
