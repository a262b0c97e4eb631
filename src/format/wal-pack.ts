/**
 * `wal-pack`: a reversible transform of a WAL segment applied before compression in the archive
 * (frame transform 1, docs/FORMAT.md). Each record's CRC32C is 4 random bytes and its LSN grows
 * by one per record: a general-purpose codec can do nothing with either, and on the demo's WAL
 * they are over a third of the zstd output. The transform drops them (the frame's own CRC32C
 * covers the stored bytes; the record CRCs are recomputed on the way back) and stores the rest
 * column by column (lengths, types, payloads), which zstd compresses better than interleaved.
 *
 * It applies to framed segments (format v1/v2); batched segments (v3) are stored untransformed.
 *
 * Only the run of valid records from the segment header on is packed: the first record that
 * does not check (bad CRC, non-zero reserved bytes, an LSN out of sequence, a length past the
 * end — a torn tail, zero fill) ends it, and every byte from there is kept as it is. So
 * unpacking reproduces the segment byte for byte, damage included; the writer also checks that
 * before it uses the transform.
 *
 * Packed layout (little-endian): u32 magic "TMWP", u32 segment header length H, H bytes of
 * header, u32 record count N, u64 LSN of the first record, N × u32 payload lengths, N × u8 types,
 * the payloads one after another, then the rest of the segment as it was.
 */
import { corruption } from '../errors.js';
import {
  MAX_RECORD_PAYLOAD_BYTES,
  MAX_RECORD_TYPE,
  RECORD_CRC_START,
  RECORD_HEADER_SIZE,
  RECORD_LENGTH_OFFSET,
  RECORD_LSN_OFFSET,
  RECORD_RESERVED_OFFSET,
  RECORD_TYPE_OFFSET,
  SEGMENT_HEADER_SIZE,
  SEGMENT_VERSION_OFFSET,
  WAL_BATCH_FORMAT_VERSION,
} from './constants.js';
import { crc32c } from './crc32c.js';

const PACK_MAGIC = 0x50574d54; // "TMWP"

const TWO_32 = 2 ** 32;

/** `from[fromAt, fromAt + len)` into `to` at `toAt`: a loop for the short payloads of most records (Buffer#copy's fixed cost dominates there). */
function copyBytes(from: Buffer, to: Buffer, at: { from: number; to: number; length: number }): void {
  const { from: fromAt, to: toAt, length } = at;
  if (length > 64) {
    from.copy(to, toAt, fromAt, fromAt + length);
    return;
  }
  for (let i = 0; i < length; i++) to[toAt + i] = from[fromAt + i]!;
}

