/**
 * Preparing the next WAL segment in the background (etcd's `file_pipeline.go`, RocksDB's
 * `recycle_log_file_num`, PostgreSQL's `wal_recycle`): a file of `segmentSizeBytes` zeros, written
 * and fdatasynced off the commit path, which rotation renames to the next segment's name. Commits
 * then overwrite allocated blocks inside the file's size, so their fdatasync (or O_DSYNC write)
 * has no file size or block allocation to persist — measured 1.5× faster per durable 1 KiB commit
 * than appending (docs/PERFORMANCE.md, `npm run bench -- --only segment-prealloc`).
 *
 * Bounded: at most one prepared file (`PREALLOCATED_SEGMENT_FILE_NAME`), and rotation never waits
 * for it — when it is not ready, the segment is created the plain way. A failed preparation is
 * dropped (the plain path reports a real I/O problem itself); the half-written file is removed by
 * the next attempt, by `stop`, or by the next open.
 */
import { PREALLOCATE_START_FRACTION, PREALLOCATED_SEGMENT_FILE_NAME } from '../format/constants.js';
import type { Directory } from '../io/directory.js';

/** Zeros are written in pieces of this size, so `stop` interrupts a fill within one piece. */
const FILL_CHUNK_BYTES = 1024 * 1024;

/** Options of {@link SegmentPreallocator}. */
export interface SegmentPreallocatorOptions {
  /** The WAL directory; must implement `Directory.rename`. */
  dir: Directory;
  /** Size of a prepared file in bytes (the log's `segmentSizeBytes`). */
  segmentSizeBytes: number;
}

/**
 * Prepares at most one zero-filled segment file ahead of rotation.
 *
 * Threads: part of a `WriteAheadLog`: used from that log's thread only.
 */
export class SegmentPreallocator {
  private readonly dir: Directory;
  private readonly sizeBytes: number;
  /** The fill in progress, if any. */
  private filling: Promise<void> | undefined;
  /** A prepared file is complete and durable. */
  private ready = false;
  /** Preparation was already started (or done) for the active segment. */
  private requested = false;
  private stopped = false;

  constructor(options: SegmentPreallocatorOptions) {
    this.dir = options.dir;
    this.sizeBytes = options.segmentSizeBytes;
  }

  /** Whether a directory supports preallocation (it needs `rename`). */
  static supported(dir: Directory): boolean {
    return typeof dir.rename === 'function';
  }

  /**
   * Called as the active segment grows (`activeBytes`: its data size): starts preparing the
   * next segment once it is `PREALLOCATE_START_FRACTION` full, once per segment.
   */
  maybeStart(activeBytes: number): void {
    if (this.requested || this.stopped || activeBytes < this.sizeBytes * PREALLOCATE_START_FRACTION) return;
    this.requested = true;
    if (this.ready || this.filling) return;
    this.filling = this.fill().then(
      (ok) => {
        this.ready = ok;
      },
      () => {
        // Dropped: rotation falls back to creating the segment, which reports a real fault itself.
        this.ready = false;
      },
    );
    this.filling.finally(() => {
      this.filling = undefined;
    });
  }

  /**
   * If a prepared file is ready, renames it to `name` (the directory is fsynced, so the new
   * segment's entry is durable) and resolves its size in bytes; otherwise resolves undefined at
   * once — rotation never waits for a fill. Rejects with `TIDEMARK_IO` when the rename fails.
   */
  async take(name: string): Promise<number | undefined> {
    this.requested = false;
    if (!this.ready || this.stopped) return undefined;
    this.ready = false;
    await this.dir.rename!(PREALLOCATED_SEGMENT_FILE_NAME, name);
    return this.sizeBytes;
  }

  /** Stops preparing: waits for a fill in progress to notice, then removes the prepared file. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.filling;
    this.ready = false;
    await removePreparedSegment(this.dir);
  }

  /** Writes the zeros and fdatasyncs them; resolves false when stopped midway. */
  private async fill(): Promise<boolean> {
    await removePreparedSegment(this.dir); // a half-written one from a failed attempt
    // `create` fsyncs the directory; nothing depends on that entry until rotation renames it.
    const file = await this.dir.open(PREALLOCATED_SEGMENT_FILE_NAME, 'create');
    try {
      const zeros = Buffer.alloc(Math.min(FILL_CHUNK_BYTES, this.sizeBytes));
      for (let at = 0; at < this.sizeBytes; at += zeros.length) {
        if (this.stopped) return false;
        await file.write(zeros, 0, Math.min(zeros.length, this.sizeBytes - at), at);
      }
      if (this.stopped) return false;
      // Durable zeros (blocks allocated, size persisted) are what makes later commits cheap.
      await file.datasync();
      return !this.stopped;
    } finally {
      await file.close();
    }
  }
}

/** Removes a prepared segment file left in `dir` (by a crash, or a stopped fill), if any. */
export async function removePreparedSegment(dir: Directory): Promise<void> {
  if (await dir.exists(PREALLOCATED_SEGMENT_FILE_NAME)) await dir.remove([PREALLOCATED_SEGMENT_FILE_NAME]);
}
