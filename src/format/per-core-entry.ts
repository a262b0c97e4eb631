/**
 * Per-core WAL entries (the seed's `PerCoreWalEntry` / `WalOperation`,
 * LaminarDB's `laminar-storage` per-core WAL): a `CoreEntry` record wraps an ordinary entry with
 * what orders it across cores — epoch, core id, timestamp — and the record's LSN in that core's
 * log is its `sequence`. Layout in docs/FORMAT.md ("Per-core WAL").
 */
import { corruption, TidemarkError } from '../errors.js';
import {
  CORE_ENTRY_CORE_ID_OFFSET,
  CORE_ENTRY_EPOCH_OFFSET,
  CORE_ENTRY_HEADER_SIZE,
  CORE_ENTRY_OPERATION_OFFSET,
  CORE_ENTRY_TIMESTAMP_OFFSET,
  CoreOperation,
  MAX_CORES,
  RecordType,
} from './constants.js';
import { decodeEntry, type PayloadEncoder, type SourceOffsets } from './entry-codec.js';
import { type RecordPayload, readU64, writeU64 } from './record-frame.js';

/** What a per-core entry does (the seed's `WalOperation`). */
export type WalOperation =
  | {
      /** A write of one key. */
      type: 'put';
      /** The key written. */
      key: string;
      /** The value written (decoded entries own their bytes). */
      value: Uint8Array;
    }
  | {
      /** A removal of one key. */
      type: 'delete';
      /** The key removed. */
      key: string;
    }
  | {
      /** The end of a transactional batch: everything since the previous commit applies. */
      type: 'commit';
      /** Source name → offset committed with the batch (exactly-once resume points). */
      sourceOffsets: SourceOffsets;
      /** Event-time watermark committed with the batch, if any. */
      watermark: number | undefined;
    }
  | {
      /** A checkpoint marker: a published checkpoint covers this core up to `coveredSequence`. */
      type: 'checkpoint';
      /** The id of the published checkpoint. */
      checkpointId: number;
      /** The checkpoint holds this core's entries up to this sequence. */
      coveredSequence: number;
    }
  | {
      /** An epoch barrier: every entry of the previous epoch is before it in this core's log. */
      type: 'epoch-barrier';
    };

/** One entry of a per-core WAL (the seed's `PerCoreWalEntry`). */
export interface PerCoreWalEntry {
  /** The checkpoint epoch the entry belongs to (advanced by epoch barriers). */
  epoch: number;
  /** The entry's LSN in its core's log: strictly increasing per core, never repeated. */
  sequence: number;
  /** The core whose log holds the entry. */
  coreId: number;
  /** Nanoseconds since the Unix epoch; strictly increasing per core. */
  timestampNs: bigint;
  /** What the entry does. */
  operation: WalOperation;
}

const INNER_TYPE: Record<number, number> = {
  [CoreOperation.Put]: RecordType.Put,
  [CoreOperation.Delete]: RecordType.Delete,
  [CoreOperation.Commit]: RecordType.Commit,
  [CoreOperation.Checkpoint]: RecordType.CheckpointMarker,
};

/**
 * Reusable encoder of a CoreEntry around an inner entry encoder (none for an EpochBarrier).
 *
 * Threads: a reusable scratch object: one per thread, never shared.
 */
export class CoreEntryEncoder implements PayloadEncoder {
  /** Always `RecordType.CoreEntry`: the WAL record type this encoder frames. */
  readonly recordType = RecordType.CoreEntry;
  byteLength = CORE_ENTRY_HEADER_SIZE;
  private operation: CoreOperation = CoreOperation.EpochBarrier;
  private epoch = 0;
  private timestampNs = 0n;
  private inner: PayloadEncoder | undefined;

