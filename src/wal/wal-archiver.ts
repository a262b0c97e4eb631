/**
 * `WalArchiver`: ships sealed WAL segments to object storage, in order, so that a machine lost
 * entirely loses only the WAL tail that was not yet archived (PostgreSQL's `archive_command`,
 * etcd's and LiteFS's WAL shipping; beyond the seeds).
 *
 * - Only *sealed* segments are archived (every one but the segment being appended to): a sealed
 *   segment never changes, so its object is immutable. It is uploaded create-only as
 *   `wal/<segment file name>` with its CRC32C in the metadata.
 * - The archiver installs a truncation guard on the log: `truncatePrefix` never deletes a segment
 *   that is not archived, so the archive has no gaps and recovery from it can start at any
 *   checkpoint still in the store.
 * - `archiveAll()` (on close) seals the active segment first, so a clean shutdown leaves the
 *   whole log in the archive.
 * - The archived position (`wal/archived.json`: newest archived segment and the LSN it ends
 *   before) is a hint; the listing is the truth.
 *
 * Bound on loss (docs/ARCHITECTURE.md): after losing the machine, recovery from the object store
 * has every record in a segment that was sealed and archived — everything but the active segment
 * (at most `segmentSizeBytes`) and segments sealed within the last `archiveIntervalMs`.
 */
import * as diagnostics from 'node:diagnostics_channel';
import { isTidemarkError, TidemarkError } from '../errors.js';
import { OBJECT_WAL_ARCHIVE_PREFIX, SEGMENT_HEADER_SIZE } from '../format/constants.js';
import { DEFAULT_OBJECT_COMPRESSION, type ResolvedCompression } from '../io/codecs.js';
import type { PutOptions, S3ObjectStorage } from '../io/s3-object-storage.js';
import { checkFence, WriterFence } from '../io/writer-epoch.js';
import { archiveSegmentObject, listVisibleArchive } from './archive-epochs.js';
import { archivedSegmentSize, encodeArchivedSegment } from './archive-object.js';
import { parseSegmentFileName, segmentFileName } from './segment-name.js';
import type { WriteAheadLog } from './write-ahead-log.js';

/** Key (under the store's prefix) of the archived-position hint. */
export const WAL_ARCHIVE_POSITION_KEY = `${OBJECT_WAL_ARCHIVE_PREFIX}/archived.json`;
/** Channel carrying `{ event: 'archived', segment, bytes }` and `{ event: 'failed', error }`. */
export const WAL_ARCHIVE_CHANNEL = 'tidemark:wal-archive';
const channel = diagnostics.channel(WAL_ARCHIVE_CHANNEL);

/** Key of an archived segment. */
export function archivedSegmentKey(segmentNumber: number): string {
  return `${OBJECT_WAL_ARCHIVE_PREFIX}/${segmentFileName(segmentNumber)}`;
}

/** Archived segments in an object store, by number (from a listing). */
export async function listArchivedSegments(storage: S3ObjectStorage): Promise<
  {
    /** The segment number. */
    number: number;
    /** Size of the archived object (bytes, as stored: compressed objects count their frame). */
    sizeBytes: number;
  }[]
> {
  const found: { number: number; sizeBytes: number }[] = [];
  for (const o of await storage.list(`${OBJECT_WAL_ARCHIVE_PREFIX}/`)) {
    const n = parseSegmentFileName(o.key.slice(OBJECT_WAL_ARCHIVE_PREFIX.length + 1));
    if (n !== undefined) found.push({ number: n, sizeBytes: o.sizeBytes });
  }
  return found.sort((a, b) => a.number - b.number);
}

/** Counters of an archiver. */
export interface WalArchiveStats {
  /** Segments uploaded by this archiver. */
  segmentsArchived: number;
  /** Bytes of those segments as they are on disk, before compression (bytes). */
  bytesArchived: number;
  /** Newest segment known to be in the archive (0 when none). */
  archivedThroughSegment: number;
  /** The archive holds every record with LSN below this (the first LSN after the newest archived segment; 0 when none). */
  archivedBeforeLsn: number;
  /** The last archiving failure, if the latest attempt failed (the next attempt retries). */
  lastError: TidemarkError | undefined;
  /**
   * Bytes of local segments not in the archive (records included, headers not): what losing
   * this machine now would lose (the recovery point objective, in bytes).
   */
  unarchivedBytes: number;
}

/**
 * Ships sealed segments of one open log to object storage.
 *
 * Threads: use from the thread that owns the WAL it archives (Ring 1 in the pipeline).
 */
