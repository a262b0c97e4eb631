/**
 * The on-disk format, defined once (after RocksDB's `log_format.h`). Writer, reader, checkpoint
 * store and inspector all take every offset and size from here; docs/FORMAT.md describes the
 * same layout byte by byte and test/fixtures/ pins it with golden files. All integers are
 * little-endian.
 */

/**
 * Version of the WAL segment format written by this build; newer versions are refused. Version 2
 * added the CleanShutdown record (type 7): a build that knows only version 1 would read that
 * record as damage and could cut acknowledged records after it, so it must refuse such segments.
 * Version 3 replaced the per-record frame with record batches (one header and one CRC32C per
 * batch, see "Record batch" below). Versions 1 and 2 are still read, and a writer that opens a
 * log ending in a version 1 or 2 segment keeps appending frames there until it rotates.
 * Version 4 gives every batch its commit time (PostgreSQL's commit timestamp, for point-in-time
 * recovery by time): the segment header's reserved u32 became the segment's base time and the
 * batch header's reserved u32 the batch's commit time relative to it. Sizes are those of version
 * 3; a version 3 reader refuses version 4 (a nonzero reserved field would be damage to it). A
 * writer that opens a log ending in a version 3 segment keeps appending untimed batches there
 * until it rotates.
 */
export const WAL_FORMAT_VERSION = 4;
/** First WAL segment format version whose records are grouped in batches. */
export const WAL_BATCH_FORMAT_VERSION = 3;
/** First WAL segment format version whose batches carry a commit time (base time in the segment header). */
export const WAL_COMMIT_TIME_FORMAT_VERSION = 4;
/** Oldest WAL segment format version still read (version 1: no CleanShutdown record). */
export const MIN_WAL_FORMAT_VERSION = 1;

// ── Segment header (32 bytes, at offset 0 of every segment file) ─────────────────────────────
/** "TMWL" as bytes T M W L, read as a little-endian u32. */
export const SEGMENT_MAGIC = 0x4c574d54;
/** Size of the segment header in bytes; the first record starts here. */
export const SEGMENT_HEADER_SIZE = 32;
/** Byte offset of this field: u32. */
export const SEGMENT_MAGIC_OFFSET = 0;
/** Byte offset of this field: u16. */
export const SEGMENT_VERSION_OFFSET = 4;
/** Byte offset of this field: u16, = SEGMENT_HEADER_SIZE. */
export const SEGMENT_HEADER_SIZE_OFFSET = 6;
/** Byte offset of this field: u64. */
export const SEGMENT_NUMBER_OFFSET = 8;
/** Byte offset of this field: u64, LSN of the first record in the segment. */
export const SEGMENT_FIRST_LSN_OFFSET = 16;
/** Byte offset of this field: u32, zero (versions 1–3; version 4 on: {@link SEGMENT_BASE_TIME_OFFSET}). */
export const SEGMENT_RESERVED_OFFSET = 24;
/**
 * Byte offset of this field (version 4 on): u32, the segment's base time in whole seconds since
 * the Unix epoch (good until 2106). Its batches' commit times are counted from it.
 */
export const SEGMENT_BASE_TIME_OFFSET = 24;
/** Byte offset of this field: u32, CRC32C of bytes [0, 28). */
export const SEGMENT_HEADER_CRC_OFFSET = 28;

// ── Record frame (20-byte header + payload) ──────────────────────────────────────────────────
/** Size of the record frame header in bytes; the payload follows it. */
export const RECORD_HEADER_SIZE = 20;
/** CRC32C over bytes [4, 20 + payloadLength): length, type, flags and LSN as well as the payload. */
export const RECORD_CRC_OFFSET = 0; // u32
/** Byte offset of this field: u32, payload length in bytes. */
export const RECORD_LENGTH_OFFSET = 4;
/** Byte offset of this field: u8, a RecordType. */
export const RECORD_TYPE_OFFSET = 8;
/** Byte offset of this field: 3 bytes, zero. */
export const RECORD_RESERVED_OFFSET = 9;
/** Byte offset of this field: u64, the record's log sequence number. */
export const RECORD_LSN_OFFSET = 12;
/** First byte covered by the record CRC. */
export const RECORD_CRC_START = 4;

