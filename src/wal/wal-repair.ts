/**
 * Cutting a WAL at a point (etcd's `wal/repair.go`): used by `point-in-time` recovery, which ends
 * the log at its first damage. The damaged segment is truncated at the damage (then
 * fdatasync'ed) — or removed when the damage is its header — and every later segment is removed
 * (then the directory is fsynced), so the writer appends right after the last intact record.
 */
import type { Directory } from '../io/directory.js';
import { listSegments } from './segment-files.js';
import { parseSegmentFileName, segmentFileName } from './segment-name.js';
import type { WalDamage } from './segment-scanner.js';

/** Cuts the WAL in `dir` at `at`; resolves the segments removed. */
export async function cutWalAt(dir: Directory, at: WalDamage): Promise<number> {
  const name = at.path.slice(at.path.lastIndexOf('/') + 1);
  const number = parseSegmentFileName(name);
  if (number === undefined) return 0;
  const later = (await listSegments(dir)).filter((n) => n > number).map(segmentFileName);
  if (at.offset > 0) {
    const file = await dir.open(name, 'write');
    try {
      await file.truncate(at.offset);
      await file.datasync();
    } finally {
      await file.close();
    }
  } else later.unshift(name);
  // Newest first: a crash midway leaves a shorter log, never one with a gap.
  for (const doomed of later.reverse()) await dir.remove([doomed]);
  return later.length;
}