export class WalArchiver {
  private readonly archived = new Set<number>();
  /** Key of each archived segment not under its canonical key (writer epochs: `archive-epochs.ts`). */
  private readonly keyOf = new Map<number, string>();
  /** First LSN of every segment seen locally (an archived segment's records end where the next begins). */
  private readonly firstLsnOf = new Map<number, number>();
  /** Every segment up to this number was pruned from the archive (a checkpoint covers it). */
  private prunedThrough = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private readonly counters: WalArchiveStats = {
    segmentsArchived: 0,
    bytesArchived: 0,
    archivedThroughSegment: 0,
    archivedBeforeLsn: 0,
    lastError: undefined,
    unarchivedBytes: 0,
  };

  private constructor(
    /** The object store (bucket and prefix) segments are archived to. */
    readonly storage: S3ObjectStorage,
    /** The local WAL whose sealed segments are archived. */
    readonly wal: WriteAheadLog,
    /** Codec of the archived segments (archive-object.ts). */
    readonly compression: ResolvedCompression,
  ) {}
  private putOptions: Pick<PutOptions, 'storageClass' | 'tags'> = {};

  /**
   * Lists what is archived, seals the active segment when the archive already has it (a log
   * restored from the archive must not append to an archived segment), and guards truncation.
   * `archiveIntervalMs` > 0 also archives on a timer (unref'd): each tick seals the active
   * segment when it holds records and uploads every sealed segment (PostgreSQL's
   * `archive_timeout`), so an acknowledged record reaches the archive within about one interval
   * plus the upload, whatever the segment size.
   * Rejects `TIDEMARK_CONFLICT` when the archive holds a different segment under a local
   * segment's number (another writer archives to this prefix), `TIDEMARK_IO`.
   * `options.compression` is the codec of segments archived from now on (default zstd level 3).
   */
  static async start(
    storage: S3ObjectStorage,
    wal: WriteAheadLog,
    options: {
      /** > 0: also archive newly sealed segments this often, ms (default 0: only when asked). */
      archiveIntervalMs?: number | undefined;
      compression?: ResolvedCompression | undefined;
      /** Storage class and tags of new archived segments (the tiering policy's hot tier). */
      put?: Pick<PutOptions, 'storageClass' | 'tags'> | undefined;
    } = {},
  ): Promise<WalArchiver> {
    const archiver = new WalArchiver(storage, wal, options.compression ?? DEFAULT_OBJECT_COMPRESSION);
    archiver.putOptions = options.put ?? {};
    const archiveIntervalMs = options.archiveIntervalMs ?? 0;
    const local = new Map(wal.segmentList().map((s) => [s.number, s]));
    // Segments a fenced writer archived after a takeover are not this log's: pass over them.
    for (const remote of await listVisibleArchive(storage)) {
      archiver.archived.add(remote.number);
      if (remote.key !== archivedSegmentKey(remote.number)) archiver.keyOf.set(remote.number, remote.key);
      const mine = local.get(remote.number);
      if (mine === undefined || remote.sizeBytes === mine.sizeBytes) continue;
      // A compressed object's size is not the segment's: its metadata has the segment's.
      // The visible object may be under an epoch key (beside a fenced writer's): that one counts.
      const head = await storage.head(remote.key);
      const remoteSize = head === undefined ? remote.sizeBytes : archivedSegmentSize(head);
      if (remoteSize !== mine.sizeBytes) {
        throw new TidemarkError(
          'TIDEMARK_CONFLICT',
          `${storage.urlOf(remote.key)} holds a segment of ${remoteSize} bytes, the local segment ${mine.sizeBytes}: another writer archives to this prefix`,
          { path: storage.urlOf(remote.key) },
        );
      }
    }
    const active = wal.segmentList().at(-1)!;
    if (archiver.archived.has(active.number)) await wal.sealActiveSegment();
    archiver.noteFirstLsns();
    archiver.refreshPosition();
    wal.setTruncationGuard((n) => archiver.archived.has(n) || n <= archiver.prunedThrough);
    if (archiveIntervalMs > 0) {
      archiver.timer = setInterval(() => {
        if (archiver.ticking) return; // the previous tick is still uploading
        archiver.ticking = true;
        archiver
          .archiveAll()
          .catch(() => {}) // recorded in stats().lastError and on the channel
          .finally(() => {
            archiver.ticking = false;
          });
      }, archiveIntervalMs);
      archiver.timer.unref();
    }
    return archiver;
  }

  /** Counters. */
  stats(): WalArchiveStats {
    let unarchivedBytes = 0;
    for (const s of this.wal.segmentList())
      if (!this.archived.has(s.number)) unarchivedBytes += Math.max(0, s.sizeBytes - SEGMENT_HEADER_SIZE);
    return { ...this.counters, unarchivedBytes };
  }

  /** True when segment `segmentNumber` is in the archive. */
  isArchived(segmentNumber: number): boolean {
    return this.archived.has(segmentNumber);
  }

  /** Uploads every sealed segment not yet archived, oldest first; resolves how many. Calls queue. */
  archiveSealed(): Promise<number> {
    const run = this.chain.then(() => this.upload());
    this.chain = run.catch(() => {});
    return run;
  }

