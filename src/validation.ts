/**
 * Argument validation at the public edge, done once, before any state changes. Every check
 * throws `TIDEMARK_INVALID_ARGUMENT` naming the argument (`wal.groupCommitBytes`, `put(key)`) and
 * the value it got; size caps throw `TIDEMARK_LIMIT`. Nothing here touches the disk.
 *
 * What a store accepts (docs/ERRORS.md, "What a store accepts"):
 * - a key is a well-formed string (`String.prototype.isWellFormed`: no lone surrogate, which
 *   UTF-8 cannot carry and would silently merge two keys) of at most `MAX_KEY_BYTES` UTF-8 bytes;
 * - a value is a `Uint8Array`, `Buffer` included (kept by reference: do not mutate it after the
 *   call). Other views (`DataView`, `Float64Array`, …), strings and numbers are refused rather
 *   than reinterpreted: a silent conversion is exactly how garbage gets acknowledged;
 * - a put's WAL payload (4 + key bytes + value bytes) is at most `MAX_RECORD_PAYLOAD_BYTES`, the
 *   one cap shared by the simple store, the changelog ring, Ring 1 and the WAL.
 */
import { types } from 'node:util';
import { TidemarkError } from './errors.js';
import {
  MAX_COMMIT_SOURCES,
  MAX_KEY_BYTES,
  MAX_RECORD_PAYLOAD_BYTES,
  MAX_SOURCE_NAME_BYTES,
  PUT_KEY_LENGTH_SIZE,
} from './format/constants.js';

/** Renders a value for an error message: short, and never throws. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return value.length > 40 ? `a string of length ${value.length}` : JSON.stringify(value);
    case 'number':
    case 'boolean':
    case 'undefined':
    case 'bigint':
      return String(value);
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default: {
      if (Array.isArray(value)) return `an array of length ${value.length}`;
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      return typeof name === 'string' && name !== 'Object' ? `a ${name}` : 'an object';
    }
  }
}

/** `TIDEMARK_INVALID_ARGUMENT`: `argument` must be `expected`, got `value`. */
export function invalidArgument(argument: string, value: unknown, expected: string): TidemarkError {
  return new TidemarkError(
    'TIDEMARK_INVALID_ARGUMENT',
    `${argument} must be ${expected}, got ${describeValue(value)}`,
    { argument },
  );
}

/** An integer in `[min, max]` (safe integers only). */
export function checkInteger(argument: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidArgument(argument, value, `an integer in [${min}, ${max}]`);
  }
  return value;
}

/** An optional integer in `[min, max]`: `undefined` gives `fallback`. */
export function integerOption(
  argument: string,
  value: unknown,
  options: { min: number; max: number; fallback: number },
): number {
  return value === undefined ? options.fallback : checkInteger(argument, value, options.min, options.max);
}

/** A finite number in `[min, max]`. */
export function checkNumber(argument: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalidArgument(argument, value, `a finite number in [${min}, ${max}]`);
  }
  return value;
}

/** An optional boolean. */
export function booleanOption(argument: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidArgument(argument, value, 'a boolean');
  return value;
}

/** An optional member of `allowed`. */
export function enumOption<T extends string>(
  argument: string,
  value: unknown,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalidArgument(argument, value, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
  }
  return value as T;
}

/** An optional plain object (an options bag): `undefined` is fine, anything not an object is not. */
export function checkOptionsObject(argument: string, value: unknown): void {
  if (value === undefined) return;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgument(argument, value, 'an options object');
  }
}

/**
 * The `extras` of a checkpoint (connectors, operators, sinks, watermarks): `undefined` (carry the
 * previous ones forward) or a plain object. `null`, an array or a number would otherwise be
 * spread into `{}` and silently clear what the last checkpoint carried.
 */
