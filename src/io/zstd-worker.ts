/**
 * The body of the zstd worker thread (started by `zstd-off-thread.ts`): it loads `zstd-napi`,
 * whose `compress`/`decompress` are synchronous, and runs them here so that the thread that
 * asked — usually the user's event loop — keeps running. One job at a time, in arrival order.
 *
 * Results go back by transfer, not copy: a result buffer that owns its ArrayBuffer (zstd-napi
 * allocates large outputs with `Buffer.allocUnsafe`, outside Node's shared 8 KiB pool) is moved
 * to the caller. A small result may live in the pool, which must never be transferred (other
 * Buffers share it), so it is copied — a few KiB at most.
 */
import { parentPort } from 'node:worker_threads';
import type { ZstdJobRequest, ZstdJobResponse } from './zstd-off-thread.js';

interface ZstdNapi {
  compress(data: Uint8Array, parameters?: { compressionLevel?: number }): Buffer;
  decompress(data: Uint8Array): Buffer;
}

const port = parentPort;
if (!port) throw new Error('zstd-worker must run as a worker thread');
const zstd = import('zstd-napi') as Promise<ZstdNapi>;
// A failed load is reported per job below; this only keeps it from being an unhandled rejection.
zstd.catch(() => undefined);

port.on('message', (request: ZstdJobRequest) => {
  void run(request);
});

async function run(request: ZstdJobRequest): Promise<void> {
  let response: ZstdJobResponse;
  const transfer: ArrayBuffer[] = [];
  try {
    const codec = await zstd;
    const out =
      request.op === 'compress'
        ? codec.compress(request.input, { compressionLevel: request.level })
        : codec.decompress(request.input);
    let output: Uint8Array;
    if (out.buffer instanceof ArrayBuffer && out.buffer.byteLength > Buffer.poolSize) {
      output = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      transfer.push(out.buffer);
    } else {
      output = Uint8Array.prototype.slice.call(out);
    }
    response = { id: request.id, ok: true, output };
  } catch (err) {
    response = {
      id: request.id,
      ok: false,
      message: err instanceof Error ? err.message : String(err),
      name: err instanceof Error ? err.name : 'Error',
    };
  }
  port?.postMessage(response, transfer);
}
