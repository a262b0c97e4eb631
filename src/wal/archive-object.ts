/**
 * How a sealed WAL segment is stored in the archive: a compressed-object frame
 * (src/format/codec.ts) of the whole segment file, with the segment's own size and CRC32C in the
 * object's metadata (`x-amz-meta-tidemark-raw-size`, `-raw-crc32c`, `-codec`), so that a writer
 * can tell "this object is my segment" from a HEAD alone, without downloading it (the object's
 * size is the compressed size, which says nothing about the segment's).
 *
 * Segments archived before compression existed are plain segment files: readers take both.
 */
import { decodeObject, encodeObject } from '../format/codec.js';
import { SEGMENT_FIRST_LSN_OFFSET, SEGMENT_HEADER_SIZE } from '../format/constants.js';
import { crc32c } from '../format/crc32c.js';
import type { ResolvedCompression } from '../io/codecs.js';

/** Metadata keys of an archived segment. */
export const ARCHIVE_META_RAW_SIZE = 'tidemark-raw-size';
export const ARCHIVE_META_RAW_CRC = 'tidemark-raw-crc32c';
export const ARCHIVE_META_CODEC = 'tidemark-codec';
/** LSN of the segment's first record (from its header), so tiering can tell which segments a checkpoint covers from a HEAD. */
export const ARCHIVE_META_FIRST_LSN = 'tidemark-first-lsn';

/** The object body and metadata of segment bytes `segment`. */
export async function encodeArchivedSegment(
  segment: Uint8Array,
  compression: ResolvedCompression,
): Promise<{ body: Buffer; metadata: Record<string, string>; codec: string }> {
  const encoded = await encodeObject(segment, compression, { walSegment: true });
  return {
    body: encoded.bytes,
    codec: encoded.codec,
    metadata: {
      [ARCHIVE_META_RAW_SIZE]: String(segment.length),
      [ARCHIVE_META_RAW_CRC]: String(crc32c(segment)),
      [ARCHIVE_META_CODEC]: encoded.codec,
      ...(segment.length >= SEGMENT_HEADER_SIZE
        ? {
            [ARCHIVE_META_FIRST_LSN]: String(
              Buffer.from(segment.buffer, segment.byteOffset, segment.length).readBigUInt64LE(
                SEGMENT_FIRST_LSN_OFFSET,
              ),
            ),
          }
        : {}),
    },
  };
}

/**
 * True when the archived object described by `head` holds exactly `local` (a segment file's
 * bytes): by the metadata of a framed object, or by size and CRC32C of a plain one.
 */
export function archivedObjectHolds(
  head: { sizeBytes: number; crc32c?: number | undefined; metadata?: Record<string, string> | undefined },
  local: Uint8Array,
): boolean {
  const rawSize = head.metadata?.[ARCHIVE_META_RAW_SIZE];
  if (rawSize !== undefined)
    return (
      Number(rawSize) === local.length && Number(head.metadata?.[ARCHIVE_META_RAW_CRC]) === crc32c(local)
    );
  return head.sizeBytes === local.length && head.crc32c === crc32c(local);
}

/**
 * Segment size recorded for an archived object (from a HEAD): the metadata's raw size for a
 * framed object, the object's size for a plain one.
 */
export function archivedSegmentSize(head: {
  sizeBytes: number;
  metadata?: Record<string, string> | undefined;
}): number {
  const rawSize = head.metadata?.[ARCHIVE_META_RAW_SIZE];
  return rawSize === undefined ? head.sizeBytes : Number(rawSize);
}

/** The segment bytes of an archived object (decompressed and checked; plain objects as they are). */
export function decodeArchivedSegment(stored: Uint8Array, url: string): Promise<Uint8Array> {
  return decodeObject(stored, url);
}