export function checkCheckpointExtras(argument: string, value: unknown): void {
  if (value === undefined) return;
  if (!isPlainRecord(value)) throw invalidArgument(argument, value, 'an object or undefined');
  const x = value as Record<string, unknown>;
  // The fields whose values the manifest reader checks one by one: a value it would refuse must
  // be refused here, or the checkpoint is published, the WAL behind it truncated, and recovery
  // then skips it as invalid (TIDEMARK_DATA_LOSS). A wrong type must not reach the encoder either
  // (it would fail deep inside as TIDEMARK_BUG).
  checkRecord(`${argument}.operators`, x.operators, types.isUint8Array, 'a Uint8Array');
  checkRecord(
    `${argument}.sinkEpochs`,
    x.sinkEpochs,
    isNonNegativeSafeInteger,
    'a non-negative safe integer',
  );
  checkRecord(`${argument}.sourceWatermarks`, x.sourceWatermarks, Number.isSafeInteger, 'a safe integer');
  for (const field of ['connectors', 'sinkCommitStatuses', 'perCoreWalPositions']) {
    checkRecord(`${argument}.${field}`, x[field], isPlainRecord, 'an object');
  }
}

function isPlainRecord(v: unknown): boolean {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isNonNegativeSafeInteger(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** An optional record of well-formed names (not `__proto__`) to values passing `check`. */
function checkRecord(
  argument: string,
  value: unknown,
  check: (v: unknown) => boolean,
  expected: string,
): void {
  if (value === undefined) return;
  if (!isPlainRecord(value)) throw invalidArgument(argument, value, 'an object or undefined');
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    if (name === '__proto__' || !name.isWellFormed()) {
      throw invalidArgument(argument, name, 'well-formed names other than "__proto__"');
    }
    if (!check(v)) throw invalidArgument(`${argument}[${JSON.stringify(name)}]`, v, expected);
  }
}

/** A non-empty path string without NUL bytes (`''` would silently mean the working directory). */
export function checkPath(argument: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.includes('\0')) {
    throw invalidArgument(argument, value, 'a non-empty path string');
  }
  return value;
}

/**
 * A store key: a well-formed string of at most `MAX_KEY_BYTES` UTF-8 bytes. Returns nothing; the
 * byte length is computed only when the string could be over the cap (a UTF-16 unit is at most 3
 * UTF-8 bytes), so ASCII keys cost one `isWellFormed` scan.
 */
export function checkKey(argument: string, key: unknown): void {
  if (typeof key !== 'string') throw invalidArgument(argument, key, 'a string');
  if (!key.isWellFormed()) {
    throw invalidArgument(argument, key, 'a well-formed string (it holds a lone UTF-16 surrogate)');
  }
  if (key.length * 3 > MAX_KEY_BYTES) {
    const bytes = Buffer.byteLength(key, 'utf8');
    if (bytes > MAX_KEY_BYTES) {
      throw new TidemarkError(
        'TIDEMARK_LIMIT',
        `${argument}: key of ${bytes} bytes is over the cap of ${MAX_KEY_BYTES}`,
        {
          argument,
        },
      );
    }
  }
}

/**
 * A store value: a `Uint8Array` (or `Buffer`) whose put payload, with `key`, fits in
 * `maxPayloadBytes` (default and at most `MAX_RECORD_PAYLOAD_BYTES`). Call after {@link checkKey}.
 */
export function checkValue(
  argument: string,
  key: string,
  value: unknown,
  maxPayloadBytes: number = MAX_RECORD_PAYLOAD_BYTES,
): asserts value is Uint8Array {
  if (!isUint8Array(value)) {
    throw invalidArgument(argument, value, 'a Uint8Array or Buffer (other views and strings are refused)');
  }
  // Cheap bound first: the exact UTF-8 length only when the bound says it could matter.
  if (PUT_KEY_LENGTH_SIZE + key.length * 3 + value.byteLength > maxPayloadBytes) {
    const payload = PUT_KEY_LENGTH_SIZE + Buffer.byteLength(key, 'utf8') + value.byteLength;
    if (payload > maxPayloadBytes) {
      throw new TidemarkError(
        'TIDEMARK_LIMIT',
        `${argument}: a put of ${payload} bytes (4 + key + value) is over the cap of ${maxPayloadBytes}`,
        { argument },
      );
    }
  }
}

