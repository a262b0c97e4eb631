/**
 * Optional compression of local checkpoint files (`FileSystemCheckpointStore`'s `compression`).
 *
 * A compressed local file is the same checked frame object stores use (src/format/codec.ts,
 * docs/FORMAT.md "Compressed objects"): codec id and uncompressed length in a CRC-protected
 * header, CRC32C over the stored payload. Its manifest entry records what was stored (frame size
 * and CRC32C, as for any file) plus `codec` and `uncompressedBytes`, the fields object stores
 * already write — so a reader knows from the manifest alone whether to expect a frame, and an
 * entry without `codec` is a plain file exactly as before (old checkpoints stay readable).
 *
 * Memory: compressing needs the whole file (zstd-napi and lz4-napi compress one buffer), so a
 * compressed file costs its uncompressed size plus its frame while it is written, and reading
 * one costs both again (the frame, then its content). Plain files keep their bounded-memory
 * streaming; turn compression off for states too large to hold twice in memory.
 */
import { corruption } from '../errors.js';
import type { CheckpointFileEntry } from '../format/checkpoint-manifest.js';
import {
  CODEC_FRAME_HEADER_SIZE,
  CodecId,
  decodeObject,
  encodeObject,
  isCodecFrame,
} from '../format/codec.js';
import { crc32c } from '../format/crc32c.js';
import {
  type Codecs,
  type CompressionSpec,
  defaultCodecs,
  type ResolvedCompression,
  resolveCompression,
} from '../io/codecs.js';

/** Local checkpoint files are written plain unless asked otherwise. */
export const DEFAULT_LOCAL_CHECKPOINT_COMPRESSION: ResolvedCompression = Object.freeze({
  codec: 'none',
  level: 0,
}) as ResolvedCompression;

/**
 * Checks the `compression` option of local checkpoint files (`TIDEMARK_INVALID_ARGUMENT`
 * naming `argument`); `undefined`, `false` and `'none'` all mean plain files.
 */
export function resolveLocalCompression(
  argument: string,
  value: CompressionSpec | false | undefined,
): ResolvedCompression {
  return resolveCompression(argument, value, DEFAULT_LOCAL_CHECKPOINT_COMPRESSION);
}

/** A data file ready to be written: its stored bytes and the manifest fields they add. */
export interface EncodedLocalFile {
  /** The frame to store. */
  bytes: Uint8Array;
  /** Manifest fields describing it (besides name and role). */
  entry: Pick<CheckpointFileEntry, 'sizeBytes' | 'crc32c' | 'codec' | 'uncompressedBytes'>;
}

/**
 * Collects `chunks` (the whole file, see the module comment for the memory cost) and frames them
 * compressed as `compression` asks (a missing codec package falls back to brotli with one
 * `TIDEMARK_CODEC_FALLBACK` warning, as for object stores).
 */
export async function encodeLocalFile(
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  compression: ResolvedCompression,
  codecs: Codecs = defaultCodecs,
): Promise<EncodedLocalFile> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  const raw = Buffer.concat(parts);
  const encoded = await encodeObject(raw, compression, { codecs });
  return {
    bytes: encoded.bytes,
    entry: {
      sizeBytes: encoded.bytes.length,
      crc32c: crc32c(encoded.bytes),
      codec: encoded.codec,
      uncompressedBytes: raw.length,
    },
  };
}

/**
 * The content of a local data file whose stored bytes were already checked against `file`
 * (size and CRC32C). An entry without `codec` is a plain file: returned as it is. With one, the
 * bytes must be a frame of that codec whose content is `file.uncompressedBytes` long (at most
 * `maxBytes`, checked before decompressing): `TIDEMARK_CORRUPTION` naming `path` and the offset
 * otherwise, `TIDEMARK_MISSING_DEPENDENCY` when the codec's package is not installed,
 * `TIDEMARK_UNSUPPORTED_VERSION` for a newer frame.
 */
export async function decodeLocalFile(
  stored: Uint8Array,
  options: { path: string; file: CheckpointFileEntry; maxBytes: number; codecs?: Codecs | undefined },
): Promise<Uint8Array> {
  const { path, file, maxBytes } = options;
  if (file.codec === undefined) return stored;
  const id = CodecId[file.codec as keyof typeof CodecId];
  if (id === undefined)
    throw corruption(path, 0, `manifest names unknown codec ${JSON.stringify(file.codec)}`);
  const expected = file.uncompressedBytes;
  if (expected === undefined) throw corruption(path, 0, 'manifest names a codec but no uncompressed size');
  if (expected > maxBytes)
    throw corruption(
      path,
      0,
      `manifest says ${expected} uncompressed bytes, more than a valid file (${maxBytes})`,
    );
  if (!isCodecFrame(stored) || stored.length < CODEC_FRAME_HEADER_SIZE)
    throw corruption(
      path,
      0,
      `manifest says ${file.codec}-compressed, but the file is not a compressed frame`,
    );
  if (stored[5] !== id)
    throw corruption(path, 5, `frame codec id ${stored[5]} differs from the manifest's ${file.codec}`);
  const content = await decodeObject(stored, path, options.codecs ?? defaultCodecs);
  if (content.length !== expected)
    throw corruption(path, 8, `decompresses to ${content.length} bytes, the manifest says ${expected}`);
  return content;
}