// ── Record batch (version 3 segments: 32-byte header + records) ─────────────────────────────
// Kafka's RecordBatch, RocksDB's WriteBatch: what one group commit writes is framed as few
// batches as the bound allows, each with one header and one CRC32C. Records inside a batch are
// not framed on their own: each is a 5-byte record header (type, length) and its payload. The
// LSN of record i (from 0) of a batch is the batch's first LSN + i: LSNs are assigned by the
// writer at append(), consecutive across batches and segments, and are not stored per record.
/** Size of the batch header in bytes; the first record header follows it. */
export const BATCH_HEADER_SIZE = 32;
/** Byte offset of this field: u32, CRC32C over bytes [4, 32 + length): the header after it and every record. */
export const BATCH_CRC_OFFSET = 0;
/** First byte covered by the batch CRC. */
export const BATCH_CRC_START = 4;
/** Byte offset of this field: u32, bytes of records after the header (record headers and payloads). */
export const BATCH_LENGTH_OFFSET = 4;
/** Byte offset of this field: u32, number of records in the batch (≥ 1; 0 is never valid). */
export const BATCH_COUNT_OFFSET = 8;
/** Byte offset of this field: u32, zero in version 3 (version 4 on: {@link BATCH_COMMIT_TIME_OFFSET}). */
export const BATCH_RESERVED_OFFSET = 12;
/**
 * Byte offset of this field (version 4 on): u32, the batch's commit time in milliseconds after
 * its segment's base time: `baseSeconds * 1000 + this` is the wall-clock time (ms since the Unix
 * epoch) at which the writer sealed the batch, just before its write and fdatasync. Never
 * decreases from one batch to the next within a segment (the writer clamps; the reader treats a
 * decrease as corruption).
 */
export const BATCH_COMMIT_TIME_OFFSET = 12;
/**
 * The writer starts a new segment before its base time is this old (40 days), so a batch's
 * commit time offset (u32 ms, at most about 49.7 days) never overflows.
 */
export const MAX_SEGMENT_TIME_SPAN_MS = 40 * 24 * 60 * 60 * 1000;
/** Largest commit time offset a batch header can hold (u32 ms). */
export const MAX_BATCH_COMMIT_DELTA_MS = 0xffffffff;
/**
 * Byte offset of this field: u64, number of the segment the batch was written into. A batch
 * whose number differs from its file's (old bytes of a recycled or reused file) is never read as
 * records: it is damage, under the torn-write rules.
 */
export const BATCH_SEGMENT_OFFSET = 16;
/** Byte offset of this field: u64, LSN of the batch's first record. */
export const BATCH_FIRST_LSN_OFFSET = 24;
/** Per record inside a batch: u8 type, u32 payload length, then the payload. */
export const BATCH_RECORD_HEADER_SIZE = 5;
/** Byte offset (in the record header) of this field: u8, a RecordType. */
export const BATCH_RECORD_TYPE_OFFSET = 0;
/** Byte offset (in the record header) of this field: u32, payload length (cap MAX_RECORD_PAYLOAD_BYTES). */
export const BATCH_RECORD_LENGTH_OFFSET = 1;
/**
 * The writer closes a batch before its records would pass this many bytes (1 MiB); a single
 * record larger than that is a batch of its own.
 */
export const MAX_BATCH_RECORDS_BYTES = 1024 * 1024;
/** Cap of a batch's length field, checked before anything is read: one record of the largest payload. */
export const MAX_BATCH_LENGTH = 16 * 1024 * 1024 + BATCH_RECORD_HEADER_SIZE;

/** Record types. 0 is never valid, so zero-filled space never parses as a record. */
export const RecordType = {
  /** A key set to a value: payload is the key and value. */
  Put: 1,
  /** A key removed: payload is the key. */
  Delete: 2,
  /** End of a transaction: the Put/Delete records since the previous Commit take effect together. */
  Commit: 3,
  /** A checkpoint covers every record up to an LSN: payload is the checkpoint id, epoch and that LSN. */
  CheckpointMarker: 4,
  /** Rolls back the uncommitted Put/Delete records since the last Commit (transactional mode). */
  Abort: 5,
  /** A per-core WAL entry: epoch, core, timestamp and an operation (per-core-entry.ts). */
  CoreEntry: 6,
  /**
   * Written by `close()` as the log's last record (segment format version 2 on): the log was
   * closed cleanly here. Replay ignores it. The same facts go to the side file `CLEAN`.
   */
  CleanShutdown: 7,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];
