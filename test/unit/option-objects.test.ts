/**
 * Keeps argument lists short: a function with four or more positional parameters (or a call that
 * passes `undefined` to skip to a later one) invites arguments swapped without a type error —
 * two adjacent numbers, two booleans, two callbacks. New code takes an options object. The few
 * that stay positional are listed below, by name, each with its reason.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');
const MAX_POSITIONAL = 3;

const FS_CONVENTION = "(buffer, offset, length, position), node:fs's FileHandle.read/write convention";
const HOT_PATH = 'runs once per record or ring entry; an options object would allocate each time';
const RANGE_CHECK = '(argument name, value, min, max): the argument-check convention of src/validation.ts';
/** Owned by the WAL writer, whose file is being split up; to be reshaped there. */
const WAL_WRITER =
  'write-ahead-log internals (being split into smaller files); to be reshaped with that split';

/** Functions allowed four or more positional parameters, keyed `Class.method` or `function`. */
const ALLOWED: Record<string, string> = {
  'DirectoryFile.read': FS_CONVENTION,
  'DirectoryFile.write': FS_CONVENTION,
  'FsFile.read': FS_CONVENTION,
  'FsFile.write': FS_CONVENTION,
  'MemoryFile.read': FS_CONVENTION,
  'MemoryFile.write': FS_CONVENTION,
  'FaultFile.read': FS_CONVENTION,
  'FaultFile.write': FS_CONVENTION,
  crc32c: '(data, start, end, seed), the usual CRC signature (zlib.crc32, @node-rs/crc32); per record',
  crc32cJs: '(data, start, end, seed), as crc32c',
  readFrame: `(buf, offset, end, out-info): ${HOT_PATH}`,
  sealFrame: HOT_PATH,
  readBatch: `(buf, offset, end, expected segment + out-info): as readFrame; ${HOT_PATH}`,
  writeBatchRecordHeader: HOT_PATH,
  'SegmentFraming.read': `(buf, offset, end, out-unit): as readFrame; ${HOT_PATH}`,
  'SegmentFraming.visitRecords': HOT_PATH,
  read: `SegmentFraming.read in wal/segment-framing.ts (object-literal implementations); ${HOT_PATH}`,
  visitRecords: `SegmentFraming.visitRecords in wal/segment-framing.ts; ${HOT_PATH}`,
  addBorrowed: `(group, buffer, start, end): a byte range as (buffer, start, end); ${HOT_PATH}`,
  decodeText: HOT_PATH,
  'CoreEntryEncoder.set': HOT_PATH,
  'StateChangelogBuffer.publish': `private; ${HOT_PATH}`,
  checkInteger: RANGE_CHECK,
  checkNumber: RANGE_CHECK,
  enumOption: '(argument name, value, allowed values, fallback), as integerOption',
  checkRecord: '(argument name, value, item check, limit), private to src/validation.ts',
  checkValue: '(argument name, key, value, limit), as the other argument checks',
  encodeStateFileChunks: '(kind, count, entries) plus an optional chunk size no caller passes',
  'PerCoreCheckpointCoordinator.constructor':
    'private, called once from open(); four arguments of distinct types',
  'S3ObjectStorage.request': 'private retry wrapper; arguments of distinct types',
  'S3ObjectStorage.translate': 'private error translation; arguments of distinct types',
  'S3ObjectStorage.putParts': 'private multipart upload step; arguments of distinct types',
  'FaultInjectingDirectory.attempt': 'private; (fault kind, path, operation, action) of distinct types',
  'SlabArena.append': `(key, keyStart, keyLength, value, valueStart, valueLength): byte ranges as (buffer, start, length); ${HOT_PATH}`,
  'SlabStore.write': `private; (key bytes, key length, value, value start, value length): byte ranges; ${HOT_PATH}`,
  'TreeCursor.seek': `(root, key bytes, key length, strict): ${HOT_PATH}`,
  compareBytes: `(bytes, start, length, other): a byte range as (buffer, start, length); ${HOT_PATH}`,
  hasPrefix: `(bytes, start, length, prefix): as compareBytes; ${HOT_PATH}`,
  'SlabTree.childIndex': `private; (page, base, key bytes, key length); ${HOT_PATH}`,
  'SlabTree.leafSearch': `private; as childIndex; ${HOT_PATH}`,
  'SlabTree.writeInternal': 'private page writer; (page, base, children, separators), checked by an assert',
  'WriteAheadLog.constructor': WAL_WRITER,
  positiveInt: WAL_WRITER,
};

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** `Class.method`, `Class.constructor` or the function's name; undefined for anonymous functions. */
function nameOf(node: ts.SignatureDeclarationBase): string | undefined {
  const own = ts.isConstructorDeclaration(node) ? 'constructor' : node.name?.getText();
  const parent = node.parent;
  const owner =
    parent && (ts.isClassLike(parent) || ts.isInterfaceDeclaration(parent))
      ? parent.name?.getText()
      : undefined;
  if (own === undefined) {
    // An arrow function or function expression assigned to a name takes that name.
    if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText();
    return undefined;
  }
  return owner ? `${owner}.${own}` : own;
}

