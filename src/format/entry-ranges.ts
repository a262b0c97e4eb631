/**
 * Put and Delete payloads read in place: where the key and value bytes lie in the segment image,
 * without decoding them (no key string, no value view). Replay copies those bytes straight into
 * the state's slabs (`StateBackend.putBytes`), which is what makes it run at memory speed; the
 * checks are those of `decodeEntry`, which stays the one reader of every other record and the one
 * that throws: a payload these functions do not accept goes through it instead.
 */
import { MAX_KEY_BYTES, PUT_KEY_LENGTH_SIZE, RecordType } from './constants.js';
import type { RecordPayload } from './record-frame.js';
import type { StateFileEntryRange } from './state-file.js';

/** True when every byte of `buf[from, to)` is below 0x80 (ASCII: valid UTF-8 as it is). */
function isAscii(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i]! >= 0x80) return false;
  return true;
}

/**
 * When `record` is a well-formed Put whose key is ASCII, fills `out` with its key and value
 * ranges in `record.buf` and returns true. Returns false otherwise — another type, a malformed
 * payload, or a key with non-ASCII bytes, whose UTF-8 must be checked strictly: the caller then
 * decodes the record with `decodeEntry` (which throws `TIDEMARK_CORRUPTION` for what is malformed).
 */
export function readPutRanges(record: Readonly<RecordPayload>, out: StateFileEntryRange): boolean {
  const { type, buf, payloadStart: start, payloadLength: length } = record;
  if (type !== RecordType.Put || length < PUT_KEY_LENGTH_SIZE) return false;
  const keyLength = buf.readUInt32LE(start);
  if (keyLength > MAX_KEY_BYTES || PUT_KEY_LENGTH_SIZE + keyLength > length) return false;
  const keyStart = start + PUT_KEY_LENGTH_SIZE;
  const valueStart = keyStart + keyLength;
  if (!isAscii(buf, keyStart, valueStart)) return false;
  out.keyStart = keyStart;
  out.keyLength = keyLength;
  out.valueStart = valueStart;
  out.valueLength = start + length - valueStart;
  return true;
}

/**
 * When `record` is a well-formed Delete whose key is ASCII, returns the key's length (its bytes
 * start at `record.payloadStart`); otherwise -1, and the caller decodes it with `decodeEntry`.
 */
export function readDeleteKeyLength(record: Readonly<RecordPayload>): number {
  const { type, buf, payloadStart: start, payloadLength: length } = record;
  if (type !== RecordType.Delete || length > MAX_KEY_BYTES) return -1;
  return isAscii(buf, start, start + length) ? length : -1;
}
