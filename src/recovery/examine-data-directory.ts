/**
 * `examineDataDirectory()`: reads a whole data directory without changing it — every WAL segment
 * (each frame's checksum, LSN continuity between segments, records by type) and every checkpoint
 * (its whole chain: manifests, files, sizes, checksums, state files) — and reports what it holds
 * and every problem found, each with its code, file and offset. Behind `tidemark verify` and
 * `tidemark inspect`. Unlike recovery it does not stop at the first problem — and then it runs
 * recovery itself (read-only `RecoveryManager.recover()`, the same code `open()` runs), so that
 * whenever recovery would refuse or lose data, the report says so with recovery's own error:
 * verify can never call a directory clean that recovery refuses.
 */
import { type CheckpointProblem, validateCheckpointChain } from '../checkpoint/checkpoint-chain.js';
import { type CheckpointStore, FileSystemCheckpointStore } from '../checkpoint/checkpoint-store.js';
import { isTidemarkError, type TidemarkErrorCode } from '../errors.js';
import type { CheckpointManifest } from '../format/checkpoint-manifest.js';
import type { CleanShutdownMarker } from '../format/clean-shutdown.js';
import { CLEAN_MARKER_FILE_NAME, MAX_SEGMENT_FILE_BYTES, RecordType } from '../format/constants.js';
import type { Directory } from '../io/directory.js';
import { FsDirectory, TEMP_SUFFIX } from '../io/fs-directory.js';
import { cleanShutdownShortfall, readCleanMarker } from '../wal/clean-marker.js';
import { classifyWalFileName, listSegmentNumbers, segmentFileName } from '../wal/segment-name.js';
import { isTornSegmentHeader, scanSegment, type TornTail } from '../wal/segment-scanner.js';
import { RecoveryManager } from './recovery-manager.js';
import { objectStoreOf, openCheckpointStore, type StorageOptions, WAL_DIR_NAME } from './storage-location.js';

/** One problem found, with where it is. */
export interface DataDirectoryProblem {
  /** The error code recovery (or a check) would raise for it (see docs/ERRORS.md). */
  code: TidemarkErrorCode;
  /** The damaged or missing file, when the problem has one. */
  path: string | undefined;
  /** Byte offset in that file, when known. */
  offset: number | undefined;
  /** A sentence for an operator. */
  message: string;
}

const TYPE_NAMES: Record<number, string> = {
  [RecordType.Put]: 'put',
  [RecordType.Delete]: 'delete',
  [RecordType.Commit]: 'commit',
  [RecordType.CheckpointMarker]: 'checkpoint',
  [RecordType.Abort]: 'abort',
  [RecordType.CleanShutdown]: 'clean-shutdown',
};

/** Something worth a look that is not damage: the log works without it. */
export interface DataDirectoryWarning {
  /** The file the warning is about. */
  path: string;
  /** A sentence for an operator. */
  message: string;
}

/** One WAL segment as found. */
export interface SegmentReport {
  /** The segment's number (from its file name, checked against its header). */
  number: number;
  /** The segment file. */
  path: string;
  /**
   * Size of the file in bytes. The final segment's file may be longer than its data (a
   * preallocated zero tail, `WalOptions.preallocateSegments`): `endOffset` is where its data ends.
   */
  sizeBytes: number;
  /** LSN of the first record (from the header), undefined when the header is unreadable. */
  firstLsn: number | undefined;
  /** LSN of the last intact record. */
  lastLsn: number | undefined;
  /** Intact records read. */
  records: number;
  /** Segment format version (from the header), undefined when the header is unreadable. */
  version: number | undefined;
  /** Intact record batches (format version 3); in versions 1 and 2 every record is its own frame. */
  batches: number;
  /** Most records in one of those batches (0 when there is none). */
  maxBatchRecords: number;
  /** Format version 4 on: commit time of the segment's first intact batch, ms since the Unix epoch (undefined: none, or an untimed segment). */
  firstCommitTimeMs?: number | undefined;
  /** Format version 4 on: commit time of its last intact batch (commit times never decrease within a segment). */
  lastCommitTimeMs?: number | undefined;
  /** Records by type: put, delete, commit, checkpoint, abort, clean-shutdown. */
  recordsByType: Record<string, number>;
  /** Offset just after the last intact record (0 when the header is unreadable). */
  endOffset: number;
  /** Damage at the end of the final segment that opening the log would cut (not a problem). */
  tornTail: TornTail | undefined;
  /** Damage that stops recovery in this segment (a torn tail is not one: see `tornTail`). */
  problem: DataDirectoryProblem | undefined;
}

