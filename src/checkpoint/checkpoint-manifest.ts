/**
 * `CheckpointManifest`: what a checkpoint is (the seeds' `checkpoint_manifest`). Stored as JSON
 * with a CRC32C over its own canonical text, so a flipped bit that still parses is caught too.
 * Unknown fields are kept; a newer `version` is refused with `TIDEMARK_UNSUPPORTED_VERSION`.
 */
import { corruption, TidemarkError } from '../errors.js';
import { MANIFEST_VERSION } from '../format/constants.js';
import { crc32c } from '../format/crc32c.js';
import type { SourceOffsets } from '../format/entry-codec.js';

/** A checkpoint's manifest. */
export interface CheckpointManifest {
  /** Manifest format version (currently 1). */
  version: number;
  /** Checkpoint id; ids increase by one per checkpoint in a directory. */
  id: number;
  /** Epoch the checkpoint closes. */
  epoch: number;
  /** WAL position: the checkpoint holds the effect of every record with LSN ≤ `walPosition.lsn`. */
  walPosition: { lsn: number };
  /** Per-source offsets committed with the state. */
  sourceOffsets: SourceOffsets;
  /** Watermark (event time, ms) of the last commit, or null. */
  watermark: number | null;
  /** The state snapshot file, with its size in bytes and CRC32C. */
  stateFile: { name: string; sizeBytes: number; crc32c: number; entries: number };
  /** Wall-clock creation time, ms since the Unix epoch. */
  createdAtMs: number;
}

/** Serializes a manifest with its checksum. */
export function encodeManifest(manifest: CheckpointManifest): Uint8Array {
  const body = JSON.stringify(manifest);
  const sum = crc32c(Buffer.from(body, 'utf8'));
  return Buffer.from(`${body.slice(0, -1)},"crc32c":${sum}}\n`, 'utf8');
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parses and checks a manifest file. Throws `TIDEMARK_CORRUPTION` or `TIDEMARK_UNSUPPORTED_VERSION`. */
export function decodeManifest(bytes: Uint8Array, path: string): CheckpointManifest {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch {
    throw corruption(path, 0, 'manifest is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw corruption(path, 0, 'manifest is not an object');
  const { crc32c: stored, ...body } = parsed;
  if (stored !== crc32c(Buffer.from(JSON.stringify(body), 'utf8')))
    throw corruption(path, 0, 'manifest checksum mismatch');
  const m = body as unknown as CheckpointManifest;
  if (!isInt(m.version)) throw corruption(path, 0, 'manifest version missing');
  if (m.version > MANIFEST_VERSION) {
    throw new TidemarkError(
      'TIDEMARK_UNSUPPORTED_VERSION',
      `${path}: manifest version ${m.version} is newer than ${MANIFEST_VERSION}`,
      {
        path,
      },
    );
  }
  const sf = m.stateFile;
  if (
    !isInt(m.id) ||
    !isInt(m.epoch) ||
    !m.walPosition ||
    !isInt(m.walPosition.lsn) ||
    typeof m.sourceOffsets !== 'object' ||
    m.sourceOffsets === null ||
    !Object.values(m.sourceOffsets).every(isInt) ||
    !(m.watermark === null || Number.isSafeInteger(m.watermark)) ||
    !sf ||
    typeof sf.name !== 'string' ||
    !isInt(sf.sizeBytes) ||
    !isInt(sf.crc32c) ||
    !isInt(sf.entries) ||
    !isInt(m.createdAtMs)
  ) {
    throw corruption(path, 0, 'manifest fields missing or of the wrong type');
  }
  return m;
}
