/**
 * The walk over a whole version 3 state file (checking and loading one): the checks of
 * `parseStateBlock` and the streaming reader (block bounds and CRC32C, entry bounds and caps, strictly increasing keys,
 * no tombstone in a base, trailer counts), with the same errors, but every entry handed out as
 * byte ranges of the file's buffer in one reused object — no key or value view, no per-block
 * arrays, key order compared in place. Loading a base of a million keys allocated two views and
 * two array slots per entry before; the state backend copies the bytes where they go
 * (`StateBackend.putBytes`), so nothing per entry needs to exist.
 */
import { corruption } from '../errors.js';
import {
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES,
  STATE_BLOCK_HEADER_SIZE,
  STATE_BLOCK_TRAILER_SIZE,
  STATE_ENTRY_FIXED_SIZE,
  STATE_FILE_HEADER_SIZE,
  STATE_FILE_V3_TRAILER_SIZE,
  STATE_TOMBSTONE_LENGTH,
  StateFileKind,
} from './constants.js';
import type { StateFileEntryRange } from './state-file.js';
import { checkBlockCrc, checkV3Header, readBlockHeader, readV3Trailer } from './state-file-v3.js';

/** A byte range of the file's buffer (a key). */
interface Range {
  start: number;
  length: number;
}

/**
 * Unsigned byte order of `b`'s range `a` against its range `c`: negative when `a` sorts before.
 * Short keys byte by byte (no native call per entry), long ones natively.
 */
function compareRanges(b: Buffer, a: Readonly<Range>, c: Readonly<Range>): number {
  const n = Math.min(a.length, c.length);
  if (n > 64) {
    // `source.compare(target, tStart, tEnd, sStart, sEnd)` orders the source range against the target's.
    const d = b.compare(b, c.start, c.start + n, a.start, a.start + n);
    return d !== 0 ? d : a.length - c.length;
  }
  for (let i = 0; i < n; i++) {
    const d = b[a.start + i]! - b[c.start + i]!;
    if (d !== 0) return d;
  }
  return a.length - c.length;
}

/**
 * Visits every entry of a whole version 3 file in `b` (magic, version and kind already read;
 * whole-file CRC already checked) as byte ranges of `b` (`valueLength` -1 for a tombstone; one
 * object reused for every entry). Returns the counts; throws `TIDEMARK_CORRUPTION` naming
 * `file.path` and the offset. A block's entries are visited only once its CRC32C held.
 */
export function scanStateFileV3Ranges(
  b: Buffer,
  file: { path: string; kind: StateFileKind },
  visit: (entry: Readonly<StateFileEntryRange>) => void,
): { entries: number; tombstones: number } {
  const { path, kind } = file;
  checkV3Header(b, path);
  if (b.length < STATE_FILE_HEADER_SIZE + STATE_FILE_V3_TRAILER_SIZE)
    throw corruption(path, 0, 'state file too short');
  const trailerAt = b.length - STATE_FILE_V3_TRAILER_SIZE;
  const { entries, tombstones } = readV3Trailer(b, trailerAt);
  const entry: StateFileEntryRange = { keyStart: 0, keyLength: 0, valueStart: 0, valueLength: 0 };
  const at = { path, fileOffset: 0 };
  const base = kind === StateFileKind.Base;
  let o = STATE_FILE_HEADER_SIZE;
  // The previous key and this one, reused for every entry.
  const prev: Range = { start: -1, length: 0 };
  const key: Range = { start: 0, length: 0 };
  let seen = 0;
  let seenTombstones = 0;
  while (o < trailerAt) {
    if (trailerAt - o < STATE_BLOCK_HEADER_SIZE + STATE_BLOCK_TRAILER_SIZE)
      throw corruption(path, o, 'block header past the end');
    const { bodyLength, count } = readBlockHeader(b, o, at);
    if (STATE_BLOCK_HEADER_SIZE + bodyLength + STATE_BLOCK_TRAILER_SIZE > trailerAt - o)
      throw corruption(path, o, 'block past the end');
    checkBlockCrc(b, { o, bodyLength }, at);
    const end = o + STATE_BLOCK_HEADER_SIZE + bodyLength;
    let p = o + STATE_BLOCK_HEADER_SIZE;
    for (let i = 0; i < count; i++) {
      if (end - p < STATE_ENTRY_FIXED_SIZE)
        throw corruption(path, p, 'entry header past the end of its block');
      const keyLength = b.readUInt32LE(p);
      const rawValueLength = b.readUInt32LE(p + 4);
      const tombstone = rawValueLength === STATE_TOMBSTONE_LENGTH;
      if (tombstone && base) throw corruption(path, p + 4, 'tombstone in a base');
      const valueLength = tombstone ? 0 : rawValueLength;
      if (
        keyLength > MAX_KEY_BYTES ||
        valueLength > MAX_VALUE_BYTES ||
        STATE_ENTRY_FIXED_SIZE + keyLength + valueLength > end - p
      )
        throw corruption(path, p, 'entry length over the cap or past the end of its block');
      const keyStart = p + STATE_ENTRY_FIXED_SIZE;
      key.start = keyStart;
      key.length = keyLength;
      if (prev.start >= 0 && compareRanges(b, prev, key) >= 0)
        throw corruption(path, p, 'keys of a sorted state file are not strictly increasing');
      prev.start = keyStart;
      prev.length = keyLength;
      const valueStart = keyStart + keyLength;
      entry.keyStart = keyStart;
      entry.keyLength = keyLength;
      entry.valueStart = valueStart;
      if (tombstone) {
        seenTombstones++;
        entry.valueLength = -1;
      } else {
        entry.valueLength = valueLength;
      }
      visit(entry);
      p = valueStart + valueLength;
    }
    if (p !== end) throw corruption(path, p, 'bytes after the last entry of a block');
    seen += count;
    o = end + STATE_BLOCK_TRAILER_SIZE;
  }
  if (seen !== entries || seenTombstones !== tombstones)
    throw corruption(
      path,
      trailerAt,
      `trailer counts ${entries}/${tombstones}, blocks hold ${seen}/${seenTombstones}`,
    );
  return { entries, tombstones };
}
