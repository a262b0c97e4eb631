#!/usr/bin/env node
// Entry point of the `tidemark` command; the CLI itself is compiled to dist/ by `npm run build`.
// A published package ships dist/. A fresh clone of the repository does not, and the package has
// no `prepare` script (npm 11 warns every consumer about install-time scripts), so the first run
// from a clone builds it here with the clone's own TypeScript (a devDependency).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(new URL('../dist/cli/main.js', import.meta.url))) {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    console.error(
      'tidemark: dist/ is missing and TypeScript is not installed: run npm install, then npm run build',
    );
    process.exit(1);
  }
  console.error('tidemark: building dist/ (first run from a source checkout)…');
  const built = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

// The AWS SDK warns on every run under Node 20 about its own future releases; its versions are pinned.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv, fileURLToPath(import.meta.url));
