/**
 * zstd off the calling thread. `zstd-napi` 0.0.13 only compresses on the thread that calls it,
 * and a 64 MiB archived WAL segment takes it hundreds of milliseconds: on the user's event loop
 * that is a stall of every timer, socket and commit. {@link ZstdWorker} runs those calls on one
 * worker thread instead (the pattern of Node's own zlib, whose async functions run in libuv's
 * pool), started lazily on the first job.
 *
 * Lifetime: the worker never keeps the process alive. It is `unref()`'d while idle and `ref()`'d
 * only while a job is pending (so an awaited compression is not cut short by the process
 * exiting under it). A worker that dies — an uncaught error, `terminate()`, an abort in native
 * code — rejects every job it held with `TIDEMARK_IO` (the codec could not run; nothing was
 * read or written wrongly, the caller may retry), and the next job starts a new worker.
 *
 * Memory: a job's input is copied once into a fresh ArrayBuffer that is transferred to the
 * worker (the caller keeps its own buffer intact); the result is transferred back, not copied.
 * At most `maxInFlight` jobs are posted to the worker at a time; later ones wait, uncopied, in
 * arrival order — so the copies held by the worker are bounded whatever the number of callers.
 */
import type { Worker } from 'node:worker_threads';
import { TidemarkError } from '../errors.js';
import { startModuleWorker } from './module-worker.js';

/** A job posted to the zstd worker thread. */
export interface ZstdJobRequest {
  /** Job number, echoed in the response. */
  id: number;
  /** What to do with `input`. */
  op: 'compress' | 'decompress';
  /** zstd compression level (1–22); ignored by `decompress`. */
  level: number;
  /** The bytes, in an ArrayBuffer transferred to the worker. */
  input: Uint8Array;
}

/** The worker's answer to one {@link ZstdJobRequest}. */
export type ZstdJobResponse =
  | {
      /** Job number of the request. */
      id: number;
      /** Succeeded. */
      ok: true;
      /** The result, transferred (or, when small, copied) back. */
      output: Uint8Array;
    }
  | {
      /** Job number of the request. */
      id: number;
      /** zstd-napi threw (for `decompress`, a malformed frame). */
      ok: false;
      /** The error's message. */
      message: string;
      /** The error's name. */
      name: string;
    };

/** Options of {@link ZstdWorker}. */
export interface ZstdWorkerOptions {
  /** Jobs posted to the worker thread at a time; later ones wait their turn. Default 2. */
  maxInFlight?: number | undefined;
}

interface Job {
  op: 'compress' | 'decompress';
  level: number;
  bytes: Uint8Array;
  resolve: (out: Buffer) => void;
  reject: (err: unknown) => void;
}

/**
 * One lazily started worker thread that runs `zstd-napi`. Safe to share between stores and
 * {@link Codecs} instances; {@link Codecs} uses a process-wide one unless given another.
 */
export class ZstdWorker {
  private readonly maxInFlight: number;
  private worker: Worker | undefined;
  private workerError: unknown;
  private readonly inFlight = new Map<number, Job>();
  private readonly waiting: Job[] = [];
  private nextId = 1;
  private closed = false;

