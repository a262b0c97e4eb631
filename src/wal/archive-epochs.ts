/**
 * Which archived WAL segments belong to the valid history of a prefix with writer epochs
 * (docs/OBJECT-STORE.md): a segment archived by a fenced writer after the takeover is not, and
 * restore, takeover and the archiver itself pass over it as if it were not there.
 */
import { OBJECT_WAL_ARCHIVE_PREFIX } from '../format/constants.js';
import type { S3ObjectStorage } from '../io/s3-object-storage.js';
import { epochOfMetadata, WriterFence, WriterHistory } from '../io/writer-epoch.js';
import { segmentFileName } from './segment-name.js';

/**
 * The segments of `listed` (an archive listing, ascending) that are visible under the prefix's
 * writer history — the history of the fence registered on `storage` when there is one, else read
 * from the store. Segments above the newest claim's cutoff are HEADed for the epoch in their
 * metadata (see `WriterHistory.segmentFloor`).
 */
export async function filterVisibleSegments<T extends { number: number }>(
  storage: S3ObjectStorage,
  listed: readonly T[],
  history?: WriterHistory,
): Promise<T[]> {
  const h = history ?? WriterFence.of(storage)?.history ?? (await WriterHistory.read(storage));
  if (h.records.length === 0) return [...listed];
  const floor = h.segmentFloor();
  const visible: T[] = [];
  for (const s of listed) {
    if (s.number <= floor) {
      visible.push(s);
      continue;
    }
    const info = await storage.head(`${OBJECT_WAL_ARCHIVE_PREFIX}/${segmentFileName(s.number)}`);
    if (info !== undefined && h.isVisible('segment', s.number, epochOfMetadata(info.metadata)))
      visible.push(s);
  }
  return visible;
}