/** Highest valid {@link RecordType}; a larger type byte is damage. */
export const MAX_RECORD_TYPE = 7;

// ── Caps, checked before allocating ──────────────────────────────────────────────────────────
/** Largest record payload accepted by writer and reader: 16 MiB. */
export const MAX_RECORD_PAYLOAD_BYTES = 16 * 1024 * 1024;
/**
 * The WAL writer never has more than this many bytes written and not yet made durable: it
 * fdatasyncs within a large group every this many bytes (with O_DSYNC, no write is larger). A
 * crash can therefore damage (tear) only the last this-many bytes of a final segment, and the
 * reader tells a torn write from corruption by it: damage followed by a valid record that starts
 * this far or farther after it cannot be a torn write (docs/FORMAT.md, "What the reader accepts").
 */
export const WAL_SYNC_WINDOW_BYTES = 1024 * 1024;
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
/** Commit flags bit: the record carries a watermark. */
export const COMMIT_FLAG_HAS_WATERMARK = 1;
/** Fixed bytes per source in a Commit record: u16 name length and u64 offset (the name follows). */
export const COMMIT_SOURCE_FIXED_SIZE = 2 + 8;
/** CheckpointMarker: u64 checkpoint id, u64 epoch, u64 covered LSN. */
export const CHECKPOINT_MARKER_SIZE = 24;
/**
 * CleanShutdown: u64 LSN of the last record before it, u64 segment number, u64 byte offset of
 * this record's frame in that segment (where the segment ended before it).
 */
export const CLEAN_SHUTDOWN_RECORD_SIZE = 24;
/**
 * CoreEntry (per-core WAL): u8 operation, 3 bytes zero, u32 core id, u64 epoch, u64 timestamp
 * (ns since the Unix epoch), then the operation's body: the payload of a Put, Delete, Commit or
 * CheckpointMarker record; nothing for an EpochBarrier.
 */
export const CORE_ENTRY_HEADER_SIZE = 24;
/** Byte offset of the CoreEntry operation field: u8, a {@link CoreOperation}. */
export const CORE_ENTRY_OPERATION_OFFSET = 0;
/** Byte offset of the CoreEntry core id field: u32. */
export const CORE_ENTRY_CORE_ID_OFFSET = 4;
/** Byte offset of the CoreEntry epoch field: u64. */
export const CORE_ENTRY_EPOCH_OFFSET = 8;
/** Byte offset of the CoreEntry timestamp field: u64, ns since the Unix epoch. */
export const CORE_ENTRY_TIMESTAMP_OFFSET = 16;
/** Operation codes of a CoreEntry (the seed's `WalOperation`). */
export const CoreOperation = {
  /** A key set to a value. */
  Put: 1,
  /** A key removed. */
  Delete: 2,
  /** End of a transaction on this core. */
  Commit: 3,
  /** A checkpoint marker: a checkpoint covers this core's log up to a sequence (LSN). */
  Checkpoint: 4,
  /** This core moved to a new epoch here: its entries before it belong to earlier epochs. */
  EpochBarrier: 5,
} as const;
export type CoreOperation = (typeof CoreOperation)[keyof typeof CoreOperation];
/** Most cores a per-core WAL may have. */
export const MAX_CORES = 1024;

// ── Segment file names ───────────────────────────────────────────────────────────────────────
/** Segment files are named `wal-` + 16 zero-padded decimal digits + `.log`. */
export const SEGMENT_FILE_PREFIX = 'wal-';
/** Suffix of a segment file name. */
export const SEGMENT_FILE_SUFFIX = '.log';
/** Digits of the zero-padded decimal segment number in a segment file name. */
export const SEGMENT_NUMBER_DIGITS = 16;
/**
 * Bytes a repair cut off (a torn tail, a point-in-time cut, a segment whose header never became
 * durable) are first kept in `<segment file name>.broken` (etcd's `wal/*.broken`), or
 * `<segment file name>.<n>.broken` when that name is taken. Never read as a segment.
 */
export const BROKEN_FILE_SUFFIX = '.broken';
/**
 * The next segment, prepared in the background (etcd's file pipeline, RocksDB's recycled logs):
 * `segmentSizeBytes` of zeros, fdatasynced, renamed to the next segment's name at rotation. Not
 * part of the log: readers ignore it and opening the log for writing removes a leftover one.
 */
