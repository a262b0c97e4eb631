// One core of the per-core benchmark: its own CoreWalWriter, appending `groups` groups of
// `groupRecords` puts of `recordBytes` each, one group in flight at a time (the next group is
// built while the previous one is made durable), after a 'go' message. The data directory's lock
// is held by the thread that started the workers (`lock: false` here, as CoreWalWriterOptions
// documents for a core's worker thread).
import { parentPort, workerData } from 'node:worker_threads';
import { CoreWalWriter, FsDirectory } from '../../dist/index.js';

const { walRoot, coreId, groups, groupRecords, recordBytes } = workerData as {
  walRoot: string;
  coreId: number;
  groups: number;
  groupRecords: number;
  recordBytes: number;
};
const writer = await CoreWalWriter.open(await FsDirectory.open(walRoot), coreId, {
  wal: { groupCommitBytes: groupRecords * (recordBytes + 64), groupCommitDelayMs: 60_000 },
  lock: false,
});
const value = Buffer.alloc(recordBytes - 40, 7); // key + core-entry header bring a record to ~recordBytes
parentPort!.once('message', async () => {
  const t0 = performance.now();
  let inFlight: Promise<void> | undefined;
  for (let g = 0; g < groups; g++) {
    let last = 0;
    for (let i = 0; i < groupRecords; i++) last = writer.appendPut(`k${i}`, value);
    const done = writer.flushed(last);
    await inFlight;
    inFlight = done;
    void writer.sync();
  }
  await inFlight;
  const ms = performance.now() - t0;
  const stats = writer.stats();
  await writer.close();
  parentPort!.postMessage({ records: groups * groupRecords, ms, syncs: stats.syncs });
});
parentPort!.postMessage('ready');
