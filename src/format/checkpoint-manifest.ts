/**
 * `CheckpointManifest`: what a checkpoint is — the seeds' `checkpoint_manifest`
 * (LaminarDB's `laminar-storage` checkpoint manifest: `CheckpointManifest`, `ConnectorCheckpoint`,
 * `OperatorCheckpoint`), grown with the incremental chain (kind, parent, base, chain length).
 *
 * Stored as JSON with a CRC32C over its own canonical text, so a flipped bit that still parses is
 * caught too. Versioning: `version` is the major version. Fields unknown to this build are kept
 * as they are; optional fields that are missing take their defaults; a newer major version is
 * refused with `TIDEMARK_UNSUPPORTED_VERSION`.
 */
import { corruption, TidemarkError } from '../errors.js';
import { MANIFEST_VERSION, UNCOUNTED_KEYS } from './constants.js';
import { crc32c } from './crc32c.js';
import type { SourceOffsets } from './entry-codec.js';

/** `base`: the whole state. `delta`: puts and tombstones since `parentId`. */
export type CheckpointKind = 'base' | 'delta';

/** A data file of a checkpoint, as the manifest pins it. */
export interface CheckpointFileEntry {
  /** File name inside the checkpoint (`state.base`, `state.delta`, `operators.bin`). */
  name: string;
  /** What the file holds: a base state file, a delta state file, or the operators' sidecar. */
  role: 'base' | 'delta' | 'operators';
  /** Exact size, bytes, as stored (compressed files: the whole frame). */
  sizeBytes: number;
  /** CRC32C of the whole file as stored (compressed files: of the frame). */
  crc32c: number;
  /** Compressed files: the codec of the frame (docs/FORMAT.md, "Compressed objects"). */
  codec?: string;
  /** Compressed files: the size once decompressed, bytes. */
  uncompressedBytes?: number;
  /**
   * Object stores, batched files: the object (beside the other data objects of the attempt)
   * holding this file, at byte `offset`. Absent: the file is an object of its own, `name`.
   */
  object?: string;
  /** With `object`: where the file starts in it. */
  offset?: number;
}

/**
 * `ConnectorCheckpoint` (seed): a source connector's position in connector terms, as strings —
 * Kafka `{ "partition-0": "1234" }`, a CDC `{ "lsn": "0/1234ABCD" }`, a file `{ "line": "42" }`.
 */
export interface ConnectorCheckpoint {
  /** The connector's position, key to value, in its own terms (partition → offset, `lsn`, `line`…). */
  offsets: Record<string, string>;
  /** Epoch the offsets belong to. */
  epoch: number;
  /** Free-form description (connector type, topic, …). Default `{}`. */
  metadata: Record<string, string>;
}

/**
 * `OperatorCheckpoint` (seed): an operator's opaque state. Up to the inline threshold it is kept
 * in the manifest as base64 (`stateB64`); larger state is a slice of the `operators.bin`
 * sidecar (`external`, `externalOffset`, `externalLength`). `crc32c` covers the raw bytes either way.
 */
export interface OperatorCheckpoint {
  /** Inline state, base64 (inline only; absent when `external`). */
  stateB64?: string;
  /** True when the state lives in the `operators.bin` sidecar rather than inline. */
  external: boolean;
  /** Byte offset in the sidecar (external only). */
  externalOffset: number;
  /** Byte length (external only; inline state has the decoded length of `stateB64`). */
  externalLength: number;
  /** CRC32C of the raw (decoded) state bytes. */
  crc32c: number;
}

/** Where a sink stands with the epoch of this checkpoint (two-phase commit; seed's `SinkCommitStatus`). */
export interface SinkCommitStatus {
  /** Two-phase commit state of the sink for this epoch. */
  state: 'pending' | 'committed' | 'failed';
  /** Why it failed (`failed` only). */
  error?: string;
}

/** A per-core WAL position (per-core WAL): segment number and the synced byte offset in it. */
export interface PerCoreWalPosition {
  /** Segment number in the core's WAL. */
  segment: number;
  /** Synced byte offset in that segment (bytes). */
  offset: number;
}