/** One checkpoint as found. */
export interface CheckpointReport {
  /** The checkpoint's id. */
  id: number;
  /** True when the manifest, every data file and the chain to its base check out. */
  valid: boolean;
  /** The decoded manifest, when it decodes. */
  manifest: CheckpointManifest | undefined;
  /** Ids from the base to this checkpoint. */
  chain: number[];
  /** Bytes read and CRC-checked for this checkpoint. */
  bytesChecked: number;
  /** What is wrong with it (empty when valid). */
  problems: CheckpointProblem[];
}

/** What a data directory holds, and what is wrong with it. */
export interface DataDirectoryReport {
  /** The data directory examined. */
  dir: string;
  /** Where checkpoints are (the local `checkpoints/` or an object store). */
  checkpointLocation: string;
  /** Every WAL segment, oldest first. */
  segments: SegmentReport[];
  /** Bytes of WAL data (to each segment's end of data), all segments. */
  walBytes: number;
  /** Every checkpoint found, oldest first. */
  checkpoints: CheckpointReport[];
  /** What the `latest` pointer names. */
  latestPointer: number | 'missing' | 'corrupt';
  /**
   * Every problem, WAL and checkpoints, and recovery's own refusal if it refuses; empty when the
   * directory is clean.
   */
  problems: DataDirectoryProblem[];
  /**
   * Things that do not stop recovery, for an operator to look at: files in `wal/` that are not
   * part of the log (not a segment, a `.broken` copy, `CLEAN` or `LOCK`) and stray names in the
   * checkpoint directory, both ignored by recovery.
   */
  warnings: DataDirectoryWarning[];
  /** What read-only recovery (`recover()`) made of the directory. */
  recovery: RecoveryVerdict;
  /** Copies of bytes a repair cut off (`<segment>.broken`), by file name. */
  brokenFiles: string[];
  /** What the clean-shutdown marker `wal/CLEAN` says, when there is one that decodes. */
  cleanShutdown: CleanShutdownMarker | undefined;
}

/** The outcome of running recovery on the directory: where it would start, or why it refuses. */
export type RecoveryVerdict =
  | {
      /** Recovery succeeds. */
      ok: true;
      /** Checkpoint recovery starts from (undefined: from an empty state). */
      checkpointId: number | undefined;
      /** Newer checkpoints it passes over as invalid. */
      checkpointsSkipped: number[];
      /** LSN of the last record it would apply. */
      lsn: number;
    }
  | ({
      /** Recovery refuses the directory, for the problem given. */
      ok: false;
    } & DataDirectoryProblem);

/** Options of {@link examineDataDirectory}. */
export interface ExamineOptions extends StorageOptions {
  /** Called after each segment and checkpoint: items done, items in all. */
  onProgress?: (done: number, total: number) => void;
}

function problemOf(err: unknown): DataDirectoryProblem {
  if (isTidemarkError(err))
    return { code: err.code, path: err.path, offset: err.offset, message: err.message };
  throw err;
}

/**
 * Examines the data directory `dir` (read-only). Rejects only when it cannot read at all
 * (`TIDEMARK_IO`, `TIDEMARK_NOT_FOUND`); damage is reported, not thrown.
 */
