/**
 * The on-disk layout of one object of a `file:///path` object store (see docs/FORMAT.md, "Object
 * store layout"): ONE file holding a small header, then the object's bytes.
 *
 * ```
 * offset 0   magic        8 bytes  0x89 'T' 'M' 'O' 'B' 'J' '\r' '\n'
 * offset 8   version      u32 LE   1
 * offset 12  headerBytes  u32 LE   length of the JSON that follows
 * offset 16  headerCrc    u32 LE   CRC32C of that JSON
 * offset 20  JSON         {"sizeBytes":N,"crc32c":C,"metadata":{…},"storageClass"?:S,"tags"?:{…}}
 * offset 20 + headerBytes: the object's body (sizeBytes bytes; CRC32C crc32c)
 * ```
 *
 * The metadata lives in the same file as the body so that one `link()`/`rename()` publishes both
 * at once, as an S3 PutObject does: a writer killed at any moment leaves either the whole object
 * with its metadata or nothing. (An earlier layout kept the metadata in a sidecar
 * `.meta/<key>.json`; a crash between the two writes left an object without its metadata, or a
 * sidecar without an object. Files without the magic are read as that layout.) The magic starts
 * with a non-ASCII byte and ends in CR LF, as PNG's does, so that neither a text object (JSON) nor
 * a binary one written by the earlier layout (a WAL segment, a compressed frame) starts with it.
 */
import { corruption, TidemarkError } from '../errors.js';
import { crc32c } from '../format/crc32c.js';

/** First 8 bytes of every object file written by this layout. */
export const FILE_OBJECT_MAGIC = Buffer.from([0x89, 0x54, 0x4d, 0x4f, 0x42, 0x4a, 0x0d, 0x0a]);
/** The layout version written; a file with a higher one is `TIDEMARK_UNSUPPORTED_VERSION`. */
export const FILE_OBJECT_VERSION = 1;
/** Offset of the u32 LE version. */
export const FILE_OBJECT_VERSION_OFFSET = 8;
/** Offset of the u32 LE length of the header JSON. */
export const FILE_OBJECT_HEADER_BYTES_OFFSET = 12;
/** Offset of the u32 LE CRC32C of the header JSON. */
export const FILE_OBJECT_HEADER_CRC_OFFSET = 16;
/** Size of the fixed part before the header JSON (bytes). */
export const FILE_OBJECT_PREFIX_BYTES = 20;
/** Largest header JSON accepted (bytes): more is damage, not metadata. */
export const FILE_OBJECT_MAX_HEADER_BYTES = 1 << 20;

/** What the header records about the body that follows it. */
export interface FileObjectHeader {
  /** Length of the body (bytes). */
  sizeBytes: number;
  /** CRC32C of the body. */
  crc32c: number;
  /** User metadata (as S3's `x-amz-meta-*`, keys without the prefix). */
  metadata: Record<string, string>;
  /** Storage class recorded (a file system has no tiers; recorded so that tools report it). */
  storageClass?: string | undefined;
  /** Object tags recorded. */
  tags?: Record<string, string> | undefined;
}

/** The header bytes (fixed prefix + JSON) to write before a body. */
export function encodeFileObjectHeader(header: FileObjectHeader): Buffer {
  const json = Buffer.from(
    JSON.stringify({
      sizeBytes: header.sizeBytes,
      crc32c: header.crc32c,
      metadata: header.metadata,
      ...(header.storageClass !== undefined ? { storageClass: header.storageClass } : {}),
      ...(header.tags !== undefined ? { tags: header.tags } : {}),
    }),
  );
  const out = Buffer.alloc(FILE_OBJECT_PREFIX_BYTES + json.length);
  FILE_OBJECT_MAGIC.copy(out, 0);
  out.writeUInt32LE(FILE_OBJECT_VERSION, FILE_OBJECT_VERSION_OFFSET);
  out.writeUInt32LE(json.length, FILE_OBJECT_HEADER_BYTES_OFFSET);
  out.writeUInt32LE(crc32c(json), FILE_OBJECT_HEADER_CRC_OFFSET);
  json.copy(out, FILE_OBJECT_PREFIX_BYTES);
  return out;
}