/** Counts describing the state a checkpoint holds. */
export interface CheckpointStateSummary {
  /**
   * Keys in the state at this checkpoint (after applying the chain); in a delta, may be
   * `UNCOUNTED_KEYS` (-1): its writer held only the changes (the chain's load counts them).
   */
  keys: number;
  /** Entries in this checkpoint's own state file (puts + tombstones for a delta). */
  entriesWritten: number;
  /** Tombstones in this checkpoint's state file (0 for a base). */
  tombstones: number;
  /** Bytes of the chain's base state file. */
  baseBytes: number;
  /** Bytes of all delta files since the base, this one included (0 for a base). */
  deltaBytesSinceBase: number;
}

/** A checkpoint's manifest (major version 2). */
export interface CheckpointManifest {
  /** Manifest major version (2). */
  version: number;
  /** Checkpoint id; ids increase by one per checkpoint in a store. */
  id: number;
  /** Epoch the checkpoint closes. */
  epoch: number;
  /** Wall-clock creation time, ms since the Unix epoch. */
  createdAtMs: number;
  /** Base (whole state) or delta (changes since `parentId`). */
  kind: CheckpointKind;
  /** The checkpoint this delta applies to; `null` for a base. */
  parentId: number | null;
  /** The base at the root of the chain (a base names itself). */
  baseId: number;
  /** Deltas from the base to this checkpoint, this one included (0 for a base). */
  chainLength: number;
  /** WAL position: the checkpoint holds the effect of every record with LSN ≤ `walPosition.lsn`. */
  walPosition: {
    /** LSN of the last WAL record whose effect the checkpoint holds. */
    lsn: number;
  };
  /** Per-core WAL positions (synced positions only); `{}` for a single WAL. */
  perCoreWalPositions: Record<string, PerCoreWalPosition>;
  /** Per-source offsets committed with the state (from the WAL's Commit records). */
  sourceOffsets: SourceOffsets;
  /** Source connectors' positions in their own terms. Default `{}`. */
  connectors: Record<string, ConnectorCheckpoint>;
  /** Operator state, inline or in the sidecar. Default `{}`. */
  operators: Record<string, OperatorCheckpoint>;
  /** Last epoch each sink committed. Default `{}`. */
  sinkEpochs: Record<string, number>;
  /** Each sink's commit status for this epoch. Default `{}`. */
  sinkCommitStatuses: Record<string, SinkCommitStatus>;
  /** Watermark (event time, ms) of the last commit, or null. */
  watermark: number | null;
  /** Per-source watermarks, ms. Default `{}`. */
  sourceWatermarks: Record<string, number>;
  /** Key, entry and byte counts of the state this checkpoint holds. */
  state: CheckpointStateSummary;
  /** The data files, each with its size and checksum. */
  files: CheckpointFileEntry[];
  /** Sum of the data files' sizes, bytes. */
  sizeBytes: number;
  /**
   * Object stores only: the save attempt whose data objects this manifest commits (they live
   * under `checkpoint-<id>/<attemptId>/`), so two writers racing for one id never overwrite
   * each other's data. Absent in local checkpoints.
   */
  attemptId?: string;
  /**
   * Object stores with writer epochs only: the epoch of the writer that published this
   * checkpoint (docs/OBJECT-STORE.md). Absent: written before epochs (epoch 0).
   */
  writerEpoch?: number;
}

