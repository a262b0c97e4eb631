// Ring 1 for the push benchmark: a ChangelogDrainer writing and fdatasyncing a real WAL.
import { parentPort, workerData } from 'node:worker_threads';
import {
  ChangelogDrainer,
  FsDirectory,
  RingState,
  StateChangelogBuffer,
  storeRingState,
  WriteAheadLog,
} from '../../dist/index.js';

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
