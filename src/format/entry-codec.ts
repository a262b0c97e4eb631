/**
 * The entry codec: the payloads of Put, Delete, Commit, CheckpointMarker and Abort records (and
 * the decoder of CleanShutdown, whose encoder is in clean-shutdown.ts).
 * Encoders write straight into the WAL's group buffer (no intermediate allocation); the decoder
 * checks every length against its cap and against the payload before it allocates anything.
 */
import { corruption, TidemarkError } from '../errors.js';
import {
  CHECKPOINT_MARKER_SIZE,
  CLEAN_SHUTDOWN_RECORD_SIZE,
  COMMIT_FIXED_SIZE,
  COMMIT_FLAG_HAS_WATERMARK,
  COMMIT_SOURCE_FIXED_SIZE,
  MAX_COMMIT_SOURCES,
  MAX_KEY_BYTES,
  MAX_RECORD_PAYLOAD_BYTES,
  MAX_SOURCE_NAME_BYTES,
  PUT_KEY_LENGTH_SIZE,
  RecordType,
} from './constants.js';
import { type RecordPayload, readU64, writeU64 } from './record-frame.js';

/** Source name → offset (a non-negative safe integer: row index, Kafka offset, byte position…). */
export type SourceOffsets = Record<string, number>;

/** A decoded WAL entry. */
export type WalEntry =
  | {
      /** A Put record: `key` set to `value`. */
      type: 'put';
      /** The key (UTF-8, at most `MAX_KEY_BYTES` bytes). */
      key: string;
      /** The new value. */
      value: Uint8Array;
    }
  | {
      /** A Delete record: `key` removed. */
      type: 'delete';
      /** The key removed. */
      key: string;
    }
  | {
      /** A Commit record: the mutations since the previous Commit take effect together. */
      type: 'commit';
      /** Epoch the commit closes. */
      epoch: number;
      /** Per-source offsets committed with the mutations. */
      sourceOffsets: SourceOffsets;
      /** Watermark (event time, ms) at the commit; undefined when none was given. */
      watermark: number | undefined;
    }
  | {
      /** A CheckpointMarker record: a checkpoint was published covering the WAL up to `lsn`. */
      type: 'checkpoint';
      /** Id of the checkpoint. */
      checkpointId: number;
      /** Epoch the checkpoint closes. */
      epoch: number;
      /** LSN the checkpoint covers (every record with LSN ≤ it). */
      lsn: number;
    }
  | {
      /** An Abort record: the uncommitted mutations since the last Commit are dropped. */
      type: 'abort';
    }
  /** The log was closed cleanly after `lastLsn`; this record sits at `offset` of segment `segment`. Replay ignores it. */
  | {
      /** A CleanShutdown record, the last one `close()` writes. */
      type: 'clean-shutdown';
      /** LSN of the last record before the clean shutdown. */
      lastLsn: number;
      /** Number of the segment holding this record. */
      segment: number;
      /** Byte offset of this record in that segment. */
      offset: number;
    };

/** Something that can write a record payload of a known size into a buffer. */
export interface PayloadEncoder {
  /** Record type of the frame this payload goes in. */
  readonly recordType: RecordType;
  /** Payload size in bytes. */
  readonly byteLength: number;
  /** Writes exactly `byteLength` bytes at `offset`. */
  encodeInto(buf: Buffer, offset: number): void;
}

function checkKey(key: string): number {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    throw new TidemarkError('TIDEMARK_LIMIT', `key of ${bytes} bytes is over the cap of ${MAX_KEY_BYTES}`);
  }
  return bytes;
}

function checkU64(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `${name} must be a non-negative safe integer, got ${value}`,
    );
  }
}

/**
 * Reusable Put encoder: set `key`/`value` with {@link PutEncoder.set}, then append it.
 *
 * Threads: a reusable scratch object: one per thread, never shared.
 */
export class PutEncoder implements PayloadEncoder {
  /** Always `RecordType.Put`. */
  readonly recordType = RecordType.Put;
  byteLength = 0;
  private key = '';
  private keyBytes = 0;
  private value: Uint8Array = new Uint8Array(0);

  /**
   * Sets the Put to encode next; returns this encoder. Throws `TIDEMARK_LIMIT` for a key over
   * {@link MAX_KEY_BYTES} or a payload over {@link MAX_RECORD_PAYLOAD_BYTES}.
   */
  set(key: string, value: Uint8Array): this {
    this.keyBytes = checkKey(key);
    this.key = key;
    this.value = value;
    this.byteLength = PUT_KEY_LENGTH_SIZE + this.keyBytes + value.length;
    if (this.byteLength > MAX_RECORD_PAYLOAD_BYTES) {
      throw new TidemarkError('TIDEMARK_LIMIT', `put of ${this.byteLength} bytes is over the record cap`);
    }
    return this;
  }