/** Serializes a manifest with its checksum (a `crc32c` field appended to the JSON object). */
export function encodeManifest(manifest: CheckpointManifest): Uint8Array {
  const { crc32c: _drop, ...clean } = manifest as CheckpointManifest & { crc32c?: unknown };
  const body = JSON.stringify(clean);
  const sum = crc32c(Buffer.from(body, 'utf8'));
  return Buffer.from(`${body.slice(0, -1)},"crc32c":${sum}}\n`, 'utf8');
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isRecordOf = (v: unknown, check: (x: unknown) => boolean): boolean =>
  isObject(v) && Object.values(v).every(check);
const isString = (v: unknown): v is string => typeof v === 'string';

function isConnector(v: unknown): boolean {
  return (
    isObject(v) &&
    isRecordOf(v.offsets, isString) &&
    isInt(v.epoch) &&
    (v.metadata === undefined || isRecordOf(v.metadata, isString))
  );
}

function isOperator(v: unknown): boolean {
  if (!isObject(v) || typeof v.external !== 'boolean' || !isInt(v.crc32c)) return false;
  if (v.external) return isInt(v.externalOffset) && isInt(v.externalLength);
  return isString(v.stateB64);
}

function isSinkStatus(v: unknown): boolean {
  return (
    isObject(v) &&
    (v.state === 'pending' || v.state === 'committed' || v.state === 'failed') &&
    (v.error === undefined || isString(v.error))
  );
}

function isFileEntry(v: unknown): boolean {
  return (
    isObject(v) &&
    isString(v.name) &&
    (v.role === 'base' || v.role === 'delta' || v.role === 'operators') &&
    isInt(v.sizeBytes) &&
    isInt(v.crc32c) &&
    (v.codec === undefined || isString(v.codec)) &&
    (v.uncompressedBytes === undefined || isInt(v.uncompressedBytes)) &&
    (v.object === undefined ||
      (isString(v.object) && /^[a-z0-9.-]{1,64}$/.test(v.object) && isInt(v.offset))) &&
    (v.object !== undefined || v.offset === undefined)
  );
}

/**
 * Parses and checks a manifest file, filling in defaults for missing optional fields.
 * Throws `TIDEMARK_CORRUPTION` (checksum, JSON, missing or mistyped fields) or
 * `TIDEMARK_UNSUPPORTED_VERSION` (a newer major version, or the retired version 1).
 */
export function decodeManifest(bytes: Uint8Array, path: string): CheckpointManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch {
    throw corruption(path, 0, 'manifest is not valid JSON');
  }
  if (!isObject(parsed)) throw corruption(path, 0, 'manifest is not an object');
  const { crc32c: stored, ...body } = parsed;
  if (stored !== crc32c(Buffer.from(JSON.stringify(body), 'utf8')))
    throw corruption(path, 0, 'manifest checksum mismatch');
  if (!isInt(body.version)) throw corruption(path, 0, 'manifest version missing');
  if (body.version !== MANIFEST_VERSION) {
    throw new TidemarkError(
      'TIDEMARK_UNSUPPORTED_VERSION',
      body.version > MANIFEST_VERSION
        ? `${path}: manifest version ${body.version} is newer than this build's ${MANIFEST_VERSION}`
        : `${path}: manifest version ${body.version} is no longer read (this build reads ${MANIFEST_VERSION})`,
      { path },
    );
  }
  const m = {
    perCoreWalPositions: {},
    sourceOffsets: {},
    connectors: {},
    operators: {},
    sinkEpochs: {},
    sinkCommitStatuses: {},
    watermark: null,
    sourceWatermarks: {},
    ...body,
  } as Record<string, unknown>;
  const bad = (field: string) => corruption(path, 0, `manifest field ${field} missing or of the wrong type`);
  if (!isInt(m.id) || m.id === 0) throw bad('id');
  if (m.attemptId !== undefined && !(isString(m.attemptId) && /^[0-9a-f-]{1,64}$/.test(m.attemptId)))
    throw bad('attemptId');
  if (m.writerEpoch !== undefined && !isInt(m.writerEpoch)) throw bad('writerEpoch');
  if (!isInt(m.epoch)) throw bad('epoch');
  if (!isInt(m.createdAtMs)) throw bad('createdAtMs');
  if (m.kind !== 'base' && m.kind !== 'delta') throw bad('kind');
  if (m.kind === 'base') {
    m.parentId ??= null;
    m.baseId ??= m.id;
    m.chainLength ??= 0;
    if (m.parentId !== null || m.baseId !== m.id || m.chainLength !== 0) throw bad('parentId/baseId');
  } else if (
    !isInt(m.parentId) ||
    m.parentId >= m.id ||
    !isInt(m.baseId) ||
    m.baseId > m.parentId ||
    !isInt(m.chainLength) ||
    m.chainLength < 1
  ) {
    throw bad('parentId/baseId/chainLength');
  }
  if (!isObject(m.walPosition) || !isInt(m.walPosition.lsn)) throw bad('walPosition');
  if (!isRecordOf(m.perCoreWalPositions, (p) => isObject(p) && isInt(p.segment) && isInt(p.offset)))
    throw bad('perCoreWalPositions');
  if (!isRecordOf(m.sourceOffsets, isInt)) throw bad('sourceOffsets');
  if (!isRecordOf(m.connectors, isConnector)) throw bad('connectors');
  for (const c of Object.values(m.connectors as Record<string, Record<string, unknown>>)) c.metadata ??= {};
  if (!isRecordOf(m.operators, isOperator)) throw bad('operators');
  if (!isRecordOf(m.sinkEpochs, isInt)) throw bad('sinkEpochs');
  if (!isRecordOf(m.sinkCommitStatuses, isSinkStatus)) throw bad('sinkCommitStatuses');
  if (!(m.watermark === null || Number.isSafeInteger(m.watermark))) throw bad('watermark');
  if (!isRecordOf(m.sourceWatermarks, Number.isSafeInteger)) throw bad('sourceWatermarks');
  const st = m.state;
  if (
    !isObject(st) ||
    !(isInt(st.keys) || (st.keys === UNCOUNTED_KEYS && m.kind === 'delta')) ||
    !isInt(st.entriesWritten) ||
    !isInt(st.tombstones) ||
    !isInt(st.baseBytes) ||
    !isInt(st.deltaBytesSinceBase)
  ) {
    throw bad('state');
  }
  if (!Array.isArray(m.files) || !m.files.every(isFileEntry)) throw bad('files');
  const files = m.files as CheckpointFileEntry[];
  const stateRole = m.kind;
  if (
    files.filter((f) => f.role === stateRole).length !== 1 ||
    files.some((f) => f.role === (m.kind === 'base' ? 'delta' : 'base'))
  )
    throw bad(`files (one ${stateRole} file)`);
  if (new Set(files.map((f) => f.name)).size !== files.length) throw bad('files (names repeat)');
  if (!isInt(m.sizeBytes) || m.sizeBytes !== files.reduce((s, f) => s + f.sizeBytes, 0))
    throw bad('sizeBytes');
  return m as unknown as CheckpointManifest;
}

