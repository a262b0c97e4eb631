/**
 * The package as a user gets it: `npm pack` of a fresh build, installed into a scratch project
 * with `--omit=optional --omit=dev` (so without the native CRC32C module and without the AWS
 * SDK), then used from ESM, from CommonJS and from TypeScript, and linted by publint and
 * @arethetypeswrong/cli. The build goes to a staging directory, never to this checkout's dist/,
 * which other tests running at the same time use.
 *
 * attw runs with `--profile esm-only`: tidemark is an ES module package. attw's "node16 (from
 * CJS)" resolution reports every ESM-only package as "dynamic import only", which predates
 * `require()` of ES modules (Node >= 20.19, our `engines`; TypeScript >= 5.8 with `--module
 * nodenext`); `require('tidemark')` is checked here for real instead, by Node and by tsc on a
 * `.cts` consumer. Its "node10" resolution (no `exports` support) is for tools this package
 * does not target.
 */
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const bin = (name: string) => path.join(repo, 'node_modules', '.bin', name);
const MAX_INSTALLED_BYTES = 5 * 1024 * 1024;

/** The environment of a fresh shell: npm's own `npm_*` variables (set when run by `npm test`) dropped. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { CI: 'true', NO_COLOR: '1' };
  for (const [k, v] of Object.entries(process.env)) {
    if (k.toLowerCase().startsWith('npm_') && k.toLowerCase() !== 'npm_config_registry') continue;
    if (k === 'NODE_OPTIONS' || k === 'TIDEMARK_CRC32C' || k === 'FORCE_COLOR') continue;
    env[k] = v;
  }
  return env;
}

function run(command: string, args: string[], cwd: string, timeout = 180_000): SpawnSyncReturns<string> {
  const r = spawnSync(command, args, {
    cwd,
    env: cleanEnv(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout,
  });
  if (r.error) throw r.error;
  return r;
}

function ok(r: SpawnSyncReturns<string>, what: string): SpawnSyncReturns<string> {
  assert.equal(r.status, 0, `${what} exited ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r;
}

const work = tmpDir('package-shape');
let tarball: string;
let packedFiles: string[];
let project: string;
let installOutput: SpawnSyncReturns<string>;

before(
  () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { files: string[] };
    // Stage what `files` names (plus what npm always ships), building dist/ there.
    const stage = path.join(work, 'stage');
    fs.mkdirSync(stage);
    for (const entry of ['package.json', 'README.md', 'LICENSE', ...pkg.files]) {
      if (entry === 'dist' || !fs.existsSync(path.join(repo, entry))) continue;
      fs.cpSync(path.join(repo, entry), path.join(stage, entry), { recursive: true });
    }
    ok(
      run(
        process.execPath,
        [
          path.join(repo, 'node_modules/typescript/bin/tsc'),
          '-p',
          'tsconfig.json',
          '--outDir',
          path.join(stage, 'dist'),
        ],
        repo,
      ),
      'tsc build',
    );
    const packed = ok(
      run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], stage),
      'npm pack',
    );
    const info = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    tarball = path.join(work, info[0]!.filename);
    packedFiles = info[0]!.files.map((f) => f.path);

    project = path.join(work, 'project');
    fs.mkdirSync(project);
    fs.writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'scratch-consumer', version: '1.0.0', private: true }),
    );
    installOutput = ok(
      run(
        'npm',
        [
          'install',
          '--omit=optional',
          '--omit=dev',
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          '--no-update-notifier',
          tarball,
        ],
        project,
      ),
      'npm install of the tarball',
    );
  },
  { timeout: 300_000 },
);

test('the tarball ships LICENSE, README, bin and dist, and no source map whose sources are not shipped', () => {
  for (const f of [
    'LICENSE',
    'README.md',
    'package.json',
    'bin/tidemark.js',
    'dist/index.js',
    'dist/index.d.ts',
  ])
    assert.ok(packedFiles.includes(f), `${f} is in the tarball`);
  assert.match(fs.readFileSync(path.join(repo, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
  const maps = packedFiles.filter((f) => f.endsWith('.map'));
  for (const map of maps) {
    const { sources } = JSON.parse(
      fs.readFileSync(path.join(project, 'node_modules/tidemark', map), 'utf8'),
    ) as { sources: string[] };
    for (const s of sources) {
      const source = path.posix.normalize(path.posix.join(path.posix.dirname(map), s));
      assert.ok(packedFiles.includes(source), `${map} points at ${source}, which is shipped`);
    }
  }
  for (const f of packedFiles) {
    if (f.endsWith('.js') && f.startsWith('dist/')) {
      const text = fs.readFileSync(path.join(project, 'node_modules/tidemark', f), 'utf8');
      const url = /\/\/# sourceMappingURL=(\S+)/.exec(text)?.[1];
      if (url)
        assert.ok(packedFiles.includes(path.posix.join(path.posix.dirname(f), url)), `${f}'s map ships`);
    }
  }
});

test('installing it without optional and dev dependencies prints no npm warning, pulls no SDK, data set or native module, and stays under 5 MB', () => {
  const warnings = `${installOutput.stdout}\n${installOutput.stderr}`
    .split('\n')
    .filter((l) => /\bwarn|deprecated|ERR!/i.test(l));
  assert.deepEqual(warnings, []);
  const modules = path.join(project, 'node_modules');
  for (const absent of ['@aws-sdk', '@smithy', '@node-rs', 'vega-datasets', 'hyparquet'])
    assert.ok(!fs.existsSync(path.join(modules, absent)), `${absent} is not installed`);
  const du = ok(run('du', ['-sk', modules], project), 'du');
  const bytes = Number(du.stdout.split(/\s/)[0]) * 1024;
  assert.ok(bytes <= MAX_INSTALLED_BYTES, `installed size ${bytes} bytes is over ${MAX_INSTALLED_BYTES}`);
});

test('import("tidemark") writes and recovers keys without the native CRC32C module, warning once, and an s3:// store says how to install the AWS SDK', () => {
  const script = path.join(project, 'esm.mjs');
  fs.writeFileSync(
    script,
    `import { RecoveryManager, S3ObjectStorage, crc32cImplementation } from 'tidemark';
const dir = process.argv[2];
const value = (i) => new Uint8Array(1000).fill(i); // long enough for the native path of CRC32C
{
  const { store, close } = await new RecoveryManager({ dir }).open();
  for (let i = 0; i < 5; i++) store.put('k' + i, value(i));
  await store.flushed(store.commit({ src: 5 }, 0));
  await close();
}
const { store, recovered, close } = await new RecoveryManager({ dir }).open();
const got = [0, 1, 2, 3, 4].map((i) => Buffer.from(store.get('k' + i) ?? []).equals(Buffer.from(value(i))));
await close();
let s3;
try {
  await new S3ObjectStorage({ bucket: 'tidemark-bucket', prefix: 'p', endpoint: 'http://127.0.0.1:9' }).list('');
} catch (err) {
  s3 = { code: err.code, message: err.message };
}
console.log(JSON.stringify({ impl: crc32cImplementation(), got, offsets: recovered.sourceOffsets, s3 }));
`,
  );
  const r = ok(run(process.execPath, [script, path.join(work, 'esm-data')], project), 'ESM consumer');
  const out = JSON.parse(r.stdout) as {
    impl: string;
    got: boolean[];
    offsets: Record<string, number>;
    s3: { code: string; message: string };
  };
  assert.equal(out.impl, 'js');
  assert.deepEqual(out.got, [true, true, true, true, true]);
  assert.deepEqual(out.offsets, { src: 5 });
  assert.equal(out.s3.code, 'TIDEMARK_MISSING_DEPENDENCY');
  assert.match(out.s3.message, /npm install @aws-sdk\/client-s3/);
  assert.equal(r.stderr.match(/TIDEMARK_CRC32C_FALLBACK/g)?.length, 1, r.stderr);
});

test('without the optional peer @opentelemetry/api, enableOpenTelemetryMetrics() says how to install it, and works with a meter provider of its own', () => {
  const script = path.join(project, 'otel.mjs');
  fs.writeFileSync(
    script,
    `import { enableOpenTelemetryMetrics, RecoveryManager } from 'tidemark';
let missing;
try {
  await enableOpenTelemetryMetrics();
} catch (err) {
  missing = { code: err.code, message: err.message };
}
const names = [];
const meterProvider = { getMeter: (name, version) => (names.push(name + '@' + version), {
  createHistogram: (n) => ({ record: (v) => names.push(n) }),
}) };
const otel = await enableOpenTelemetryMetrics({ meterProvider });
const { store, close } = await new RecoveryManager({ dir: process.argv[2] }).open();
await store.flushed(store.put('k', new Uint8Array([1])));
await close();
otel.disable();
console.log(JSON.stringify({ missing, names: [...new Set(names)] }));
`,
  );
  const r = ok(run(process.execPath, [script, path.join(work, 'otel-data')], project), 'OTel consumer');
  const out = JSON.parse(r.stdout) as { missing: { code: string; message: string }; names: string[] };
  assert.equal(out.missing.code, 'TIDEMARK_MISSING_DEPENDENCY');
  assert.match(out.missing.message, /npm install @opentelemetry\/api/);
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string };
  assert.equal(out.names[0], `tidemark@${pkg.version}`);
  assert.ok(out.names.includes('tidemark.wal.fsync.duration'), out.names.join());
  assert.ok(out.names.includes('tidemark.recovery.duration'), out.names.join());
});

test('require("tidemark") works from CommonJS (no top-level await anywhere in the library)', () => {
  const script = path.join(project, 'cjs.cjs');
  fs.writeFileSync(
    script,
    `const tidemark = require('tidemark');
const testing = require('tidemark/testing');
(async () => {
  const { store, close } = await new tidemark.RecoveryManager({ dir: process.argv[2] }).open();
  store.put('a', new Uint8Array([1, 2, 3]));
  await store.flushed(store.commit({}, 0));
  await close();
  const again = await new tidemark.RecoveryManager({ dir: process.argv[2] }).open();
  console.log(JSON.stringify({ a: [...again.store.get('a')], simulatedDisk: typeof testing.SimulatedDisk }));
  await again.close();
})();
`,
  );
  const r = ok(
    run(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', script, path.join(work, 'cjs-data')],
      project,
    ),
    'CommonJS consumer',
  );
  assert.deepEqual(JSON.parse(r.stdout), { a: [1, 2, 3], simulatedDisk: 'function' });
});

test('a TypeScript consumer, ESM and CommonJS, type-checks against the published declarations without the optional packages installed', () => {
  fs.writeFileSync(
    path.join(project, 'consumer.mts'),
    `import { RecoveryManager, type TidemarkErrorCode, isTidemarkError, S3ObjectStorage } from 'tidemark';
import { SimulatedDisk } from 'tidemark/testing';
const code: TidemarkErrorCode = 'TIDEMARK_MISSING_DEPENDENCY';
export async function main(): Promise<Uint8Array | undefined> {
  const { store, close } = await new RecoveryManager({ dir: './data' }).open();
  store.put('k', new Uint8Array(1));
  await store.flushed(store.commit({ src: 1 }, Date.now()));
  const value = store.get('k');
  await close();
  const objects = await new S3ObjectStorage({ bucket: 'tidemark-bucket', prefix: 'p' }).list('').catch((e: unknown) => (isTidemarkError(e, code) ? [] : Promise.reject(e)));
  void objects.length;
  void SimulatedDisk;
  return value;
}
`,
  );
  fs.writeFileSync(
    path.join(project, 'consumer.cts'),
    `import tidemark = require('tidemark');
export const manager: tidemark.RecoveryManager = new tidemark.RecoveryManager({ dir: './data' });
`,
  );
  fs.writeFileSync(
    path.join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        lib: ['ES2023', 'ES2024.SharedMemory', 'ES2024.String'],
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [path.join(repo, 'node_modules/@types')],
      },
      files: ['consumer.mts', 'consumer.cts'],
    }),
  );
  ok(
    run(
      process.execPath,
      [path.join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'],
      project,
    ),
    'tsc --noEmit of the consumer',
  );
});

test('publint finds no problem in the tarball', () => {
  const r = ok(run(process.execPath, [bin('publint'), tarball, '--strict'], work), 'publint');
  assert.match(r.stdout, /All good/);
});

test('@arethetypeswrong/cli (profile esm-only) finds no problem in the tarball', () => {
  ok(
    run(process.execPath, [bin('attw'), tarball, '--profile', 'esm-only', '--no-color', '--no-emoji'], work),
    'attw',
  );
});
