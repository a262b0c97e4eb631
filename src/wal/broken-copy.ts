/**
 * Keeping what a repair cuts off (etcd keeps `wal/*.broken`): before a torn tail is truncated,
 * a segment whose header never became durable is removed, or `point-in-time` recovery cuts the
 * log, the bytes about to go are written to `<segment>.broken` — durably (tmp, fdatasync,
 * rename, directory fsync) — so nothing is destroyed silently and an operator can look at it.
 * Listing and verify ignore these files (segment-name.ts classifies them); `inspect` lists them.
 */
import { MAX_SEGMENT_FILE_BYTES } from '../format/constants.js';
import type { Directory } from '../io/directory.js';
import { brokenFileName } from './segment-name.js';

/**
 * Durably writes `bytes` (cut from segment file `segmentName`) to the first free name of
 * `<segment>.broken`, `<segment>.2.broken`, …; resolves the name used. A copy with the same
 * bytes already there is reused, so a repair interrupted by a crash and run again does not pile
 * up copies. Throws `TIDEMARK_IO` / `TIDEMARK_NO_SPACE`: the repair must not go on without it.
 */
export async function saveBrokenCopy(
  dir: Directory,
  segmentName: string,
  bytes: Uint8Array,
): Promise<string> {
  const present = new Set(await dir.list());
  for (let n = 1; ; n++) {
    const name = brokenFileName(segmentName, n);
    if (!present.has(name)) {
      await dir.writeFileAtomic(name, bytes);
      return name;
    }
    const old = await dir.readFile(name, MAX_SEGMENT_FILE_BYTES).catch(() => undefined);
    if (old !== undefined && Buffer.from(old).equals(bytes)) return name;
  }
}
