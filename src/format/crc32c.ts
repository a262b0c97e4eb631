/**
 * CRC-32C (Castagnoli), as used by RocksDB, LevelDB and ext4. Check value:
 * CRC-32C("123456789") = 0xE3069283.
 *
 * Chosen by measurement (re-measured by `npm run bench`): native code
 * wins on long inputs (@node-rs/crc32, prebuilt N-API with SIMD: ~5.5 GB/s, no compiler needed at
 * install) but its per-call overhead loses on short ones, where a pure-JS slice-by-8 table is
 * faster. So inputs shorter than {@link NATIVE_THRESHOLD_BYTES} use JS, longer ones native.
 * Node's own `zlib.crc32` is CRC-32 (IEEE), a different polynomial, and is not used.
 *
 * The native module is an optional dependency: it is absent after `npm install --omit=optional`
 * and on platforms without a prebuilt binary. Then every input goes to the JS implementation
 * (same results, slower on long inputs) and one `TIDEMARK_CRC32C_FALLBACK` warning is emitted.
 * It is loaded with a synchronous `require()` (no top-level await), so `require('tidemark')`
 * keeps working. `TIDEMARK_CRC32C=js` forces the JS implementation, `=native` refuses to run
 * without the native one; unset or `auto` is the default.
 */
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { TidemarkError } from '../errors.js';

type NativeCrc32c = (input: Buffer, initialState?: number) => number;

/** The `process.emitWarning` code of the one-time "native CRC32C unavailable" diagnostic. */
export const CRC32C_FALLBACK_WARNING = 'TIDEMARK_CRC32C_FALLBACK';

function loadNative(): NativeCrc32c | undefined {
  const mode = process.env.TIDEMARK_CRC32C ?? 'auto';
  if (mode !== 'auto' && mode !== 'js' && mode !== 'native' && mode !== '')
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `TIDEMARK_CRC32C=${mode} is not one of auto, js, native`,
      { argument: 'TIDEMARK_CRC32C' },
    );
  if (mode === 'js') return undefined;
  try {
    const mod = createRequire(import.meta.url)('@node-rs/crc32') as { crc32c?: unknown };
    if (typeof mod.crc32c !== 'function') throw new Error('@node-rs/crc32 exports no crc32c function');
    return mod.crc32c as NativeCrc32c;
  } catch (err) {
    if (mode === 'native')
      throw new TidemarkError(
        'TIDEMARK_MISSING_DEPENDENCY',
        `TIDEMARK_CRC32C=native but the optional dependency @node-rs/crc32 cannot be loaded (${(err as Error).message.split('\n')[0]}): npm install @node-rs/crc32`,
        { cause: err },
      );
    // Once per process: worker threads load this module too and fall back silently.
    if (isMainThread)
      process.emitWarning(
        `@node-rs/crc32 cannot be loaded (${(err as Error).message.split('\n')[0]}); using the pure-JS CRC32C, slower on long records. npm install @node-rs/crc32 (an optional dependency) to restore it, or set TIDEMARK_CRC32C=js to silence this.`,
        { type: 'TidemarkWarning', code: CRC32C_FALLBACK_WARNING },
      );
    return undefined;
  }
}

const nativeCrc32c = loadNative();

/** Which implementation handles inputs of at least {@link NATIVE_THRESHOLD_BYTES}. */
export function crc32cImplementation(): 'native' | 'js' {
  return nativeCrc32c ? 'native' : 'js';
}

/** Inputs at least this long go to the native implementation. */
export const NATIVE_THRESHOLD_BYTES = 256;

const POLY = 0x82f63b78;
const TABLE = new Int32Array(8 * 256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  TABLE[i] = c;
}
for (let i = 0; i < 256; i++) {
  for (let t = 1; t < 8; t++) {
    const prev = TABLE[(t - 1) * 256 + i]!;
    TABLE[t * 256 + i] = (prev >>> 8) ^ TABLE[prev & 0xff]!;
  }
}

/** Pure-JS slice-by-8 CRC-32C of `data[start, end)`, continuing from `seed` (a finished CRC). */
export function crc32cJs(data: Uint8Array, start = 0, end = data.length, seed = 0): number {
  let crc = ~seed;
  let i = start;
  const t = TABLE;
  while (end - i >= 8) {
    const a = crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    crc =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + data[i + 4]!]! ^
      t[512 + data[i + 5]!]! ^
      t[256 + data[i + 6]!]! ^
      t[data[i + 7]!]!;
    i += 8;
  }
  while (i < end) crc = t[(crc ^ data[i++]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

/** CRC-32C of `data[start, end)`, continuing from `seed`; native above the threshold when loaded. */
export function crc32c(data: Uint8Array, start = 0, end = data.length, seed = 0): number {
  if (end - start < NATIVE_THRESHOLD_BYTES || nativeCrc32c === undefined)
    return crc32cJs(data, start, end, seed);
  const view =
    start === 0 && end === data.length && Buffer.isBuffer(data)
      ? data
      : Buffer.from(data.buffer, data.byteOffset + start, end - start);
  return nativeCrc32c(view, seed) >>> 0;
}

/** LevelDB's mask delta: masked = rotateRight(crc, 15) + MASK_DELTA (mod 2^32). */
const MASK_DELTA = 0xa282ead8;

/**
 * Masks a CRC before storing it inside data that may itself be checksummed (LevelDB's
 * `crc32c::Mask`): the CRC of a message followed by its own plain CRC is the same constant for
 * every message, so a whole-file checksum over a file ending in a plain CRC could not tell two
 * such files apart.
 */
export function maskCrc32c(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

/** Inverse of {@link maskCrc32c}. */
export function unmaskCrc32c(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}