  encodeInto(buf: Buffer, offset: number): void {
    buf.writeUInt32LE(this.keyBytes, offset);
    buf.write(this.key, offset + PUT_KEY_LENGTH_SIZE, this.keyBytes, 'utf8');
    buf.set(this.value, offset + PUT_KEY_LENGTH_SIZE + this.keyBytes);
  }
}

/**
 * Reusable Delete encoder: the payload is the key's UTF-8 bytes.
 *
 * Threads: a reusable scratch object: one per thread, never shared.
 */
export class DeleteEncoder implements PayloadEncoder {
  /** Always `RecordType.Delete`. */
  readonly recordType = RecordType.Delete;
  byteLength = 0;
  private key = '';

  /** Sets the key to delete next; returns this encoder. Throws `TIDEMARK_LIMIT` for a key over {@link MAX_KEY_BYTES}. */
  set(key: string): this {
    this.byteLength = checkKey(key);
    this.key = key;
    return this;
  }

  encodeInto(buf: Buffer, offset: number): void {
    buf.write(this.key, offset, this.byteLength, 'utf8');
  }
}

/**
 * Commit encoder: epoch, optional watermark and every source's offset, in one record.
 *
 * Threads: a reusable scratch object: one per thread, never shared.
 */
export class CommitEncoder implements PayloadEncoder {
  /** Always `RecordType.Commit`. */
  readonly recordType = RecordType.Commit;
  readonly byteLength: number;
  private readonly names: string[];
  private readonly nameBytes: number[];

  constructor(
    private readonly epoch: number,
    private readonly sourceOffsets: SourceOffsets,
    private readonly watermark: number | undefined,
  ) {
    checkU64('epoch', epoch);
    if (watermark !== undefined && !Number.isSafeInteger(watermark)) {
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `watermark must be a safe integer, got ${watermark}`,
      );
    }
    this.names = Object.keys(sourceOffsets);
    if (this.names.length > MAX_COMMIT_SOURCES) {
      throw new TidemarkError(
        'TIDEMARK_LIMIT',
        `${this.names.length} sources is over the cap of ${MAX_COMMIT_SOURCES}`,
      );
    }
    let size = COMMIT_FIXED_SIZE;
    this.nameBytes = this.names.map((name) => {
      const bytes = Buffer.byteLength(name, 'utf8');
      if (bytes > MAX_SOURCE_NAME_BYTES) {
        throw new TidemarkError('TIDEMARK_LIMIT', `source name of ${bytes} bytes is over the cap`);
      }
      checkU64(`offset of source ${name}`, sourceOffsets[name]!);
      size += COMMIT_SOURCE_FIXED_SIZE + bytes;
      return bytes;
    });
    this.byteLength = size;
  }

  encodeInto(buf: Buffer, offset: number): void {
    let o = offset;
    writeU64(buf, o, this.epoch);
    o += 8;
    buf[o++] = this.watermark === undefined ? 0 : COMMIT_FLAG_HAS_WATERMARK;
    buf.writeBigInt64LE(BigInt(this.watermark ?? 0), o);
    o += 8;
    buf.writeUInt32LE(this.names.length, o);
    o += 4;
    for (let i = 0; i < this.names.length; i++) {
      const name = this.names[i]!;
      const bytes = this.nameBytes[i]!;
      buf.writeUInt16LE(bytes, o);
      o += 2;
      buf.write(name, o, bytes, 'utf8');
      o += bytes;
      writeU64(buf, o, this.sourceOffsets[name]!);
      o += 8;
    }
  }
}

/**
 * CheckpointMarker encoder: "checkpoint `checkpointId` of `epoch` covers every record ≤ `lsn`".
 *
 * Threads: a reusable scratch object: one per thread, never shared.
 */
export class CheckpointMarkerEncoder implements PayloadEncoder {
  /** Always `RecordType.CheckpointMarker`. */
  readonly recordType = RecordType.CheckpointMarker;
  readonly byteLength = CHECKPOINT_MARKER_SIZE;
  constructor(
    private readonly checkpointId: number,
    private readonly epoch: number,
    private readonly lsn: number,
  ) {
    checkU64('checkpointId', checkpointId);
    checkU64('epoch', epoch);
    checkU64('lsn', lsn);
  }
  encodeInto(buf: Buffer, offset: number): void {
    writeU64(buf, offset, this.checkpointId);
    writeU64(buf, offset + 8, this.epoch);
    writeU64(buf, offset + 16, this.lsn);
  }
}

