/**
 * The codecs behind the compressed-object frame (src/format/codec.ts): `none`, `lz4`
 * (`lz4-napi`), `zstd` (`zstd-napi`, with a level) and the built-in ones of Node's zlib
 * (`brotli`, `deflate`).
 *
 * `lz4-napi` and `zstd-napi` are optional dependencies, loaded on first use through
 * `optional-dependency.ts` (as the AWS SDK is): `import 'tidemark'` works after
 * `npm install --omit=optional`. Then:
 * - *writing* with a missing codec falls back to {@link FALLBACK_CODEC} (built in, always there)
 *   with one `TIDEMARK_CODEC_FALLBACK` process warning per codec and process;
 * - *reading* an object written with a codec whose package is missing is
 *   `TIDEMARK_MISSING_DEPENDENCY` naming the package — never a guess.
 *
 * Where the work runs: lz4-napi's `compress`/`uncompress` and zlib's async functions run in
 * libuv's thread pool, off the event loop. zstd-napi 0.0.13 has no asynchronous API (only
 * `compress`/`decompress`, on the calling thread), so payloads of {@link ZSTD_OFF_THREAD_MIN_BYTES}
 * or more go to a worker thread ({@link ZstdWorker}, `zstd-off-thread.ts`) and the caller's event
 * loop keeps running (a 16 MiB compression blocks it for ~100 ms otherwise); smaller ones stay
 * on the calling thread, where the call costs less than the hop. On a Node whose zlib has zstd
 * (≥ 22.15 / 23.8) zlib's zstd is used instead — async in libuv's pool, and zstd-napi is then
 * not needed. Both write standard zstd frames, readable by the other.
 */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { TidemarkError } from '../errors.js';
import { importOptional } from './optional-dependency.js';
import { type NodeZstd, nodeZstd, ZstdWorker } from './zstd-off-thread.js';

/** The codecs, by name. The frame (src/format/codec.ts) maps each to a stored id. */
export const CODEC_NAMES = ['none', 'lz4', 'zstd', 'brotli', 'deflate'] as const;
/** Name of a codec. */
export type CodecName = (typeof CODEC_NAMES)[number];

/** The shape tidemark uses of `zstd-napi`. */
export interface ZstdModule {
  /** One zstd frame of `data` at `compressionLevel` (synchronous, on the calling thread). */
  compress(data: Uint8Array, parameters?: { compressionLevel?: number }): Buffer;
  /** The content of one zstd frame (synchronous). */
  decompress(data: Uint8Array): Buffer;
}
/** The shape tidemark uses of `lz4-napi`. */
export interface Lz4Module {
  /** A size-prefixed lz4 block of `data` (in libuv's thread pool). */
  compress(data: Uint8Array): Promise<Buffer>;
  /** The content of a size-prefixed lz4 block (in libuv's thread pool). */
  uncompress(data: Uint8Array): Promise<Buffer>;
}

/** How to load the optional codec packages (tests inject failing loaders). */
export interface CodecLoaders {
  /** Loads `zstd-napi` (default: `import('zstd-napi')`). */
  zstd: () => Promise<ZstdModule>;
  /** Loads `lz4-napi` (default: `import('lz4-napi')`). */
  lz4: () => Promise<Lz4Module>;
}

/** Package of each optional codec. */
export const CODEC_PACKAGES = {
  /** npm package of the zstd codec (optional dependency). */
  zstd: 'zstd-napi',
  /** npm package of the lz4 codec (optional dependency). */
  lz4: 'lz4-napi',
} as const;

/** Codec used for writing when the asked one's package is missing. Built into Node (zlib). */
export const FALLBACK_CODEC: CodecName = 'brotli';
/** The `process.emitWarning` code of the one-time "codec package missing, writing with the fallback" diagnostic. */
export const CODEC_FALLBACK_WARNING = 'TIDEMARK_CODEC_FALLBACK';

const defaultLoaders: CodecLoaders = {
  zstd: () => import('zstd-napi') as Promise<ZstdModule>,
  lz4: () => import('lz4-napi') as Promise<Lz4Module>,
};

/** A compression choice: a codec name, or a codec and level. */
export type CompressionSpec =
  | CodecName
  | {
      /** The codec. */
      codec: CodecName;
      /** zstd: 1–22 (default 3); brotli: 0–11 (default 5); deflate: 1–9 (default 6); others ignore it. */
      level?: number | undefined;
    };

/** A validated compression choice. */
export interface ResolvedCompression {
  /** The codec to write with (before any fallback for a missing package). */
  codec: CodecName;
  /** zstd: 1–22 (default 3); brotli: 0–11 (default 5); deflate: 1–9 (default 6); others ignore it. */
  level: number;
}