export const PREALLOCATED_SEGMENT_FILE_NAME = 'next-segment.prealloc';
/**
 * The WAL starts preparing the next segment once the active one holds this fraction of
 * `segmentSizeBytes`, so a short-lived log never writes a segment's worth of zeros it will not use.
 */
export const PREALLOCATE_START_FRACTION = 0.25;

// ── Clean-shutdown marker (`wal/CLEAN`, written atomically by a clean close) ──────────────────
// It says where the log ended when it was closed cleanly, and it survives a truncation of the
// log that would also cut the CleanShutdown record: a log shorter than it says is data loss.
// Opening the log for writing removes it (then fsyncs the directory) before anything is appended.
/** Name of the clean-shutdown side file in the WAL directory: where the log ended when it was closed cleanly. */
export const CLEAN_MARKER_FILE_NAME = 'CLEAN';
/** "TMCS" as bytes T M C S, read as a little-endian u32. */
export const CLEAN_MARKER_MAGIC = 0x53434d54;
/** Version of the clean-shutdown side file written by this build. */
export const CLEAN_MARKER_VERSION = 1;
/** Size of the clean-shutdown side file in bytes. */
export const CLEAN_MARKER_SIZE = 40;
/** Byte offset of this field: u32. */
export const CLEAN_MARKER_MAGIC_OFFSET = 0;
/** Byte offset of this field: u16. */
export const CLEAN_MARKER_VERSION_OFFSET = 4;
/** Byte offset of this field: u16, = CLEAN_MARKER_SIZE. */
export const CLEAN_MARKER_SIZE_OFFSET = 6;
/** Byte offset of this field: u64, number of the segment the log ends in. */
export const CLEAN_MARKER_SEGMENT_OFFSET = 8;
/** Byte offset of this field: u64, LSN of the log's last record (the CleanShutdown record). */
export const CLEAN_MARKER_LSN_OFFSET = 16;
/** Byte offset of this field: u64, size of that segment in bytes at close. */
export const CLEAN_MARKER_END_OFFSET = 24;
/** Byte offset of this field: u32, zero. */
export const CLEAN_MARKER_RESERVED_OFFSET = 32;
/** Byte offset of this field: u32, CRC32C of bytes [0, 36). */
export const CLEAN_MARKER_CRC_OFFSET = 36;

// ── Checkpoint state files (see checkpoint/state-file.ts) ───────────────────────────────────
// A checkpoint's key/value data is one file: a *base* (the whole state) or a *delta* (the puts
// and tombstones since the parent checkpoint). Both share one layout.
/** "TMCK" as bytes T M C K, read as a little-endian u32. */
export const STATE_FILE_MAGIC = 0x4b434d54;
/**
 * Version 3 (sorted, in CRC-checked blocks, counts in the trailer) is written; version 2 (kind and
 * tombstones, unsorted) and version 1 (bases only) are still read.
 */
export const STATE_FILE_VERSION = 3;
/** Header: u32 magic, u16 version, u16 kind (a StateFileKind), u64 entry count. */
export const STATE_FILE_HEADER_SIZE = 16;
/** Byte offset of this field: u32. */
export const STATE_FILE_MAGIC_OFFSET = 0;
/** Byte offset of this field: u16. */
export const STATE_FILE_VERSION_OFFSET = 4;
/** Byte offset of this field: u16 (was "reserved, zero" in version 1 = a base). */
export const STATE_FILE_KIND_OFFSET = 6;
/** Byte offset of this field: u64. */
export const STATE_FILE_COUNT_OFFSET = 8;
/** `kind` values: a base holds every key, a delta the changes since its parent. */
export const StateFileKind = {
  /** A full snapshot: every key of the state. */
  Base: 0,
  /** The changes since the parent checkpoint, deletions as tombstones. */
  Delta: 1,
} as const;
export type StateFileKind = (typeof StateFileKind)[keyof typeof StateFileKind];
/** Per entry: u32 key length, u32 value length, key, value. */
export const STATE_ENTRY_FIXED_SIZE = 8;
/** A value length of 0xFFFFFFFF marks a tombstone (deltas only): the key was deleted; no value bytes follow. */
export const STATE_TOMBSTONE_LENGTH = 0xffffffff;
/** Trailer: u32 CRC32C of every byte before it, masked (maskCrc32c; version 1: plain). */
export const STATE_FILE_TRAILER_SIZE = 4;
/** Largest value in a state snapshot entry: 64 MiB. */
export const MAX_VALUE_BYTES = 64 * 1024 * 1024;
/** Largest checkpoint state file the reader will load: 4 GiB less one byte (Node's Buffer limit). */
export const MAX_STATE_FILE_BYTES = 2 ** 32 - 1;
/**
 * `state.keys` of a delta manifest whose writer did not count the keys: the incremental manager
 * holds only the changed keys, not the state, so it cannot know how many of its puts are new
 * keys. Loading a chain counts them; bases always carry the exact count.
 */