/** Abort encoder: an empty payload that discards the uncommitted records before it. */
export const ABORT_ENCODER: PayloadEncoder = {
  recordType: RecordType.Abort,
  byteLength: 0,
  encodeInto() {},
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** `TIDEMARK_CORRUPTION` for a malformed payload (module-level: nothing is allocated per record). */
function malformed(path: string, offset: number, what: string): TidemarkError {
  return corruption(path, offset, `malformed record payload: ${what}`);
}

/**
 * The string in `buf[from, to)`. Most keys are ASCII: check the bytes and take the cheap latin1
 * path; otherwise decode strictly (an invalid sequence is corruption, not a key).
 */
function decodeText(buf: Buffer, path: string, offset: number, from: number, to: number): string {
  for (let i = from; i < to; i++) {
    if (buf[i]! >= 0x80) {
      try {
        return utf8.decode(buf.subarray(from, to));
      } catch {
        throw malformed(path, offset, 'invalid UTF-8');
      }
    }
  }
  return buf.toString('latin1', from, to);
}

/**
 * Decodes the payload `buf[payloadStart, payloadStart + payloadLength)` of a record of `type`
 * (the record is only read, never kept). Throws `TIDEMARK_CORRUPTION` naming `path` and
 * `frameOffset` when it is malformed — which, behind a valid CRC, means a writer bug or a newer
 * format.
 */
export function decodeEntry(record: Readonly<RecordPayload>): WalEntry {
  const { type, buf, payloadStart: start, payloadLength: length, path, frameOffset: offset } = record;
  const end = start + length;
  switch (type) {
    case RecordType.Put: {
      if (length < PUT_KEY_LENGTH_SIZE) throw malformed(path, offset, 'put shorter than its key length');
      const keyBytes = buf.readUInt32LE(start);
      if (keyBytes > MAX_KEY_BYTES || PUT_KEY_LENGTH_SIZE + keyBytes > length)
        throw malformed(path, offset, 'key length');
      const keyEnd = start + PUT_KEY_LENGTH_SIZE + keyBytes;
      return {
        type: 'put',
        key: decodeText(buf, path, offset, start + PUT_KEY_LENGTH_SIZE, keyEnd),
        value: buf.subarray(keyEnd, end),
      };
    }
    case RecordType.Delete:
      if (length > MAX_KEY_BYTES) throw malformed(path, offset, 'key length');
      return { type: 'delete', key: decodeText(buf, path, offset, start, end) };
    case RecordType.Commit: {
      if (length < COMMIT_FIXED_SIZE) throw malformed(path, offset, 'commit too short');
      let o = start;
      const epoch = readU64(buf, o);
      o += 8;
      const flags = buf[o++]!;
      if ((flags & ~COMMIT_FLAG_HAS_WATERMARK) !== 0) throw malformed(path, offset, 'unknown commit flags');
      const watermarkRaw = buf.readBigInt64LE(o);
      o += 8;
      const count = buf.readUInt32LE(o);
      o += 4;
      if (count > MAX_COMMIT_SOURCES || count * COMMIT_SOURCE_FIXED_SIZE > end - o)
        throw malformed(path, offset, 'source count');
      const sourceOffsets: SourceOffsets = {};
      for (let i = 0; i < count; i++) {
        if (end - o < COMMIT_SOURCE_FIXED_SIZE) throw malformed(path, offset, 'source entry');
        const nameBytes = buf.readUInt16LE(o);
        o += 2;
        if (nameBytes > MAX_SOURCE_NAME_BYTES || nameBytes + 8 > end - o)
          throw malformed(path, offset, 'source name length');
        const name = decodeText(buf, path, offset, o, o + nameBytes);
        o += nameBytes;
        sourceOffsets[name] = readU64(buf, o);
        o += 8;
      }
      if (o !== end) throw malformed(path, offset, 'trailing bytes after commit');
      const watermark = flags & COMMIT_FLAG_HAS_WATERMARK ? Number(watermarkRaw) : undefined;
      return { type: 'commit', epoch, sourceOffsets, watermark };
    }
    case RecordType.CheckpointMarker:
      if (length !== CHECKPOINT_MARKER_SIZE) throw malformed(path, offset, 'checkpoint marker size');
      return {
        type: 'checkpoint',
        checkpointId: readU64(buf, start),
        epoch: readU64(buf, start + 8),
        lsn: readU64(buf, start + 16),
      };
    case RecordType.Abort:
      if (length !== 0) throw malformed(path, offset, 'abort with a payload');
      return { type: 'abort' };
    case RecordType.CleanShutdown:
      if (length !== CLEAN_SHUTDOWN_RECORD_SIZE) throw malformed(path, offset, 'clean-shutdown record size');
      return {
        type: 'clean-shutdown',
        lastLsn: readU64(buf, start),
        segment: readU64(buf, start + 8),
        offset: readU64(buf, start + 16),
      };
    default:
      throw malformed(path, offset, `unknown record type ${type}`);
  }
}