const LEVELS: Record<CodecName, { min: number; max: number; default: number }> = {
  none: { min: 0, max: 0, default: 0 },
  lz4: { min: 0, max: 0, default: 0 },
  zstd: { min: 1, max: 22, default: 3 },
  brotli: { min: 0, max: 11, default: 5 },
  deflate: { min: 1, max: 9, default: 6 },
};

/** The default for objects in an object store (checkpoint files and the WAL archive). */
export const DEFAULT_OBJECT_COMPRESSION: ResolvedCompression = { codec: 'zstd', level: 3 };

/**
 * Checks a compression option (`TIDEMARK_INVALID_ARGUMENT` naming `argument`), filling in the
 * level. `undefined` gives `fallback`; `false` gives `none`.
 */
export function resolveCompression(
  argument: string,
  value: CompressionSpec | false | undefined,
  fallback: ResolvedCompression,
): ResolvedCompression {
  if (value === undefined) return fallback;
  if (value === false) return { codec: 'none', level: 0 };
  const spec = typeof value === 'string' ? { codec: value } : value;
  const expected = `one of ${CODEC_NAMES.join(', ')}, or { codec, level }`;
  if (spec === null || typeof spec !== 'object' || !(CODEC_NAMES as readonly string[]).includes(spec.codec))
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `${argument} must be ${expected}, got ${JSON.stringify(value)}`,
      { argument },
    );
  const bounds = LEVELS[spec.codec];
  const level = spec.level ?? bounds.default;
  if (!Number.isInteger(level) || level < bounds.min || level > bounds.max)
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `${argument}.level for ${spec.codec} must be an integer in [${bounds.min}, ${bounds.max}], got ${String(spec.level)}`,
      { argument: `${argument}.level` },
    );
  return { codec: spec.codec, level };
}

/**
 * Payloads of at least this many bytes are zstd-(de)compressed off the calling thread. Below it
 * the synchronous call is cheaper than the hop to the worker (measured on a 2-vCPU VM: a
 * worker round trip costs ~0.1–0.3 ms, about what zstd 3 takes on 64 KiB).
 */
export const ZSTD_OFF_THREAD_MIN_BYTES = 64 * 1024;

/** The worker every {@link Codecs} shares unless given its own: started on first use, never keeps the process alive. */
const sharedZstdWorker = new ZstdWorker();
/** Node's zlib zstd, when this Node has it. */
const builtInZstd: NodeZstd | undefined = nodeZstd(zlib);

/** Options of {@link Codecs}. */
export interface CodecsOptions {
  /**
   * Replace the `import()` of the optional packages (tests simulate a missing one). With a
   * `zstd` loader given, zstd runs on the calling thread through the module it returns.
   */
  loaders?: Partial<CodecLoaders> | undefined;
  /** The worker thread that runs zstd-napi (default: one shared by the process). */
  zstdWorker?: ZstdWorker | undefined;
  /**
   * Smallest payload, in bytes, that zstd handles off the calling thread (default
   * {@link ZSTD_OFF_THREAD_MIN_BYTES}; `Infinity`: never). `TIDEMARK_INVALID_ARGUMENT` unless ≥ 0.
   */
  zstdOffThreadMinBytes?: number | undefined;
  /** Use Node's zlib zstd when it has one (default true; false forces zstd-napi, for tests). */
  nodeZstd?: boolean | undefined;
}

const brotliCompress = promisify(zlib.brotliCompress);
const brotliDecompress = promisify(zlib.brotliDecompress);
const deflateRaw = promisify(zlib.deflateRaw);
const inflateRaw = promisify(zlib.inflateRaw);

/** The codecs, with their optional packages loaded once per instance. */
export class Codecs {
  private readonly loaders: CodecLoaders;
  private zstd: Promise<ZstdModule> | undefined;
  private lz4: Promise<Lz4Module> | undefined;
  private readonly warned = new Set<string>();
  private readonly zstdWorker: ZstdWorker | undefined;
  private readonly offThreadMinBytes: number;
  private readonly nodeZstd: NodeZstd | undefined;

