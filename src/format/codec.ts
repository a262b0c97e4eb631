/**
 * The compressed-object frame: how a compressed checkpoint file or archived WAL segment is laid
 * out (docs/FORMAT.md, "Compressed objects"). Every compressed thing carries its codec and its
 * uncompressed length; the CRC32C covers the stored (compressed) bytes, so damage is found before
 * any decompressor sees it, and the length is checked after decompression — a damaged object is
 * `TIDEMARK_CORRUPTION`, never garbage handed to the caller.
 *
 * Frame (all integers little-endian), 24-byte header then the payload:
 *
 *     0  u32  magic "TMZC"
 *     4  u8   frame version (1)
 *     5  u8   codec id (CodecId)
 *     6  u8   transform applied before compression (0 none, 1 wal-pack: src/format/wal-pack.ts)
 *     7  u8   reserved, zero
 *     8  u64  uncompressed length in bytes (of the decompressed payload, before the transform is undone)
 *    16  u32  CRC32C of the payload (bytes [24, end))
 *    20  u32  CRC32C of bytes [0, 20)
 *    24  …    payload
 *
 * Unframed bytes (written before compression existed, or a local file with `compression` off)
 * never start with the magic: WAL segments start with "TMWL", state files and operators files
 * with their own magics, so {@link isCodecFrame} tells the two apart.
 *
 * The codecs themselves (optional packages, zlib) live in src/io/codecs.ts; this module frames
 * what they produce ({@link encodeObject}) and checks it on the way back ({@link decodeObject}).
 */
import { corruption, TidemarkError } from '../errors.js';
import {
  type CodecName,
  Codecs,
  defaultCodecs,
  FALLBACK_CODEC,
  type ResolvedCompression,
} from '../io/codecs.js';
import { crc32c } from './crc32c.js';
import { packSegment, unpackSegment } from './wal-pack.js';

export type { CodecName } from '../io/codecs.js';

/** "TMZC" as bytes T M Z C, read as a little-endian u32. */
export const CODEC_FRAME_MAGIC = 0x435a4d54;
/** Version of the frame written by this build; newer ones are `TIDEMARK_UNSUPPORTED_VERSION`. */
export const CODEC_FRAME_VERSION = 1;
/** Bytes before the payload. */
export const CODEC_FRAME_HEADER_SIZE = 24;
/** Largest uncompressed length a frame may declare (checked before allocating): 4 GiB - 1, the largest object tidemark reads. */
export const MAX_UNCOMPRESSED_BYTES = 2 ** 32 - 1;

/** Codec ids as stored in a frame. Ids are never reused. */
export const CodecId = {
  /** Stored as is, uncompressed. */
  none: 0,
  /** LZ4 (optional package, see `CODEC_PACKAGES`). */
  lz4: 1,
  /** Zstandard (optional package, see `CODEC_PACKAGES`). */
  zstd: 2,
  /** Brotli, built into Node's zlib. */
  brotli: 3,
  /** Deflate, built into Node's zlib. */
  deflate: 4,
} as const satisfies Record<CodecName, number>;

const NAMES = new Map<number, CodecName>(Object.entries(CodecId).map(([k, v]) => [v, k as CodecName]));

/** The name of codec id `id`, undefined when this build does not know it. */
export function codecNameOf(id: number): CodecName | undefined {
  return NAMES.get(id);
}

/** Transforms a frame may apply before compressing; ids are never reused. */
export const FrameTransform = {
  /** The payload is the object's bytes, compressed as they are. */
  none: 0,
  /** The payload is an archived WAL segment rewritten by the wal-pack transform (src/format/wal-pack.ts) before compression. */
  walPack: 1,
} as const;

/** What a frame header says. */
export interface CodecFrameHeader {
  /** Codec the payload is compressed with. */
  codec: CodecName;
  /** {@link FrameTransform} id. */
  transform: number;
  /** Size of the object once decompressed (and un-transformed), bytes. */
  uncompressedLength: number;
  /** Bytes of payload after the header. */
  payloadLength: number;
}