  /** Nothing starts until the first job. `TIDEMARK_INVALID_ARGUMENT` for a bad `maxInFlight`. */
  constructor(options: ZstdWorkerOptions = {}) {
    const maxInFlight = options.maxInFlight ?? 2;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1)
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `maxInFlight must be a positive integer, got ${String(options.maxInFlight)}`,
        { argument: 'maxInFlight' },
      );
    this.maxInFlight = maxInFlight;
  }

  /**
   * One zstd frame of `bytes` at `level` (1–22), computed on the worker thread. `bytes` is not
   * modified or detached. Rejects `TIDEMARK_IO` if the worker dies first, `TIDEMARK_CLOSED`
   * after {@link close}.
   */
  compress(bytes: Uint8Array, level: number): Promise<Buffer> {
    return this.submit('compress', level, bytes);
  }

  /**
   * The content of the zstd frame(s) in `payload`, computed on the worker thread. A malformed
   * frame rejects with zstd's own error (a plain `Error`: the codec frame turns it into
   * `TIDEMARK_CORRUPTION` naming the object); the worker dying first is `TIDEMARK_IO`.
   */
  decompress(payload: Uint8Array): Promise<Buffer> {
    return this.submit('decompress', 0, payload);
  }

  /** The current worker thread, if started (tests kill it to check what pending jobs get). */
  get threadForTesting(): Worker | undefined {
    return this.worker;
  }

  /**
   * Stops the worker thread. Jobs not yet answered reject `TIDEMARK_CLOSED`, and so do later
   * ones. Not needed before exiting: an idle worker never keeps the process alive.
   */
  async close(): Promise<void> {
    this.closed = true;
    const err = new TidemarkError('TIDEMARK_CLOSED', 'the zstd worker was closed');
    this.failAll(err);
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private submit(op: Job['op'], level: number, bytes: Uint8Array): Promise<Buffer> {
    if (this.closed)
      return Promise.reject(new TidemarkError('TIDEMARK_CLOSED', 'the zstd worker was closed'));
    return new Promise<Buffer>((resolve, reject) => {
      this.waiting.push({ op, level, bytes, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (!this.closed && this.inFlight.size < this.maxInFlight && this.waiting.length > 0) {
      const job = this.waiting.shift() as Job;
      this.post(job);
    }
  }

  private post(job: Job): void {
    let worker: Worker;
    try {
      worker = this.worker ?? this.start();
    } catch (err) {
      job.reject(
        new TidemarkError('TIDEMARK_IO', `could not start the zstd worker thread: ${String(err)}`, {
          cause: err,
        }),
      );
      return;
    }
    const id = this.nextId++;
    // A private copy in its own ArrayBuffer: transferring it is free, and the caller's buffer
    // (possibly a view into a larger one) stays whole.
    const input = new Uint8Array(job.bytes.byteLength);
    input.set(job.bytes);
    const request: ZstdJobRequest = { id, op: job.op, level: job.level, input };
    try {
      worker.postMessage(request, [input.buffer]);
    } catch (err) {
      job.reject(
        new TidemarkError('TIDEMARK_IO', `could not post to the zstd worker thread: ${String(err)}`, {
          cause: err,
        }),
      );
      return;
    }
    if (this.inFlight.size === 0) worker.ref();
    this.inFlight.set(id, job);
  }

  private start(): Worker {
    const worker = startModuleWorker(import.meta.url, 'zstd-worker', { name: 'tidemark-zstd' });
    worker.unref();
    this.worker = worker;
    this.workerError = undefined;
    worker.on('message', (response: ZstdJobResponse) => this.settle(worker, response));
    worker.on('error', (err) => {
      if (this.worker === worker) this.workerError = err;
    });
    worker.on('exit', (code) => this.exited(worker, code));
    return worker;
  }

  private settle(worker: Worker, response: ZstdJobResponse): void {
    const job = this.inFlight.get(response.id);
    if (!job) return;
    this.inFlight.delete(response.id);
    if (this.inFlight.size === 0) worker.unref();
    if (response.ok) {
      const out = response.output;
      job.resolve(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
    } else {
      const err = new Error(response.message);
      err.name = response.name;
      job.reject(err);
    }
    this.pump();
  }

  private exited(worker: Worker, code: number): void {
    if (this.worker !== worker) return; // closed, or already replaced
    this.worker = undefined;
    const cause = this.workerError;
    this.workerError = undefined;
    if (this.inFlight.size > 0) {
      const why = cause instanceof Error ? `: ${cause.message}` : '';
      this.failAll(
        new TidemarkError(
          'TIDEMARK_IO',
          `the zstd worker thread exited (code ${code}) before answering ${this.inFlight.size} job(s)${why}`,
          cause === undefined ? {} : { cause },
        ),
        { waitingToo: false },
      );
    }
    // Jobs that were waiting their turn get a new worker.
    this.pump();
  }

  private failAll(err: TidemarkError, options: { waitingToo: boolean } = { waitingToo: true }): void {
    const jobs = [...this.inFlight.values(), ...(options.waitingToo ? this.waiting.splice(0) : [])];
    this.inFlight.clear();
    for (const job of jobs) job.reject(err);
  }
}

/** zstd as Node's own zlib has it (Node ≥ 22.15 / 23.8): async in libuv's pool, no package needed. */
export interface NodeZstd {
  /** One zstd frame of `bytes` at `level`; async (libuv's pool) unless `sync`. */
  compress(bytes: Uint8Array, level: number, sync: boolean): Promise<Buffer>;
  /** The content of `payload`, at most `maxOutputLength` bytes; async unless `sync`. */
  decompress(payload: Uint8Array, maxOutputLength: number, sync: boolean): Promise<Buffer>;
}

type ZlibCallback = (err: Error | null, out: Buffer) => void;
interface ZlibWithZstd {
  zstdCompress(buf: Uint8Array, options: object, callback: ZlibCallback): void;
  zstdCompressSync(buf: Uint8Array, options: object): Buffer;
  zstdDecompress(buf: Uint8Array, options: object, callback: ZlibCallback): void;
  zstdDecompressSync(buf: Uint8Array, options: object): Buffer;
  constants: { ZSTD_c_compressionLevel: number };
}

/**
 * Node's zlib zstd, or `undefined` on a Node without it (Node 20). It writes and reads standard
 * zstd frames, the same as zstd-napi: objects written by either read with the other.
 */
export function nodeZstd(zlib: object): NodeZstd | undefined {
  const z = zlib as Partial<ZlibWithZstd>;
  if (typeof z.zstdCompress !== 'function' || typeof z.zstdDecompress !== 'function') return undefined;
  const api = z as ZlibWithZstd;
  const run = (fn: (cb: ZlibCallback) => void) =>
    new Promise<Buffer>((resolve, reject) => fn((err, out) => (err ? reject(err) : resolve(out))));
  return {
    compress(bytes, level, sync) {
      // pledgedSrcSize puts the content size in the frame header (as zstd-napi's does), so
      // readers allocate the output once.
      const options = {
        params: { [api.constants.ZSTD_c_compressionLevel]: level },
        pledgedSrcSize: bytes.length,
      };
      if (sync) return Promise.resolve(api.zstdCompressSync(bytes, options));
      return run((cb) => api.zstdCompress(bytes, options, cb));
    },
    decompress(payload, maxOutputLength, sync) {
      const options = { maxOutputLength: Math.max(1, maxOutputLength) };
      if (sync) return Promise.resolve(api.zstdDecompressSync(payload, options));
      return run((cb) => api.zstdDecompress(payload, options, cb));
    },
  };
}