/**
 * True for a `Uint8Array` (a `Buffer` included) from any realm. A brand check (the typed array's
 * internal name), not `instanceof`: an object whose prototype chain merely includes
 * `Uint8Array.prototype` passes `instanceof` and then throws a `TypeError` at its first
 * `byteLength`. It costs the same as `instanceof` once optimised (V8 inlines the getter).
 */
export function isUint8Array(value: unknown): value is Uint8Array {
  return types.isUint8Array(value);
}

/** A position (LSN or changelog sequence): a non-negative safe integer. */
export function checkPosition(argument: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(argument, value, 'a non-negative safe integer');
  }
  return value;
}

/**
 * The arguments of `commit(sourceOffsets, watermark)`: a plain object of at most
 * `MAX_COMMIT_SOURCES` well-formed names (≤ `MAX_SOURCE_NAME_BYTES` UTF-8 bytes, not `__proto__`) mapped to
 * non-negative safe integers, and an optional safe-integer watermark (event time, ms).
 */
export function checkCommit(argument: string, sourceOffsets: unknown, watermark: unknown): void {
  if (sourceOffsets === null || typeof sourceOffsets !== 'object' || Array.isArray(sourceOffsets)) {
    throw invalidArgument(`${argument}(sourceOffsets)`, sourceOffsets, 'an object of source name → offset');
  }
  const names = Object.keys(sourceOffsets);
  if (names.length > MAX_COMMIT_SOURCES) {
    throw new TidemarkError(
      'TIDEMARK_LIMIT',
      `${argument}: ${names.length} sources are over the cap of ${MAX_COMMIT_SOURCES}`,
      { argument },
    );
  }
  for (const name of names) {
    // `__proto__` is refused: it survives the call (an own property made by Object.fromEntries or
    // JSON.parse) but not replay, where assigning it to a plain object sets the prototype instead,
    // so its offset would be acknowledged and then silently lost.
    if (name === '__proto__') {
      throw invalidArgument(`${argument}(sourceOffsets)`, name, 'a source name other than "__proto__"');
    }
    if (!name.isWellFormed() || Buffer.byteLength(name, 'utf8') > MAX_SOURCE_NAME_BYTES) {
      throw invalidArgument(
        `${argument}(sourceOffsets)`,
        name,
        `a well-formed source name of at most ${MAX_SOURCE_NAME_BYTES} UTF-8 bytes`,
      );
    }
    checkPosition(
      `${argument}(sourceOffsets[${JSON.stringify(name)}])`,
      (sourceOffsets as Record<string, unknown>)[name],
    );
  }
  if (watermark !== undefined && (typeof watermark !== 'number' || !Number.isSafeInteger(watermark))) {
    throw invalidArgument(
      `${argument}(watermark)`,
      watermark,
      'a safe integer (event time, ms) or undefined',
    );
  }
}

/**
 * A `Directory` (`FsDirectory`, `MemoryDirectory`, a `FaultInjectingDirectory`, or your own):
 * an object with the methods every reader and writer calls. Anything else is
 * `TIDEMARK_INVALID_ARGUMENT` naming `argument`, instead of a `TypeError` deep inside the first
 * read.
 */
export function checkDirectoryArgument(argument: string, value: unknown): void {
  const d = value as Record<string, unknown> | null;
  if (
    d === null ||
    typeof d !== 'object' ||
    typeof d.path !== 'string' ||
    typeof d.subdirectory !== 'function' ||
    typeof d.readFile !== 'function' ||
    typeof d.list !== 'function'
  )
    throw invalidArgument(argument, value, 'a Directory (FsDirectory.open(path), MemoryDirectory, …)');
}

/** A `CheckpointStore` (`FileSystemCheckpointStore`, `ObjectStoreCheckpointStore`, or your own). */
export function checkCheckpointStoreArgument(argument: string, value: unknown): void {
  const s = value as Record<string, unknown> | null;
  if (
    s === null ||
    typeof s !== 'object' ||
    typeof s.list !== 'function' ||
    typeof s.loadManifest !== 'function' ||
    typeof s.readLatestPointer !== 'function'
  )
    throw invalidArgument(
      argument,
      value,
      'a CheckpointStore (FileSystemCheckpointStore, ObjectStoreCheckpointStore)',
    );
}
