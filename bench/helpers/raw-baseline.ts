// The baseline every benchmark compares against, measured in the same run: raw fs.writeSync of a
// group's bytes followed by fs.fdatasyncSync, `groups` times, into a fresh file at `file`.
import * as fs from 'node:fs';

/** Durable records/s of raw writeSync + fdatasyncSync in groups of `groupRecords` × `recordBytes`. */
export function rawDurableRecordsPerSecond(
  file: string,
  recordBytes: number,
  groupRecords: number,
  groups: number,
): number {
  const fd = fs.openSync(file, 'w');
  const buf = Buffer.alloc(recordBytes * groupRecords, 7);
  const t0 = performance.now();
  for (let g = 0; g < groups; g++) {
    fs.writeSync(fd, buf);
    fs.fdatasyncSync(fd);
  }
  const s = (performance.now() - t0) / 1000;
  fs.closeSync(fd);
  fs.rmSync(file, { force: true });
  return (groups * groupRecords) / s;
}
