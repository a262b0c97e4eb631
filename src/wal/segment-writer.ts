/**
 * The file side of the WAL writer (etcd's `file_pipeline.go` + the write half of `wal.go`):
 * writing a group at the end of the current segment without ever leaving more than
 * `WAL_SYNC_WINDOW_BYTES` unsynced, the durability barrier (O_DSYNC writes or fdatasync), and
 * segment rotation (seal with a sync, create the next segment — or take the one prepared in the
 * background by {@link SegmentPreallocator} — and fsync the directory).
 */
import { tracing } from '../diagnostics.js';
import { assert } from '../errors.js';
import { SEGMENT_HEADER_SIZE, WAL_FORMAT_VERSION, WAL_SYNC_WINDOW_BYTES } from '../format/constants.js';
import { encodeSegmentHeader } from '../format/segment-header.js';
import type { Directory, DirectoryFile } from '../io/directory.js';
import { type GroupBuffer, groupSize } from './group-commit.js';
import { groupViews } from './group-pieces.js';
import { segmentFileName } from './segment-name.js';
import type { SegmentPreallocator } from './segment-preallocator.js';
import type { WalStats } from './wal-options.js';

/** One segment of the log: its number, first LSN and size in bytes (including buffered writes once written). */
export interface Segment {
  number: number;
  firstLsn: number;
  sizeBytes: number;
}

/** Options of {@link SegmentWriter} beyond its positional basics. */
export interface SegmentWriterOptions {
  /** The log's directory. */
  dir: Directory;
  /** The open final segment, appended to. */
  file: DirectoryFile;
  /** Every segment, oldest first; shared with the log (which trims it on truncation). */
  segments: Segment[];
  /** Segments are opened with O_DSYNC (each write is its own barrier). */
  dsync: boolean;
  /** Format version of the open final segment. */
  activeVersion: number;
  /** The log's counters, updated in place. */
  stats: WalStats;
  /** Prepares the next segment in the background; without it every segment is created plainly. */
  preallocator?: SegmentPreallocator | undefined;
  /** Size of the open final segment's file in bytes when larger than its data (a preallocated file). */
  fileBytes?: number | undefined;
}

/**
 * Writes groups into the segment files of one log.
 *
 * Threads: part of a `WriteAheadLog`: used from that log's thread only.
 */
export class SegmentWriter {
  /**
   * Where the data of the file being appended to ends: the next write goes here. A preallocated
   * file is longer (see `fileBytes`); its bytes from here on are zeros.
   */
  fileSize: number;
  /** Size of the file being appended to (≥ `fileSize`; larger while it has a preallocated zero tail). */
  private fileBytes: number;
  private readonly preallocator: SegmentPreallocator | undefined;
  /** Format version of the segment being appended to (a version 1 segment takes no CleanShutdown record). */
  activeVersion: number;
  /** Bytes written to the current segment since its last fdatasync (always ≤ WAL_SYNC_WINDOW_BYTES). */
  private unsyncedBytes = 0;

  private readonly dir: Directory;
  private file: DirectoryFile;
  /** Every segment, oldest first; shared with the log (which trims it on truncation). */
  readonly segments: Segment[];
  private readonly dsync: boolean;
  private readonly stats: WalStats;

  constructor(options: SegmentWriterOptions) {
    const { dir, file, segments, dsync, activeVersion, stats } = options;
    this.dir = dir;
    this.file = file;
    this.segments = segments;
    this.dsync = dsync;
    this.stats = stats;
    this.activeVersion = activeVersion;
    this.fileSize = segments[segments.length - 1]!.sizeBytes;
    this.fileBytes = Math.max(this.fileSize, options.fileBytes ?? 0);
    this.preallocator = options.preallocator;
    this.preallocator?.maybeStart(this.fileSize);
  }

