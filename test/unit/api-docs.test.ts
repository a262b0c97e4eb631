import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

test('the API reference builds with TypeDoc without a single warning (no undocumented export, broken link or unexported type)', () => {
  // `--emit none` runs conversion and validation (what warns) without writing docs/api/.
  const run = spawnSync(
    process.execPath,
    [path.join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--emit', 'none'],
    { cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } },
  );
  const output = `${run.stdout}${run.stderr}`;
  assert.doesNotMatch(output, /\[warning\]/, output);
  assert.doesNotMatch(output, /\[error\]/, output);
  assert.equal(run.status, 0, output);
});
