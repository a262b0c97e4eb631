/**
 * The checkpoint state file: a full snapshot of the key/value state (layout in constants.ts and
 * docs/FORMAT.md). Header, entries, and a CRC32C trailer over everything before it.
 */
import { corruption, TidemarkError } from '../errors.js';
import {
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES,
  STATE_ENTRY_FIXED_SIZE,
  STATE_FILE_HEADER_SIZE,
  STATE_FILE_MAGIC,
  STATE_FILE_TRAILER_SIZE,
  STATE_FILE_VERSION,
} from '../format/constants.js';
import { crc32c } from '../format/crc32c.js';
import { readU64, writeU64 } from '../format/record-frame.js';

/** Encodes `state` into one buffer. */
export function encodeStateFile(state: ReadonlyMap<string, Uint8Array>): Buffer {
  let size = STATE_FILE_HEADER_SIZE + STATE_FILE_TRAILER_SIZE;
  for (const [key, value] of state)
    size += STATE_ENTRY_FIXED_SIZE + Buffer.byteLength(key, 'utf8') + value.length;
  const buf = Buffer.allocUnsafe(size);
  buf.writeUInt32LE(STATE_FILE_MAGIC, 0);
  buf.writeUInt16LE(STATE_FILE_VERSION, 4);
  buf.writeUInt16LE(0, 6);
  writeU64(buf, 8, state.size);
  let o = STATE_FILE_HEADER_SIZE;
  for (const [key, value] of state) {
    const keyBytes = buf.write(key, o + STATE_ENTRY_FIXED_SIZE, 'utf8');
    buf.writeUInt32LE(keyBytes, o);
    buf.writeUInt32LE(value.length, o + 4);
    o += STATE_ENTRY_FIXED_SIZE + keyBytes;
    buf.set(value, o);
    o += value.length;
  }
  buf.writeUInt32LE(crc32c(buf, 0, o), o);
  return buf;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a state file; throws `TIDEMARK_CORRUPTION` (path, offset) or `TIDEMARK_UNSUPPORTED_VERSION`. */
export function decodeStateFile(buf: Uint8Array, path: string): Map<string, Uint8Array> {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  if (b.length < STATE_FILE_HEADER_SIZE + STATE_FILE_TRAILER_SIZE)
    throw corruption(path, 0, 'state file too short');
  const body = b.length - STATE_FILE_TRAILER_SIZE;
  if (b.readUInt32LE(body) !== crc32c(b, 0, body))
    throw corruption(path, body, 'state file checksum mismatch');
  if (b.readUInt32LE(0) !== STATE_FILE_MAGIC) throw corruption(path, 0, 'not a state file (bad magic)');
  if (b.readUInt16LE(4) !== STATE_FILE_VERSION) {
    throw new TidemarkError(
      'TIDEMARK_UNSUPPORTED_VERSION',
      `${path}: state file version ${b.readUInt16LE(4)}`,
      { path, offset: 4 },
    );
  }
  const count = readU64(b, 8);
  if (count > (body - STATE_FILE_HEADER_SIZE) / STATE_ENTRY_FIXED_SIZE)
    throw corruption(path, 8, 'entry count larger than the file');
  const state = new Map<string, Uint8Array>();
  let o = STATE_FILE_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    if (body - o < STATE_ENTRY_FIXED_SIZE) throw corruption(path, o, 'entry header past the end');
    const keyBytes = b.readUInt32LE(o);
    const valueBytes = b.readUInt32LE(o + 4);
    if (
      keyBytes > MAX_KEY_BYTES ||
      valueBytes > MAX_VALUE_BYTES ||
      STATE_ENTRY_FIXED_SIZE + keyBytes + valueBytes > body - o
    ) {
      throw corruption(path, o, 'entry length over the cap or past the end');
    }
    const keyStart = o + STATE_ENTRY_FIXED_SIZE;
    let key: string;
    try {
      key = utf8.decode(b.subarray(keyStart, keyStart + keyBytes));
    } catch {
      throw corruption(path, keyStart, 'key is not UTF-8');
    }
    const valueStart = keyStart + keyBytes;
    const value = new Uint8Array(valueBytes);
    value.set(b.subarray(valueStart, valueStart + valueBytes));
    state.set(key, value);
    o = valueStart + valueBytes;
  }
  if (o !== body) throw corruption(path, o, 'bytes after the last entry');
  return state;
}