/** True when `bytes` starts with the frame magic (a compressed object, possibly damaged). */
export function isCodecFrame(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  return (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0 === CODEC_FRAME_MAGIC;
}

/** The frame of `payload` (already compressed by `codec`) whose content is `uncompressedLength` bytes. */
export function encodeCodecFrame(
  header: { codec: CodecName; uncompressedLength: number; transform?: number | undefined },
  payload: Uint8Array,
): Buffer {
  const { codec, uncompressedLength, transform = FrameTransform.none } = header;
  if (
    !Number.isSafeInteger(uncompressedLength) ||
    uncompressedLength < 0 ||
    uncompressedLength > MAX_UNCOMPRESSED_BYTES
  )
    throw new TidemarkError(
      'TIDEMARK_LIMIT',
      `cannot frame ${uncompressedLength} bytes (at most ${MAX_UNCOMPRESSED_BYTES})`,
    );
  const out = Buffer.allocUnsafe(CODEC_FRAME_HEADER_SIZE + payload.length);
  out.writeUInt32LE(CODEC_FRAME_MAGIC, 0);
  out.writeUInt8(CODEC_FRAME_VERSION, 4);
  out.writeUInt8(CodecId[codec], 5);
  out.writeUInt8(transform, 6);
  out.writeUInt8(0, 7);
  out.writeBigUInt64LE(BigInt(uncompressedLength), 8);
  out.writeUInt32LE(crc32c(payload), 16);
  out.writeUInt32LE(crc32c(out, 0, 20), 20);
  out.set(payload, CODEC_FRAME_HEADER_SIZE);
  return out;
}

/**
 * Reads and checks a frame's header and the payload's CRC32C. Throws `TIDEMARK_CORRUPTION`
 * (naming `path` and the offset) for a damaged header or payload, an unknown codec id or a
 * length past the cap; `TIDEMARK_UNSUPPORTED_VERSION` for a newer frame version.
 */
export function decodeCodecFrame(
  bytes: Uint8Array,
  path: string,
): CodecFrameHeader & {
  /** The payload bytes after the header, still compressed (a view of `bytes`). */
  payload: Uint8Array;
} {
  if (bytes.length < CODEC_FRAME_HEADER_SIZE || !isCodecFrame(bytes))
    throw corruption(path, 0, 'not a compressed-object frame (bad magic or shorter than its header)');
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.readUInt32LE(20) !== crc32c(view, 0, 20))
    throw corruption(path, 0, 'compressed-object header fails its CRC32C');
  const version = view.readUInt8(4);
  if (version > CODEC_FRAME_VERSION)
    throw new TidemarkError(
      'TIDEMARK_UNSUPPORTED_VERSION',
      `${path}: compressed-object frame version ${version} is newer than this build reads (${CODEC_FRAME_VERSION}); upgrade tidemark`,
      { path, offset: 4 },
    );
  if (version === 0 || view.readUInt8(7) !== 0)
    throw corruption(path, 4, 'bad frame version or reserved bits');
  const transform = view.readUInt8(6);
  if (transform > FrameTransform.walPack) throw corruption(path, 6, `unknown transform ${transform}`);
  const id = view.readUInt8(5);
  const codec = codecNameOf(id);
  if (codec === undefined) throw corruption(path, 5, `unknown codec id ${id}`);
  const length = view.readBigUInt64LE(8);
  if (length > BigInt(MAX_UNCOMPRESSED_BYTES))
    throw corruption(path, 8, `declares ${length} uncompressed bytes, more than any valid object`);
  const payload = view.subarray(CODEC_FRAME_HEADER_SIZE);
  if (view.readUInt32LE(16) !== crc32c(payload))
    throw corruption(path, CODEC_FRAME_HEADER_SIZE, 'compressed payload fails its CRC32C');
  const uncompressedLength = Number(length);
  if (codec === 'none' && payload.length !== uncompressedLength)
    throw corruption(
      path,
      8,
      `uncompressed frame holds ${payload.length} bytes, its header says ${uncompressedLength}`,
    );
  return { codec, transform, uncompressedLength, payloadLength: payload.length, payload };
}