interface Finding {
  where: string;
  name: string;
  what: string;
}

function scan(file: string): Finding[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: Finding[] = [];
  const where = (n: ts.Node) =>
    `${path.relative(SRC, file)}:${source.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
  const visit = (n: ts.Node): void => {
    if (ts.isFunctionLike(n) && n.parameters.length > MAX_POSITIONAL && !ts.isIndexSignatureDeclaration(n)) {
      const name = nameOf(n) ?? '<anonymous>';
      out.push({ where: where(n), name, what: `${n.parameters.length} positional parameters` });
    }
    if ((ts.isCallExpression(n) || ts.isNewExpression(n)) && n.arguments) {
      const args = n.arguments;
      for (let i = 0; i < args.length - 1; i++) {
        const a = args[i]!;
        if (ts.isIdentifier(a) && a.text === 'undefined') {
          out.push({
            where: where(n),
            name: '<call>',
            what: `\`undefined\` placeholder: ${n.getText().slice(0, 60)}`,
          });
          break;
        }
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(source);
  return out;
}

test('no function under src/ takes four or more positional parameters, and no call skips one with undefined (except the listed ones)', () => {
  const problems: string[] = [];
  const used = new Set<string>();
  for (const file of sourceFiles(SRC)) {
    for (const f of scan(file)) {
      if (f.name in ALLOWED) {
        used.add(f.name);
        continue;
      }
      problems.push(`${f.where} ${f.name}: ${f.what} (take an options object)`);
    }
  }
  for (const name of Object.keys(ALLOWED))
    if (!used.has(name)) problems.push(`${name}: allowed but no longer found; remove it from the list`);
  assert.deepEqual(problems, []);
});

test('the scan sees methods, constructors, arrow functions, callback types and undefined placeholders', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-option-objects-')), 'probe.ts');
  try {
    fs.writeFileSync(
      file,
      [
        'class K { constructor(a: 1, b: 2, c: 3, d: 4) {} m(a: 1, b: 2, c: 3, d: 4) {} }',
        'const f = (a: 1, b: 2, c: 3, d: 4) => {};',
        'type V = (a: 1, b: 2, c: 3, d: 4) => void;',
        'function g(a: 1, b: 2, c: 3) {}',
        'g(1, undefined, 3);',
        'g(1, 2, undefined);',
      ].join('\n'),
    );
    const found = scan(file).map((x) => `${x.name}: ${x.what.split(':')[0]}`);
    assert.deepEqual(found, [
      'K.constructor: 4 positional parameters',
      'K.m: 4 positional parameters',
      'f: 4 positional parameters',
      '<anonymous>: 4 positional parameters',
      '<call>: `undefined` placeholder',
    ]);
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
});
