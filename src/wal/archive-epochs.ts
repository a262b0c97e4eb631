/**
 * Archived WAL segments on a prefix with writer epochs (docs/OBJECT-STORE.md): which object holds
 * each segment of the valid history, and how a new owner archives a segment whose key a fenced
 * writer took first.
 *
 * A segment is archived create-only as `wal/<segment>`. A new owner continues numbering from its
 * predecessor's cutoff, so a fenced writer may already have created the key of the owner's next
 * segment (its own, different, segment of that number). Nothing is ever overwritten: the owner
 * then archives its segment as `wal/<segment>~e<epoch, 20 digits>`, a key only it writes. For
 * each number the visible object of the highest epoch is the segment (an overwrite, even after a
 * HEAD, could land after a newer owner's and clobber it: S3 has no compare-and-swap that every
 * server honours on PUT).
 */
import { isTidemarkError } from '../errors.js';
import { OBJECT_WAL_ARCHIVE_PREFIX } from '../format/constants.js';
import type { S3ObjectStorage } from '../io/s3-object-storage.js';
import { epochOfMetadata, WriterFence, WriterHistory } from '../io/writer-epoch.js';
import { archivedObjectHolds } from './archive-object.js';
import { parseSegmentFileName, segmentFileName } from './segment-name.js';

/** One archived segment of the valid history: its number, size and the key holding it. */
export interface ArchivedSegment {
  number: number;
  sizeBytes: number;
  key: string;
}

/** Key of segment `number` archived by writer `epoch` beside a fenced writer's object of that number. */
export function epochSegmentKey(number: number, epoch: number): string {
  return `${OBJECT_WAL_ARCHIVE_PREFIX}/${segmentFileName(number)}~e${String(epoch).padStart(20, '0')}`;
}

function canonicalKey(number: number): string {
  return `${OBJECT_WAL_ARCHIVE_PREFIX}/${segmentFileName(number)}`;
}

/**
 * The archived segments of the valid history, ascending: for each number, the visible object of
 * the highest epoch. Uses the history of the fence registered on `storage`, else `history`, else
 * reads it. Canonical keys above the newest claim's segment cutoff are HEADed for their epoch.
 */
export async function listVisibleArchive(
  storage: S3ObjectStorage,
  history?: WriterHistory,
): Promise<ArchivedSegment[]> {
  const h = history ?? WriterFence.of(storage)?.history ?? (await WriterHistory.read(storage));
  const byNumber = new Map<
    number,
    { canonical?: ArchivedSegment; alternates: (ArchivedSegment & { epoch: number })[] }
  >();
  for (const o of await storage.list(`${OBJECT_WAL_ARCHIVE_PREFIX}/`)) {
    const rest = o.key.slice(OBJECT_WAL_ARCHIVE_PREFIX.length + 1);
    const m = /^(.+)~e(\d{20})$/.exec(rest);
    const number = parseSegmentFileName(m ? m[1]! : rest);
    if (number === undefined) continue;
    let entry = byNumber.get(number);
    if (!entry) byNumber.set(number, (entry = { alternates: [] }));
    const seg = { number, sizeBytes: o.sizeBytes, key: o.key };
    if (m) entry.alternates.push({ ...seg, epoch: Number(m[2]) });
    else entry.canonical = seg;
  }
  const floor = h.records.length === 0 ? Number.POSITIVE_INFINITY : h.segmentFloor();
  const visible: ArchivedSegment[] = [];
  for (const number of [...byNumber.keys()].sort((a, b) => a - b)) {
    const { canonical, alternates } = byNumber.get(number)!;
    const alternate = alternates
      .filter((a) => h.isVisible('segment', number, a.epoch))
      .sort((a, b) => b.epoch - a.epoch)[0];
    if (alternate) {
      visible.push({ number, sizeBytes: alternate.sizeBytes, key: alternate.key });
      continue;
    }
    if (!canonical) continue;
    if (number <= floor) {
      visible.push(canonical);
      continue;
    }
    const info = await storage.head(canonical.key);
    if (info !== undefined && h.isVisible('segment', number, epochOfMetadata(info.metadata)))
      visible.push(canonical);
  }
  return visible;
}

/** Options of {@link archiveSegmentObject}. */
export interface ArchiveSegmentObjectOptions {
  /** The writer's fence (undefined: a prefix without epochs, canonical keys only). */
  fence: WriterFence | undefined;
  /** Uploads the local segment create-only under `key`. */
  put: (key: string) => Promise<unknown>;
  /** The local segment's bytes (to recognise an earlier upload of the same bytes). */
  localBytes: () => Promise<Uint8Array>;
}

/**
 * Archives segment `number` without ever overwriting: under its canonical key, or — when a
 * fenced writer's object (an older epoch) holds that key — under {@link epochSegmentKey}.
 * Resolves the key used. An object of this writer's epoch or newer under the canonical key
 * (another owner) rejects `TIDEMARK_CONFLICT`; so does a different object under the epoch key.
 */
export async function archiveSegmentObject(
  storage: S3ObjectStorage,
  number: number,
  options: ArchiveSegmentObjectOptions,
): Promise<string> {
  const { fence, put, localBytes } = options;
  const sameBytes = async (key: string) => {
    const remote = await storage.head(key);
    // A compressed archive object is compared by the raw segment's size and CRC in its metadata.
    return { remote, same: remote !== undefined && archivedObjectHolds(remote, await localBytes()) };
  };
  const key = canonicalKey(number);
  try {
    await put(key);
    return key;
  } catch (err) {
    if (!isTidemarkError(err, 'TIDEMARK_CONFLICT')) throw err;
    // Archived before, by this writer in an earlier life (a crash after the upload): the same bytes?
    const { remote, same } = await sameBytes(key);
    if (same) return key;
    // A fenced writer's segment of this number (invisible to recovery): ours goes beside it.
    if (!fence || epochOfMetadata(remote?.metadata) >= fence.epoch) throw err;
  }
  const mine = epochSegmentKey(number, fence.epoch);
  try {
    await put(mine);
  } catch (err) {
    if (!isTidemarkError(err, 'TIDEMARK_CONFLICT') || !(await sameBytes(mine)).same) throw err;
  }
  return mine;
}
