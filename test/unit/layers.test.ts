/**
 * Keeps the layers honest: every module under src/ imports only from its own layer or the ones
 * below it (io → format → wal → changelog → state → checkpoint → recovery → pipeline → cli, with
 * errors/validation/diagnostics under all of them). A module reaching up a layer ties the lower one to
 * everything above it — the WAL would load the Ring 1 runtime, say — and turns the next
 * refactor into a cycle. `src/testing/` (fault injection for tests) sits beside the stack: it
 * may use any layer below cli, and no library layer may import it.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

/** Layers from the bottom up; a module may import from its own rank or lower ones. */
const RANKS: Record<string, number> = {
  errors: 0,
  abort: 0,
  'abort-steps': 0,
  validation: 0,
  diagnostics: 0,
  io: 1,
  format: 2,
  wal: 3,
  changelog: 4,
  state: 5,
  checkpoint: 6,
  recovery: 7,
  pipeline: 8,
  // OpenTelemetry metrics over the tracing channels: an adapter on top, only index.ts imports it.
  metrics: 8,
  cli: 9,
};

/** The root `index.ts` re-exports every layer (the package's entry point). */
const ENTRY = 'index';
/** Beside the stack: may import anything below cli; nothing in the library may import it. */
const TESTING = 'testing';

/**
 * Leaf modules filed under a layer but ranked at the bottom: they import nothing from src/ but
 * errors.ts, itself import-free (the test checks it), so any layer may use them without pulling in the rest of their folder. The
 * format's size caps are also the caps on arguments (`validation.ts` refuses a key the format
 * could not frame), and CRC32C is also the checksum S3 requests carry (`io/s3-object-storage.ts`).
 */
const LEAVES: Record<string, string> = {
  'format/constants.ts': "the format's numbers (record sizes, caps, types)",
  'format/crc32c.ts': 'the CRC32C function',
};

/**
 * Imports allowed to reach up a layer or into the test harness, each with its reason
 * ("from → to"). Keep this short: a new entry needs a reason a reviewer accepts, and the test
 * fails when an entry is no longer needed (so fixed violations do not linger here).
 */
const EXCEPTIONS: Record<string, string> = {
  'cli/demo/supervisor.ts → testing/prng.ts':
    'the demo is a crash harness: its SIGKILL schedule uses the same seeded PRNG as the crash tests, so a seed replays a run exactly',
};

/** The layer a file under src/ belongs to: its top folder, or its name for a top-level file. */
function layerOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length === 1 ? rel[0]!.replace(/\.ts$/, '') : rel[0]!;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/**
 * The relative module specifiers `source` imports or re-exports: static `import … from`,
 * side-effect `import '…'`, `export … from`, and dynamic `import('…')` with a literal.
 * Comments are blanked first so an example in a doc comment is not taken for an import.
 */
export function importSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) found.push(m[1]!);
  return found.filter((s) => s.startsWith('.'));
}

/** Why importing `to` from a module in layer `from` breaks the layering, or undefined when it does not. */
function violation(from: string, to: string): string | undefined {
  if (from === to || from === ENTRY) return undefined;
  if (to === ENTRY) return 'imports the package entry point (import the module itself)';
  if (to === TESTING) return from === TESTING ? undefined : 'library code imports the test harness';
  if (from === TESTING) return to === 'cli' ? 'the test harness imports the CLI' : undefined;
  const a = RANKS[from];
  const b = RANKS[to];
  if (a === undefined) return `unknown layer ${from}: add it to RANKS`;
  if (b === undefined) return `unknown layer ${to}: add it to RANKS`;
  return b > a ? `${from} (layer ${a}) imports ${to} (layer ${b}), a layer above it` : undefined;
}

test('importSpecifiers finds static, type-only, side-effect, re-export and dynamic imports, but not ones in comments', () => {
  const src = [
    "import { a } from './a.js';",
    "import type { B } from '../b/b.js';",
    "import {\n  c,\n  type D,\n} from '../c.js';",
    "import './side.js';",
    "export { e } from './e.js';",
    "export * from '../f/index.js';",
    "const g = await import('./g.js');",
    "import * as path from 'node:path';",
    "// import { h } from './h.js';",
    "/** see `import { i } from './i.js'` */",
  ].join('\n');
  assert.deepEqual(importSpecifiers(src).sort(), [
    '../b/b.js',
    '../c.js',
    '../f/index.js',
    './a.js',
    './e.js',
    './g.js',
    './side.js',
  ]);
});

test('no module under src/ imports from a layer above its own', () => {
  const problems: string[] = [];
  const used = new Set<string>();
  for (const file of sourceFiles(SRC)) {
    const from = layerOf(file);
    for (const spec of importSpecifiers(fs.readFileSync(file, 'utf8'))) {
      const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
      if (!target.startsWith(SRC + path.sep)) {
        problems.push(`${path.relative(SRC, file)}: imports ${spec}, outside src/`);
        continue;
      }
      const rel = path.relative(SRC, target).split(path.sep).join('/');
      if (rel in LEAVES) continue;
      const to = layerOf(target);
      const why = violation(from, to);
      if (why === undefined) continue;
      const key = `${path.relative(SRC, file).split(path.sep).join('/')} → ${rel}`;
      if (key in EXCEPTIONS) {
        used.add(key);
        continue;
      }
      problems.push(`${key}: ${why}`);
    }
  }
  // errors.ts imports nothing either, so a leaf may throw TidemarkError and stay a leaf.
  assert.deepEqual(importSpecifiers(fs.readFileSync(path.join(SRC, 'errors.ts'), 'utf8')), []);
  for (const leaf of Object.keys(LEAVES)) {
    const specs = importSpecifiers(fs.readFileSync(path.join(SRC, leaf), 'utf8')).filter(
      (spec) => path.join(SRC, path.dirname(leaf), spec) !== path.join(SRC, 'errors.js'),
    );
    if (specs.length > 0) problems.push(`${leaf}: ranked as a leaf but imports ${specs.join(', ')}`);
  }
  for (const key of Object.keys(EXCEPTIONS))
    if (!used.has(key)) problems.push(`${key}: listed as an exception but no longer imported; remove it`);
  assert.deepEqual(problems, [], `layering violations:\n${problems.join('\n')}`);
});

test('index.ts files under src/ only re-export (no code hides in an entry point)', () => {
  const problems: string[] = [];
  for (const file of sourceFiles(SRC).filter((f) => path.basename(f) === 'index.ts')) {
    const code = fs
      .readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '')
      .replace(/export\s+(?:type\s+)?(?:\*|\{[^}]*\})\s+from\s+'[^']+';/g, '')
      .trim();
    if (code !== '') problems.push(`${path.relative(SRC, file)}: ${code.slice(0, 80)}`);
  }
  assert.deepEqual(problems, []);
});
