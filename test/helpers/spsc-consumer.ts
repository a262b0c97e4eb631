// Consumer side of the cross-thread SPSC test: drains the ring and checks every entry's header
// fields and the CRC32C of its payload bytes against the deterministic sequence the producer
// pushes; folds the CRCs into an order-sensitive checksum.
import { parentPort, workerData } from 'node:worker_threads';
import { StateChangelogBuffer } from '../../src/changelog/index.ts';
import { crc32c, StateOp } from '../../src/format/index.ts';
import { spscPayloadCrc } from './spsc-pattern.ts';

const { shared, total } = workerData as { shared: SharedArrayBuffer; total: number };
const ring = StateChangelogBuffer.attach(shared);
let seq = 0;
let checksum = 0;
let error: string | undefined;
while (seq < total && error === undefined) {
  const n = ring.drain((e) => {
    seq++;
    if (error !== undefined) return;
    if (e.op !== StateOp.Put || e.sequenceLow !== seq >>> 0) {
      error = `entry ${seq}: op ${e.op}, sequence ${e.sequenceLow}`;
      return;
    }
    const crc = crc32c(e.payload.subarray(e.payloadOffset, e.payloadOffset + e.payloadLength));
    if (crc !== spscPayloadCrc(seq)) {
      error = `entry ${seq}: payload bytes differ (CRC32C ${crc} != ${spscPayloadCrc(seq)})`;
      return;
    }
    checksum = (Math.imul(checksum, 0x9e3779b1) ^ crc) >>> 0;
  }, 4096);
  if (n === 0) {
    // Sleep on the head word; the producer's wakeConsumer() notifies while this flag is set.
    ring.setConsumerSleeping(true);
    const head = ring.loadHead();
    if (ring.available() === 0) Atomics.wait(ring.control, 0, head, 50);
    ring.setConsumerSleeping(false);
  }
}
parentPort!.postMessage({ seq, checksum, error });