export const UNCOUNTED_KEYS = -1;
/** Size of the chunks a state file is encoded and written in: 1 MiB. */
export const STATE_FILE_CHUNK_BYTES = 1024 * 1024;

// Version 3 (see docs/FORMAT.md): header = magic, version, kind, u32 flags, u32 reserved (zero);
// then blocks of entries, each `u32 body length · u32 entry count · body · u32 masked CRC32C`
// (the CRC covers the 8-byte block header and the body); then a 16-byte trailer.
/** Byte offset of this field (version 3): u32 flags (was the low half of the entry count in version 2). */
export const STATE_FILE_FLAGS_OFFSET = 8;
/** Byte offset of this field (version 3): u32, zero. */
export const STATE_FILE_RESERVED_OFFSET = 12;
/** Flag: entries are in strictly increasing byte order of their UTF-8 keys (always set in version 3). */
export const STATE_FILE_FLAG_SORTED = 1;
/** Block header (version 3): u32 body length, u32 entry count. */
export const STATE_BLOCK_HEADER_SIZE = 8;
/** Block trailer (version 3): u32 masked CRC32C of the block header and body. */
export const STATE_BLOCK_TRAILER_SIZE = 4;
/** Target body size of a block (version 3): 1 MiB; an entry larger than that gets a block of its own. */
export const STATE_BLOCK_TARGET_BYTES = 1024 * 1024;
/** Trailer (version 3): u64 entry count, u32 tombstone count, u32 masked CRC32C of every byte before it. */
export const STATE_FILE_V3_TRAILER_SIZE = 16;

// ── Checkpoint layout (see checkpoint/checkpoint-store.ts) ───────────────────────────────────
/** A checkpoint is a directory (or object prefix) `checkpoint-` + 16 zero-padded decimal digits. */
export const CHECKPOINT_DIR_PREFIX = 'checkpoint-';
/** Digits of the zero-padded decimal checkpoint id in a checkpoint directory name. */
export const CHECKPOINT_ID_DIGITS = 16;
/** Inside it: the manifest (written last: the commit point) and the data files it names. */
export const CHECKPOINT_MANIFEST_NAME = 'manifest.json';
/** Name of a base state file (the whole state) inside a checkpoint. */
export const CHECKPOINT_BASE_FILE_NAME = 'state.base';
/** Name of a delta state file (puts and tombstones since the parent checkpoint) inside a checkpoint. */
export const CHECKPOINT_DELTA_FILE_NAME = 'state.delta';
/** Operator state over the inline threshold goes to this sidecar, one slice per operator. */
export const CHECKPOINT_OPERATORS_FILE_NAME = 'operators.bin';
/** Next to the checkpoints: the pointer file naming the newest one. */
export const CHECKPOINT_LATEST_POINTER_NAME = 'latest';
/**
 * Next to the checkpoints: the highest id ever handed out whose checkpoint may no longer exist
 * (a half-written one, burned before it is removed), so ids never repeat.
 */
export const CHECKPOINT_HIGHEST_ID_NAME = 'highest-id';
/** Object stores: key prefix (under the store's prefix) of the checkpoints. */
export const OBJECT_CHECKPOINTS_PREFIX = 'checkpoints';
/** Object stores: key prefix (under the store's prefix) of archived WAL segments. */
export const OBJECT_WAL_ARCHIVE_PREFIX = 'wal';
/** Largest checkpoint manifest file: 16 MiB. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
/** Largest operator sidecar file: 1 GiB. */
export const MAX_OPERATORS_FILE_BYTES = 1024 * 1024 * 1024;
/**
 * Major version of the checkpoint manifest written by this build. A reader refuses a newer major
 * version; fields added without a major bump are optional and ignored by older readers.
 * Version 1 was the flat layout (`checkpoint-N.manifest.json` + `checkpoint-N.state`).
 */