  /** See {@link CodecsOptions}. */
  constructor(options: CodecsOptions = {}) {
    const min = options.zstdOffThreadMinBytes ?? ZSTD_OFF_THREAD_MIN_BYTES;
    if (typeof min !== 'number' || Number.isNaN(min) || min < 0)
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `zstdOffThreadMinBytes must be a number >= 0, got ${String(options.zstdOffThreadMinBytes)}`,
        { argument: 'zstdOffThreadMinBytes' },
      );
    this.loaders = { ...defaultLoaders, ...options.loaders };
    this.offThreadMinBytes = min;
    // An injected zstd loader is honoured as is, on the calling thread.
    const customZstd = options.loaders?.zstd !== undefined;
    this.zstdWorker = customZstd ? undefined : (options.zstdWorker ?? sharedZstdWorker);
    this.nodeZstd = customZstd || options.nodeZstd === false ? undefined : builtInZstd;
  }

  private load<K extends 'zstd' | 'lz4'>(codec: K): Promise<K extends 'zstd' ? ZstdModule : Lz4Module> {
    type M = K extends 'zstd' ? ZstdModule : Lz4Module;
    const cached = (codec === 'zstd' ? this.zstd : this.lz4) as Promise<M> | undefined;
    if (cached) return cached;
    const p = importOptional({
      name: CODEC_PACKAGES[codec],
      neededFor: `${codec}-compressed objects`,
      load: this.loaders[codec] as () => Promise<M>,
    });
    if (codec === 'zstd') this.zstd = p as Promise<ZstdModule>;
    else this.lz4 = p as Promise<Lz4Module>;
    p.catch(() => {
      if (codec === 'zstd') this.zstd = undefined;
      else this.lz4 = undefined;
    });
    return p;
  }

  /** Compressed payload of `bytes` (no frame). Rejects `TIDEMARK_MISSING_DEPENDENCY` for a missing package. */
  async compressRaw(bytes: Uint8Array, compression: ResolvedCompression): Promise<Uint8Array> {
    switch (compression.codec) {
      case 'none':
        return bytes;
      case 'lz4':
        return (await this.load('lz4')).compress(bytes);
      case 'zstd': {
        const offThread = bytes.length >= this.offThreadMinBytes;
        if (this.nodeZstd) return this.nodeZstd.compress(bytes, compression.level, !offThread);
        const zstd = await this.load('zstd');
        if (offThread && this.zstdWorker) return this.zstdWorker.compress(bytes, compression.level);
        return zstd.compress(bytes, { compressionLevel: compression.level });
      }
      case 'brotli':
        return brotliCompress(bytes, {
          params: {
            [zlib.constants.BROTLI_PARAM_QUALITY]: compression.level,
            [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
          },
        });
      case 'deflate':
        return deflateRaw(bytes, { level: compression.level });
    }
  }

  /**
   * Decompresses `payload` (no frame) that `codec` wrote, producing at most `expectedLength`
   * bytes where the codec lets that be bounded (zlib's `maxOutputLength`). Rejects
   * `TIDEMARK_MISSING_DEPENDENCY` when the codec's package is missing; a malformed payload
   * rejects with the codec's own error (the frame turns it into `TIDEMARK_CORRUPTION`).
   */
  async decompressRaw(codec: CodecName, payload: Uint8Array, expectedLength: number): Promise<Uint8Array> {
    switch (codec) {
      case 'none':
        return payload;
      case 'lz4':
        return (await this.load('lz4')).uncompress(payload);
      case 'zstd': {
        // Decided by the larger side: a small frame may expand to megabytes.
        const offThread = Math.max(payload.length, expectedLength) >= this.offThreadMinBytes;
        if (this.nodeZstd) return this.nodeZstd.decompress(payload, expectedLength, !offThread);
        const zstd = await this.load('zstd');
        if (offThread && this.zstdWorker) return this.zstdWorker.decompress(payload);
        return zstd.decompress(payload);
      }
      case 'brotli':
        return brotliDecompress(payload, { maxOutputLength: Math.max(1, expectedLength) });
      case 'deflate':
        return inflateRaw(payload, { maxOutputLength: Math.max(1, expectedLength) });
    }
  }

  /**
   * Warns once per codec (process warning `TIDEMARK_CODEC_FALLBACK`) that `codec`'s package is
   * missing and the fallback writes instead. `reason` is the missing-dependency message.
   */
  warnFallback(codec: CodecName, reason: string): void {
    if (this.warned.has(codec)) return;
    this.warned.add(codec);
    process.emitWarning(
      `${reason.split('. Install')[0]}; writing with ${FALLBACK_CODEC} (built into Node) instead. Objects stay readable by any tidemark.`,
      { type: 'TidemarkWarning', code: CODEC_FALLBACK_WARNING },
    );
  }

  /** Default level of `codec`. */
  static defaultLevel(codec: CodecName): number {
    return LEVELS[codec].default;
  }

  /** Rejects `TIDEMARK_MISSING_DEPENDENCY` unless `codec` can be read here. */
  async ensureReadable(codec: CodecName): Promise<void> {
    if (codec === 'lz4' || (codec === 'zstd' && !this.nodeZstd)) await this.load(codec);
  }
}

/** The codecs every store uses unless given others. */
export const defaultCodecs = new Codecs();
