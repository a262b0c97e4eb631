/**
 * The on-disk format, defined once (after RocksDB's `log_format.h`). Writer, reader, checkpoint
 * store and inspector all take every offset and size from here; docs/FORMAT.md describes the
 * same layout byte by byte and test/fixtures/ pins it with golden files. All integers are
 * little-endian.
 */

/** Version of the WAL segment format written by this build; newer versions are refused. */
export const WAL_FORMAT_VERSION = 1;

// ── Segment header (32 bytes, at offset 0 of every segment file) ─────────────────────────────
/** "TMWL" as bytes T M W L, read as a little-endian u32. */
export const SEGMENT_MAGIC = 0x4c574d54;
export const SEGMENT_HEADER_SIZE = 32;
export const SEGMENT_MAGIC_OFFSET = 0; // u32
export const SEGMENT_VERSION_OFFSET = 4; // u16
export const SEGMENT_HEADER_SIZE_OFFSET = 6; // u16, = SEGMENT_HEADER_SIZE
export const SEGMENT_NUMBER_OFFSET = 8; // u64
export const SEGMENT_FIRST_LSN_OFFSET = 16; // u64, LSN of the first record in the segment
export const SEGMENT_RESERVED_OFFSET = 24; // u32, zero
export const SEGMENT_HEADER_CRC_OFFSET = 28; // u32, CRC32C of bytes [0, 28)

// ── Record frame (20-byte header + payload) ──────────────────────────────────────────────────
export const RECORD_HEADER_SIZE = 20;
/** CRC32C over bytes [4, 20 + payloadLength): length, type, flags and LSN as well as the payload. */
export const RECORD_CRC_OFFSET = 0; // u32
export const RECORD_LENGTH_OFFSET = 4; // u32, payload length in bytes
export const RECORD_TYPE_OFFSET = 8; // u8, a RecordType
export const RECORD_RESERVED_OFFSET = 9; // 3 bytes, zero
export const RECORD_LSN_OFFSET = 12; // u64, the record's log sequence number
/** First byte covered by the record CRC. */
export const RECORD_CRC_START = 4;

/** Record types. 0 is never valid, so zero-filled space never parses as a record. */
export const RecordType = {
  Put: 1,
  Delete: 2,
  Commit: 3,
  CheckpointMarker: 4,
  Abort: 5,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];
export const MAX_RECORD_TYPE = 5;

// ── Caps, checked before allocating ──────────────────────────────────────────────────────────
/** Largest record payload accepted by writer and reader: 16 MiB. */
export const MAX_RECORD_PAYLOAD_BYTES = 16 * 1024 * 1024;
/** Largest key, in UTF-8 bytes: 64 KiB. */
export const MAX_KEY_BYTES = 64 * 1024;
/** Largest number of sources in one Commit record. */
export const MAX_COMMIT_SOURCES = 4096;
/** Largest source name, in UTF-8 bytes. */
export const MAX_SOURCE_NAME_BYTES = 1024;
/** Largest segment file the reader will load: 1 GiB. */
export const MAX_SEGMENT_FILE_BYTES = 1024 * 1024 * 1024;
/** Largest segment size a WAL may be configured with: 512 MiB. */
export const MAX_SEGMENT_SIZE_BYTES = 512 * 1024 * 1024;

// ── Entry payloads (see entry-codec.ts) ──────────────────────────────────────────────────────
/** Put: u32 key length, key (UTF-8), value (rest of payload). */
export const PUT_KEY_LENGTH_SIZE = 4;
/** Commit: u64 epoch, u8 flags, i64 watermark, u32 source count, then per source u16 name length, name, u64 offset. */
export const COMMIT_FIXED_SIZE = 8 + 1 + 8 + 4;
export const COMMIT_FLAG_HAS_WATERMARK = 1;
export const COMMIT_SOURCE_FIXED_SIZE = 2 + 8;
/** CheckpointMarker: u64 checkpoint id, u64 epoch, u64 covered LSN. */
export const CHECKPOINT_MARKER_SIZE = 24;

// ── Segment file names ───────────────────────────────────────────────────────────────────────
/** Segment files are named `wal-` + 16 zero-padded decimal digits + `.log`. */
export const SEGMENT_FILE_PREFIX = 'wal-';
export const SEGMENT_FILE_SUFFIX = '.log';
export const SEGMENT_NUMBER_DIGITS = 16;

// ── Checkpoint state snapshot file (see checkpoint/state-file.ts) ────────────────────────────
/** "TMCK" as bytes T M C K, read as a little-endian u32. */
export const STATE_FILE_MAGIC = 0x4b434d54;
export const STATE_FILE_VERSION = 1;
/** Header: u32 magic, u16 version, u16 reserved, u64 entry count. */
export const STATE_FILE_HEADER_SIZE = 16;
/** Per entry: u32 key length, u32 value length, key, value. */
export const STATE_ENTRY_FIXED_SIZE = 8;
/** Trailer: u32 CRC32C of every byte before it. */
export const STATE_FILE_TRAILER_SIZE = 4;
/** Largest value in a state snapshot entry: 64 MiB. */
export const MAX_VALUE_BYTES = 64 * 1024 * 1024;
/** Largest checkpoint state file the reader will load: 4 GiB less one byte (Node's Buffer limit). */
export const MAX_STATE_FILE_BYTES = 2 ** 32 - 1;
/** Largest checkpoint manifest file: 16 MiB. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
/** Version of the checkpoint manifest JSON written by this build. */
export const MANIFEST_VERSION = 1;