  /** The segment being appended to. */
  get current(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  /** Writes `group` (rotating where it says a new segment starts) and makes it durable. */
  async writeGroup(group: GroupBuffer): Promise<void> {
    if (group.rebaseSeconds >= 0) await this.rebase(group.rebaseSeconds);
    if (group.borrowed > 0) return this.writeGroupViews(group);
    let pos = 0;
    for (const rotation of group.rotations) {
      if (rotation.offset > pos) await this.writeAt(group.buf, pos, rotation.offset - pos);
      await this.rotate(rotation.firstLsn, rotation.baseSeconds);
      pos = rotation.offset;
    }
    if (group.length > pos) await this.writeAt(group.buf, pos, group.length - pos);
    if (!this.file.dsync) await this.datasync();
    this.preallocator?.maybeStart(this.fileSize);
  }

  /**
   * {@link writeGroup} for a group holding borrowed records: its bytes are a list of views, written
   * with vectored writes (no copy), split at rotations and at sync-window steps as usual.
   */
  private async writeGroupViews(group: GroupBuffer): Promise<void> {
    const views = groupViews(group);
    let v = 0; // current view
    let at = 0; // offset in it
    let pos = 0; // logical offset in the group
    const take = async (length: number): Promise<void> => {
      const list: Buffer[] = [];
      let left = length;
      while (left > 0) {
        const view = views[v]!;
        const n = Math.min(left, view.length - at);
        list.push(n === view.length ? view : view.subarray(at, at + n));
        at += n;
        left -= n;
        if (at === view.length) {
          v++;
          at = 0;
        }
      }
      await this.writeViewsAt(list, length);
      pos += length;
    };
    for (const rotation of group.rotations) {
      if (rotation.offset > pos) await take(rotation.offset - pos);
      await this.rotate(rotation.firstLsn, rotation.baseSeconds);
    }
    const total = groupSize(group);
    if (total > pos) await take(total - pos);
    if (!this.file.dsync) await this.datasync();
    this.preallocator?.maybeStart(this.fileSize);
  }

  /**
   * Rewrites the header of the current segment, which holds no record, with base time
   * `baseSeconds` (and makes it durable) before anything is written after it: an empty segment
   * left idle longer than a commit time offset can span. A crash that tears this write leaves a
   * final segment whose header is not durable and which holds nothing, which opening the log
   * already replaces (as after a crash during rotation).
   */
  private async rebase(baseSeconds: number): Promise<void> {
    assert(this.fileSize === SEGMENT_HEADER_SIZE, 'only an empty segment is given a new base time');
    const { number, firstLsn } = this.current;
    await this.file.write(encodeSegmentHeader(number, firstLsn, { baseSeconds }), 0, SEGMENT_HEADER_SIZE, 0);
    if (!this.file.dsync) await this.file.datasync();
  }

  /**
   * Seals the current segment (fdatasync, unless its writes were O_DSYNC) and starts the next one
   * at `firstLsn`, with base time `baseSeconds` (whole seconds since the Unix epoch).
   */
  async rotate(firstLsn: number, baseSeconds: number): Promise<void> {
    if (!this.file.dsync) await this.datasync();
    if (this.fileBytes > this.fileSize) {
      // A sealed segment keeps exactly its data: its unused zero tail is cut (and the new size
      // made durable) before the next segment exists, so readers, `verify`, the archiver and
      // `walSize` see sealed segments as before, and zeros after data stay damage in them.
      await this.file.truncate(this.fileSize);
      await this.datasync();
    }
    await this.file.close();
    const number = this.current.number + 1;
    const name = segmentFileName(number);
    const prepared = await this.preallocator?.take(name);
    this.file =
      prepared === undefined
        ? await createSegment(this.dir, { number, firstLsn, dsync: this.dsync, baseSeconds })
        : await startSegment(this.dir, { number, firstLsn, dsync: this.dsync, mode: 'write', baseSeconds });
    this.fileBytes = prepared ?? SEGMENT_HEADER_SIZE;
    this.fileSize = SEGMENT_HEADER_SIZE;
    this.activeVersion = WAL_FORMAT_VERSION;
    this.segments.push({ number, firstLsn, sizeBytes: SEGMENT_HEADER_SIZE });
    this.stats.segmentsCreated++;
    this.stats.bytesWritten += SEGMENT_HEADER_SIZE;
  }

  /**
   * Closes the segment file and stops (and removes) a background preparation, ignoring errors
   * (the log reports its own failure). The active segment keeps its zero tail, if any.
   */
  async close(): Promise<void> {
    await this.file.close().catch(() => {});
    await this.preallocator?.stop().catch(() => {});
  }

  /**
   * Writes at the end of the current segment, never leaving more than `WAL_SYNC_WINDOW_BYTES`
   * written and unsynced (a large group is made durable in steps), so a crash can tear only the
   * last window — which is how the reader tells a torn write from corruption.
   */
  private async writeAt(buf: Buffer, offset: number, length: number): Promise<void> {
    while (length > 0) {
      if (!this.file.dsync && this.unsyncedBytes >= WAL_SYNC_WINDOW_BYTES) await this.datasync();
      const n = Math.min(length, WAL_SYNC_WINDOW_BYTES - (this.file.dsync ? 0 : this.unsyncedBytes));
      const t0 = performance.now();
      if (this.file.dsync && tracing.walSync.hasSubscribers) {
        // An O_DSYNC write is the barrier itself: traced as one.
        const ctx = { path: this.file.path, bytes: n, syncMethod: 'o_dsync' as const };
        await tracing.walSync.tracePromise(this.file.write, ctx, this.file, buf, offset, n, this.fileSize);
      } else await this.file.write(buf, offset, n, this.fileSize);
      if (this.file.dsync) this.countSync(performance.now() - t0);
      else this.unsyncedBytes += n;
      this.fileSize += n;
      this.current.sizeBytes = this.fileSize;
      this.stats.bytesWritten += n;
      offset += n;
      length -= n;
    }
  }

  /**
   * {@link writeAt} for bytes spread over `views` (`length` bytes in all): one vectored write per
   * sync-window step when the file supports it, else one write per view.
   */
  private async writeViewsAt(views: Buffer[], length: number): Promise<void> {
    let i = 0;
    let at = 0;
    while (length > 0) {
      if (!this.file.dsync && this.unsyncedBytes >= WAL_SYNC_WINDOW_BYTES) await this.datasync();
      const n = Math.min(length, WAL_SYNC_WINDOW_BYTES - (this.file.dsync ? 0 : this.unsyncedBytes));
      const step: Buffer[] = [];
      for (let left = n; left > 0; ) {
        const view = views[i]!;
        const k = Math.min(left, view.length - at);
        step.push(k === view.length ? view : view.subarray(at, at + k));
        at += k;
        left -= k;
        if (at === view.length) {
          i++;
          at = 0;
        }
      }
      const t0 = performance.now();
      if (this.file.writev !== undefined) await this.file.writev(step, this.fileSize);
      else {
        let p = this.fileSize;
        for (const b of step) {
          await this.file.write(b, 0, b.length, p);
          p += b.length;
        }
      }
      if (this.file.dsync) this.countSync(performance.now() - t0);
      else this.unsyncedBytes += n;
      this.fileSize += n;
      this.current.sizeBytes = this.fileSize;
      this.stats.bytesWritten += n;
      length -= n;
    }
  }

  private async datasync(): Promise<void> {
    const t0 = performance.now();
    const bytes = this.unsyncedBytes;
    this.unsyncedBytes = 0;
    if (tracing.walSync.hasSubscribers) {
      const ctx = { path: this.file.path, bytes, syncMethod: 'fdatasync' as const };
      await tracing.walSync.tracePromise(this.file.datasync, ctx, this.file);
    } else await this.file.datasync();
    this.stats.fdatasyncs++;
    this.countSync(performance.now() - t0);
  }

  private countSync(ms: number): void {
    this.stats.syncs++;
    this.stats.syncTotalMs += ms;
    if (ms > this.stats.syncMaxMs) this.stats.syncMaxMs = ms;
  }
}

/** A new segment: its number, first LSN, base time and how its file is opened. */
export interface NewSegment {
  /** The segment's number. */
  number: number;
  /** LSN of its first record. */
  firstLsn: number;
  /** Open with O_DSYNC. */
  dsync: boolean;
  /** Its base time, whole seconds since the Unix epoch (format version 4). */
  baseSeconds: number;
}

/**
 * Writes segment `number`'s header (first LSN `firstLsn`, base time `baseSeconds`) at offset 0
 * of the file opened with `mode` and makes it durable: `'create'` makes a new file (its directory
 * entry fsynced by `create`); `'write'` starts a prepared file already renamed to the segment's
 * name (the rename fsynced the directory), overwriting the zeros at offset 0.
 */
async function startSegment(
  dir: Directory,
  { number, firstLsn, dsync, mode, baseSeconds }: NewSegment & { mode: 'create' | 'write' },
): Promise<DirectoryFile> {
  const file = await dir.open(segmentFileName(number), mode, { dsync });
  try {
    await file.write(encodeSegmentHeader(number, firstLsn, { baseSeconds }), 0, SEGMENT_HEADER_SIZE, 0);
    if (!file.dsync) await file.datasync();
  } catch (err) {
    await file.close().catch(() => {});
    throw err;
  }
  return file;
}

/** Creates segment `segment.number` starting at `segment.firstLsn`: its header is durable, and so is its directory entry. */
export function createSegment(dir: Directory, segment: NewSegment): Promise<DirectoryFile> {
  return startSegment(dir, { ...segment, mode: 'create' });
}
