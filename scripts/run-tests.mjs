#!/usr/bin/env node
// Runs every test/**/*.test.ts file on node's built-in runner (TypeScript through tsx).
// Node 20's --test does not expand globs itself, so the files are listed here.
//
// Object-store tests (files under test/ whose path contains "s3", "object-store" or "fencing") need a real
// S3-compatible server: unless AWS_ENDPOINT_URL_S3 already names one, this script starts Ceph's
// radosgw on 127.0.0.1 with scripts/radosgw.sh (installing it from Debian when missing) and
// stops it afterwards. If it cannot be started those tests fail, loudly — nothing stands in.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
function find(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return find(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}
const filter = process.argv.slice(2);
const files = find('test')
  .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort();

const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
let rgwDir;
if (files.some((f) => /s3|object-store|fencing/.test(f)) && !env.AWS_ENDPOINT_URL_S3) {
  const port = String(17480 + (process.pid % 500));
  rgwDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-rgw-'));
  const t0 = performance.now();
  const r = spawnSync('bash', [path.join(root, 'scripts/radosgw.sh'), 'start', rgwDir, port], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...env, S3_ACCESS_KEY: 'tidemark', S3_SECRET_KEY: 'tidemark-secret' },
  });
  if (r.status === 0) {
    console.log(
      `# radosgw on 127.0.0.1:${port} (started in ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
    Object.assign(env, {
      AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
      AWS_ACCESS_KEY_ID: 'tidemark',
      AWS_SECRET_ACCESS_KEY: 'tidemark-secret',
      AWS_REGION: 'us-east-1',
    });
  } else {
    console.error('# radosgw could not be started: the object-store tests will fail (see above)');
  }
}
let status = 1;
try {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
    stdio: 'inherit',
    env,
  });
  status = r.status ?? 1;
} finally {
  if (rgwDir)
    spawnSync('bash', [path.join(root, 'scripts/radosgw.sh'), 'stop', rgwDir], { stdio: 'inherit' });
}
process.exit(status);