export const MANIFEST_VERSION = 2;

// ── Ring 0 → Ring 1 shared memory (see changelog/) ───────────────────────────────────────────
// Not on disk, but shared between threads of different builds of nothing: one layout, defined
// here, used by the producer (Ring 0), the drainer (Ring 1) and docs/FORMAT.md.

/** `StateChangelogEntry`: 32 bytes, read and written as eight 32-bit words. */
export const CHANGELOG_ENTRY_SIZE = 32;
/** A changelog entry in 32-bit words (8). */
export const CHANGELOG_ENTRY_WORDS = CHANGELOG_ENTRY_SIZE / 4;
/** Index of this 32-bit word: u32, low half of the u64 epoch. */
export const CHANGELOG_EPOCH_LO_WORD = 0;
/** Index of this 32-bit word: u32, high half. */
export const CHANGELOG_EPOCH_HI_WORD = 1;
/** Index of this 32-bit word: u32, reserved: written 0 (was a key hash nothing read). */
export const CHANGELOG_RESERVED_WORD = 2;
/** Index of this 32-bit word: u32, arena position of the payload (wrapping counter). */
export const CHANGELOG_PAYLOAD_POSITION_WORD = 3;
/** Index of this 32-bit word: u32, payload bytes (= the WAL record payload). */
export const CHANGELOG_PAYLOAD_LENGTH_WORD = 4;
/** Index of this 32-bit word: u32, key bytes (Put/Delete), else 0. */
export const CHANGELOG_KEY_LENGTH_WORD = 5;
/** Index of this 32-bit word: u32, a StateOp in the low byte; upper bytes zero. */
export const CHANGELOG_OP_WORD = 6;
/** Index of this 32-bit word: u32, low 32 bits of the entry's changelog sequence. */
export const CHANGELOG_SEQUENCE_WORD = 7;

/** `StateOp`: the mutation an entry carries; each maps to the WAL record type of the same value. */
export const StateOp = {
  /** A key set to a value. */
  Put: RecordType.Put,
  /** A key removed. */
  Delete: RecordType.Delete,
  /** Ends a transaction: the pending mutations take effect. */
  Commit: RecordType.Commit,
  /** Drops the pending (uncommitted) mutations. */
  Abort: RecordType.Abort,
} as const;
export type StateOp = (typeof StateOp)[keyof typeof StateOp];

/**
 * Control block at the start of the shared buffer: 32-bit words; the producer's, the
 * consumer's and the watermark's words sit on separate 64-byte cache lines (16 words apart).
 */
