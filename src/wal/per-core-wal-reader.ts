/**
 * `PerCoreWalReader` (the seed's): reads one core's log — `wal/core-<id>/`, ordinary segments of
 * `CoreEntry` records — from a position, and `mergeSegments()` orders the entries of every core
 * by (epoch, timestampNs, coreId, sequence): a total order, so any interleaving of appends
 * across cores merges to the same sequence.
 */
import { TidemarkError } from '../errors.js';
import { RecordType } from '../format/constants.js';
import { comparePerCoreEntries, decodeCoreEntry, type PerCoreWalEntry } from '../format/per-core-entry.js';
import type { Directory } from '../io/directory.js';
import type { WalDamage, WalRecoveryMode } from './segment-scanner.js';
import { type WalPosition, WalReader } from './wal-reader.js';

/** Subdirectory of the WAL root holding core `coreId`'s segments. */
export function coreWalDirName(coreId: number): string {
  return `core-${coreId}`;
}

/** What reading one core's log found (the seed's `SegmentStats`). */
export interface SegmentStats {
  /** The core whose log was read. */
  coreId: number;
  /** Records read (count). */
  records: number;
  /** Bytes of segment files read (bytes). */
  bytesRead: number;
  /** Bytes of a torn tail found at the end (cut when the core's writer opens). */
  tornBytes: number;
  /** `point-in-time` / `salvage`: damage passed over. */
  damage: WalDamage[];
  /** Time the read took (ms). */
  durationMs: number;
  /** Where the record after the last one read starts (resume a later read there). */
  endPosition: WalPosition | undefined;
  /**
   * Sequence of the last intact entry of the log (not only of those read): below `from.lsn - 1`
   * when the log ends before `from`. `from.lsn - 1` (or 0) when the log has no segment at all.
   */
  lastSequence: number;
  /** Where each EpochBarrier read is, by the epoch it starts (a consistent cut point). */
  barriers: Map<number, WalPosition>;
}

/** Options of {@link PerCoreWalReader.read}. */
export interface PerCoreReadOptions {
  /** Start here (a position from a manifest); default: the start of the log. */
  from?: WalPosition | undefined;
  /** Read no record with a sequence (LSN) past this. */
  untilSequence?: number;
  /** What damage does (default `tolerate-torn-tail`); see `WalRecoveryMode`. */
  mode?: WalRecoveryMode;
}

/**
 * Reads per-core logs.
 *
 * Threads: static and read-only, no state between calls: any thread may read, each with its own
 * `Directory`.
 */
export class PerCoreWalReader {
  /**
   * Every entry of core `coreId` under `walRoot` from `options.from`, in sequence order.
   * Throws `TIDEMARK_CORRUPTION` naming the core, file and offset (default mode), and
   * `TIDEMARK_DATA_LOSS` when the log no longer reaches back to `from`.
   */
  static async read(
    walRoot: Directory,
    coreId: number,
    options: PerCoreReadOptions = {},
  ): Promise<{
    /** The core's entries read, in sequence (LSN) order. */
    entries: PerCoreWalEntry[];
    /** What the read went through: records, bytes, damage, where it ended. */
    stats: SegmentStats;
  }> {
    const t0 = performance.now();
    const dir = await walRoot.subdirectory(coreWalDirName(coreId));
    const entries: PerCoreWalEntry[] = [];
    const barriers = new Map<number, WalPosition>();
    const fromLsn = options.from?.lsn ?? 1;
    try {
      const read = await WalReader.read(
        dir,
        { fromLsn, untilLsn: options.untilSequence, resumeAt: options.from, mode: options.mode },
        (record) => {
          const { lsn, type, frameOffset, batchOffset, segmentNumber, path } = record;
          if (type !== RecordType.CoreEntry)
            throw new TidemarkError(
              'TIDEMARK_CORRUPTION',
              `${path} at byte ${frameOffset}: record type ${type} in a per-core log`,
              {
                path,
                offset: frameOffset,
              },
            );
          const entry = decodeCoreEntry(record);
          if (entry.coreId !== coreId)
            throw new TidemarkError(
              'TIDEMARK_CORRUPTION',
              `${path} at byte ${frameOffset}: entry of core ${entry.coreId} in core ${coreId}'s log`,
              {
                path,
                offset: frameOffset,
              },
            );
          entries.push(entry);
          if (entry.operation.type === 'epoch-barrier')
            barriers.set(entry.epoch, { segment: segmentNumber, offset: batchOffset, lsn });
        },
      );
      return {
        entries,
        stats: {
          coreId,
          records: read.records,
          bytesRead: read.bytesRead,
          tornBytes: read.tornTail?.bytesDropped ?? 0,
          damage: read.damage,
          durationMs: performance.now() - t0,
          endPosition: read.endPosition,
          lastSequence: read.lastLsn,
          barriers,
        },
      };
    } catch (err) {
      if (err instanceof TidemarkError && !err.message.startsWith(`core ${coreId}:`))
        throw new TidemarkError(err.code, `core ${coreId}: ${err.message}`, {
          ...(err.path === undefined ? {} : { path: err.path }),
          ...(err.offset === undefined ? {} : { offset: err.offset }),
          cause: err,
        });
      throw err;
    }
  }
}

/** Merges per-core entry lists into one list ordered by (epoch, timestampNs, coreId, sequence). */
export function mergeSegments(perCore: readonly (readonly PerCoreWalEntry[])[]): PerCoreWalEntry[] {
  const all: PerCoreWalEntry[] = [];
  for (const entries of perCore) for (const e of entries) all.push(e);
  return all.sort(comparePerCoreEntries);
}
