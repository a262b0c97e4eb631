/**
 * Checkpoint state files: a *base* (every key) or a *delta* (the puts and tombstones since the
 * parent checkpoint). One layout for both, defined in format/constants.ts and docs/FORMAT.md:
 * a 16-byte header, entries, and a trailer ending in the masked CRC32C of everything before it.
 * Version 3 (written; see state-file-v3.ts) is sorted and in checked blocks; versions 1 and 2
 * (unsorted, one run of entries) are still read.
 *
 * The encoder yields the file in chunks of about {@link STATE_FILE_CHUNK_BYTES}, so a base of
 * millions of keys is written without one giant buffer, and the thread writing it (Ring 1) gets
 * the event loop back between chunks.
 */
import { corruption, TidemarkError } from '../errors.js';
import {
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES,
  STATE_ENTRY_FIXED_SIZE,
  STATE_FILE_CHUNK_BYTES,
  STATE_FILE_COUNT_OFFSET,
  STATE_FILE_HEADER_SIZE,
  STATE_FILE_KIND_OFFSET,
  STATE_FILE_MAGIC,
  STATE_FILE_MAGIC_OFFSET,
  STATE_FILE_TRAILER_SIZE,
  STATE_FILE_VERSION,
  STATE_FILE_VERSION_OFFSET,
  STATE_TOMBSTONE_LENGTH,
  StateFileKind,
} from './constants.js';
import { crc32c, maskCrc32c } from './crc32c.js';
import { readU64 } from './record-frame.js';
import { StateFileV3Encoder, sortStateEntries } from './state-file-v3.js';
import { scanStateFileV3Ranges } from './state-file-v3-ranges.js';

/** One entry: a key and its value, or `undefined` for a tombstone (deltas only). */
export type StateFileEntry = readonly [key: string, value: Uint8Array | undefined];

function bug(message: string): TidemarkError {
  return new TidemarkError('TIDEMARK_BUG', message);
}

/**
 * Encodes a version 3 state file of `kind` holding exactly `count` entries, yielding it in chunks
 * of about `chunkBytes` (one per block; an entry larger than that gets a block of its own). The
 * entries may come in any order: they are sorted by the byte order of their UTF-8 keys first,
 * which holds their keys as bytes while encoding — for states already in memory (per-core
 * checkpoints, tests); a writer of large states feeds {@link StateFileV3Encoder} in key order
 * instead. Every chunk is a fresh buffer the consumer may keep. Throws
 * `TIDEMARK_INVALID_ARGUMENT` for a key or value over the caps and `TIDEMARK_BUG` when `entries`
 * does not yield `count` entries, repeats a key or a base holds a tombstone.
 */
export function* encodeStateFileChunks(
  kind: StateFileKind,
  count: number,
  entries: Iterable<StateFileEntry>,
  chunkBytes = STATE_FILE_CHUNK_BYTES,
): Generator<Buffer, void, undefined> {
  const sorted = sortStateEntries(entries);
  if (sorted.length !== count) throw bug(`state file announced ${count} entries, got ${sorted.length}`);
  const encoder = new StateFileV3Encoder(kind, chunkBytes);
  yield* encoder.take();
  for (const { key, value } of sorted) {
    encoder.add(key, value);
    yield* encoder.take();
  }
  yield* encoder.finish();
}

/** Encodes a whole state file into one buffer (small files, tests and fixtures). */
export function encodeStateFile(
  kind: StateFileKind,
  count: number,
  entries: Iterable<StateFileEntry>,
): Buffer {
  return Buffer.concat([...encodeStateFileChunks(kind, count, entries)]);
}

/** What the header of a state file says. */
export interface StateFileInfo {
  /** Base (every key) or delta (changes since the parent). */
  kind: StateFileKind;
  /** Format version of the file. */
  version: number;
  /** Entries in the file, tombstones included (count). */
  entries: number;
  /** Tombstones (deleted keys) among them; 0 in a base. */
  tombstones: number;
}

