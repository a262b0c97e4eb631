// Ring 1 for the push benchmark: a ChangelogDrainer writing and fdatasyncing a real WAL.
import { parentPort, workerData } from 'node:worker_threads';
import { ChangelogDrainer, StateChangelogBuffer, storeRingState } from '../../src/changelog/index.ts';
import { RingState } from '../../src/format/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { WriteAheadLog } from '../../src/wal/index.ts';

const { shared, dir } = workerData as { shared: SharedArrayBuffer; dir: string };
const ring = StateChangelogBuffer.attach(shared);
const wal = await WriteAheadLog.open(await FsDirectory.open(dir));
const drainer = new ChangelogDrainer(ring, wal);
const running = drainer.run();
storeRingState(ring, RingState.Running);
parentPort!.on('message', async () => {
  drainer.stop();
  await running;
  const s = wal.stats();
  await wal.close();
  parentPort!.postMessage({ records: s.recordsAppended, syncs: s.syncs });
  parentPort!.close();
});
parentPort!.postMessage('ready');