  constructor(
    /** The core the encoded entries belong to, in [0, `MAX_CORES`). */
    readonly coreId: number,
  ) {
    if (!Number.isInteger(coreId) || coreId < 0 || coreId >= MAX_CORES)
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `core id must be in [0, ${MAX_CORES}), got ${coreId}`,
      );
  }

  /** Sets the next entry; returns this encoder, ready to append. */
  set(operation: CoreOperation, epoch: number, timestampNs: bigint, inner: PayloadEncoder | undefined): this {
    this.operation = operation;
    this.epoch = epoch;
    this.timestampNs = timestampNs;
    this.inner = inner;
    this.byteLength = CORE_ENTRY_HEADER_SIZE + (inner?.byteLength ?? 0);
    return this;
  }

  encodeInto(buf: Buffer, offset: number): void {
    buf.writeUInt32LE(this.operation, offset + CORE_ENTRY_OPERATION_OFFSET);
    buf.writeUInt32LE(this.coreId, offset + CORE_ENTRY_CORE_ID_OFFSET);
    writeU64(buf, offset + CORE_ENTRY_EPOCH_OFFSET, this.epoch);
    buf.writeBigUInt64LE(this.timestampNs, offset + CORE_ENTRY_TIMESTAMP_OFFSET);
    this.inner?.encodeInto(buf, offset + CORE_ENTRY_HEADER_SIZE);
  }
}

/**
 * Decodes the payload of a CoreEntry record (its LSN is the entry's `sequence`; the record is
 * only read, never kept). Throws `TIDEMARK_CORRUPTION` (path, frame offset) for a malformed
 * payload behind a valid checksum.
 */
export function decodeCoreEntry(record: Readonly<RecordPayload & { lsn: number }>): PerCoreWalEntry {
  const { lsn: sequence, buf, payloadStart: start, payloadLength: length, path, frameOffset } = record;
  if (length < CORE_ENTRY_HEADER_SIZE)
    throw corruption(path, frameOffset, 'core entry shorter than its header');
  const word = buf.readUInt32LE(start + CORE_ENTRY_OPERATION_OFFSET);
  const op = word & 0xff;
  if (word >>> 8 !== 0) throw corruption(path, frameOffset, 'core entry reserved bytes are not zero');
  const coreId = buf.readUInt32LE(start + CORE_ENTRY_CORE_ID_OFFSET);
  if (coreId >= MAX_CORES) throw corruption(path, frameOffset, `core id ${coreId} out of range`);
  const epoch = readU64(buf, start + CORE_ENTRY_EPOCH_OFFSET);
  const timestampNs = buf.readBigUInt64LE(start + CORE_ENTRY_TIMESTAMP_OFFSET);
  const bodyStart = start + CORE_ENTRY_HEADER_SIZE;
  const bodyLength = length - CORE_ENTRY_HEADER_SIZE;
  let operation: WalOperation;
  if (op === CoreOperation.EpochBarrier) {
    if (bodyLength !== 0) throw corruption(path, frameOffset, 'epoch barrier with a body');
    operation = { type: 'epoch-barrier' };
  } else {
    const inner = INNER_TYPE[op];
    if (inner === undefined) throw corruption(path, frameOffset, `unknown core operation ${op}`);
    const e = decodeEntry({
      type: inner,
      buf,
      payloadStart: bodyStart,
      payloadLength: bodyLength,
      path,
      frameOffset,
    });
    if (e.type === 'put') operation = { type: 'put', key: e.key, value: e.value };
    else if (e.type === 'delete') operation = { type: 'delete', key: e.key };
    else if (e.type === 'commit')
      operation = { type: 'commit', sourceOffsets: e.sourceOffsets, watermark: e.watermark };
    else if (e.type === 'checkpoint')
      operation = { type: 'checkpoint', checkpointId: e.checkpointId, coveredSequence: e.lsn };
    else throw corruption(path, frameOffset, 'core entry wraps an abort');
  }
  return { epoch, sequence, coreId, timestampNs, operation };
}

/** The order of the merge: (epoch, timestampNs, coreId, sequence) — total, so the merge is deterministic. */
export function comparePerCoreEntries(a: PerCoreWalEntry, b: PerCoreWalEntry): number {
  if (a.epoch !== b.epoch) return a.epoch - b.epoch;
  if (a.timestampNs !== b.timestampNs) return a.timestampNs < b.timestampNs ? -1 : 1;
  if (a.coreId !== b.coreId) return a.coreId - b.coreId;
  return a.sequence - b.sequence;
}