/**
 * Checks a state file (trailer CRC, magic, version, kind, every entry's bounds) and calls `visit`
 * for each entry in file order, with a copy of the value or `undefined` for a tombstone.
 * Throws `TIDEMARK_CORRUPTION` (path, offset) or `TIDEMARK_UNSUPPORTED_VERSION`; nothing is
 * visited unless the checksum holds.
 */
export function readStateFile(
  buf: Uint8Array,
  path: string,
  visit: (key: string, value: Uint8Array | undefined) => void,
): StateFileInfo {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  return scanStateFile(b, path, ({ keyStart, keyLength, valueStart, valueLength }) => {
    // The checksum already held, so the key bytes are the ones the encoder wrote (UTF-8).
    const key = b.toString('utf8', keyStart, keyStart + keyLength);
    if (valueLength < 0) {
      visit(key, undefined);
    } else {
      const value = new Uint8Array(valueLength);
      value.set(b.subarray(valueStart, valueStart + valueLength));
      visit(key, value);
    }
  });
}

/** Where one entry's key and value lie in a state file's buffer (`valueLength` -1: a tombstone). */
export interface StateFileEntryRange {
  /** Byte offset of the key's UTF-8 bytes in the buffer. */
  keyStart: number;
  /** Length of the key (bytes). */
  keyLength: number;
  /** Byte offset of the value in the buffer. */
  valueStart: number;
  /** Length of the value (bytes); -1 for a tombstone. */
  valueLength: number;
}

/**
 * {@link readStateFile} without decoding: `visit` gets each entry's key and value as byte ranges
 * of `buf` (`valueLength` -1 for a tombstone; one object reused for every entry), so a loader can copy them where they go without a
 * string or a buffer per entry. Same checks, same errors, nothing visited unless the checksum holds.
 */
export function scanStateFile(
  buf: Uint8Array,
  path: string,
  visit: (entry: Readonly<StateFileEntryRange>) => void,
): StateFileInfo {
  const entry: StateFileEntryRange = { keyStart: 0, keyLength: 0, valueStart: 0, valueLength: 0 };
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  if (b.length < STATE_FILE_HEADER_SIZE + STATE_FILE_TRAILER_SIZE)
    throw corruption(path, 0, 'state file too short');
  const body = b.length - STATE_FILE_TRAILER_SIZE;
  const version = b.readUInt16LE(STATE_FILE_VERSION_OFFSET);
  // Version 1 stored the plain CRC; version 2 stores it masked (see maskCrc32c).
  const sum = crc32c(b, 0, body);
  if (b.readUInt32LE(body) !== (version === 1 ? sum : maskCrc32c(sum)))
    throw corruption(path, body, 'state file checksum mismatch');
  if (b.readUInt32LE(STATE_FILE_MAGIC_OFFSET) !== STATE_FILE_MAGIC)
    throw corruption(path, 0, 'not a state file (bad magic)');
  if (version > STATE_FILE_VERSION || version === 0) {
    throw new TidemarkError(
      'TIDEMARK_UNSUPPORTED_VERSION',
      `${path}: state file version ${version}, this build reads 1 to ${STATE_FILE_VERSION}`,
      { path, offset: STATE_FILE_VERSION_OFFSET },
    );
  }
  const kind = b.readUInt16LE(STATE_FILE_KIND_OFFSET);
  if (kind !== StateFileKind.Base && kind !== StateFileKind.Delta)
    throw corruption(path, STATE_FILE_KIND_OFFSET, `unknown state file kind ${kind}`);
  if (version >= 3) {
    const counts = scanStateFileV3Ranges(b, { path, kind: kind as StateFileKind }, visit);
    return { kind: kind as StateFileKind, version, entries: counts.entries, tombstones: counts.tombstones };
  }
  const count = readU64(b, STATE_FILE_COUNT_OFFSET);
  if (count > (body - STATE_FILE_HEADER_SIZE) / STATE_ENTRY_FIXED_SIZE)
    throw corruption(path, STATE_FILE_COUNT_OFFSET, 'entry count larger than the file');
  let tombstones = 0;
  let o = STATE_FILE_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    if (body - o < STATE_ENTRY_FIXED_SIZE) throw corruption(path, o, 'entry header past the end');
    const keyBytes = b.readUInt32LE(o);
    const rawValueBytes = b.readUInt32LE(o + 4);
    const tombstone = rawValueBytes === STATE_TOMBSTONE_LENGTH;
    if (tombstone && kind === StateFileKind.Base) throw corruption(path, o + 4, 'tombstone in a base');
    const valueBytes = tombstone ? 0 : rawValueBytes;
    if (
      keyBytes > MAX_KEY_BYTES ||
      valueBytes > MAX_VALUE_BYTES ||
      STATE_ENTRY_FIXED_SIZE + keyBytes + valueBytes > body - o
    ) {
      throw corruption(path, o, 'entry length over the cap or past the end');
    }
    const keyStart = o + STATE_ENTRY_FIXED_SIZE;
    const valueStart = keyStart + keyBytes;
    if (tombstone) tombstones++;
    entry.keyStart = keyStart;
    entry.keyLength = keyBytes;
    entry.valueStart = valueStart;
    entry.valueLength = tombstone ? -1 : valueBytes;
    visit(entry);
    o = valueStart + valueBytes;
  }
  if (o !== body) throw corruption(path, o, 'bytes after the last entry');
  return { kind: kind as StateFileKind, version, entries: count, tombstones };
}