/** Packs segment bytes; undefined when they are not a segment worth packing (no valid record). */
export function packSegment(segment: Uint8Array): Buffer | undefined {
  const buf = Buffer.from(segment.buffer, segment.byteOffset, segment.byteLength);
  if (buf.length < SEGMENT_HEADER_SIZE) return undefined;
  // Record batches (format v3) carry no per-record CRC or LSN: nothing for this transform to drop,
  // so their segments are compressed as they are.
  if (buf.readUInt16LE(SEGMENT_VERSION_OFFSET) >= WAL_BATCH_FORMAT_VERSION) return undefined;
  // First pass: find the run of valid records (offsets only, no copies).
  const starts: number[] = [];
  let firstLsn = 0;
  let payloadBytes = 0;
  let pos = SEGMENT_HEADER_SIZE;
  while (pos + RECORD_HEADER_SIZE <= buf.length) {
    const len = buf.readUInt32LE(pos + RECORD_LENGTH_OFFSET);
    const type = buf[pos + RECORD_TYPE_OFFSET]!;
    if (len > MAX_RECORD_PAYLOAD_BYTES || pos + RECORD_HEADER_SIZE + len > buf.length) break;
    if (type === 0 || type > MAX_RECORD_TYPE) break;
    if (
      buf[pos + RECORD_RESERVED_OFFSET] !== 0 ||
      buf[pos + RECORD_RESERVED_OFFSET + 1] !== 0 ||
      buf[pos + RECORD_RESERVED_OFFSET + 2] !== 0
    )
      break;
    const lsn =
      buf.readUInt32LE(pos + RECORD_LSN_OFFSET) + buf.readUInt32LE(pos + RECORD_LSN_OFFSET + 4) * TWO_32;
    if (starts.length === 0) firstLsn = lsn;
    else if (lsn !== firstLsn + starts.length) break;
    if (crc32c(buf, pos + RECORD_CRC_START, pos + RECORD_HEADER_SIZE + len) !== buf.readUInt32LE(pos)) break;
    starts.push(pos);
    payloadBytes += len;
    pos += RECORD_HEADER_SIZE + len;
  }
  const n = starts.length;
  if (n === 0) return undefined;
  const tail = buf.length - pos;
  const out = Buffer.allocUnsafe(8 + SEGMENT_HEADER_SIZE + 12 + 5 * n + payloadBytes + tail);
  out.writeUInt32LE(PACK_MAGIC, 0);
  out.writeUInt32LE(SEGMENT_HEADER_SIZE, 4);
  buf.copy(out, 8, 0, SEGMENT_HEADER_SIZE);
  let at = 8 + SEGMENT_HEADER_SIZE;
  out.writeUInt32LE(n, at);
  out.writeUInt32LE(firstLsn % TWO_32, at + 4);
  out.writeUInt32LE(Math.floor(firstLsn / TWO_32), at + 8);
  at += 12;
  const typesAt = at + 4 * n;
  let payloadAt = typesAt + n;
  for (let i = 0; i < n; i++) {
    const r = starts[i]!;
    const len = buf.readUInt32LE(r + RECORD_LENGTH_OFFSET);
    out.writeUInt32LE(len, at + 4 * i);
    out[typesAt + i] = buf[r + RECORD_TYPE_OFFSET]!;
    copyBytes(buf, out, { from: r + RECORD_HEADER_SIZE, to: payloadAt, length: len });
    payloadAt += len;
  }
  buf.copy(out, payloadAt, pos);
  return out;
}

/** The segment bytes of a packed segment. `TIDEMARK_CORRUPTION` naming `path` when it is malformed. */
export function unpackSegment(packed: Uint8Array, path: string): Buffer {
  const p = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  const bad = (what: string) => corruption(path, 0, `packed WAL segment: ${what}`);
  if (p.length < 8 || p.readUInt32LE(0) !== PACK_MAGIC) throw bad('bad magic');
  const h = p.readUInt32LE(4);
  if (h !== SEGMENT_HEADER_SIZE || p.length < 8 + h + 12) throw bad('bad header length');
  const n = p.readUInt32LE(8 + h);
  const firstLsn = p.readUInt32LE(12 + h) + p.readUInt32LE(16 + h) * TWO_32;
  const lensAt = 20 + h;
  const typesAt = lensAt + 4 * n;
  let at = typesAt + n;
  if (p.length < at) throw bad('record columns cut short');
  let payloadBytes = 0;
  for (let i = 0; i < n; i++) payloadBytes += p.readUInt32LE(lensAt + 4 * i);
  if (p.length < at + payloadBytes) throw bad('payloads cut short');
  const tailAt = at + payloadBytes;
  const out = Buffer.allocUnsafe(h + RECORD_HEADER_SIZE * n + payloadBytes + (p.length - tailAt));
  p.copy(out, 0, 8, 8 + h);
  let pos = h;
  for (let i = 0; i < n; i++) {
    const len = p.readUInt32LE(lensAt + 4 * i);
    const lsn = firstLsn + i;
    out.writeUInt32LE(len, pos + RECORD_LENGTH_OFFSET);
    out[pos + RECORD_TYPE_OFFSET] = p[typesAt + i]!;
    out[pos + RECORD_RESERVED_OFFSET] = 0;
    out[pos + RECORD_RESERVED_OFFSET + 1] = 0;
    out[pos + RECORD_RESERVED_OFFSET + 2] = 0;
    out.writeUInt32LE(lsn % TWO_32, pos + RECORD_LSN_OFFSET);
    out.writeUInt32LE(Math.floor(lsn / TWO_32), pos + RECORD_LSN_OFFSET + 4);
    copyBytes(p, out, { from: at, to: pos + RECORD_HEADER_SIZE, length: len });
    at += len;
    out.writeUInt32LE(crc32c(out, pos + RECORD_CRC_START, pos + RECORD_HEADER_SIZE + len), pos);
    pos += RECORD_HEADER_SIZE + len;
  }
  p.copy(out, pos, tailAt);
  return out;
}
