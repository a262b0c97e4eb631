/**
 * The measurements of `tidemark probe`: durable writes timed one by one with synchronous node:fs
 * calls, as PostgreSQL's `pg_test_fsync` does. Synchronous on purpose: the raw cost of the
 * durability barrier on this disk is what is measured, without the thread-pool hops and event
 * loop of the library around it (the same baseline as the benchmarks' raw writeSync +
 * fdatasyncSync).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ioError } from '../errors.js';

/**
 * How a write is made durable: `fdatasync` and `fsync` write then call the barrier; `o_dsync`
 * opens the file with O_DSYNC, so each write is its own barrier (the WAL's `syncMethod`).
 */
export type ProbeSyncMethod = 'fdatasync' | 'o_dsync' | 'fsync';

/** One measurement: `writeBytes`-sized durable writes at consecutive offsets of a fresh file. */
export interface ProbeCase {
  /** Stable name, reused in the JSON lines (`fdatasync_4KiB`, `commit_1KiB_prealloc_o_dsync`). */
  name: string;
  method: ProbeSyncMethod;
  /** Bytes per write. */
  writeBytes: number;
  /**
   * Write into a file first filled with zeros and fdatasynced (what `preallocateSegments` does),
   * instead of appending to an empty file that grows with every write.
   */
  preallocated: boolean;
  /** The file never grows past this many bytes: the case stops there even within its time. */
  maxFileBytes: number;
}

/** What one case measured. */
export interface ProbeCaseResult {
  /** Timed durable writes (a first, untimed write warms the file up). */
  writes: number;
  /** Wall time of the timed writes, in seconds. */
  seconds: number;
  /** Each timed barrier alone, in milliseconds: the fdatasync/fsync call, or the O_DSYNC write. */
  barrierMs: number[];
}

/** At least this many timed writes, even past the time box (a slow disk still gets a figure). */
const MIN_WRITES = 3;
/** Zero fill in chunks of this size. */
const FILL_CHUNK = 1024 * 1024;

/** Whether this platform can open files with O_DSYNC (not on Windows). */
export function oDsyncSupported(): boolean {
  return typeof fs.constants.O_DSYNC === 'number' && fs.constants.O_DSYNC !== 0;
}

/**
 * Runs one case in a new file inside `dir` for about `budgetMs` milliseconds (at least
 * {@link MIN_WRITES} writes, at most `maxFileBytes` of file), then deletes the file. The time
 * to zero-fill a preallocated file is not part of the measured writes. Throws `TIDEMARK_IO`
 * (or `TIDEMARK_NO_SPACE`) naming the file when the disk refuses.
 */
export function runProbeCase(dir: string, spec: ProbeCase, budgetMs: number): ProbeCaseResult {
  const file = path.join(dir, `${spec.name}.probe`);
  try {
    const fileBytes = Math.max(spec.writeBytes, spec.maxFileBytes - (spec.maxFileBytes % spec.writeBytes));
    if (spec.preallocated) zeroFill(file, fileBytes);
    const { O_WRONLY, O_CREAT, O_TRUNC, O_DSYNC } = fs.constants;
    let flags = O_WRONLY | O_CREAT | (spec.preallocated ? 0 : O_TRUNC);
    if (spec.method === 'o_dsync') flags |= O_DSYNC;
    const fd = fs.openSync(file, flags, 0o600);
    try {
      return timedWrites(fd, spec, { fileBytes, budgetMs });
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    throw ioError(`probe ${spec.name}`, file, err);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

function timedWrites(
  fd: number,
  spec: ProbeCase,
  limits: { fileBytes: number; budgetMs: number },
): ProbeCaseResult {
  const buf = Buffer.alloc(spec.writeBytes, 0x5a);
  const barrierMs: number[] = [];
  const durableWrite = (position: number): void => {
    const t = performance.now();
    fs.writeSync(fd, buf, 0, buf.length, position);
    if (spec.method === 'o_dsync') {
      barrierMs.push(performance.now() - t);
      return;
    }
    const s = performance.now();
    if (spec.method === 'fdatasync') fs.fdatasyncSync(fd);
    else fs.fsyncSync(fd);
    barrierMs.push(performance.now() - s);
  };
  // Warm-up: the first write into a fresh file pays one-off costs (its first block, the inode).
  durableWrite(0);
  barrierMs.length = 0;
  let position = buf.length;
  let writes = 0;
  const t0 = performance.now();
  while (position + buf.length <= limits.fileBytes) {
    durableWrite(position);
    position += buf.length;
    writes++;
    if (writes >= MIN_WRITES && performance.now() - t0 >= limits.budgetMs) break;
  }
  return { writes, seconds: (performance.now() - t0) / 1000, barrierMs };
}

/** A file of `bytes` zeros, fdatasynced: the state `preallocateSegments` prepares. */
function zeroFill(file: string, bytes: number): void {
  const fd = fs.openSync(file, 'w', 0o600);
  try {
    const zeros = Buffer.alloc(Math.min(FILL_CHUNK, bytes));
    for (let at = 0; at < bytes; at += zeros.length)
      fs.writeSync(fd, zeros, 0, Math.min(zeros.length, bytes - at), at);
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The `p`-th percentile (0..100, nearest rank) of `samples`; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}