/**
 * What a state file is applied to: a state backend, seen structurally (the format layer does not
 * import the state layer). Keys and values are byte ranges of the file's buffer.
 */
export interface StateFileTarget {
  /** Sets key `bytes[keyStart, +keyLength)` to a copy of `bytes[valueStart, +valueLength)`. */
  putBytes(bytes: Uint8Array, entry: Readonly<StateFileEntryRange>): void;
  /** Removes key `bytes[keyStart, +keyLength)`; true when it was held. */
  deleteBytes(bytes: Uint8Array, keyStart: number, keyLength: number): boolean;
  /**
   * Optional: `putBytes` for a run of strictly increasing keys (`first` for the run's first), which
   * a backend may append without comparing each key with the last (the slab backend's bulk load).
   */
  putBytesAscending?(bytes: Uint8Array, entry: Readonly<StateFileEntryRange>, first: boolean): void;
}

/**
 * Applies a state file to `state`: a base fills it (it should start empty), a delta sets and
 * deletes keys. The puts of a base of version 3 — sorted, and its reader refuses a key that is
 * not past the one before it before handing it out — go through `putBytesAscending` when the
 * state has it.
 */
export function applyStateFile(buf: Uint8Array, path: string, state: StateFileTarget): StateFileInfo {
  let first = true;
  const ascending =
    state.putBytesAscending !== undefined &&
    buf.length >= STATE_FILE_HEADER_SIZE &&
    new DataView(buf.buffer, buf.byteOffset, buf.length).getUint16(STATE_FILE_VERSION_OFFSET, true) >= 3 &&
    new DataView(buf.buffer, buf.byteOffset, buf.length).getUint16(STATE_FILE_KIND_OFFSET, true) ===
      StateFileKind.Base;
  return scanStateFile(buf, path, (entry) => {
    if (entry.valueLength < 0) state.deleteBytes(buf, entry.keyStart, entry.keyLength);
    else if (ascending) {
      state.putBytesAscending!(buf, entry, first);
      first = false;
    } else state.putBytes(buf, entry);
  });
}

/** Decodes a state file into its entries (tombstones as `undefined`) and header. */
export function decodeStateFile(
  buf: Uint8Array,
  path: string,
): StateFileInfo & {
  /** Every entry of the file, key to value; undefined for a tombstone. */
  state: Map<string, Uint8Array | undefined>;
} {
  const state = new Map<string, Uint8Array | undefined>();
  const info = readStateFile(buf, path, (key, value) => state.set(key, value));
  return { ...info, state };
}