export async function examineDataDirectory(
  dir: string | Directory,
  options: ExamineOptions = {},
): Promise<DataDirectoryReport> {
  const root = typeof dir === 'string' ? await FsDirectory.open(dir) : dir;
  const walDir = await root.subdirectory(WAL_DIR_NAME);
  const checkpoints = await openCheckpointStore(root, objectStoreOf(options));
  try {
    const walFiles = (await walDir.list()).sort();
    // Not listSegments(): a gap is reported per segment below, like any other damage, not thrown.
    const numbers = listSegmentNumbers(walFiles);
    // A store that cannot even be listed (the retired flat layout) is a problem to report.
    let listError: DataDirectoryProblem | undefined;
    const ids = await checkpoints.store.list().catch((err: unknown) => {
      listError = problemOf(err);
      return [] as number[];
    });
    const total = numbers.length + ids.length;
    let done = 0;
    const report: DataDirectoryReport = {
      dir: root.path,
      checkpointLocation: checkpoints.store.location,
      segments: [],
      walBytes: 0,
      checkpoints: [],
      latestPointer: await checkpoints.store.readLatestPointer(),
      problems: [],
      warnings: [],
      recovery: { ok: true, checkpointId: undefined, checkpointsSkipped: [], lsn: 0 },
      brokenFiles: walFiles.filter((f) => classifyWalFileName(f) === 'broken'),
      cleanShutdown: undefined,
    };
    if (listError) report.problems.push(listError);
    if (checkpoints.store instanceof FileSystemCheckpointStore) {
      for (const name of await checkpoints.store.strays())
        report.warnings.push({
          path: `${checkpoints.store.location}/${name}`,
          message: name.endsWith(TEMP_SUFFIX)
            ? 'half-written file: ignored by recovery, removed when the directory is opened'
            : 'not a checkpoint file: ignored by recovery',
        });
    }
    for (const f of walFiles)
      if (classifyWalFileName(f) === 'stray')
        report.warnings.push({
          path: `${walDir.path}/${f}`,
          message: 'not a WAL segment (a segment is named wal-<16 digits>.log): ignored by the log',
        });
    try {
      report.cleanShutdown = await readCleanMarker(walDir);
    } catch (err) {
      report.problems.push(problemOf(err));
    }
    let expectedFirst: number | undefined;
    for (let i = 0; i < numbers.length; i++) {
      const seg = await examineSegment(walDir, {
        number: numbers[i]!,
        final: i === numbers.length - 1,
        expectedFirst,
        previousNumber: numbers[i - 1],
      });
      report.segments.push(seg);
      report.walBytes += seg.sizeBytes;
      if (seg.problem) report.problems.push(seg.problem);
      expectedFirst = seg.lastLsn === undefined ? undefined : seg.lastLsn + 1;
      options.onProgress?.(++done, total);
    }
    // The same check as opening the log: a cleanly closed log must still reach where it ended.
    const marker = report.cleanShutdown;
    const final = report.segments[report.segments.length - 1];
    if (marker && (final === undefined || final.problem === undefined)) {
      const short = cleanShutdownShortfall(
        marker,
        final === undefined
          ? { segment: undefined, path: walDir.path, lastLsn: 0, endOffset: 0 }
          : {
              segment: final.number,
              path: final.path,
              lastLsn: final.lastLsn ?? report.segments[report.segments.length - 2]?.lastLsn ?? 0,
              endOffset: final.endOffset,
            },
        `${walDir.path}/${CLEAN_MARKER_FILE_NAME}`,
      );
      if (short) report.problems.push(problemOf(short));
    }
    for (const id of ids) {
      report.checkpoints.push(await examineCheckpoint(checkpoints.store, id));
      options.onProgress?.(++done, total);
    }
    for (const c of report.checkpoints) {
      for (const p of c.problems)
        report.problems.push({ code: p.code, path: p.path, offset: p.offset, message: p.message });
    }
    report.recovery = await recoveryVerdict(root, options);
    if (!report.recovery.ok) {
      const { ok: _ok, ...problem } = report.recovery;
      // Recovery's refusal is one more problem unless the scan above already found that same one.
      const known = report.problems.some(
        (p) => p.code === problem.code && p.path === problem.path && p.offset === problem.offset,
      );
      if (!known) report.problems.push({ ...problem, message: `recovery refuses: ${problem.message}` });
    }
    return report;
  } finally {
    checkpoints.close();
  }
}