/**
 * What the caller adds to a checkpoint besides the key/value state (which the checkpointer
 * takes from the WAL). A checkpoint created without extras carries the previous ones forward.
 */
export interface CheckpointExtras {
  /** Source connectors' positions. */
  connectors?: Record<string, ConnectorCheckpoint>;
  /** Operators' opaque state, by operator name; inline or sidecar by size. */
  operators?: Record<string, Uint8Array>;
  /** Last epoch each sink committed. */
  sinkEpochs?: Record<string, number>;
  /** Each sink's commit status. */
  sinkCommitStatuses?: Record<string, SinkCommitStatus>;
  /** Per-source watermarks, ms. */
  sourceWatermarks?: Record<string, number>;
  /** Per-core WAL synced positions (per-core WAL). */
  perCoreWalPositions?: Record<string, PerCoreWalPosition>;
}

/** `IncrementalCheckpointMetadata` (seed): what one checkpoint wrote. */
export interface IncrementalCheckpointMetadata {
  /** Checkpoint id. */
  id: number;
  /** Epoch the checkpoint closes. */
  epoch: number;
  /** Base (whole state) or delta (changes since `parentId`). */
  kind: CheckpointKind;
  /** The checkpoint a delta applies to; null for a base. */
  parentId: number | null;
  /** Deltas since the chain's base (0 for a base). */
  chainLength: number;
  /** WAL LSN the checkpoint covers. */
  lsn: number;
  /**
   * Keys in the state at this checkpoint; `UNCOUNTED_KEYS` (-1) for a delta of the incremental
   * manager, which holds only the changed keys (a base always counts).
   */
  keys: number;
  /** Entries written to this checkpoint's state file (puts + tombstones). */
  keysWritten: number;
  /** Tombstones among them. */
  tombstones: number;
  /** Size of this checkpoint's state file, bytes. */
  stateBytes: number;
  /** Size of all its data files, bytes. */
  bytes: number;
  /** WAL records replayed into the checkpointer's change set for this checkpoint. */
  recordsReplayed: number;
  /** WAL segments deleted after publishing. */
  deletedWalSegments: number;
  /** Checkpoints deleted by retention. */
  deletedCheckpoints: number;
  /** Wall time of the whole checkpoint, ms. */
  durationMs: number;
}
