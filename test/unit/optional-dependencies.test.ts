/**
 * Optional packages: the native CRC32C module can be absent (`--omit=optional`, a platform
 * without a prebuilt binary) and the AWS SDK and the demo's data set are not installed for every
 * user. These tests run the fallback paths for real, in child processes; the packaged install
 * without them is checked by test/conformance/package-shape.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isTidemarkError } from '../../src/errors.ts';
import { crc32c, crc32cImplementation, crc32cJs } from '../../src/format/crc32c.ts';
import { importOptional } from '../../src/io/optional-dependency.ts';
import { tmpDir } from '../helpers/tmp.ts';

const crcModule = pathToFileURL(fileURLToPath(new URL('../../src/format/crc32c.ts', import.meta.url))).href;

/** Runs `code` (an ES module) under tsx with `env` added; returns status, stdout, stderr. */
function runChild(code: string, env: Record<string, string>) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const probe = `
  import { createRequire } from 'node:module';
  const m = await import(${JSON.stringify(crcModule)});
  const big = Buffer.alloc(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
  const loaded = Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('@node-rs'));
  console.log(JSON.stringify({
    impl: m.crc32cImplementation(),
    check: m.crc32c(Buffer.from('123456789')),
    big: m.crc32c(big),
    bigSeeded: m.crc32c(big, 1000, 900000, 0x12345678),
    loaded,
  }));
`;

test('the native CRC32C is used when it is installed', () => {
  assert.equal(crc32cImplementation(), 'native');
});

test('with TIDEMARK_CRC32C=js the checksums are those of the native module, which is never loaded, and no warning is printed', () => {
  const big = Buffer.alloc(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
  const r = runChild(probe, { TIDEMARK_CRC32C: 'js' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out, {
    impl: 'js',
    check: 0xe3069283,
    big: crc32c(big),
    bigSeeded: crc32c(big, 1000, 900000, 0x12345678),
    loaded: false,
  });
  assert.equal(out.big, crc32cJs(big));
  assert.doesNotMatch(r.stderr, /TIDEMARK_CRC32C_FALLBACK/);
});

test('TIDEMARK_CRC32C=native loads the native module', () => {
  const r = runChild(probe, { TIDEMARK_CRC32C: 'native' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.impl, 'native');
  assert.equal(out.loaded, true);
});

test('a misspelled TIDEMARK_CRC32C is refused at import with TIDEMARK_INVALID_ARGUMENT instead of silently picking one', () => {
  const r = runChild(`await import(${JSON.stringify(crcModule)});`, { TIDEMARK_CRC32C: 'javascript' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /TIDEMARK_INVALID_ARGUMENT/);
  assert.match(r.stderr, /TIDEMARK_CRC32C=javascript/);
});

test('a package that is not installed is TIDEMARK_MISSING_DEPENDENCY naming it and the install command', async () => {
  const name = 'tidemark-no-such-package';
  await assert.rejects(
    importOptional({ name, neededFor: 'this test', load: () => import(name) }),
    (err: unknown) =>
      isTidemarkError(err, 'TIDEMARK_MISSING_DEPENDENCY') &&
      err.message.includes(`npm install ${name}`) &&
      err.message.includes('this test') &&
      (err.cause as { code?: string }).code === 'ERR_MODULE_NOT_FOUND',
  );
});

test('an installed package whose own import is missing is not reported as itself missing', async () => {
  const dir = tmpDir('optional-dep');
  const pkg = path.join(dir, 'node_modules', 'tdm-broken');
  fs.mkdirSync(pkg, { recursive: true });
  fs.writeFileSync(path.join(pkg, 'package.json'), '{"name":"tdm-broken","type":"module","main":"index.js"}');
  fs.writeFileSync(path.join(pkg, 'index.js'), "import 'tdm-absent';\nexport const x = 1;\n");
  fs.writeFileSync(path.join(dir, 'main.mjs'), "export * from 'tdm-broken';\n");
  const main = pathToFileURL(path.join(dir, 'main.mjs')).href;
  await assert.rejects(
    importOptional({ name: 'tdm-broken', neededFor: 'this test', load: () => import(main) }),
    (err: unknown) =>
      !isTidemarkError(err) &&
      (err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' &&
      /tdm-absent/.test((err as Error).message),
  );
});