/** Runs read-only recovery (the very code `open()` runs) and says how it ends. */
async function recoveryVerdict(root: Directory, options: StorageOptions): Promise<RecoveryVerdict> {
  try {
    const r = await new RecoveryManager({ ...options, dir: root }).recover();
    return {
      ok: true,
      checkpointId: r.stats.checkpointId,
      checkpointsSkipped: r.stats.checkpointsSkipped.map((c) => c.id),
      lsn: r.lsn,
    };
  } catch (err) {
    return { ok: false, ...problemOf(err) };
  }
}

/** Which segment {@link examineSegment} looks at, and what the segments before it said. */
interface ExamineSegmentOptions {
  /** The segment's number (from its file name). */
  number: number;
  /** Whether it is the last segment (only there may damage be a torn tail). */
  final: boolean;
  /** The LSN it must start at (the previous segment's last + 1), when known. */
  expectedFirst: number | undefined;
  /** The number of the segment before it, if any (a gap in the numbering is reported). */
  previousNumber: number | undefined;
}

async function examineSegment(walDir: Directory, options: ExamineSegmentOptions): Promise<SegmentReport> {
  const { number, final, expectedFirst, previousNumber } = options;
  const name = segmentFileName(number);
  const path = `${walDir.path}/${name}`;
  const recordsByType: Record<string, number> = {};
  const seg: SegmentReport = {
    number,
    path,
    sizeBytes: 0,
    firstLsn: undefined,
    lastLsn: undefined,
    records: 0,
    version: undefined,
    batches: 0,
    maxBatchRecords: 0,
    recordsByType,
    endOffset: 0,
    tornTail: undefined,
    problem: undefined,
  };
  try {
    const buf = Buffer.from(await walDir.readFile(name, MAX_SEGMENT_FILE_BYTES));
    seg.sizeBytes = buf.length;
    if (previousNumber !== undefined && previousNumber !== number - 1) {
      seg.problem = {
        code: 'TIDEMARK_CORRUPTION',
        path,
        offset: 0,
        message: `segment ${number} follows segment ${previousNumber}: segments ${previousNumber + 1}..${number - 1} are missing`,
      };
      return seg;
    }
    if (final && isTornSegmentHeader(buf, expectedFirst)) {
      seg.tornTail = {
        path,
        offset: 0,
        bytesDropped: buf.length,
        reason: 'segment header never became durable',
      };
      return seg;
    }
    let batchAt = -1;
    let inBatch = 0;
    const scan = scanSegment(buf, {
      path,
      segmentNumber: number,
      final,
      visit: ({ type, batchOffset, commitTimeMs }) => {
        if (commitTimeMs !== undefined) {
          seg.firstCommitTimeMs ??= commitTimeMs;
          seg.lastCommitTimeMs = commitTimeMs;
        }
        const t = TYPE_NAMES[type] ?? `type-${type}`;
        recordsByType[t] = (recordsByType[t] ?? 0) + 1;
        inBatch = batchOffset === batchAt ? inBatch + 1 : 1;
        batchAt = batchOffset;
        if (inBatch > seg.maxBatchRecords) seg.maxBatchRecords = inBatch;
      },
      expectedFirstLsn: expectedFirst,
    });
    seg.version = scan.header.version;
    seg.batches = scan.batchCount;
    seg.firstLsn = scan.header.firstLsn;
    seg.lastLsn = scan.lastLsn;
    seg.records = scan.recordCount;
    seg.endOffset = scan.validEnd;
    seg.tornTail = scan.tornTail;
  } catch (err) {
    seg.problem = problemOf(err);
  }
  return seg;
}

async function examineCheckpoint(store: CheckpointStore, id: number): Promise<CheckpointReport> {
  const validation = await validateCheckpointChain(store, id);
  const manifest = await store.loadManifest(id).catch(() => undefined);
  return {
    id,
    valid: validation.valid,
    manifest,
    chain: validation.chain,
    bytesChecked: validation.bytesChecked,
    problems: validation.problems,
  };
}
