/**
 * Cutting a WAL at a point (etcd's `wal/repair.go`): used by `point-in-time` recovery, which ends
 * the log at its first damage. Every segment after the damaged one is removed (newest first, so
 * a crash midway leaves a shorter log, never one with a gap), then the damaged segment is
 * truncated at the damage (then fdatasync'ed) — or removed when the damage is its header — so the
 * writer appends right after the last intact record. Whatever is cut off is first kept in
 * `<segment>.broken` (broken-copy.ts). Last, the clean-shutdown marker is removed: the log now
 * deliberately ends before the point it named.
 */
import { MAX_SEGMENT_FILE_BYTES } from '../format/constants.js';
import type { Directory } from '../io/directory.js';
import { saveBrokenCopy } from './broken-copy.js';
import { removeCleanMarker } from './clean-marker.js';
import { listSegments } from './segment-files.js';
import { parseSegmentFileName, segmentFileName } from './segment-name.js';
import type { WalDamage } from './segment-scanner.js';

/** Cuts the WAL in `dir` at `at`; resolves the number of segments removed. */
export async function cutWalAt(dir: Directory, at: WalDamage): Promise<number> {
  const name = at.path.slice(at.path.lastIndexOf('/') + 1);
  const number = parseSegmentFileName(name);
  let removed = 0;
  if (number !== undefined) {
    const doomed = (await listSegments(dir)).filter((n) => n > number).map(segmentFileName);
    if (at.offset === 0) doomed.unshift(name);
    for (const segment of doomed.reverse()) {
      const bytes = await dir.readFile(segment, MAX_SEGMENT_FILE_BYTES);
      if (bytes.length > 0) await saveBrokenCopy(dir, segment, bytes);
      await dir.remove([segment]);
    }
    removed = doomed.length;
    if (at.offset > 0) {
      const file = await dir.open(name, 'write');
      try {
        const size = await file.size();
        if (size > at.offset) {
          const cut = Buffer.alloc(size - at.offset);
          let got = 0;
          while (got < cut.length) {
            const n = await file.read(cut, got, cut.length - got, at.offset + got);
            if (n === 0) break;
            got += n;
          }
          await saveBrokenCopy(dir, name, cut.subarray(0, got));
        }
        await file.truncate(at.offset);
        await file.datasync();
      } finally {
        await file.close();
      }
    }
  }
  await removeCleanMarker(dir);
  return removed;
}