/** What {@link encodeObject} produced. */
export interface EncodedObject {
  /** The frame: header + payload. */
  bytes: Buffer;
  /** Codec actually used: the fallback when the asked one's package is missing, `none` when compressing did not shrink the bytes. */
  codec: CodecName;
  /** Size of the original bytes, bytes. */
  uncompressedLength: number;
}

/**
 * Frames `bytes` compressed as `compression` asks. When the codec's package is missing, compresses
 * with the built-in fallback instead (one `TIDEMARK_CODEC_FALLBACK` process warning per codec);
 * when the compressed payload is not smaller, the frame holds the bytes as `none`.
 */
export async function encodeObject(
  content: Uint8Array,
  compression: ResolvedCompression,
  options: {
    /** The codecs to use (default: the shared ones). */
    codecs?: Codecs | undefined;
    /** `content` is a WAL segment: pack it first (wal-pack) when that reproduces it exactly. */
    walSegment?: boolean | undefined;
  } = {},
): Promise<EncodedObject> {
  const codecs = options.codecs ?? defaultCodecs;
  // A WAL segment is packed first (wal-pack.ts) when that reproduces it exactly.
  let bytes = content;
  let transform: number = FrameTransform.none;
  if (options.walSegment && compression.codec !== 'none') {
    const packed = packSegment(content);
    if (packed !== undefined && unpackSegment(packed, 'wal-pack self-check').equals(content)) {
      bytes = packed;
      transform = FrameTransform.walPack;
    }
  }
  let used = compression;
  let payload: Uint8Array;
  try {
    payload = await codecs.compressRaw(bytes, compression);
  } catch (err) {
    if (!(err instanceof TidemarkError && err.code === 'TIDEMARK_MISSING_DEPENDENCY')) throw err;
    codecs.warnFallback(compression.codec, err.message);
    used = { codec: FALLBACK_CODEC, level: Codecs.defaultLevel(FALLBACK_CODEC) };
    payload = await codecs.compressRaw(bytes, used);
  }
  if (used.codec !== 'none' && payload.length >= content.length) {
    used = { codec: 'none', level: 0 };
    payload = content;
    bytes = content;
    transform = FrameTransform.none;
  }
  return {
    bytes: encodeCodecFrame({ codec: used.codec, uncompressedLength: bytes.length, transform }, payload),
    codec: used.codec,
    uncompressedLength: content.length,
  };
}

/**
 * The content of a stored object: a frame is checked (CRC32C of header and payload),
 * decompressed and its length checked against the header; unframed bytes are returned as they
 * are. `TIDEMARK_CORRUPTION` naming `path` for any damage; `TIDEMARK_MISSING_DEPENDENCY` when the
 * object's codec package is not installed; `TIDEMARK_UNSUPPORTED_VERSION` for a newer frame.
 */
export async function decodeObject(
  stored: Uint8Array,
  path: string,
  codecs: Codecs = defaultCodecs,
): Promise<Uint8Array> {
  if (!isCodecFrame(stored)) return stored;
  const frame = decodeCodecFrame(stored, path);
  let out: Uint8Array;
  try {
    out = await codecs.decompressRaw(frame.codec, frame.payload, frame.uncompressedLength);
  } catch (err) {
    if (err instanceof TidemarkError) throw err;
    throw new TidemarkError(
      'TIDEMARK_CORRUPTION',
      `${path} at byte ${CODEC_FRAME_HEADER_SIZE}: ${frame.codec} payload does not decompress (${err instanceof Error ? err.message : String(err)})`,
      { path, offset: CODEC_FRAME_HEADER_SIZE, cause: err },
    );
  }
  if (out.length !== frame.uncompressedLength)
    throw corruption(
      path,
      8,
      `decompresses to ${out.length} bytes, its header says ${frame.uncompressedLength}`,
    );
  return frame.transform === FrameTransform.walPack ? unpackSegment(out, path) : out;
}