export const RING_CONTROL_SIZE = 512;
/** Index of this 32-bit word: entries published by Ring 0 (wrapping u32 counter). */
export const RING_HEAD_WORD = 0;
/** Index of this 32-bit word: arena bytes reserved by Ring 0 (wrapping u32). */
export const RING_ARENA_HEAD_WORD = 1;
/** Index of this 32-bit word: 1 while Ring 0 waits for space. */
export const RING_PRODUCER_WAITING_WORD = 2;
/** Index of this 32-bit word: entries consumed by Ring 1 (wrapping u32). */
export const RING_TAIL_WORD = 16;
/** Index of this 32-bit word: arena bytes released by Ring 1 (wrapping u32). */
export const RING_ARENA_TAIL_WORD = 17;
/** Index of this 32-bit word: 1 while Ring 1 sleeps waiting for entries. */
export const RING_CONSUMER_SLEEPING_WORD = 18;
/** The durable watermark: a 64-bit word (BigInt64 index 16 = bytes 128..136). */
export const RING_DURABLE_SEQUENCE_BIGWORD = 16;
/** The WAL LSN the durable watermark corresponds to (bytes 136..144). */
export const RING_DURABLE_LSN_BIGWORD = 17;
/** Index of this 32-bit word: RingState. */
export const RING_STATE_WORD = 48;
/** Index of this 32-bit word: bytes of JSON in the error area. */
export const RING_ERROR_LENGTH_WORD = 49;
/** Index of this 32-bit word: bumped by Ring 0 to ask for an immediate group commit. */
export const RING_FLUSH_REQUEST_WORD = 50;
/** Index of this 32-bit word: ring capacity in entries (a power of two). */
export const RING_CAPACITY_WORD = 51;
/** Index of this 32-bit word: arena size in bytes (a power of two). */
export const RING_ARENA_SIZE_WORD = 52;
/** Index of this 32-bit word: RING_LAYOUT_MAGIC, so a wrong buffer is refused. */
export const RING_LAYOUT_MAGIC_WORD = 53;
/** "TMRG" as bytes T M R G, read as a little-endian u32 (stored as its int32 value). */
export const RING_LAYOUT_MAGIC = 0x47524d54;
/** Index of this 32-bit word: current epoch, published by Ring 1 after each checkpoint (< 2^31). */
export const RING_EPOCH_WORD = 54;
/** Ring 1's counters: float64 slots from byte 256 (Float64 index 32 onwards), written by Ring 1. */
export const RING_STATS_FLOAT_OFFSET = 32;
/** Float64 slot of each of Ring 1's counters, counted from {@link RING_STATS_FLOAT_OFFSET}. */
export const RingStat = {
  /** WAL records Ring 1 appended (count). */
  recordsAppended: 0,
  /** WAL bytes Ring 1 appended (bytes, framing included). */
  bytesWritten: 1,
  /** fdatasync calls on the WAL (count). */
  syncs: 2,
  /** Group commits made durable (count). */
  groupsCommitted: 3,
  /** Most records in one group commit (count). */
  maxGroupRecords: 4,
  /** Total time spent in WAL fdatasync (ms). */
  syncTotalMs: 5,
  /** Longest single WAL fdatasync (ms). */
  syncMaxMs: 6,
  /** WAL segments created (count). */
  segmentsCreated: 7,
  /** Checkpoints Ring 1 published (count). */
  checkpoints: 8,
  /** Duration of the newest checkpoint (ms). */
  checkpointLastMs: 9,
  /** Bytes of WAL on disk in live segments (bytes). */
  walSizeBytes: 10,
  /** Drain passes that took at least one ring entry (count). */
  drainBatches: 11,
  /** Times Ring 1 slept on the ring (Atomics.wait) because it was empty (count). */
  drainSleeps: 12,
  /** Times Ring 1 found entries while spinning, before it would have slept (count). */
  drainSpinHits: 13,
  /** `bytesWritten` at the newest checkpoint (less what recovery replayed): the WAL since is `bytesWritten − this`. */
  walCheckpointMark: 14,
  /** Ring 1's measured WAL replay rate, bytes per ms (for the replay-time estimate). */
  replayBytesPerMs: 15,
  /** WAL bytes not yet in the object store's archive (records, not headers): the RPO now (bytes; 0 without an archive). */
  unarchivedBytes: 16,
  /** WAL segments Ring 1 archived to the object store (count). */
  segmentsArchived: 17,
  /** PUT requests of Ring 1's checkpoints to the object store: data objects and manifests (count). */
  checkpointObjectPuts: 18,
} as const;
/** WAL replay rate assumed before one was measured: 50 MB/s, in bytes per millisecond. */
export const DEFAULT_REPLAY_BYTES_PER_MS = 50_000;
/** Number of Ring 1 counters in {@link RingStat}. */
export const RING_STATS_COUNT = 19;
/** Ring state word values. */
export const RingState = {
  /** Ring 1 is starting up (opening the WAL, cutting a torn tail). */
  Starting: 0,
  /** Ring 1 drains the ring and writes the WAL. */
  Running: 1,
  /** Ring 1 stopped on an error; the error area holds it. */
  Failed: 2,
  /** Ring 1 closed cleanly. */
  Closed: 3,
} as const;
/** Error area after the control block: JSON `{code, message, path, offset}` of Ring 1's failure. */
export const RING_ERROR_AREA_SIZE = 4096;
/** Largest ring, in entries (2^24), and largest arena, in bytes (1 GiB). */
export const MAX_RING_ENTRIES = 2 ** 24;
/** Largest arena, in bytes (1 GiB). */
export const MAX_ARENA_BYTES = 2 ** 30;
