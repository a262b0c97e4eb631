/**
 * What recovery checks about a WAL besides the records it replays: that no segment is missing,
 * that a checkpoint's WAL has not vanished, and that the retained history before the replay start
 * (kept so recovery can fall back to an older checkpoint) is intact.
 *
 * Why an empty WAL after a checkpoint is never a crash artifact: a checkpoint covering LSN `c` is
 * published only after records 1..c are durable in the WAL, and WAL segments are deleted only
 * after the checkpoint's marker record (LSN > c) is durable, keeping the segment that holds it.
 * So at every instant of normal operation the WAL holds LSN `c` or that marker. Like etcd, which
 * refuses to start when the WAL a snapshot needs is gone, recovery refuses instead of silently
 * starting from the checkpoint.
 */
import { corruption, TidemarkError } from '../errors.js';
import { MAX_SEGMENT_FILE_BYTES } from '../format/constants.js';
import type { Directory } from '../io/directory.js';
import { readSegmentHead } from './segment-files.js';
import { listSegmentNumbers, segmentFileName } from './segment-name.js';
import { headerError, scanSegment, type WalDamage } from './segment-scanner.js';

/** Options of {@link checkWalHistory}. */
export interface WalHistoryOptions {
  /** The WAL directory. */
  dir: Directory;
  /** LSN the checkpoint recovery starts from covers; 0 without one. Replay starts after it. */
  checkpointLsn: number;
  /** Id of that checkpoint, for messages. */
  checkpointId: number | undefined;
  /**
   * `'salvage'` and `'point-in-time'` report damage in the retained history (before the replay
   * start) in the result instead of throwing; every other mode throws. Default throws.
   */
  reportHistoryDamage?: boolean;
}

async function firstLsnOf(dir: Directory, number: number): Promise<number | undefined> {
  try {
    const { header } = await readSegmentHead(dir, number);
    return typeof header === 'string' ? undefined : header.firstLsn;
  } catch {
    return undefined;
  }
}

/**
 * Checks the WAL before recovery replays it. Throws `TIDEMARK_DATA_LOSS` when segment numbers
 * have a gap (the missing segments held acknowledged records; the message names the LSN range)
 * or when a checkpoint with `checkpointLsn > 0` exists and the WAL holds no segment at all.
 * Reads every segment wholly before the one replay starts in (the retained history), checking
 * each frame's CRC and LSN continuity: damage there throws `TIDEMARK_CORRUPTION` naming file and
 * offset (`TIDEMARK_UNSUPPORTED_VERSION` for a newer segment), or with `reportHistoryDamage` is
 * returned. Read-only.
 */
export async function checkWalHistory(options: WalHistoryOptions): Promise<WalDamage[]> {
  const { dir, checkpointLsn, checkpointId } = options;
  const numbers = listSegmentNumbers(await dir.list());
  for (let i = 1; i < numbers.length; i++) {
    const before = numbers[i - 1]!;
    const after = numbers[i]!;
    if (after === before + 1) continue;
    const path = `${dir.path}/${segmentFileName(after)}`;
    const from = await firstLsnOf(dir, before);
    const to = await firstLsnOf(dir, after);
    const range =
      to === undefined
        ? ''
        : `: the records after segment ${before}'s last one${from === undefined ? '' : ` (it starts at LSN ${from})`} up to LSN ${to - 1} are lost`;
    throw new TidemarkError(
      'TIDEMARK_DATA_LOSS',
      `${path}: WAL segments ${before + 1}..${after - 1} are missing${range}`,
      { path, offset: 0 },
    );
  }
  if (numbers.length === 0) {
    if (checkpointLsn === 0) return [];
    throw new TidemarkError(
      'TIDEMARK_DATA_LOSS',
      `the WAL in ${dir.path} holds no segment, but checkpoint ${checkpointId} covers LSN ${checkpointLsn}: the WAL always keeps that LSN or the checkpoint's later marker record, so records from LSN ${checkpointLsn + 1} on (the newest unknown) are lost`,
      { path: dir.path },
    );
  }
  // Segments wholly before the one replay starts in: the history kept for falling back.
  const fromLsn = checkpointLsn + 1;
  const firsts: (number | undefined)[] = [];
  for (const n of numbers) firsts.push(await firstLsnOf(dir, n));
  let start = 0;
  for (let i = 1; i < numbers.length; i++) {
    const f = firsts[i];
    if (f !== undefined && f <= fromLsn) start = i;
  }
  const damage: WalDamage[] = [];
  let expectedFirst: number | undefined;
  for (let i = 0; i < start; i++) {
    const name = segmentFileName(numbers[i]!);
    const path = `${dir.path}/${name}`;
    try {
      const buf = Buffer.from(await dir.readFile(name, MAX_SEGMENT_FILE_BYTES));
      const scan = scanSegment(buf, {
        path,
        segmentNumber: numbers[i]!,
        final: false,
        expectedFirstLsn: expectedFirst,
      });
      expectedFirst = scan.lastLsn + 1;
    } catch (err) {
      if (!options.reportHistoryDamage || !(err instanceof TidemarkError) || err.code === 'TIDEMARK_IO')
        throw err;
      damage.push({
        path: err.path ?? path,
        offset: err.offset ?? 0,
        bytesSkipped: 0,
        reason: `retained history (before checkpoint ${checkpointId}): ${err.message}`,
      });
      return damage;
    }
  }
  if (start > 0 && expectedFirst !== undefined && firsts[start] !== expectedFirst) {
    const path = `${dir.path}/${segmentFileName(numbers[start]!)}`;
    const err =
      firsts[start] === undefined
        ? headerError(path, 'checksum')
        : corruption(path, 0, `segment starts at LSN ${firsts[start]}, expected ${expectedFirst}`);
    if (!options.reportHistoryDamage) throw err;
    damage.push({ path, offset: 0, bytesSkipped: 0, reason: `retained history: ${err.message}` });
  }
  return damage;
}