  /** Seals the active segment (when it holds records) and archives everything: the whole log is then in the archive. */
  archiveAll(): Promise<number> {
    const run = this.chain.then(async () => {
      if (!this.wal.failed) await this.wal.sealActiveSegment();
      return this.upload();
    });
    this.chain = run.catch(() => {});
    return run;
  }

  /**
   * Deletes archived segments whose records all have LSN < `beforeLsn` — what no retained
   * checkpoint needs (the publisher passes the oldest retained checkpoint's LSN + 1, the same
   * bound the local truncation uses). Only segments whose successor's first LSN is known (seen
   * in this log's life) are pruned; older left-overs stay. Resolves how many were deleted.
   */
  pruneArchive(beforeLsn: number): Promise<number> {
    const run = this.chain.then(async () => {
      this.noteFirstLsns();
      const doomed: number[] = [];
      for (const n of [...this.archived].sort((a, b) => a - b)) {
        const next = this.firstLsnOf.get(n + 1);
        if (next === undefined || next > beforeLsn) break;
        doomed.push(n);
      }
      if (doomed.length === 0) return 0;
      await checkFence(this.storage, `the deletion of ${doomed.length} archived segment(s)`);
      await this.storage.delete(doomed.map((n) => this.keyOf.get(n) ?? archivedSegmentKey(n)));
      for (const n of doomed) {
        this.archived.delete(n);
        this.keyOf.delete(n);
        this.firstLsnOf.delete(n);
        if (n > this.prunedThrough) this.prunedThrough = n;
      }
      return doomed.length;
    });
    this.chain = run.catch(() => {});
    return run;
  }

  private noteFirstLsns(): void {
    for (const s of this.wal.segmentList()) this.firstLsnOf.set(s.number, s.firstLsn);
  }

  /** Stops the timer and waits for uploads in progress (does not archive more). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.chain;
  }

  private async upload(): Promise<number> {
    this.noteFirstLsns();
    const segments = this.wal.segmentList();
    let uploaded = 0;
    try {
      for (let i = 0; i < segments.length - 1; i++) {
        const s = segments[i]!;
        if (this.archived.has(s.number)) continue;
        await this.uploadSegment(s.number, s.sizeBytes);
        this.archived.add(s.number);
        this.counters.segmentsArchived++;
        this.counters.bytesArchived += s.sizeBytes;
        uploaded++;
        if (channel.hasSubscribers)
          channel.publish({ event: 'archived', segment: s.number, bytes: s.sizeBytes });
      }
      this.refreshPosition();
      if (uploaded > 0) {
        const position = {
          segment: this.counters.archivedThroughSegment,
          beforeLsn: this.counters.archivedBeforeLsn,
          updatedAtMs: Date.now(),
        };
        await this.storage.put(WAL_ARCHIVE_POSITION_KEY, Buffer.from(`${JSON.stringify(position)}\n`));
      }
      this.counters.lastError = undefined;
      return uploaded;
    } catch (err) {
      const e = isTidemarkError(err) ? err : new TidemarkError('TIDEMARK_IO', String(err), { cause: err });
      this.counters.lastError = e;
      if (channel.hasSubscribers) channel.publish({ event: 'failed', error: e });
      throw e;
    }
  }

  private async uploadSegment(number: number, sizeBytes: number): Promise<void> {
    const name = segmentFileName(number);
    const dir = this.wal.directory;
    const fence = WriterFence.of(this.storage);
    await fence?.check(`archived segment ${number}`);
    // A sealed segment never changes: read it whole, compress (off the event loop where the
    // codec allows, src/io/codecs.ts), upload the frame create-only, never over another object.
    const local = await dir.readFile(name, Math.max(sizeBytes, SEGMENT_HEADER_SIZE));
    const { body, metadata } = await encodeArchivedSegment(local, this.compression);
    const options = { createOnly: true, ...this.putOptions, metadata: { ...metadata, ...fence?.metadata() } };
    const key = await archiveSegmentObject(this.storage, number, {
      fence,
      put: (key) => this.storage.putChunks(key, [body], options),
      localBytes: async () => local,
    });
    if (key !== archivedSegmentKey(number)) this.keyOf.set(number, key);
    // A zombie learns here, not later, that what it just archived is not part of the history.
    await fence?.check(`archived segment ${number}`);
  }

  private refreshPosition(): void {
    const segments = this.wal.segmentList();
    let through = 0;
    let beforeLsn = 0;
    for (let i = 0; i < segments.length; i++) {
      const s = segments[i]!;
      if (!this.archived.has(s.number)) break;
      through = s.number;
      beforeLsn = segments[i + 1]?.firstLsn ?? this.wal.lastLsn + 1;
    }
    if (through > 0) {
      this.counters.archivedThroughSegment = through;
      this.counters.archivedBeforeLsn = beforeLsn;
    }
  }
}