/** True when `bytes` (a file's first bytes) start with the magic: a file of this layout. */
export function hasFileObjectMagic(bytes: Uint8Array): boolean {
  return bytes.length >= FILE_OBJECT_MAGIC.length && FILE_OBJECT_MAGIC.equals(bytes.subarray(0, 8));
}

/**
 * Length of the whole header (prefix + JSON) from the fixed prefix of a file that has the magic.
 * `TIDEMARK_UNSUPPORTED_VERSION` for a newer layout; `TIDEMARK_CORRUPTION` (naming `url` and the
 * offset) when the length cannot hold in a file of `fileBytes`.
 */
export function fileObjectHeaderLength(prefix: Uint8Array, fileBytes: number, url: string): number {
  if (prefix.length < FILE_OBJECT_PREFIX_BYTES)
    throw corruption(url, prefix.length, 'object file cut short inside its header');
  const view = Buffer.from(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const version = view.readUInt32LE(FILE_OBJECT_VERSION_OFFSET);
  if (version === 0) throw corruption(url, FILE_OBJECT_VERSION_OFFSET, 'object header version 0');
  if (version > FILE_OBJECT_VERSION)
    throw new TidemarkError(
      'TIDEMARK_UNSUPPORTED_VERSION',
      `${url} is a file:// object of layout version ${version}; this version reads up to ${FILE_OBJECT_VERSION}`,
      { path: url, offset: FILE_OBJECT_VERSION_OFFSET },
    );
  const jsonBytes = view.readUInt32LE(FILE_OBJECT_HEADER_BYTES_OFFSET);
  if (jsonBytes > FILE_OBJECT_MAX_HEADER_BYTES || FILE_OBJECT_PREFIX_BYTES + jsonBytes > fileBytes)
    throw corruption(
      url,
      FILE_OBJECT_HEADER_BYTES_OFFSET,
      `object header length ${jsonBytes} does not fit in the ${fileBytes}-byte file`,
    );
  return FILE_OBJECT_PREFIX_BYTES + jsonBytes;
}

/**
 * The header of a file of this layout, from its first `fileObjectHeaderLength()` bytes (or more),
 * checked: its CRC32C, its shape, and that the body it announces is what the file holds.
 * `TIDEMARK_CORRUPTION` naming `url` and the offset of the damage; `TIDEMARK_UNSUPPORTED_VERSION`.
 */
export function decodeFileObjectHeader(bytes: Uint8Array, fileBytes: number, url: string): FileObjectHeader {
  const length = fileObjectHeaderLength(bytes, fileBytes, url);
  if (bytes.length < length) throw corruption(url, bytes.length, 'object file cut short inside its header');
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const json = view.subarray(FILE_OBJECT_PREFIX_BYTES, length);
  if (crc32c(json) !== view.readUInt32LE(FILE_OBJECT_HEADER_CRC_OFFSET))
    throw corruption(url, FILE_OBJECT_PREFIX_BYTES, 'object header does not match its CRC32C');
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch {
    throw corruption(url, FILE_OBJECT_PREFIX_BYTES, 'object header is not JSON');
  }
  const h = parsed as Partial<FileObjectHeader> | null;
  if (
    h === null ||
    typeof h !== 'object' ||
    !Number.isSafeInteger(h.sizeBytes) ||
    !Number.isSafeInteger(h.crc32c) ||
    !isStringRecord(h.metadata) ||
    (h.storageClass !== undefined && typeof h.storageClass !== 'string') ||
    (h.tags !== undefined && !isStringRecord(h.tags))
  )
    throw corruption(url, FILE_OBJECT_PREFIX_BYTES, 'object header lacks sizeBytes, crc32c or metadata');
  if (h.sizeBytes !== fileBytes - length)
    throw corruption(
      url,
      length,
      `object body is ${fileBytes - length} bytes, its header says ${h.sizeBytes as number}`,
    );
  return h as FileObjectHeader;
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    Object.values(v as object).every((x) => typeof x === 'string')
  );
}
