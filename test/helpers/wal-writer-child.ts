// Child process of the SIGKILL crash test: appends deterministic records (payload derived from
// the LSN) in random-sized groups and prints each acknowledged (durable) LSN on stdout.
import { PutEncoder } from '../../src/format/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { WriteAheadLog } from '../../src/wal/index.ts';
import { payloadFor } from './tmp.ts';

const [dirPath, seedText] = process.argv.slice(2);
let seed = Number(seedText) >>> 0;
const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
const wal = await WriteAheadLog.open(await FsDirectory.open(dirPath!), {
  segmentSizeBytes: 16 * 1024,
  groupCommitDelayMs: 1,
});
const put = new PutEncoder();
process.stdout.write(`open ${wal.lastLsn}\n`);
for (;;) {
  const n = 1 + Math.floor(rand() * 40);
  let lsn = 0;
  for (let i = 0; i < n; i++) {
    const next = wal.lastLsn + 1;
    lsn = wal.append(put.set(`k${next}`, payloadFor(next)));
  }
  await wal.flushed(lsn);
  process.stdout.write(`ack ${lsn}\n`);
}
